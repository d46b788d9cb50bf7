//! The runtime against the real broker: exactly-once and at-least-once under SIGKILL
//! and SIGTERM, poison messages, broker restarts, metrics and readiness.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use orderflow_events::{Codec, CodecSettings, OrderStatusChanged};
use orderflow_tests::orders::{TestEvent, events};
use orderflow_tests::process::Process;
use orderflow_tests::verify::{Report, check};
use orderflow_tests::{Kafka, kafka, payload, unique};
use rdkafka::message::OwnedMessage;

pub struct Topics {
    pub input: String,
    pub output: String,
    pub dlq: String,
    pub group: String,
}

pub async fn topics(kafka: &Kafka, partitions: i32) -> Topics {
    let topics = Topics {
        input: unique("in"),
        output: unique("status"),
        dlq: unique("dlq"),
        group: unique("group"),
    };
    for topic in [&topics.input, &topics.output, &topics.dlq] {
        kafka.create_topic(topic, partitions, 1).await;
    }
    topics
}

pub fn worker_args(kafka: &Kafka, topics: &Topics, guarantee: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--bootstrap-servers",
        kafka.bootstrap_servers(),
        "--group-id",
        &topics.group,
        "--input-topic",
        &topics.input,
        "--output-topic",
        &topics.output,
        "--dlq-topic",
        &topics.dlq,
        "--guarantee",
        guarantee,
        "--http-addr",
        "127.0.0.1:0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

pub async fn produce(kafka: &Kafka, topic: &str, events: &[TestEvent]) {
    let records: Vec<_> = events
        .iter()
        .map(|e| (e.order_id.clone(), e.bytes.clone()))
        .collect();
    kafka.produce(topic, &records).await;
}

/// Every output's `causation_id`.
pub async fn causations(outputs: &[OwnedMessage]) -> Vec<Option<String>> {
    let codec = Codec::new(CodecSettings::default()).unwrap();
    let mut out = Vec::with_capacity(outputs.len());
    for message in outputs {
        out.push(
            codec
                .decode::<OrderStatusChanged>(payload(message))
                .await
                .ok()
                .map(|d| d.value.causation_id),
        );
    }
    out
}

/// Reads `topic` until at least `count` records or `timeout`, then verifies.
pub async fn verify(kafka: &Kafka, topic: &str, events: &[TestEvent], timeout: Duration) -> Report {
    let outputs = kafka.consume(topic, events.len(), timeout).await;
    // Late duplicates would arrive just after: read on briefly.
    let outputs = if outputs.len() >= events.len() {
        kafka.consume_all(topic, Duration::from_secs(3)).await
    } else {
        outputs
    };
    let ids = causations(&outputs).await;
    let expected: HashSet<String> = events.iter().map(|e| e.event_id.clone()).collect();
    let index: std::collections::HashMap<(i32, i64), Option<String>> = outputs
        .iter()
        .zip(ids)
        .map(|(m, id)| {
            (
                (rdkafka::Message::partition(m), rdkafka::Message::offset(m)),
                id,
            )
        })
        .collect();
    check(&expected, &outputs, |m| {
        index[&(rdkafka::Message::partition(m), rdkafka::Message::offset(m))].clone()
    })
}

#[tokio::test]
async fn one_instance_processes_every_event_exactly_once_and_stops_cleanly() {
    let kafka = kafka().await;
    let topics = topics(kafka, 3).await;
    let events = events(&topics.input, 50, 2_000).await;
    produce(kafka, &topics.input, &events).await;
    let started = Instant::now();
    let mut worker = Process::start(
        "order-status",
        &worker_args(kafka, &topics, "exactly-once", &[]),
        &[],
    );
    let report = verify(kafka, &topics.output, &events, Duration::from_secs(60)).await;
    println!(
        "{} events processed in {:?}: {report:?}",
        events.len(),
        started.elapsed()
    );
    worker.terminate();
    let status = worker
        .wait(Duration::from_secs(25))
        .await
        .expect("exits after SIGTERM");
    assert!(status.success(), "exit status {status}");
    assert_eq!(
        report.lost.len(),
        0,
        "lost: {:?}",
        &report.lost[..report.lost.len().min(10)]
    );
    assert_eq!(report.duplicates(), 0);
    assert!(
        report.order_violations.is_empty(),
        "{:?}",
        report.order_violations
    );
    assert_eq!(report.unexpected, 0);
}
