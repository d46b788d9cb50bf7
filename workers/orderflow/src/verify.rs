//! `orderflow verify`: reads a worker's input, output and dead-letter topics with its
//! own assignment (never the worker's group), `read_committed`, and reports in JSON
//! what a downstream reader sees: inputs whose outputs are lost, duplicated, or not yet
//! seen; per-key order violations; outputs of no input; records of aborted
//! transactions (visible only to `read_uncommitted` readers).
//!
//! Which inputs must produce an output depends on the worker: order-status answers
//! every event, order-validator and risk-scorer every `OrderPlaced`, notifier every
//! event but `PaymentAuthorized`, order-saga (with its default rules) every
//! `PaymentFailed`, `OrderDelivered`, and `OrderCancelled` with a refund above zero. An input that does not decode must be in the
//! dead-letter topic exactly once (matched by its provenance headers).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use orderflow_events::{Codec, OrderEvent, Payload};
use orderflow_runtime::dead_letter::header;
use orderflow_runtime::kafka::{KafkaSettings, keep_bootstrapped, rebootstrap_watch};
use orderflow_runtime::topics::describe_topic;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::OwnedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};
use serde::Serialize;

use crate::cli::VerifyArgs;

/// What the topics show. `lost` means missing after `timeout`.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Report {
    /// Input records read.
    pub inputs: u64,
    /// Inputs that must have an output.
    pub expected_outputs: u64,
    /// Output records read (read_committed).
    pub outputs: u64,
    /// Inputs whose output never appeared.
    pub lost: u64,
    /// Extra copies of outputs.
    pub duplicated: u64,
    /// Outputs naming no input.
    pub unexpected: u64,
    /// Keys whose outputs are not in input order.
    pub order_violations: u64,
    /// Records of aborted transactions in the output and dead-letter topics.
    pub aborted_reads: u64,
    /// Inputs that must be dead-lettered (they do not decode).
    pub expected_dead_letters: u64,
    /// Dead letters read.
    pub dead_letters: u64,
    /// Undecodable inputs without a dead letter.
    pub dead_letters_missing: u64,
    /// Extra copies of dead letters.
    pub dead_letters_duplicated: u64,
    /// Up to ten examples of each problem.
    pub examples: BTreeMap<String, Vec<String>>,
}

impl Report {
    /// Whether nothing is lost, duplicated, unexpected or out of order.
    pub fn is_clean(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.unexpected == 0
            && self.order_violations == 0
            && self.dead_letters_missing == 0
            && self.dead_letters_duplicated == 0
    }

    fn example(&mut self, kind: &str, text: String) {
        let list = self.examples.entry(kind.to_owned()).or_default();
        if list.len() < 10 {
            list.push(text);
        }
    }
}

/// Runs `orderflow verify`, printing the report as JSON.
pub async fn run(args: VerifyArgs) -> anyhow::Result<()> {
    let settings = args.connection.kafka()?;
    let codec = Codec::new(args.connection.codec(None)?).map_err(anyhow::Error::msg)?;
    let output = args
        .output_topic
        .clone()
        .unwrap_or_else(|| default_output(&args.worker));
    let dlq = args
        .dlq_topic
        .clone()
        .unwrap_or_else(|| format!("{}.dlq", args.worker));
    let report = verify(
        &settings,
        &codec,
        &args.worker,
        &args.input_topic,
        &output,
        &dlq,
        args.timeout,
    )
    .await?;
    crate::print_stdout(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
    if args.strict && !report.is_clean() {
        anyhow::bail!("the outputs do not match the inputs");
    }
    Ok(())
}

fn default_output(worker: &str) -> String {
    crate::topology::WORKERS
        .iter()
        .find(|w| w.worker == worker)
        .map_or_else(|| format!("{worker}.out"), |w| w.output.to_owned())
}

/// Whether `worker` answers an event with this payload.
pub fn expects_output(worker: &str, payload: &Payload) -> bool {
    match worker {
        "order-validator" | "risk-scorer" => matches!(payload, Payload::OrderPlaced(_)),
        "notifier" => !matches!(payload, Payload::PaymentAuthorized(_)),
        "order-saga" => match payload {
            Payload::PaymentFailed(_) | Payload::OrderDelivered(_) => true,
            Payload::OrderCancelled(cancelled) => cancelled.refund_amount > 0,
            _ => false,
        },
        _ => true,
    }
}

struct Input {
    partition: i32,
    offset: i64,
    key: Vec<u8>,
}

/// Compares the topics, waiting up to `timeout` for missing outputs.
pub async fn verify(
    settings: &KafkaSettings,
    codec: &Codec,
    worker: &str,
    input_topic: &str,
    output_topic: &str,
    dlq_topic: &str,
    timeout: Duration,
) -> anyhow::Result<Report> {
    let inputs = read_all(settings, input_topic, true).await?;
    let mut expected: HashMap<String, Input> = HashMap::new();
    let mut undecodable: HashMap<(i32, i64), ()> = HashMap::new();
    let mut report = Report {
        inputs: inputs.len() as u64,
        ..Report::default()
    };
    for message in &inputs {
        match codec
            .decode::<OrderEvent>(message.payload().unwrap_or_default())
            .await
        {
            Ok(decoded) if expects_output(worker, &decoded.value.payload) => {
                expected.insert(
                    decoded.value.event_id,
                    Input {
                        partition: message.partition(),
                        offset: message.offset(),
                        key: message.key().unwrap_or_default().to_vec(),
                    },
                );
            }
            Ok(_) => {}
            Err(_) => {
                undecodable.insert((message.partition(), message.offset()), ());
            }
        }
    }
    report.expected_outputs = expected.len() as u64;
    report.expected_dead_letters = undecodable.len() as u64;

    let deadline = Instant::now() + timeout;
    let (outputs, letters) = loop {
        let outputs = read_all(settings, output_topic, true).await?;
        let letters = read_all(settings, dlq_topic, true).await?;
        let causes = causation_ids(codec, &outputs).await;
        let complete = expected.keys().all(|id| causes.contains_key(id));
        if complete || Instant::now() >= deadline {
            break (outputs, letters);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    report.outputs = outputs.len() as u64;
    report.dead_letters = letters.len() as u64;
    report.aborted_reads = (read_all(settings, output_topic, false).await?.len() as u64)
        .saturating_sub(report.outputs)
        + (read_all(settings, dlq_topic, false).await?.len() as u64)
            .saturating_sub(report.dead_letters);

    // Outputs: count per input, order per key in each output partition.
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut last_offset: HashMap<(i32, Vec<u8>), (i32, i64)> = HashMap::new();
    let mut violated = std::collections::HashSet::new();
    let mut ordered: Vec<&OwnedMessage> = outputs.iter().collect();
    ordered.sort_by_key(|m| (m.partition(), m.offset()));
    for message in ordered {
        let Some(cause) = causation_id(codec, message).await else {
            report.unexpected += 1;
            report.example(
                "unexpected",
                format!(
                    "{}@{} does not decode",
                    message.partition(),
                    message.offset()
                ),
            );
            continue;
        };
        let Some(input) = expected.get(&cause) else {
            report.unexpected += 1;
            report.example(
                "unexpected",
                format!("{}@{} names {cause}", message.partition(), message.offset()),
            );
            continue;
        };
        let count = counts.entry(cause.clone()).or_default();
        *count += 1;
        if *count > 1 {
            report.duplicated += 1;
            report.example("duplicated", cause);
            continue;
        }
        let slot = (message.partition(), input.key.clone());
        if let Some(&(partition, offset)) = last_offset.get(&slot)
            && partition == input.partition
            && offset > input.offset
            && violated.insert(slot.clone())
        {
            report.order_violations += 1;
            report.example(
                "order_violations",
                String::from_utf8_lossy(&input.key).into_owned(),
            );
        }
        last_offset.insert(slot, (input.partition, input.offset));
    }
    for (id, input) in &expected {
        if !counts.contains_key(id) {
            report.lost += 1;
            report.example(
                "lost",
                format!("{id} (input {}@{})", input.partition, input.offset),
            );
        }
    }

    // Dead letters of undecodable inputs, by provenance.
    let mut letter_counts: HashMap<(i32, i64), u64> = HashMap::new();
    for letter in &letters {
        let from = |name: &str| header_value(letter, name);
        if from(header::TOPIC).as_deref() != Some(input_topic) {
            continue;
        }
        let (Some(partition), Some(offset)) = (
            from(header::PARTITION).and_then(|p| p.parse().ok()),
            from(header::OFFSET).and_then(|o| o.parse().ok()),
        ) else {
            continue;
        };
        *letter_counts.entry((partition, offset)).or_default() += 1;
    }
    for at in undecodable.keys() {
        match letter_counts.get(at).copied().unwrap_or(0) {
            0 => {
                report.dead_letters_missing += 1;
                report.example("dead_letters_missing", format!("{}@{}", at.0, at.1));
            }
            1 => {}
            n => {
                report.dead_letters_duplicated += n - 1;
                report.example("dead_letters_duplicated", format!("{}@{}", at.0, at.1));
            }
        }
    }
    Ok(report)
}

async fn causation_ids(codec: &Codec, outputs: &[OwnedMessage]) -> HashMap<String, u64> {
    let mut ids = HashMap::new();
    for message in outputs {
        if let Some(id) = causation_id(codec, message).await {
            *ids.entry(id).or_default() += 1;
        }
    }
    ids
}

async fn causation_id(codec: &Codec, message: &OwnedMessage) -> Option<String> {
    let (json, _) = codec.decode_json(message.payload()?).await.ok()?;
    json.get("causation_id")?.as_str().map(str::to_owned)
}

fn header_value(message: &OwnedMessage, name: &str) -> Option<String> {
    let headers = orderflow_kafka_bytes::headers::read(message);
    let value = orderflow_kafka_bytes::headers::find(&headers, name)??;
    Some(String::from_utf8_lossy(value).into_owned())
}

/// How long one metadata or watermark request may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `request` until it succeeds, at most 12 more times, 5 s apart: a cluster that is
/// just coming back refuses the first requests, and while a broker's partitions have no
/// leader (its controller fenced it) a watermark query answers `UnknownPartition`
/// although the metadata listed the partition.
fn patiently<T, E>(mut request: impl FnMut() -> Result<T, E>) -> Result<T, E> {
    let mut attempts = 0;
    loop {
        match request() {
            Err(_) if attempts < 12 => {
                attempts += 1;
                std::thread::sleep(Duration::from_secs(5));
            }
            result => return result,
        }
    }
}

/// Every record of `topic` up to its current end, with an own assignment.
pub async fn read_all(
    settings: &KafkaSettings,
    topic: &str,
    committed_only: bool,
) -> anyhow::Result<Vec<OwnedMessage>> {
    let isolation = if committed_only {
        "read_committed"
    } else {
        "read_uncommitted"
    };
    let consumer: BaseConsumer = settings.create(&[
        ("group.id", "orderflow-verify"),
        ("enable.auto.commit", "false"),
        ("isolation.level", isolation),
        ("enable.partition.eof", "false"),
    ])?;
    let topic = topic.to_owned();
    let mut rebootstrap = rebootstrap_watch(settings);
    tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<OwnedMessage>> {
        let partitions = patiently(|| describe_topic(consumer.client(), &topic, TIMEOUT))?
            .map(|found| found.ids())
            .unwrap_or_default();
        let mut ends = HashMap::new();
        let mut assignment = TopicPartitionList::new();
        for partition in partitions {
            let (low, high) = patiently(|| consumer.fetch_watermarks(&topic, partition, TIMEOUT))?;
            if high > low {
                ends.insert(partition, high);
                assignment.add_partition_offset(&topic, partition, Offset::Beginning)?;
            }
        }
        let mut out = Vec::new();
        if ends.is_empty() {
            return Ok(out);
        }
        consumer.assign(&assignment)?;
        // Read until every partition's position reaches its end offset. The end is what
        // this reader may see: for read_committed the last stable offset, since the
        // watermarks come from a consumer with that isolation level; transaction markers
        // and aborted records take offsets too, and the position moves past them. A
        // partition that makes no progress for STALL fails the read with its offsets,
        // instead of returning it short (which would read as lost outputs).
        const STALL: Duration = Duration::from_secs(30);
        let mut positions: HashMap<i32, i64> = HashMap::new();
        let mut progress = Instant::now();
        let mut looked = Instant::now();
        loop {
            if looked.elapsed() >= Duration::from_secs(1) {
                looked = Instant::now();
                keep_bootstrapped(&mut rebootstrap, consumer.client(), "verify");
            }
            if let Ok(position) = consumer.position() {
                for element in position.elements() {
                    if let Offset::Offset(next) = element.offset() {
                        let known = positions.insert(element.partition(), next);
                        if known != Some(next) {
                            progress = Instant::now();
                        }
                    }
                }
            }
            let behind: Vec<String> = ends
                .iter()
                .filter(|(p, end)| positions.get(p).is_none_or(|next| next < *end))
                .map(|(p, end)| format!("{p} at {:?} of {end}", positions.get(p)))
                .collect();
            if behind.is_empty() {
                break;
            }
            if progress.elapsed() > STALL {
                anyhow::bail!(
                    "reading {topic} ({isolation}): no progress for {} s on partitions {}",
                    STALL.as_secs(),
                    behind.join(", ")
                );
            }
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(message)) => out.push(message.detach()),
                Some(Err(error)) => return Err(error.into()),
                None => {}
            }
        }
        Ok(out)
    })
    .await?
}

#[cfg(test)]
mod tests {
    use orderflow_events::{
        OrderCancelled, OrderDelivered, OrderShipped, PaymentAuthorized, PaymentFailed, sample,
    };
    use orderflow_runtime::{Input, Outcome, Processor};

    use super::*;

    /// `expects_output` is written by hand; the saga's own processor with its default
    /// rules is the reference it must agree with.
    #[test]
    fn order_saga_expectations_follow_its_default_rules() {
        let saga = order_saga::OrderSaga::new(Default::default()).unwrap();
        let placed = sample::order_placed(1);
        let cancelled = |refund_amount| {
            Payload::OrderCancelled(OrderCancelled {
                reason: "customer_request".into(),
                refund_amount,
            })
        };
        for payload in [
            placed.payload.clone(),
            Payload::PaymentAuthorized(PaymentAuthorized {
                payment_id: "p".into(),
                amount: 1,
                currency: "EUR".into(),
                method: "card".into(),
            }),
            Payload::PaymentFailed(PaymentFailed {
                payment_id: "p".into(),
                reason_code: "declined".into(),
            }),
            Payload::OrderShipped(OrderShipped {
                carrier: "DHL".into(),
                tracking_number: "1".into(),
            }),
            Payload::OrderDelivered(OrderDelivered { signed_by: None }),
            cancelled(0),
            cancelled(-1),
            cancelled(1),
        ] {
            let event = sample::with_payload(&placed, payload);
            let input = Input {
                event: &event,
                topic: "orders.lifecycle",
                partition: 0,
                offset: 0,
                timestamp: None,
                key: None,
                headers: &[],
                now: 0,
            };
            let issues = matches!(saga.process(&input), Ok(Outcome::Emit(_)));
            assert_eq!(
                expects_output("order-saga", &event.payload),
                issues,
                "{:?}",
                event.payload
            );
        }
    }
}
