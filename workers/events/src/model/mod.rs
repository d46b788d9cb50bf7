//! Rust types of every event, each bound to its schema folder under `schemas/`.

mod command;
mod derived;
mod order_event;
mod user;

pub use command::*;
pub use derived::*;
pub use order_event::*;
pub use user::*;

crate::record!(OrderEvent, "OrderEvent");
crate::record!(OrderValidation, "OrderValidation");
crate::record!(OrderStatusChanged, "OrderStatusChanged");
crate::record!(NotificationRequested, "NotificationRequested");
crate::record!(OrderRiskAssessed, "OrderRiskAssessed");
crate::record!(OrderCommand, "OrderCommand");
crate::record!(UserEvent, "UserEvent");
crate::record!(UserNotificationRequested, "UserNotificationRequested");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{Contract, Record};

    /// Binding fails when the Rust type and the newest `.avsc` disagree on anything
    /// that changes the bytes: a field's name, type or position, a union branch, an
    /// enum symbol, a namespace.
    #[test]
    fn every_rust_type_matches_its_newest_schema_file() {
        for result in [
            Contract::bind::<OrderEvent>(),
            Contract::bind::<OrderValidation>(),
            Contract::bind::<OrderStatusChanged>(),
            Contract::bind::<NotificationRequested>(),
            Contract::bind::<OrderRiskAssessed>(),
            Contract::bind::<OrderCommand>(),
            Contract::bind::<UserEvent>(),
            Contract::bind::<UserNotificationRequested>(),
        ] {
            if let Err(error) = result {
                panic!("{error}");
            }
        }
        assert_eq!(OrderEvent::contract().version, 2);
        assert_eq!(
            OrderEvent::contract().full_name,
            "io.orderflow.events.OrderEvent"
        );
    }
}
