//! Table-driven tests of the commands the saga issues and of its rules.

use orderflow_events::sample;
use orderflow_events::*;
use orderflow_runtime::{Input, Outcome, Output, Processor};

use crate::{OrderSaga, SagaRules};

const NOW: i64 = 1_795_436_300_000;

fn saga(rules: SagaRules) -> OrderSaga {
    OrderSaga::new(rules).expect("valid rules")
}

fn run(saga: &OrderSaga, event: &OrderEvent) -> Outcome<OrderCommand> {
    let input = Input {
        event,
        topic: "orders.lifecycle",
        partition: 2,
        offset: 41,
        timestamp: None,
        key: None,
        headers: &[],
        now: NOW,
    };
    saga.process(&input).expect("the saga never fails")
}

fn issued(saga: &OrderSaga, event: &OrderEvent) -> Output<OrderCommand> {
    match run(saga, event) {
        Outcome::Emit(mut outputs) => {
            assert_eq!(outputs.len(), 1, "exactly one command per event");
            outputs.remove(0)
        }
        Outcome::Skip(reason) => panic!("skipped: {reason}"),
    }
}

fn skipped(saga: &OrderSaga, event: &OrderEvent) -> &'static str {
    match run(saga, event) {
        Outcome::Skip(reason) => reason,
        Outcome::Emit(outputs) => panic!("issued {outputs:?}"),
    }
}

fn event(payload: Payload) -> OrderEvent {
    sample::with_payload(&sample::order_placed(2), payload)
}

fn payment_failed(reason_code: &str) -> Payload {
    Payload::PaymentFailed(PaymentFailed {
        payment_id: "pay-9".into(),
        reason_code: reason_code.into(),
    })
}

fn cancelled(refund_amount: i64) -> Payload {
    Payload::OrderCancelled(OrderCancelled {
        reason: "customer_request".into(),
        refund_amount,
    })
}

fn delivered(signed_by: Option<&str>) -> Payload {
    Payload::OrderDelivered(OrderDelivered {
        signed_by: signed_by.map(str::to_owned),
    })
}

#[test]
fn every_payload_issues_its_command_or_is_skipped() {
    let saga = saga(SagaRules::default());
    let placed = sample::order_placed(2);
    let occurred_at = placed.occurred_at;
    let cases: [(Payload, Result<Command, &str>); 6] = [
        (placed.payload.clone(), Err("OrderPlaced")),
        (
            Payload::PaymentAuthorized(PaymentAuthorized {
                payment_id: "pay-9".into(),
                amount: 5097,
                currency: "EUR".into(),
                method: "card".into(),
            }),
            Err("PaymentAuthorized"),
        ),
        (
            payment_failed("card_declined"),
            Ok(Command::CancelOrder(CancelOrder {
                payment_id: "pay-9".into(),
                reason_code: "card_declined".into(),
                reason: "payment_failed:card_declined".into(),
            })),
        ),
        (
            Payload::OrderShipped(OrderShipped {
                carrier: "DHL".into(),
                tracking_number: "00340434".into(),
            }),
            Err("OrderShipped"),
        ),
        (
            delivered(Some("R. Doe")),
            Ok(Command::CloseOrder(CloseOrder {
                delivered_at: occurred_at,
                signed_by: Some("R. Doe".into()),
            })),
        ),
        (
            cancelled(2599),
            Ok(Command::RefundPayment(RefundPayment {
                amount: 2599,
                currency: None,
                reason: "customer_request".into(),
            })),
        ),
    ];
    for (payload, expected) in cases {
        let name = payload.type_name();
        let event = sample::with_payload(&placed, payload);
        match expected {
            Ok(command) => assert_eq!(issued(&saga, &event).value.command, command, "{name}"),
            Err(reason) => assert_eq!(skipped(&saga, &event), reason, "{name}"),
        }
    }
}

#[test]
fn commands_carry_lineage_and_are_keyed_by_order() {
    let saga = saga(SagaRules::default());
    let source = event(payment_failed("insufficient_funds"));
    let out = issued(&saga, &source);
    assert_eq!(out.key, source.order_id);
    let command = &out.value;
    assert_eq!(command.order_id, source.order_id);
    assert_eq!(command.causation_id, source.event_id);
    assert_eq!(command.issued_at, NOW);
    assert_eq!(command.worker, "order-saga");
    assert_eq!(command.worker_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(
        command.command_id,
        event_id_text(derived_event_id("order-saga", &source.event_id, 0))
    );
}

#[test]
fn command_ids_are_deterministic_and_differ_per_source_event() {
    let saga = saga(SagaRules::default());
    let first = event(delivered(None));
    let again = issued(&saga, &first).value.command_id;
    assert_eq!(issued(&saga, &first).value.command_id, again);
    // The time of processing does not enter the id: a replay an hour later agrees.
    let input = Input {
        event: &first,
        topic: "orders.lifecycle",
        partition: 0,
        offset: 0,
        timestamp: None,
        key: None,
        headers: &[],
        now: NOW + 3_600_000,
    };
    let Outcome::Emit(later) = saga.process(&input).unwrap() else {
        panic!("skipped")
    };
    assert_eq!(later[0].value.command_id, again);
    let mut second = first.clone();
    second.event_id = "6d1b2a34-0000-4000-8000-000000000002".into();
    assert_ne!(issued(&saga, &second).value.command_id, again);
}

#[test]
fn refunds_of_zero_or_less_are_never_issued() {
    let saga = saga(SagaRules::default());
    for amount in [0, -1, i64::MIN] {
        assert_eq!(
            skipped(&saga, &event(cancelled(amount))),
            "OrderCancelled",
            "{amount}"
        );
    }
    for amount in [1, 2599, i64::MAX] {
        let out = issued(&saga, &event(cancelled(amount)));
        let Command::RefundPayment(refund) = out.value.command else {
            panic!("{amount}: {:?}", out.value.command)
        };
        assert_eq!(refund.amount, amount);
        assert_eq!(refund.currency, None, "OrderCancelled carries no currency");
    }
}

#[test]
fn refunds_below_the_minimum_are_skipped() {
    let saga = saga(SagaRules {
        min_refund_amount: 500,
        ..SagaRules::default()
    });
    for (amount, issues) in [(0, false), (499, false), (500, true), (501, true)] {
        match run(&saga, &event(cancelled(amount))) {
            Outcome::Emit(outputs) => assert!(issues && outputs.len() == 1, "{amount}"),
            Outcome::Skip(reason) => assert!(!issues && reason == "OrderCancelled", "{amount}"),
        }
    }
}

#[test]
fn a_switched_off_command_skips_its_payload_and_leaves_the_others() {
    let events = [
        ("PaymentFailed", event(payment_failed("card_declined"))),
        ("OrderCancelled", event(cancelled(100))),
        ("OrderDelivered", event(delivered(None))),
    ];
    let switches: [(&str, SagaRules); 3] = [
        (
            "PaymentFailed",
            SagaRules {
                cancel_order: false,
                ..SagaRules::default()
            },
        ),
        (
            "OrderCancelled",
            SagaRules {
                refund_payment: false,
                ..SagaRules::default()
            },
        ),
        (
            "OrderDelivered",
            SagaRules {
                close_order: false,
                ..SagaRules::default()
            },
        ),
    ];
    for (off, rules) in switches {
        let saga = saga(rules);
        for (payload, event) in &events {
            if *payload == off {
                assert_eq!(skipped(&saga, event), off);
            } else {
                issued(&saga, event);
            }
        }
    }
    let all_off = saga(SagaRules {
        cancel_order: false,
        refund_payment: false,
        close_order: false,
        ..SagaRules::default()
    });
    for (payload, event) in &events {
        assert_eq!(skipped(&all_off, event), *payload);
    }
}

#[test]
fn the_cancel_reason_comes_from_the_template() {
    for (template, expected) in [
        (
            "payment_failed:{reason_code}",
            "payment_failed:do_not_honor",
        ),
        ("{reason_code}", "do_not_honor"),
        (
            "payment {payment_id} failed ({reason_code})",
            "payment pay-9 failed (do_not_honor)",
        ),
        ("payment failed", "payment failed"),
    ] {
        let saga = saga(SagaRules {
            cancel_reason: template.into(),
            ..SagaRules::default()
        });
        let out = issued(&saga, &event(payment_failed("do_not_honor")));
        let Command::CancelOrder(cancel) = out.value.command else {
            panic!("{template}: {:?}", out.value.command)
        };
        assert_eq!(cancel.reason, expected, "{template}");
        assert_eq!(cancel.reason_code, "do_not_honor");
        assert_eq!(cancel.payment_id, "pay-9");
    }
}

#[test]
fn invalid_rules_are_refused_at_start_naming_the_rule() {
    for (rules, key) in [
        (
            SagaRules {
                min_refund_amount: 0,
                ..SagaRules::default()
            },
            "min_refund_amount",
        ),
        (
            SagaRules {
                cancel_reason: "{code}".into(),
                ..SagaRules::default()
            },
            "cancel_reason",
        ),
    ] {
        let error = OrderSaga::new(rules).unwrap_err();
        assert!(error.starts_with(key), "{key}: {error}");
    }
}

/// The commands the saga writes are read back by a plain Avro reader holding the
/// `.avsc` file, as an executing service in another language would read them.
#[test]
fn commands_are_readable_with_the_schema_file() {
    let schema =
        apache_avro::Schema::parse_str(include_str!("../../../schemas/OrderCommand/v1.avsc"))
            .unwrap();
    let saga = saga(SagaRules::default());
    for payload in [
        payment_failed("card_declined"),
        cancelled(100),
        delivered(Some("R. Doe")),
        delivered(None),
    ] {
        let command = issued(&saga, &event(payload)).value;
        let mut bytes = Vec::new();
        datum::write(&command, &mut bytes).unwrap();
        let reader = apache_avro::reader::datum::GenericDatumReader::builder(&schema)
            .human_readable(false)
            .build()
            .unwrap();
        let mut cursor = bytes.as_slice();
        let read: OrderCommand = reader.read_deser(&mut cursor).unwrap();
        assert_eq!(read, command);
        assert!(cursor.is_empty(), "{} trailing bytes", cursor.len());
    }
}
