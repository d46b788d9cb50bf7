//! The worker's clients: the librdkafka properties each guarantee needs, and the
//! consumer and producer built from them on top of the connection settings (`kafka`,
//! where the user's passthrough is applied). A librdkafka default the runtime changes
//! is changed here.

use std::sync::Arc;

use rdkafka::config::{ClientConfig, FromClientConfigAndContext};
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::config::{Guarantee, RuntimeConfig};
use crate::consumer::ConsumerCallbacks;
use crate::error::RuntimeError;
use crate::kafka::Role;
use crate::producer::{ProducerCallbacks, WorkerProducer};
use crate::shared::Shared;
use crate::topics::RecordLimits;

/// The configuration of a client of `role`: the connection settings, the runtime's
/// `properties` for it, then the user's passthrough.
fn client_config(
    config: &RuntimeConfig,
    role: Role,
    properties: &[(String, String)],
) -> ClientConfig {
    let borrowed: Vec<(&str, &str)> = properties
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    config.kafka.config_for(role, &borrowed)
}

/// The worker's consumer, its callbacks attached to `shared`.
pub(crate) fn create_consumer(
    config: &RuntimeConfig,
    shared: &Arc<Shared>,
) -> Result<Arc<BaseConsumer<ConsumerCallbacks>>, RuntimeError> {
    let client_config = client_config(config, Role::Consumer, &consumer_properties(config));
    let consumer = BaseConsumer::from_config_and_context(
        &client_config,
        ConsumerCallbacks::new(config.identity.name),
    )
    .map_err(|e| RuntimeError::Config(format!("the Kafka consumer rejected its settings: {e}")))?;
    consumer.context().attach(shared.clone());
    Ok(Arc::new(consumer))
}

/// The worker's producer, its batches kept within the output topics' `limits`.
pub(crate) fn create_producer(
    config: &RuntimeConfig,
    limits: &RecordLimits,
) -> Result<Arc<WorkerProducer>, RuntimeError> {
    let mut properties = producer_properties(config);
    // A batch larger than its topic's max.message.bytes would be refused as a whole:
    // keep batches within the smallest output limit.
    let smallest = limits
        .of(&config.output_topic)
        .min(limits.of(&config.dlq_topic));
    properties.push((
        "batch.size".into(),
        smallest.clamp(1, 1_000_000).to_string(),
    ));
    properties.push((
        "queue.buffering.max.kbytes".into(),
        producer_queue_kib(
            limits
                .of(&config.output_topic)
                .max(limits.of(&config.dlq_topic)),
        )
        .to_string(),
    ));
    let client_config = client_config(config, Role::Producer, &properties);
    let producer = WorkerProducer::from_config_and_context(
        &client_config,
        ProducerCallbacks::new(
            config.identity.name,
            config.guarantee == Guarantee::ExactlyOnce,
        ),
    )
    .map_err(|e| RuntimeError::Config(format!("the Kafka producer rejected its settings: {e}")))?;
    Ok(Arc::new(producer))
}

/// The producer queue's size in KiB (`queue.buffering.max.kbytes`) for records of at
/// most `largest` bytes.
///
/// At-least-once keeps each input in memory until its outputs are acknowledged, so the
/// queue bounds those too: 4 MiB of outputs is some 16,000 order events, 0.1 s at
/// 150,000 events/s. (16 MiB let a drain of 48 partitions, whose batches are small and
/// slow to be acknowledged, hold 95 to 103 MiB of steady RSS; 74 with 4 MiB.) But every
/// record the limits let through must fit in it twice: the client refuses a record
/// larger than the whole queue as "queue full" for ever, which would stall the worker.
pub(crate) fn producer_queue_kib(largest: usize) -> usize {
    const QUEUE_KIB: usize = 4096;
    largest.saturating_mul(2).div_ceil(1024).max(QUEUE_KIB)
}

/// The consumer's properties for the guarantee; the user's passthrough still wins
/// except for the properties the guarantee depends on (refused at validation).
pub fn consumer_properties(config: &RuntimeConfig) -> Vec<(String, String)> {
    let at_least_once = config.guarantee == Guarantee::AtLeastOnce;
    let mut properties = vec![
        ("group.id", config.group_id.clone()),
        ("client.id", format!("{}-consumer", config.identity.name)),
        (
            "partition.assignment.strategy",
            "cooperative-sticky".to_owned(),
        ),
        ("isolation.level", "read_committed".to_owned()),
        ("auto.offset.reset", "earliest".to_owned()),
        ("enable.partition.eof", "false".to_owned()),
        ("enable.auto.commit", at_least_once.to_string()),
        ("enable.auto.offset.store", "false".to_owned()),
        ("statistics.interval.ms", "5000".to_owned()),
        // The whole prefetch queue, not per partition: memory stays bounded at any lag.
        ("queued.max.messages.kbytes", "2048".to_owned()),
        // When that queue is full, look again soon rather than after a second.
        ("fetch.queue.backoff.ms", "20".to_owned()),
        // A fetch response stays in memory until its last record is handled: at most
        // 256 KiB per partition instead of 1 MiB (the client already keeps a whole
        // response within the queue above). A record batch larger than that still
        // comes whole (the broker always returns the first batch, KIP-74).
        ("max.partition.fetch.bytes", "262144".to_owned()),
    ];
    if at_least_once {
        // At-least-once stores each offset once its outputs are acknowledged (see
        // `acking`), and librdkafka commits the stored offsets in the background at the
        // commit policy's interval: an offset is durable within one interval of being
        // stored, and none is committed before its outputs are (see `committer`).
        properties.push((
            "auto.commit.interval.ms",
            config.commit_interval.as_millis().to_string(),
        ));
    }
    properties
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

/// The producer's properties for the guarantee.
pub fn producer_properties(config: &RuntimeConfig) -> Vec<(String, String)> {
    let mut properties = vec![
        ("client.id", format!("{}-producer", config.identity.name)),
        ("enable.idempotence", "true".to_owned()),
        ("acks", "all".to_owned()),
        ("linger.ms", "5".to_owned()),
        ("compression.type", "lz4".to_owned()),
        // Bounded producer queue: when it is full, the committer waits (backpressure).
        // Its size in bytes is set with the record limits (see `create_producer`).
        ("queue.buffering.max.messages", "100000".to_owned()),
        // Its queue depth for the metrics, as often as the consumer's lag.
        ("statistics.interval.ms", "5000".to_owned()),
    ];
    match config.guarantee {
        Guarantee::ExactlyOnce => {
            let id = config
                .transactional_id
                .clone()
                .unwrap_or_else(|| generated_transactional_id(config));
            let timeout = config.transaction_timeout.as_millis().to_string();
            properties.push(("transactional.id", id));
            properties.push(("transaction.timeout.ms", timeout.clone()));
            // A record must not outlive its transaction.
            properties.push(("message.timeout.ms", timeout));
        }
        Guarantee::AtLeastOnce => properties.push(("message.timeout.ms", "120000".to_owned())),
    }
    properties
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

/// A transactional id unique to this process: safe (no two live instances share it),
/// but a restart cannot fence its predecessor's open transaction, which then lingers
/// until `transaction.timeout.ms`. `--transactional-id` gives the stable alternative.
fn generated_transactional_id(config: &RuntimeConfig) -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
    format!(
        "{}-{}-{}",
        config.group_id,
        host,
        uuid::Uuid::new_v4().simple()
    )
}

#[cfg(test)]
mod tests {
    use super::producer_queue_kib;

    #[test]
    fn the_producer_queue_holds_twice_the_largest_record_and_4_mib_at_least() {
        assert_eq!(producer_queue_kib(0), 4096);
        assert_eq!(producer_queue_kib(1_000_000 - 512), 4096);
        // 8 MiB topics and message.max.bytes: 16 MiB.
        assert_eq!(producer_queue_kib(8 * 1024 * 1024 - 512), 16 * 1024 - 1);
        assert_eq!(producer_queue_kib(usize::MAX), usize::MAX.div_ceil(1024));
    }
}
