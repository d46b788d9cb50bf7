//! The floor of `make bench`: what the Kafka client itself costs to carry an event from
//! an input topic to an output topic with the same guarantee as a worker, and nothing
//! more (no decoding, no ordering bookkeeping, no dead letters, no metrics).
//!
//! - `BaseConsumer::poll`, then `BaseProducer::send` of the same key, value and
//!   headers (lz4, `linger.ms` 5, idempotent), as the workers' producers are set, to
//!   the output partition of the input's number (the output topic has as many).
//! - at-least-once: the input offset is stored when its output is acknowledged, and
//!   committed by the consumer every `--commit-interval-ms`. An idempotent producer
//!   acknowledges a partition's records in order, and every input of a partition went
//!   to the same output partition, so the highest acknowledged offset has nothing
//!   unacknowledged below it: no bookkeeping is needed for a safe commit point. (Sent
//!   by key to other partitions, acknowledgements would arrive out of input order.)
//! - exactly-once: one transaction per `--commit-interval-ms`, with the consumed
//!   offsets sent to it (`send_offsets_to_transaction`), read_committed input.
//!
//! It flags the same options as a worker for the ones it reads, so the benchmark
//! starts both the same way; SIGTERM ends it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use rdkafka::consumer::{BaseConsumer, Consumer, DefaultConsumerContext};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Guarantee {
    AtLeastOnce,
    ExactlyOnce,
}

#[derive(Debug, Parser)]
#[command(about = "Consume, produce the same record, commit: the benchmark's floor.")]
struct Args {
    #[arg(long)]
    bootstrap_servers: String,
    #[arg(long)]
    input_topic: String,
    #[arg(long)]
    output_topic: String,
    #[arg(long)]
    group_id: String,
    #[arg(long, value_enum, default_value = "at-least-once")]
    guarantee: Guarantee,
    /// Offsets are committed (at-least-once) or a transaction committed (exactly-once)
    /// this often.
    #[arg(long, default_value_t = 100)]
    commit_interval_ms: u64,
    /// Required with exactly-once.
    #[arg(long)]
    transactional_id: Option<String>,
}

/// Offsets (partition, offset) whose outputs the broker acknowledged, highest per
/// partition, taken by the poll loop to store. The delivery report carries the input's
/// partition and offset packed in one `usize` (16 and 48 bits).
#[derive(Default)]
struct Acknowledged(Mutex<HashMap<i32, i64>>);

impl ClientContext for Acknowledged {}

impl ProducerContext for Acknowledged {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, input: usize) {
        if let Err((error, _)) = result {
            // The floor does not retry: an output that failed is a failed measurement.
            eprintln!("kafka-floor: an output was not written: {error}");
            std::process::exit(1);
        }
        let (partition, offset) = ((input >> 48) as i32, (input & ((1 << 48) - 1)) as i64);
        let mut acknowledged = self.0.lock().expect("not poisoned");
        let highest = acknowledged.entry(partition).or_insert(offset);
        *highest = (*highest).max(offset);
    }
}

fn main() {
    if let Err(error) = run(Args::parse()) {
        // Exit at once: dropping a producer mid-transaction waits for it first.
        eprintln!("Error: {error:?}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<()> {
    let exactly_once = args.guarantee == Guarantee::ExactlyOnce;
    let interval = Duration::from_millis(args.commit_interval_ms);

    let mut consumer_config = ClientConfig::new();
    consumer_config
        .set("bootstrap.servers", &args.bootstrap_servers)
        .set("group.id", &args.group_id)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.offset.store", "false");
    if exactly_once {
        consumer_config
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed");
    } else {
        consumer_config.set("enable.auto.commit", "true").set(
            "auto.commit.interval.ms",
            args.commit_interval_ms.to_string(),
        );
    }
    let consumer: BaseConsumer<DefaultConsumerContext> =
        consumer_config.create().context("creating the consumer")?;
    consumer
        .subscribe(&[&args.input_topic])
        .context("subscribing")?;

    let mut producer_config = ClientConfig::new();
    producer_config
        .set("bootstrap.servers", &args.bootstrap_servers)
        .set("enable.idempotence", "true")
        .set("compression.type", "lz4")
        .set("linger.ms", "5");
    if exactly_once {
        let Some(id) = &args.transactional_id else {
            bail!("--transactional-id is required with exactly-once");
        };
        producer_config.set("transactional.id", id);
    }
    let producer: BaseProducer<Acknowledged> = producer_config
        .create_with_context(Acknowledged::default())
        .context("creating the producer")?;
    if exactly_once {
        producer
            .init_transactions(Duration::from_secs(30))
            .context("initialising transactions")?;
        producer
            .begin_transaction()
            .context("beginning a transaction")?;
    }

    // Exactly-once: the next offset to consume per partition since the last commit.
    let mut consumed: HashMap<i32, i64> = HashMap::new();
    let mut last_commit = Instant::now();
    loop {
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message.context("consuming")?;
            let packed = ((message.partition() as usize) << 48) | message.offset() as usize;
            let mut record = BaseRecord::with_opaque_to(&args.output_topic, packed)
                .partition(message.partition());
            if let Some(key) = message.key() {
                record = record.key(key);
            }
            if let Some(value) = message.payload() {
                record = record.payload(value);
            }
            if let Some(headers) = message.headers() {
                record = record.headers(headers.detach());
            }
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        record = back;
                        producer.poll(Duration::from_millis(10));
                    }
                    Err((error, _)) => return Err(error).context("producing"),
                }
            }
            if exactly_once {
                consumed.insert(message.partition(), message.offset() + 1);
            }
        }
        producer.poll(Duration::ZERO);
        if exactly_once {
            if last_commit.elapsed() >= interval {
                // The interval runs from the end of a commit. This loop consumes nothing
                // while it commits (the workers' poll thread goes on), so counted from the
                // start, a commit slower than the interval was followed by another after a
                // single message: one transaction per message, and the drain crawled.
                commit_transaction(&consumer, &producer, &args.input_topic, &mut consumed)?;
                last_commit = Instant::now();
            }
        } else {
            let acknowledged =
                std::mem::take(&mut *producer.context().0.lock().expect("not poisoned"));
            for (partition, offset) in acknowledged {
                // Stores offset + 1, the next to consume (librdkafka's rd_kafka_offset_store).
                consumer
                    .store_offset(&args.input_topic, partition, offset)
                    .context("storing an offset")?;
            }
        }
    }
}

fn commit_transaction(
    consumer: &BaseConsumer<DefaultConsumerContext>,
    producer: &BaseProducer<Acknowledged>,
    topic: &str,
    consumed: &mut HashMap<i32, i64>,
) -> Result<()> {
    if consumed.is_empty() {
        return Ok(());
    }
    let mut offsets = TopicPartitionList::new();
    for (partition, next) in consumed.drain() {
        offsets.add_partition_offset(topic, partition, Offset::Offset(next))?;
    }
    let group = consumer
        .group_metadata()
        .context("the consumer has no group metadata")?;
    resuming("sending offsets to the transaction", || {
        producer.send_offsets_to_transaction(&offsets, &group, Duration::from_secs(30))
    })?;
    resuming("committing the transaction", || {
        producer.commit_transaction(Duration::from_secs(30))
    })?;
    producer
        .begin_transaction()
        .context("beginning a transaction")?;
    Ok(())
}

/// Calls a transactional operation again while it fails with a retriable error (a
/// timeout: librdkafka resumes the same operation on the next call), at most 3 times,
/// so that a stuck coordinator ends the run in minutes rather than outlasting the
/// benchmark's 900 s wait.
fn resuming(what: &str, mut call: impl FnMut() -> KafkaResult<()>) -> Result<()> {
    let mut attempt = 1;
    loop {
        match call() {
            Err(KafkaError::Transaction(error)) if error.is_retriable() && attempt < 3 => {
                eprintln!("{what}: {error}; resuming (attempt {attempt})");
                attempt += 1;
            }
            result => return result.context(what.to_owned()),
        }
    }
}
