//! proptest strategies for every event type, shared by the codec's tests.

use std::collections::HashMap;

use proptest::prelude::*;

use crate::derived_event;
use crate::model::*;

pub(crate) fn text() -> impl Strategy<Value = String> {
    prop_oneof![".{0,24}", "[a-zA-Z0-9@._-]{0,16}", Just(String::new())]
}

prop_compose! {
    fn arb_line()(sku in text(), quantity in any::<i32>(), unit_price in any::<i64>()) -> LineItem {
        LineItem { sku, quantity, unit_price }
    }
}

prop_compose! {
    fn arb_address()(recipient in text(), line1 in text(), line2 in proptest::option::of(text()),
                     city in text(), postal_code in text(), region in proptest::option::of(text()),
                     country in text()) -> Address {
        Address { recipient, line1, line2, city, postal_code, region, country }
    }
}

fn arb_channel() -> impl Strategy<Value = SalesChannel> {
    prop_oneof![
        Just(SalesChannel::Web),
        Just(SalesChannel::MobileApp),
        Just(SalesChannel::Marketplace),
        Just(SalesChannel::Pos),
        Just(SalesChannel::Phone),
        Just(SalesChannel::Unknown),
    ]
}

prop_compose! {
    fn arb_placed()(line_items in proptest::collection::vec(arb_line(), 0..12), currency in text(),
                    amounts in any::<[i64; 4]>(), shipping_address in arb_address(),
                    billing_country in text(), customer_email in text(), new_customer in any::<bool>(),
                    sales_channel in arb_channel()) -> OrderPlaced {
        OrderPlaced {
            line_items, currency, shipping: amounts[0], tax: amounts[1], discount: amounts[2],
            total: amounts[3], shipping_address, billing_country, customer_email, new_customer,
            sales_channel,
        }
    }
}

fn arb_payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        arb_placed().prop_map(Payload::OrderPlaced),
        (text(), any::<i64>(), text(), text()).prop_map(
            |(payment_id, amount, currency, method)| {
                Payload::PaymentAuthorized(PaymentAuthorized {
                    payment_id,
                    amount,
                    currency,
                    method,
                })
            }
        ),
        (text(), text()).prop_map(|(payment_id, reason_code)| {
            Payload::PaymentFailed(PaymentFailed {
                payment_id,
                reason_code,
            })
        }),
        (text(), text()).prop_map(|(carrier, tracking_number)| {
            Payload::OrderShipped(OrderShipped {
                carrier,
                tracking_number,
            })
        }),
        proptest::option::of(text())
            .prop_map(|signed_by| Payload::OrderDelivered(OrderDelivered { signed_by })),
        (text(), any::<i64>()).prop_map(|(reason, refund_amount)| {
            Payload::OrderCancelled(OrderCancelled {
                reason,
                refund_amount,
            })
        }),
    ]
}

prop_compose! {
    pub(crate) fn arb_event()(event_id in text(), order_id in text(), customer_id in text(),
                   occurred_at in any::<i64>(), source in text(), payload in arb_payload()) -> OrderEvent {
        OrderEvent { event_id, order_id, customer_id, occurred_at, source, payload }
    }
}

prop_compose! {
    fn arb_lineage()(event_id in text(), causation_id in text(), order_id in text(),
                     produced_at in any::<i64>(), worker in text(), worker_version in text())
                     -> Lineage {
        Lineage { event_id, causation_id, order_id, produced_at, worker, worker_version }
    }
}

fn arb_reason() -> impl Strategy<Value = RejectionReason> {
    (text(), text(), text()).prop_map(|(code, field, message)| RejectionReason {
        code,
        field,
        message,
    })
}

/// An `OrderValidation` of either result.
pub(crate) fn arb_validation() -> impl Strategy<Value = OrderValidation> {
    let result = prop_oneof![
        (any::<i64>(), text(), any::<i32>()).prop_map(|(total, currency, line_count)| {
            ValidationResult::OrderValidated(OrderValidated {
                total,
                currency,
                line_count,
            })
        }),
        proptest::collection::vec(arb_reason(), 0..6)
            .prop_map(|reasons| ValidationResult::OrderRejected(OrderRejected { reasons })),
    ];
    (arb_lineage(), text(), result).prop_map(
        |(l, customer_id, result)| derived_event!(OrderValidation, l, { customer_id, result }),
    )
}

/// An `OrderStatusChanged` of any status.
pub(crate) fn arb_status_changed() -> impl Strategy<Value = OrderStatusChanged> {
    let status = prop_oneof![
        Just(OrderStatus::Placed),
        Just(OrderStatus::PaymentAuthorized),
        Just(OrderStatus::PaymentFailed),
        Just(OrderStatus::Shipped),
        Just(OrderStatus::Delivered),
        Just(OrderStatus::Cancelled),
        Just(OrderStatus::Unknown),
    ];
    (arb_lineage(), text(), status, any::<i64>()).prop_map(
        |(l, customer_id, status, occurred_at)| {
            derived_event!(OrderStatusChanged, l, { customer_id, status, occurred_at })
        },
    )
}

/// A `NotificationRequested` with up to 6 parameters.
pub(crate) fn arb_notification() -> impl Strategy<Value = NotificationRequested> {
    let channel = prop_oneof![
        Just(NotificationChannel::Email),
        Just(NotificationChannel::Sms),
        Just(NotificationChannel::Push),
        Just(NotificationChannel::Unknown),
    ];
    let parameters: BoxedStrategy<HashMap<String, String>> =
        proptest::collection::hash_map(text(), text(), 0..6).boxed();
    (
        arb_lineage(),
        text(),
        channel,
        proptest::option::of(text()),
        text(),
        parameters,
    )
        .prop_map(
            |(l, customer_id, channel, recipient, template, parameters)| {
                derived_event!(NotificationRequested, l, {
                    customer_id, channel, recipient, template, parameters,
                })
            },
        )
}

/// An `OrderRiskAssessed` with up to 6 signals.
pub(crate) fn arb_risk_assessed() -> impl Strategy<Value = OrderRiskAssessed> {
    let decision = prop_oneof![
        Just(RiskDecision::Approve),
        Just(RiskDecision::Review),
        Just(RiskDecision::Decline),
        Just(RiskDecision::Unknown),
    ];
    let signal = (text(), any::<i32>(), text()).prop_map(|(code, weight, detail)| RiskSignal {
        code,
        weight,
        detail,
    });
    (
        arb_lineage(),
        text(),
        any::<i32>(),
        decision,
        proptest::collection::vec(signal, 0..6),
    )
        .prop_map(
            |(l, customer_id, score, decision, signals)| {
                derived_event!(OrderRiskAssessed, l, { customer_id, score, decision, signals })
            },
        )
}
