//! Sample events for tests and benchmarks.

use crate::model::*;

/// A valid `OrderPlaced` event with `items` line items and a consistent total.
pub fn order_placed(items: usize) -> OrderEvent {
    let line_items: Vec<LineItem> = (0..items)
        .map(|i| LineItem {
            sku: format!("SKU-{i:05}"),
            quantity: 2,
            unit_price: 1999,
        })
        .collect();
    let lines: i64 = line_items
        .iter()
        .map(|l| i64::from(l.quantity) * l.unit_price)
        .sum();
    let (shipping, tax, discount) = (499, 700, 100);
    OrderEvent {
        event_id: "4b2f6d1e-8a3c-4f7e-9b1d-2c5e8f0a7b3d".into(),
        order_id: "ord-000123".into(),
        customer_id: "cus-42".into(),
        occurred_at: 1_795_436_220_317,
        source: "shop-frontend".into(),
        payload: Payload::OrderPlaced(OrderPlaced {
            line_items,
            currency: "EUR".into(),
            shipping,
            tax,
            discount,
            total: lines + shipping + tax - discount,
            shipping_address: Address {
                recipient: "Ada Lovelace".into(),
                line1: "1 Main St".into(),
                line2: None,
                city: "Berlin".into(),
                postal_code: "10115".into(),
                region: None,
                country: "DE".into(),
            },
            billing_country: "DE".into(),
            customer_email: "ada@example.com".into(),
            new_customer: false,
            sales_channel: SalesChannel::Web,
        }),
    }
}

/// The same order with another payload.
pub fn with_payload(event: &OrderEvent, payload: Payload) -> OrderEvent {
    OrderEvent {
        payload,
        ..event.clone()
    }
}

/// A `UserEvent` of user `cus-42` (the customer of [`order_placed`]) with `payload`.
pub fn user_event(payload: UserPayload) -> UserEvent {
    UserEvent {
        event_id: "9d3c1a7e-52b4-4e0f-8c6a-1f2e3d4c5b6a".into(),
        user_id: "cus-42".into(),
        occurred_at: 1_795_436_100_000,
        source: "user-service".into(),
        payload,
    }
}

/// One payload of each `UserEvent` type: a registration, a login from a new device,
/// an e-mail change.
pub fn user_payloads() -> [UserPayload; 3] {
    [
        UserPayload::UserRegistered(UserRegistered {
            email: "ada@example.com".into(),
            display_name: "Ada".into(),
            locale: "en-GB".into(),
            marketing_consent: false,
        }),
        UserPayload::UserLoggedIn(UserLoggedIn {
            ip_address: "192.0.2.7".into(),
            user_agent: "Mozilla/5.0".into(),
            device_id: "dev-7".into(),
            new_device: true,
        }),
        UserPayload::UserEmailChanged(UserEmailChanged {
            old_email: "ada@example.com".into(),
            new_email: "ada@example.org".into(),
        }),
    ]
}
