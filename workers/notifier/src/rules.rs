//! The notifier's rules file (`--rules`, TOML). Every key is optional; a missing key
//! keeps its default, an unknown key is an error.
//!
//! ```toml
//! channel = "EMAIL"            # EMAIL, SMS or PUSH
//! disabled = ["OrderDelivered"]
//!
//! [templates]
//! OrderShipped = "order_shipped_v2"
//!
//! [users]                      # notifications about accounts (users.lifecycle)
//! channel = "PUSH"             # of the new-device login notice
//! disabled = ["UserEmailChanged"]
//!
//! [users.templates]
//! UserRegistered = "welcome_v2"
//! ```

use std::collections::BTreeMap;

use orderflow_events::NotificationChannel;
use serde::Deserialize;

/// Every payload type of `OrderEvent`, by record name.
pub const PAYLOAD_TYPES: [&str; 6] = [
    "OrderPlaced",
    "PaymentAuthorized",
    "PaymentFailed",
    "OrderShipped",
    "OrderDelivered",
    "OrderCancelled",
];

/// The payload types that get a notification, with their built-in template names.
pub const DEFAULT_TEMPLATES: [(&str, &str); 5] = [
    ("OrderPlaced", "order_confirmation"),
    ("PaymentFailed", "payment_failed"),
    ("OrderShipped", "order_shipped"),
    ("OrderDelivered", "order_delivered"),
    ("OrderCancelled", "order_cancelled"),
];

/// Template names by payload type: the built-in ones, each replaced by the rules' entry
/// for its payload type when there is one.
#[derive(Debug)]
pub struct Templates(Vec<(&'static str, String)>);

impl Templates {
    /// The `defaults` (payload type, built-in name) with `overrides` applied.
    pub fn new(
        defaults: &[(&'static str, &str)],
        overrides: &BTreeMap<String, String>,
    ) -> Templates {
        Templates(
            defaults
                .iter()
                .map(|&(payload, default)| {
                    let name = overrides.get(payload).map_or(default, String::as_str);
                    (payload, name.to_owned())
                })
                .collect(),
        )
    }

    /// The template of `payload_type`, `None` for a type without a notification.
    pub fn of(&self, payload_type: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(payload, _)| *payload == payload_type)
            .map(|(_, template)| template.as_str())
    }
}

/// A channel the notifier can request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Channel {
    /// Email.
    Email,
    /// Text message.
    Sms,
    /// Mobile push.
    Push,
}

impl From<Channel> for NotificationChannel {
    fn from(channel: Channel) -> Self {
        match channel {
            Channel::Email => NotificationChannel::Email,
            Channel::Sms => NotificationChannel::Sms,
            Channel::Push => NotificationChannel::Push,
        }
    }
}

/// Channel, template names and switches of the notifications.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifierRules {
    /// Channel of the notifications whose recipient the notification service looks
    /// up by customer: every one but the order confirmation, which goes by EMAIL to
    /// the address in the `OrderPlaced` event. EMAIL, SMS or PUSH. Default EMAIL.
    pub channel: Channel,
    /// Template name per payload type, replacing the built-in name. Keys are
    /// OrderPlaced, PaymentFailed, OrderShipped, OrderDelivered, OrderCancelled;
    /// names are non-empty without whitespace. Default empty: the built-in names
    /// order_confirmation, payment_failed, order_shipped, order_delivered,
    /// order_cancelled.
    pub templates: BTreeMap<String, String>,
    /// Payload types (record names, like OrderDelivered) that get no notification;
    /// their events are skipped. Default empty.
    pub disabled: Vec<String>,
    /// The notifications about user accounts, from `users.lifecycle`.
    pub users: UserRules,
}

impl Default for NotifierRules {
    fn default() -> Self {
        NotifierRules {
            channel: Channel::Email,
            templates: BTreeMap::new(),
            disabled: Vec::new(),
            users: UserRules::default(),
        }
    }
}

/// Every payload type of `UserEvent`, by record name; each gets a notification.
pub const USER_PAYLOAD_TYPES: [&str; 3] = orderflow_events::UserPayload::TYPES;

/// The payload types of `UserEvent` with their built-in template names.
pub const DEFAULT_USER_TEMPLATES: [(&str, &str); 3] = [
    ("UserRegistered", "welcome"),
    ("UserLoggedIn", "new_device_login"),
    ("UserEmailChanged", "email_changed"),
];

/// The `[users]` table: channel, template names and switches of the notifications
/// about user accounts.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UserRules {
    /// Channel of the new-device login notice, whose recipient the notification
    /// service looks up by user (the welcome and the e-mail change notices go by
    /// EMAIL to the addresses in the event). EMAIL, SMS or PUSH. Default EMAIL.
    pub channel: Channel,
    /// Template name per payload type, replacing the built-in name. Keys are
    /// UserRegistered, UserLoggedIn, UserEmailChanged. Default empty: the built-in
    /// names welcome, new_device_login, email_changed.
    pub templates: BTreeMap<String, String>,
    /// Payload types that get no notification; their events are skipped. Default
    /// empty.
    pub disabled: Vec<String>,
}

impl Default for UserRules {
    fn default() -> Self {
        UserRules {
            channel: Channel::Email,
            templates: BTreeMap::new(),
            disabled: Vec::new(),
        }
    }
}

impl NotifierRules {
    /// Checks every rule; the error names the first invalid key.
    pub fn check(&self) -> Result<(), String> {
        check_switches(
            "",
            &self.templates,
            &self.disabled,
            &DEFAULT_TEMPLATES.map(|(payload, _)| payload),
            &PAYLOAD_TYPES,
        )?;
        check_switches(
            "users.",
            &self.users.templates,
            &self.users.disabled,
            &USER_PAYLOAD_TYPES,
            &USER_PAYLOAD_TYPES,
        )
    }
}

/// Checks the `templates` and `disabled` keys (under `prefix`) of payload types `all`,
/// of which `notified` get a notification.
fn check_switches(
    prefix: &str,
    templates: &BTreeMap<String, String>,
    disabled: &[String],
    notified: &[&str],
    all: &[&str],
) -> Result<(), String> {
    for (payload, template) in templates {
        if !notified.contains(&payload.as_str()) {
            let why = if all.contains(&payload.as_str()) {
                "gets no notification"
            } else {
                "is not a payload type"
            };
            return Err(format!(
                "{prefix}templates.{payload}: {payload} {why}; keys are {}",
                notified.join(", ")
            ));
        }
        if template.is_empty() || template.chars().any(char::is_whitespace) {
            return Err(format!(
                "{prefix}templates.{payload}: {template:?} is not a template name (non-empty, \
                 no whitespace)"
            ));
        }
    }
    for (i, payload) in disabled.iter().enumerate() {
        if !all.contains(&payload.as_str()) {
            return Err(format!(
                "{prefix}disabled[{i}]: {payload:?} is not a payload type; expected one of {}",
                all.join(", ")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_documented() {
        let rules = NotifierRules::default();
        assert_eq!(rules.check(), Ok(()));
        assert_eq!(rules.channel, Channel::Email);
        assert!(rules.templates.is_empty());
        assert!(rules.disabled.is_empty());
    }

    #[test]
    fn parses_a_toml_example() {
        let rules: NotifierRules = toml::from_str(
            r#"
            channel = "SMS"
            disabled = ["OrderDelivered", "PaymentAuthorized"]

            [templates]
            OrderShipped = "order_shipped_v2"
            OrderPlaced = "welcome"
            "#,
        )
        .unwrap();
        assert_eq!(rules.check(), Ok(()));
        assert_eq!(rules.channel, Channel::Sms);
        assert_eq!(rules.disabled, ["OrderDelivered", "PaymentAuthorized"]);
        assert_eq!(rules.templates["OrderShipped"], "order_shipped_v2");
        assert_eq!(rules.templates["OrderPlaced"], "welcome");
        assert_eq!(rules.users.channel, Channel::Email);
    }

    #[test]
    fn parses_the_users_table() {
        let rules: NotifierRules = toml::from_str(
            r#"
            [users]
            channel = "PUSH"
            disabled = ["UserEmailChanged"]

            [users.templates]
            UserRegistered = "welcome_v2"
            "#,
        )
        .unwrap();
        assert_eq!(rules.check(), Ok(()));
        assert_eq!(rules.channel, Channel::Email);
        assert_eq!(rules.users.channel, Channel::Push);
        assert_eq!(rules.users.disabled, ["UserEmailChanged"]);
        assert_eq!(rules.users.templates["UserRegistered"], "welcome_v2");
        let error = toml::from_str::<NotifierRules>("[users]\nchanel = \"SMS\"")
            .unwrap_err()
            .to_string();
        assert!(error.contains("chanel"), "{error}");
    }

    #[test]
    fn an_empty_file_gives_the_defaults() {
        let rules: NotifierRules = toml::from_str("").unwrap();
        assert_eq!(rules.channel, Channel::Email);
    }

    #[test]
    fn unknown_keys_and_channels_are_rejected() {
        for (text, needle) in [
            ("channels = \"SMS\"", "channels"),
            ("channel = \"FAX\"", "FAX"),
            ("channel = \"UNKNOWN\"", "UNKNOWN"),
            ("channel = \"email\"", "email"),
        ] {
            let error = toml::from_str::<NotifierRules>(text)
                .unwrap_err()
                .to_string();
            assert!(error.contains(needle), "{needle}: {error}");
        }
    }

    /// Breaks one rule of the defaults.
    type Breakage = fn(&mut NotifierRules);

    #[test]
    fn invalid_rules_name_their_key() {
        let cases: [(Breakage, &str); 8] = [
            (
                |r| _ = r.templates.insert("OrderReturned".into(), "t".into()),
                "templates.OrderReturned",
            ),
            (
                |r| _ = r.templates.insert("PaymentAuthorized".into(), "t".into()),
                "templates.PaymentAuthorized",
            ),
            (
                |r| _ = r.templates.insert("OrderShipped".into(), String::new()),
                "templates.OrderShipped",
            ),
            (
                |r| {
                    _ = r
                        .templates
                        .insert("OrderShipped".into(), "order shipped".into())
                },
                "templates.OrderShipped",
            ),
            (
                |r| r.disabled = vec!["OrderShipped".into(), "orderShipped".into()],
                "disabled[1]",
            ),
            (
                |r| _ = r.users.templates.insert("OrderPlaced".into(), "t".into()),
                "users.templates.OrderPlaced",
            ),
            (
                |r| _ = r.users.templates.insert("UserLoggedIn".into(), " ".into()),
                "users.templates.UserLoggedIn",
            ),
            (
                |r| r.users.disabled = vec!["UserDeleted".into()],
                "users.disabled[0]",
            ),
        ];
        for (break_rule, key) in cases {
            let mut rules = NotifierRules::default();
            break_rule(&mut rules);
            let error = rules.check().unwrap_err();
            assert!(error.starts_with(key), "{key}: {error}");
        }
    }
}
