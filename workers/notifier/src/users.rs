//! The notifier's second input: user-account events from `users.lifecycle`, each
//! turned into the `UserNotificationRequested` events the user hears about, on
//! `users.notifications`.
//!
//! | payload | template | recipient | parameters |
//! | --- | --- | --- | --- |
//! | UserRegistered | welcome | `email`, by EMAIL | `display_name`, `locale`, `marketing_consent` |
//! | UserLoggedIn with `new_device` | new_device_login | looked up | `device_id`, `ip_address`, `user_agent`, `logged_in_at` (epoch ms) |
//! | UserLoggedIn from a known device | skipped | | |
//! | UserEmailChanged | email_changed, twice | `old_email` (output 0), then `new_email` (output 1), by EMAIL; none to a blank address | `old_email`, `new_email`, `addressee` (`old` or `new`) |
//!
//! An address is sent to trimmed of surrounding whitespace. A blank registration
//! address leaves the recipient null, for the notification service to look up by
//! user; a blank address of an e-mail change gets no notice (looked up, the notice for
//! the old address would reach the new one), and a change between two blank addresses
//! is skipped.
//!
//! The e-mail change notice goes to both addresses: the old one, so that a user whose
//! account was taken over hears of it, and the new one, to confirm it. Template names
//! can be replaced and payload types disabled in the rules' `[users]` table.

use std::collections::HashMap;

use orderflow_events::{
    Lineage, NotificationChannel, UserEvent, UserNotificationRequested, UserPayload,
};
use orderflow_runtime::{Input, Outcome, Output, ProcessError, Processor};

use crate::rules::{DEFAULT_USER_TEMPLATES, NotifierRules, Templates};

/// The notifier's processor of user events.
#[derive(Debug)]
pub struct UserNotifier {
    /// Channel of the notices without an address in the event.
    channel: NotificationChannel,
    /// Template name per payload type, after the rules' overrides.
    templates: Templates,
    /// Payload types that get no notification.
    disabled: Vec<String>,
}

/// One notice an event asks to send, before the lineage is added.
struct Notice {
    /// Its output index, which its derived event id is made from.
    index: usize,
    channel: NotificationChannel,
    recipient: Option<String>,
    parameters: HashMap<String, String>,
}

/// An address from an event, or `None` (the service looks the user up) when blank.
fn address(email: &str) -> Option<String> {
    let email = email.trim();
    (!email.is_empty()).then(|| email.to_owned())
}

impl UserNotifier {
    /// The notices `event` asks for, in output order; empty for none.
    fn notices(&self, event: &UserEvent) -> Vec<Notice> {
        let email = |recipient: Option<String>, parameters| Notice {
            index: 0,
            channel: NotificationChannel::Email,
            recipient,
            parameters,
        };
        match &event.payload {
            UserPayload::UserRegistered(registered) => vec![email(
                address(&registered.email),
                HashMap::from([
                    ("display_name".to_owned(), registered.display_name.clone()),
                    ("locale".to_owned(), registered.locale.clone()),
                    (
                        "marketing_consent".to_owned(),
                        registered.marketing_consent.to_string(),
                    ),
                ]),
            )],
            UserPayload::UserLoggedIn(login) if login.new_device => vec![Notice {
                index: 0,
                channel: self.channel,
                recipient: None,
                parameters: HashMap::from([
                    ("device_id".to_owned(), login.device_id.clone()),
                    ("ip_address".to_owned(), login.ip_address.clone()),
                    ("user_agent".to_owned(), login.user_agent.clone()),
                    ("logged_in_at".to_owned(), event.occurred_at.to_string()),
                ]),
            }],
            UserPayload::UserLoggedIn(_) => Vec::new(),
            UserPayload::UserEmailChanged(changed) => {
                [("old", &changed.old_email), ("new", &changed.new_email)]
                    .into_iter()
                    .enumerate()
                    // A blank address gets no notice: looked up by user, the notice meant for the
                    // old address would reach the new one.
                    .filter_map(|(index, (addressee, to))| {
                        let to = address(to)?;
                        Some(Notice {
                            index,
                            ..email(
                                Some(to),
                                HashMap::from([
                                    ("old_email".to_owned(), changed.old_email.clone()),
                                    ("new_email".to_owned(), changed.new_email.clone()),
                                    ("addressee".to_owned(), addressee.to_owned()),
                                ]),
                            )
                        })
                    })
                    .collect()
            }
        }
    }
}

impl Processor for UserNotifier {
    type Input = UserEvent;
    type Output = UserNotificationRequested;
    type Rules = NotifierRules;

    const NAME: &'static str = crate::Notifier::NAME;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const INPUT_TOPIC: &'static str = "users.lifecycle";
    const OUTPUT_TOPIC: &'static str = "users.notifications";

    fn new(rules: NotifierRules) -> Result<Self, String> {
        rules.check()?;
        let users = rules.users;
        Ok(UserNotifier {
            channel: users.channel.into(),
            templates: Templates::new(&DEFAULT_USER_TEMPLATES, &users.templates),
            disabled: users.disabled,
        })
    }

    fn process(
        &self,
        input: &Input<'_, UserEvent>,
    ) -> Result<Outcome<UserNotificationRequested>, ProcessError> {
        let event = input.event;
        let payload_type = event.payload.type_name();
        if self.disabled.iter().any(|d| d == payload_type) {
            return Ok(Outcome::Skip(payload_type));
        }
        let notices = self.notices(event);
        let template = self.templates.of(payload_type);
        let Some(template) = template.filter(|_| !notices.is_empty()) else {
            return Ok(Outcome::Skip(payload_type));
        };
        let outputs = notices
            .into_iter()
            .map(|notice| {
                let lineage =
                    Lineage::of_user(Self::NAME, Self::VERSION, event, notice.index, input.now);
                Output {
                    key: event.user_id.clone(),
                    value: UserNotificationRequested::requested(
                        lineage,
                        notice.channel,
                        notice.recipient,
                        template.to_owned(),
                        notice.parameters,
                    ),
                }
            })
            .collect();
        Ok(Outcome::Emit(outputs))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use orderflow_events::*;
    use orderflow_runtime::{Input, Outcome, Processor};

    use super::UserNotifier;
    use crate::NotifierRules;
    use crate::rules::Channel;

    const NOW: i64 = 1_795_436_300_000;

    fn notifier(text: &str) -> UserNotifier {
        UserNotifier::new(toml::from_str(text).expect("rules parse")).expect("valid rules")
    }

    fn run(notifier: &UserNotifier, payload: UserPayload) -> Outcome<UserNotificationRequested> {
        let event = sample::user_event(payload);
        let input = Input {
            event: &event,
            topic: "users.lifecycle",
            partition: 0,
            offset: 7,
            timestamp: None,
            key: None,
            headers: &[],
            now: NOW,
        };
        notifier.process(&input).expect("notifying never fails")
    }

    /// (key, channel, recipient, template, parameters) of every output.
    type Seen = (
        String,
        NotificationChannel,
        Option<String>,
        String,
        Vec<(String, String)>,
    );

    fn emitted(notifier: &UserNotifier, payload: UserPayload) -> Vec<Seen> {
        match run(notifier, payload) {
            Outcome::Emit(outputs) => outputs
                .into_iter()
                .map(|o| {
                    let v = o.value;
                    assert_eq!(o.key, v.user_id);
                    let mut parameters: Vec<_> = v.parameters.into_iter().collect();
                    parameters.sort();
                    (o.key, v.channel, v.recipient, v.template, parameters)
                })
                .collect(),
            Outcome::Skip(reason) => panic!("skipped: {reason}"),
        }
    }

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut v: Vec<_> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn each_user_event_gets_its_notices_by_default() {
        let notifier = notifier("");
        let [registered, login, changed] = sample::user_payloads();
        let email = NotificationChannel::Email;
        assert_eq!(
            emitted(&notifier, registered),
            [(
                "cus-42".into(),
                email,
                Some("ada@example.com".into()),
                "welcome".into(),
                params(&[
                    ("display_name", "Ada"),
                    ("locale", "en-GB"),
                    ("marketing_consent", "false")
                ]),
            )]
        );
        assert_eq!(
            emitted(&notifier, login),
            [(
                "cus-42".into(),
                email,
                None,
                "new_device_login".into(),
                params(&[
                    ("device_id", "dev-7"),
                    ("ip_address", "192.0.2.7"),
                    ("user_agent", "Mozilla/5.0"),
                    ("logged_in_at", "1795436100000"),
                ]),
            )]
        );
        let change = |addressee: &str, to: &str| -> Seen {
            (
                "cus-42".into(),
                email,
                Some(to.into()),
                "email_changed".into(),
                params(&[
                    ("old_email", "ada@example.com"),
                    ("new_email", "ada@example.org"),
                    ("addressee", addressee),
                ]),
            )
        };
        assert_eq!(
            emitted(&notifier, changed),
            [
                change("old", "ada@example.com"),
                change("new", "ada@example.org")
            ]
        );
    }

    #[test]
    fn a_login_from_a_known_device_is_skipped() {
        let [_, login, _] = sample::user_payloads();
        let UserPayload::UserLoggedIn(mut login) = login else {
            unreachable!()
        };
        login.new_device = false;
        assert_eq!(
            run(&notifier(""), UserPayload::UserLoggedIn(login)),
            Outcome::Skip("UserLoggedIn")
        );
    }

    #[test]
    fn the_two_notices_of_an_email_change_have_distinct_deterministic_ids() {
        let [_, _, changed] = sample::user_payloads();
        let ids = |outcome| match outcome {
            Outcome::Emit(outputs) => outputs
                .into_iter()
                .map(|o: orderflow_runtime::Output<UserNotificationRequested>| {
                    (o.value.event_id, o.value.causation_id, o.value.produced_at)
                })
                .collect::<Vec<_>>(),
            Outcome::Skip(reason) => panic!("skipped: {reason}"),
        };
        let first = ids(run(&notifier(""), changed.clone()));
        assert_eq!(first, ids(run(&notifier(""), changed)));
        assert_eq!(first.len(), 2);
        assert_ne!(first[0].0, first[1].0);
        let source = sample::user_event(sample::user_payloads()[2].clone()).event_id;
        assert!(
            first
                .iter()
                .all(|(_, cause, at)| *cause == source && *at == NOW)
        );
        assert_eq!(
            first[0].0,
            derived_event_id("notifier", &source, 0).to_string()
        );
    }

    #[test]
    fn rules_replace_templates_choose_the_login_channel_and_disable_types() {
        let notifier = notifier(
            r#"
            [users]
            channel = "PUSH"
            disabled = ["UserRegistered"]
            [users.templates]
            UserEmailChanged = "address_changed"
            "#,
        );
        let [registered, login, changed] = sample::user_payloads();
        assert_eq!(run(&notifier, registered), Outcome::Skip("UserRegistered"));
        let login = emitted(&notifier, login);
        assert_eq!(login[0].1, NotificationChannel::Push);
        assert_eq!(login[0].3, "new_device_login");
        // The address in the event decides the channel of the e-mail change notices.
        let changed = emitted(&notifier, changed);
        assert!(
            changed
                .iter()
                .all(|c| c.3 == "address_changed" && c.1 == NotificationChannel::Email)
        );
        // The order rules do not touch the user notices, and the other way round.
        let rules: NotifierRules = toml::from_str("channel = \"SMS\"").unwrap();
        assert_eq!(rules.users.channel, Channel::Email);
    }

    #[test]
    fn a_blank_address_of_an_email_change_gets_no_notice_and_keeps_the_other_index() {
        let change = |old: &str, new: &str| {
            UserPayload::UserEmailChanged(UserEmailChanged {
                old_email: old.into(),
                new_email: new.into(),
            })
        };
        let seen = |outcome| match outcome {
            Outcome::Emit(outputs) => outputs
                .into_iter()
                .map(|o: orderflow_runtime::Output<UserNotificationRequested>| {
                    (o.value.event_id, o.value.recipient)
                })
                .collect::<Vec<_>>(),
            Outcome::Skip(reason) => panic!("skipped: {reason}"),
        };
        let source = sample::user_event(change("", "")).event_id;
        let id = |index| derived_event_id("notifier", &source, index).to_string();
        assert_eq!(
            seen(run(&notifier(""), change(" ", "ada@example.org"))),
            [(id(1), Some("ada@example.org".to_owned()))]
        );
        assert_eq!(
            seen(run(&notifier(""), change("ada@example.com", ""))),
            [(id(0), Some("ada@example.com".to_owned()))]
        );
        assert_eq!(
            run(&notifier(""), change("", "\t")),
            Outcome::Skip("UserEmailChanged")
        );
    }

    #[test]
    fn a_blank_address_leaves_the_recipient_to_the_service() {
        let registered = UserPayload::UserRegistered(UserRegistered {
            email: "  ".into(),
            display_name: "Ada".into(),
            locale: "en-GB".into(),
            marketing_consent: true,
        });
        let seen = emitted(&notifier(""), registered);
        assert_eq!(seen[0].2, None);
        let parameters: HashMap<_, _> = seen[0].4.iter().cloned().collect();
        assert_eq!(parameters["marketing_consent"], "true");
    }
}
