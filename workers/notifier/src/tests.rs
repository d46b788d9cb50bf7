//! Table-driven tests of the templates, parameters and rules of the notifier.

use std::collections::HashMap;

use orderflow_events::sample;
use orderflow_events::*;
use orderflow_runtime::{Input, Outcome, Output, Processor};

use crate::rules::{Channel, PAYLOAD_TYPES};
use crate::{Notifier, NotifierRules};

const NOW: i64 = 1_795_436_300_000;

fn notifier(rules: NotifierRules) -> Notifier {
    Notifier::new(rules).expect("valid rules")
}

fn run(notifier: &Notifier, event: &OrderEvent) -> Outcome<NotificationRequested> {
    let input = Input {
        event,
        topic: "orders.lifecycle",
        partition: 1,
        offset: 99,
        timestamp: None,
        key: None,
        headers: &[],
        now: NOW,
    };
    notifier.process(&input).expect("notifying never fails")
}

fn emitted(notifier: &Notifier, event: &OrderEvent) -> Output<NotificationRequested> {
    match run(notifier, event) {
        Outcome::Emit(mut outputs) => {
            assert_eq!(outputs.len(), 1, "exactly one output per event");
            outputs.remove(0)
        }
        Outcome::Skip(reason) => panic!("skipped: {reason}"),
    }
}

fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn event(payload: Payload) -> OrderEvent {
    sample::with_payload(&sample::order_placed(3), payload)
}

fn payment_authorized() -> Payload {
    Payload::PaymentAuthorized(PaymentAuthorized {
        payment_id: "pay-1".into(),
        amount: 5097,
        currency: "EUR".into(),
        method: "card".into(),
    })
}

fn payment_failed() -> Payload {
    Payload::PaymentFailed(PaymentFailed {
        payment_id: "pay-1".into(),
        reason_code: "insufficient_funds".into(),
    })
}

fn order_shipped() -> Payload {
    Payload::OrderShipped(OrderShipped {
        carrier: "DHL".into(),
        tracking_number: "JJD000390007".into(),
    })
}

fn order_delivered(signed_by: Option<&str>) -> Payload {
    Payload::OrderDelivered(OrderDelivered {
        signed_by: signed_by.map(str::to_owned),
    })
}

fn order_cancelled() -> Payload {
    Payload::OrderCancelled(OrderCancelled {
        reason: "customer_request".into(),
        refund_amount: 12_345,
    })
}

/// One row: the event, then the template, channel, recipient and parameters expected.
type Case = (
    OrderEvent,
    &'static str,
    NotificationChannel,
    Option<&'static str>,
    HashMap<String, String>,
);

fn default_cases() -> Vec<Case> {
    let placed = sample::order_placed(3);
    let Payload::OrderPlaced(order) = &placed.payload else {
        unreachable!()
    };
    let total = order.total.to_string();
    vec![
        (
            placed.clone(),
            "order_confirmation",
            NotificationChannel::Email,
            Some("ada@example.com"),
            params(&[
                ("order_id", "ord-000123"),
                ("total", &total),
                ("currency", "EUR"),
                ("line_count", "3"),
            ]),
        ),
        (
            event(payment_failed()),
            "payment_failed",
            NotificationChannel::Email,
            None,
            params(&[
                ("order_id", "ord-000123"),
                ("reason_code", "insufficient_funds"),
                ("payment_id", "pay-1"),
            ]),
        ),
        (
            event(order_shipped()),
            "order_shipped",
            NotificationChannel::Email,
            None,
            params(&[
                ("order_id", "ord-000123"),
                ("carrier", "DHL"),
                ("tracking_number", "JJD000390007"),
            ]),
        ),
        (
            event(order_delivered(Some("Ada Lovelace"))),
            "order_delivered",
            NotificationChannel::Email,
            None,
            params(&[("order_id", "ord-000123"), ("signed_by", "Ada Lovelace")]),
        ),
        (
            event(order_delivered(None)),
            "order_delivered",
            NotificationChannel::Email,
            None,
            params(&[("order_id", "ord-000123")]),
        ),
        (
            event(order_delivered(Some("  "))),
            "order_delivered",
            NotificationChannel::Email,
            None,
            params(&[("order_id", "ord-000123")]),
        ),
        (
            event(order_cancelled()),
            "order_cancelled",
            NotificationChannel::Email,
            None,
            params(&[
                ("order_id", "ord-000123"),
                ("reason", "customer_request"),
                ("refund_amount", "12345"),
            ]),
        ),
    ]
}

fn check(notifier: &Notifier, cases: Vec<Case>) {
    for (event, template, channel, recipient, parameters) in cases {
        let name = event.payload.type_name();
        let out = emitted(notifier, &event).value;
        assert_eq!(out.template, template, "{name}");
        assert_eq!(out.channel, channel, "{name}");
        assert_eq!(out.recipient.as_deref(), recipient, "{name}");
        assert_eq!(out.parameters, parameters, "{name}");
        assert_eq!(out.customer_id, event.customer_id, "{name}");
    }
}

#[test]
fn every_notified_payload_has_its_template_and_parameters() {
    check(&notifier(NotifierRules::default()), default_cases());
}

#[test]
fn payment_authorized_is_skipped() {
    let notifier = notifier(NotifierRules::default());
    assert_eq!(
        run(&notifier, &event(payment_authorized())),
        Outcome::Skip("PaymentAuthorized")
    );
}

#[test]
fn the_channel_rule_applies_where_the_service_looks_the_customer_up() {
    for (channel, expected) in [
        (Channel::Email, NotificationChannel::Email),
        (Channel::Sms, NotificationChannel::Sms),
        (Channel::Push, NotificationChannel::Push),
    ] {
        let notifier = notifier(NotifierRules {
            channel,
            ..NotifierRules::default()
        });
        let cases = default_cases()
            .into_iter()
            .map(
                |(event, template, default_channel, recipient, parameters)| {
                    // The confirmation carries an email address, so it stays an email.
                    let channel = if recipient.is_some() {
                        default_channel
                    } else {
                        expected
                    };
                    (event, template, channel, recipient, parameters)
                },
            )
            .collect();
        check(&notifier, cases);
    }
}

#[test]
fn templates_rule_renames_templates() {
    let notifier = notifier(NotifierRules {
        templates: [
            ("OrderShipped".to_owned(), "shipping_update_v2".to_owned()),
            ("OrderPlaced".to_owned(), "thanks".to_owned()),
        ]
        .into_iter()
        .collect(),
        ..NotifierRules::default()
    });
    let cases = default_cases()
        .into_iter()
        .map(|(event, template, channel, recipient, parameters)| {
            let template = match event.payload.type_name() {
                "OrderShipped" => "shipping_update_v2",
                "OrderPlaced" => "thanks",
                _ => template,
            };
            (event, template, channel, recipient, parameters)
        })
        .collect();
    check(&notifier, cases);
}

#[test]
fn disabled_rule_skips_payload_types() {
    let notifier = notifier(NotifierRules {
        disabled: vec!["OrderShipped".into(), "OrderPlaced".into()],
        ..NotifierRules::default()
    });
    let placed = sample::order_placed(1);
    assert_eq!(run(&notifier, &placed), Outcome::Skip("OrderPlaced"));
    assert_eq!(
        run(&notifier, &event(order_shipped())),
        Outcome::Skip("OrderShipped")
    );
    let cases: Vec<Case> = default_cases()
        .into_iter()
        .filter(|c| !matches!(c.0.payload.type_name(), "OrderShipped" | "OrderPlaced"))
        .collect();
    assert_eq!(cases.len(), 5);
    check(&notifier, cases);
}

#[test]
fn an_order_without_an_email_is_looked_up() {
    let notifier = notifier(NotifierRules::default());
    for email in ["", "   "] {
        let mut placed = sample::order_placed(1);
        if let Payload::OrderPlaced(order) = &mut placed.payload {
            order.customer_email = email.into();
        }
        let out = emitted(&notifier, &placed).value;
        assert_eq!(out.recipient, None);
        assert_eq!(out.template, "order_confirmation");
    }
}

#[test]
fn parameters_keep_unicode_and_extreme_amounts() {
    let notifier = notifier(NotifierRules::default());
    let mut placed = sample::order_placed(0);
    if let Payload::OrderPlaced(order) = &mut placed.payload {
        order.total = i64::MIN;
        order.currency = "eur".into();
        order.customer_email = "ädä@exämple.de".into();
    }
    let out = emitted(&notifier, &placed).value;
    assert_eq!(out.recipient.as_deref(), Some("ädä@exämple.de"));
    assert_eq!(out.parameters["total"], "-9223372036854775808");
    assert_eq!(out.parameters["currency"], "eur");
    assert_eq!(out.parameters["line_count"], "0");

    let cancelled = event(Payload::OrderCancelled(OrderCancelled {
        reason: "Kunde hat storniert – zu spät".into(),
        refund_amount: i64::MAX,
    }));
    let out = emitted(&notifier, &cancelled).value;
    assert_eq!(out.parameters["reason"], "Kunde hat storniert – zu spät");
    assert_eq!(out.parameters["refund_amount"], "9223372036854775807");
}

#[test]
fn outputs_carry_lineage_and_are_keyed_by_order() {
    let notifier = notifier(NotifierRules::default());
    for (event, ..) in default_cases() {
        let out = emitted(&notifier, &event);
        assert_eq!(out.key, event.order_id);
        assert_eq!(out.value.order_id, event.order_id);
        assert_eq!(out.value.customer_id, event.customer_id);
        assert_eq!(out.value.causation_id, event.event_id);
        assert_eq!(out.value.produced_at, NOW);
        assert_eq!(out.value.worker, "notifier");
        assert_eq!(out.value.worker_version, env!("CARGO_PKG_VERSION"));
        assert_eq!(
            out.value.event_id,
            derived_event_id("notifier", &event.event_id, 0).to_string()
        );
        // Deterministic: the same input gives the same output.
        assert_eq!(emitted(&notifier, &event), out);
    }
}

#[test]
fn payload_type_names_match_the_event_model() {
    let payloads = [
        sample::order_placed(1).payload,
        payment_authorized(),
        payment_failed(),
        order_shipped(),
        order_delivered(None),
        order_cancelled(),
    ];
    let names: Vec<&str> = payloads.iter().map(Payload::type_name).collect();
    assert_eq!(names, PAYLOAD_TYPES);
}

#[test]
fn invalid_rules_are_refused_by_new() {
    let error = Notifier::new(NotifierRules {
        disabled: vec!["Shipped".into()],
        ..NotifierRules::default()
    })
    .unwrap_err();
    assert!(error.starts_with("disabled[0]"), "{error}");
}
