//! notifier: turns the order steps a customer hears about into one
//! `NotificationRequested` each, for the notification service to render and send.
//!
//! | payload | template | recipient | parameters besides `order_id` |
//! | --- | --- | --- | --- |
//! | OrderPlaced | order_confirmation | `customer_email`, by EMAIL | `total` (minor units), `currency`, `line_count` |
//! | PaymentFailed | payment_failed | looked up | `reason_code`, `payment_id` |
//! | OrderShipped | order_shipped | looked up | `carrier`, `tracking_number` |
//! | OrderDelivered | order_delivered | looked up | `signed_by`, when recorded |
//! | OrderCancelled | order_cancelled | looked up | `reason`, `refund_amount` (minor units) |
//! | PaymentAuthorized | skipped | | |
//!
//! Only `OrderPlaced` carries an email address; for the others the recipient is null
//! and the notification service finds the customer's address by `customer_id`, on
//! the channel the rules choose. Template names can be replaced and payload types
//! disabled in the rules; a disabled payload type is skipped like PaymentAuthorized.
//!
//! The notifier has a second input in the same consumer group: user-account events
//! from `users.lifecycle`, turned into `UserNotificationRequested` events on
//! `users.notifications` by [`UserNotifier`] (see [`users`]).

pub mod rules;
pub mod users;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use orderflow_events::{
    Lineage, NotificationChannel, NotificationRequested, OrderEvent, Payload, derived_event,
};
use orderflow_runtime::{Input, Outcome, Output, ProcessError, Processor};

pub use rules::NotifierRules;
pub use users::UserNotifier;

use crate::rules::{DEFAULT_TEMPLATES, Templates};

/// The notifier worker.
#[derive(Debug)]
pub struct Notifier {
    /// Channel of the notifications without an address in the event.
    channel: NotificationChannel,
    /// Template name per notified payload type, after the rules' overrides.
    templates: Templates,
    /// Payload types that get no notification.
    disabled: Vec<String>,
}

/// What one event asks to send, before the lineage is added.
#[derive(Debug, Clone, PartialEq)]
struct Notification {
    channel: NotificationChannel,
    recipient: Option<String>,
    parameters: HashMap<String, String>,
}

impl Notifier {
    /// The notification `event` asks for, or `None` for a payload without one.
    fn notification(&self, event: &OrderEvent) -> Option<Notification> {
        let mut parameters = HashMap::from([("order_id".to_owned(), event.order_id.clone())]);
        let mut put = |key: &str, value: String| {
            parameters.insert(key.to_owned(), value);
        };
        let mut channel = self.channel;
        let mut recipient = None;
        match &event.payload {
            Payload::OrderPlaced(order) => {
                put("total", order.total.to_string());
                put("currency", order.currency.clone());
                put("line_count", order.line_items.len().to_string());
                channel = NotificationChannel::Email;
                let email = order.customer_email.trim();
                // Without an address the service looks the customer up, as for the rest.
                recipient = (!email.is_empty()).then(|| email.to_owned());
            }
            Payload::PaymentAuthorized(_) => return None,
            Payload::PaymentFailed(failed) => {
                put("reason_code", failed.reason_code.clone());
                put("payment_id", failed.payment_id.clone());
            }
            Payload::OrderShipped(shipped) => {
                put("carrier", shipped.carrier.clone());
                put("tracking_number", shipped.tracking_number.clone());
            }
            Payload::OrderDelivered(delivered) => {
                if let Some(signed_by) = &delivered.signed_by
                    && !signed_by.trim().is_empty()
                {
                    put("signed_by", signed_by.clone());
                }
            }
            Payload::OrderCancelled(cancelled) => {
                put("reason", cancelled.reason.clone());
                put("refund_amount", cancelled.refund_amount.to_string());
            }
        }
        Some(Notification {
            channel,
            recipient,
            parameters,
        })
    }
}

impl Processor for Notifier {
    type Input = OrderEvent;
    type Output = NotificationRequested;
    type Rules = NotifierRules;

    const NAME: &'static str = "notifier";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const OUTPUT_TOPIC: &'static str = "notifications.requested";

    fn new(rules: NotifierRules) -> Result<Self, String> {
        rules.check()?;
        Ok(Notifier {
            channel: rules.channel.into(),
            templates: Templates::new(&DEFAULT_TEMPLATES, &rules.templates),
            disabled: rules.disabled,
        })
    }

    fn process(
        &self,
        input: &Input<'_, OrderEvent>,
    ) -> Result<Outcome<NotificationRequested>, ProcessError> {
        let event = input.event;
        let payload_type = event.payload.type_name();
        if self.disabled.iter().any(|d| d == payload_type) {
            return Ok(Outcome::Skip(payload_type));
        }
        let (Some(template), Some(notification)) =
            (self.templates.of(payload_type), self.notification(event))
        else {
            return Ok(Outcome::Skip(payload_type));
        };
        let lineage = Lineage::of(Self::NAME, Self::VERSION, event, 0, input.now);
        Ok(Outcome::Emit(vec![Output {
            key: event.order_id.clone(),
            value: derived_event!(NotificationRequested, lineage, {
                customer_id: event.customer_id.clone(),
                channel: notification.channel,
                recipient: notification.recipient,
                template: template.to_owned(),
                parameters: notification.parameters,
            }),
        }]))
    }
}
