//! order-saga against the real broker: the commands of a mix of lifecycle events, each
//! exactly once to a `read_committed` reader, a poison record dead-lettered, the rules
//! file applied, a clean exit on SIGTERM, and invalid rules refused at start.

use std::collections::HashMap;
use std::time::Duration;

use orderflow::verify::read_all;
use orderflow_events::{
    CancelOrder, CloseOrder, Codec, CodecSettings, Command, OrderCancelled, OrderCommand,
    OrderDelivered, OrderEvent, OrderShipped, Payload, PaymentAuthorized, PaymentFailed,
    RefundPayment, derived_event_id, event_id_text, sample,
};
use orderflow_tests::process::Process;
use orderflow_tests::{kafka, payload, unique};
use rdkafka::Message;
use rdkafka::message::Headers;

use crate::runtime::{topics, worker_args};

/// The rules the test runs the saga with: a template of its own and a minimum refund,
/// so that the test fails if the file is not read.
const RULES: &str = r#"
cancel_reason = "payment {payment_id} failed: {reason_code}"
min_refund_amount = 100
"#;

/// One order's lifecycle events, and the command each one must issue under [`RULES`].
fn lifecycle(order: usize) -> Vec<(Payload, Option<Command>)> {
    let placed = sample::order_placed(2).payload;
    let pay = format!("pay-{order}");
    let cancelled = |refund_amount| {
        Payload::OrderCancelled(OrderCancelled {
            reason: "customer_request".into(),
            refund_amount,
        })
    };
    let refund = |amount| {
        Some(Command::RefundPayment(RefundPayment {
            amount,
            currency: None,
            reason: "customer_request".into(),
        }))
    };
    // Every order gets every payload; the refund amounts vary by order so that zero,
    // negative, below-minimum and issued refunds all occur.
    let refund_amount = [0, -5, 99, 100, 2599][order % 5];
    vec![
        (placed, None),
        (
            Payload::PaymentAuthorized(PaymentAuthorized {
                payment_id: pay.clone(),
                amount: 5097,
                currency: "EUR".into(),
                method: "card".into(),
            }),
            None,
        ),
        (
            Payload::PaymentFailed(PaymentFailed {
                payment_id: pay.clone(),
                reason_code: "card_declined".into(),
            }),
            Some(Command::CancelOrder(CancelOrder {
                payment_id: pay.clone(),
                reason_code: "card_declined".into(),
                reason: format!("payment {pay} failed: card_declined"),
            })),
        ),
        (
            Payload::OrderShipped(OrderShipped {
                carrier: "DHL".into(),
                tracking_number: format!("1Z{order}"),
            }),
            None,
        ),
        (
            Payload::OrderDelivered(OrderDelivered {
                signed_by: Some(format!("signer {order}")),
            }),
            // delivered_at is the event's occurred_at, filled in below.
            Some(Command::CloseOrder(CloseOrder {
                delivered_at: 0,
                signed_by: Some(format!("signer {order}")),
            })),
        ),
        (
            cancelled(refund_amount),
            if refund_amount >= 100 {
                refund(refund_amount)
            } else {
                None
            },
        ),
    ]
}

#[orderflow_tests::test(timeout = 300)]
async fn issues_each_command_exactly_once_dead_letters_poison_and_stops_cleanly() {
    let kafka = kafka().await;
    let topics = topics(kafka, 2).await;
    let rules = std::env::temp_dir().join(format!("{}.toml", unique("saga-rules")));
    std::fs::write(&rules, RULES).expect("rules file");

    let codec = Codec::new(CodecSettings::default()).expect("codec");
    let mut records: Vec<(String, Vec<u8>)> = Vec::new();
    // Expected command per source event id.
    let mut expected: HashMap<String, (String, Command)> = HashMap::new();
    let orders = 10;
    for order in 0..orders {
        let order_id = format!("{}-order-{order}", topics.input);
        for (sequence, (payload, command)) in lifecycle(order).into_iter().enumerate() {
            let event = OrderEvent {
                event_id: format!("{}-{order}-{sequence}", topics.input),
                order_id: order_id.clone(),
                customer_id: format!("cus-{order}"),
                occurred_at: 1_795_436_220_317 + (order * 10 + sequence) as i64,
                source: "test".into(),
                payload,
            };
            if let Some(mut command) = command {
                if let Command::CloseOrder(close) = &mut command {
                    close.delivered_at = event.occurred_at;
                }
                expected.insert(event.event_id.clone(), (order_id.clone(), command));
            }
            let bytes = codec
                .encode("orders.lifecycle", &event)
                .await
                .expect("encode");
            records.push((order_id.clone(), bytes));
        }
        if order == 3 {
            records.push((order_id.clone(), b"definitely not avro".to_vec()));
        }
    }
    // 10 orders: 10 CancelOrder, 10 CloseOrder, and refunds of 100 and 2599 for 4.
    assert_eq!(expected.len(), 24);
    kafka.produce(&topics.input, &records).await;

    let rules_arg = rules.display().to_string();
    let mut worker = Process::start(
        "order-saga",
        &worker_args(kafka, &topics, "exactly-once", &["--rules", &rules_arg]),
        &[],
    );
    let letters = kafka.consume(&topics.dlq, 1, Duration::from_secs(90)).await;
    let arrived = kafka
        .consume(&topics.output, expected.len(), Duration::from_secs(90))
        .await;
    assert_eq!(
        arrived.len(),
        expected.len(),
        "commands missing; worker log:\n{}",
        worker.log_tail(40)
    );
    // Late duplicates would show up after the expected count: read everything again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let outputs = read_all(&kafka.settings(), &topics.output, true)
        .await
        .expect("reading the commands");

    worker.terminate();
    let status = worker
        .wait(Duration::from_secs(25))
        .await
        .expect("exits after SIGTERM");
    let _ = std::fs::remove_file(&rules);
    assert!(status.success(), "exit status {status}");

    let mut seen: HashMap<String, usize> = HashMap::new();
    for message in &outputs {
        let command: OrderCommand = codec
            .decode(payload(message))
            .await
            .expect("every output is an OrderCommand")
            .value;
        let Some((order_id, want)) = expected.get(&command.causation_id) else {
            panic!("a command for an event that issues none: {command:?}");
        };
        *seen.entry(command.causation_id.clone()).or_default() += 1;
        assert_eq!(message.key(), Some(order_id.as_bytes()), "keyed by order");
        assert_eq!(&command.order_id, order_id);
        assert_eq!(&command.command, want, "{}", command.causation_id);
        assert_eq!(
            command.command_id,
            event_id_text(derived_event_id("order-saga", &command.causation_id, 0))
        );
        assert_eq!(command.worker, "order-saga");
        assert!(command.issued_at > 0);
    }
    let duplicated: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicated.is_empty(), "duplicated: {duplicated:?}");
    assert_eq!(seen.len(), expected.len(), "every command exactly once");

    assert_eq!(letters.len(), 1, "the poison record dead-lettered");
    assert_eq!(payload(&letters[0]), b"definitely not avro");
    let worker_header = letters[0].headers().and_then(|h| {
        h.iter()
            .find(|h| h.key == orderflow_runtime::dead_letter::header::WORKER)
            .and_then(|h| h.value.map(|v| String::from_utf8_lossy(v).into_owned()))
    });
    assert_eq!(worker_header.as_deref(), Some("order-saga"));
}

#[orderflow_tests::test(timeout = 60)]
async fn invalid_rules_are_refused_at_start_naming_the_rule() {
    let kafka = kafka().await;
    let topics = topics(kafka, 1).await;
    for (text, key) in [
        ("min_refund_amount = 0", "min_refund_amount"),
        ("cancel_reason = \"{reason}\"", "cancel_reason"),
        ("refund = false", "refund"),
    ] {
        let rules = std::env::temp_dir().join(format!("{}.toml", unique("saga-rules")));
        std::fs::write(&rules, text).expect("rules file");
        let rules_arg = rules.display().to_string();
        let mut worker = Process::start(
            "order-saga",
            &worker_args(kafka, &topics, "exactly-once", &["--rules", &rules_arg]),
            &[],
        );
        let status = worker
            .wait(Duration::from_secs(20))
            .await
            .expect("exits at start");
        let _ = std::fs::remove_file(&rules);
        assert_eq!(status.code(), Some(2), "{text}: {}", worker.log());
        assert!(worker.log().contains(key), "{text}: {}", worker.log());
    }
}
