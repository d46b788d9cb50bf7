//! Topics: the ones a worker needs, checked at start (a missing one is named) and
//! created with `--create-topics` for development; the record size each accepts; and
//! for the CLI's commands as well, one topic's metadata ([`describe_topic`]) and
//! creating topics ([`create_topics`]).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::{Client, ClientContext, DefaultClientContext};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::metadata::{Metadata, MetadataTopic};

use crate::error::RuntimeError;
use crate::kafka::{KafkaSettings, Role};
use crate::kafka_errors::{Next, Stage, classify_code, is_denied};
use crate::message::OutputRecord;

/// Kafka's default `max.message.bytes` of a topic.
const BROKER_DEFAULT_MAX_MESSAGE_BYTES: usize = 1_048_588;
/// librdkafka's default `message.max.bytes`.
const CLIENT_DEFAULT_MAX_MESSAGE_BYTES: usize = 1_000_000;
/// Room for the record batch framing around one record.
const BATCH_OVERHEAD: usize = 512;
/// Partitions of topics created by `--create-topics`.
pub const DEV_PARTITIONS: i32 = 6;

/// The largest record each output topic accepts.
#[derive(Debug, Clone)]
pub struct RecordLimits {
    default: usize,
    by_topic: HashMap<String, usize>,
}

impl RecordLimits {
    /// Limits with only a default.
    pub fn uniform(limit: usize) -> RecordLimits {
        RecordLimits {
            default: limit,
            by_topic: HashMap::new(),
        }
    }

    /// The largest record `topic` accepts.
    pub fn of(&self, topic: &str) -> usize {
        self.by_topic.get(topic).copied().unwrap_or(self.default)
    }

    /// Shrinks a dead letter that would itself be too large: the value is cut and the
    /// original size recorded, so the provenance is kept and the transaction can commit.
    pub fn fit(&self, record: &mut OutputRecord) {
        let limit = self.of(&record.topic);
        let size = record.size();
        if size > limit {
            let excess = size - limit + 64;
            let Some(payload) = record.payload.as_mut() else {
                return;
            };
            let original = payload.len();
            payload.truncate(original.saturating_sub(excess));
            record.headers.push(crate::message::RecordHeader::new(
                crate::dead_letter::header::TRUNCATED_FROM,
                original.to_string(),
            ));
        }
    }
}

/// The `topics` that are not among the `existing` ones.
pub fn missing<'a>(
    existing: &HashSet<String>,
    topics: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    topics
        .into_iter()
        .filter(|topic| !existing.contains(*topic))
        .map(str::to_owned)
        .collect()
}

/// Checks that every topic is among the `existing` ones (creating missing ones when
/// `create` is set) and reads the record size limit of the `outputs`.
pub async fn prepare(
    settings: &KafkaSettings,
    input: &str,
    outputs: &[&str],
    existing: &HashSet<String>,
    create: bool,
) -> Result<RecordLimits, RuntimeError> {
    let admin: AdminClient<DefaultClientContext> = settings.create(&[])?;
    let missing = missing(
        existing,
        std::iter::once(input).chain(outputs.iter().copied()),
    );
    if !missing.is_empty() {
        if !create {
            return Err(RuntimeError::Config(format!(
                "topic(s) {} do not exist: create them (orderflow topics ensure with the \
                 topic names), or start with --create-topics in development",
                missing.join(", ")
            )));
        }
        create_topics(&admin, &missing, DEV_PARTITIONS, 1, &[]).await?;
    }
    // The producer's own limit: `producer.message.max.bytes` or `message.max.bytes`,
    // whichever the passthrough gives it last.
    let client_limit = settings
        .passthrough_value(Role::Producer, "message.max.bytes")
        .and_then(|value| value.parse().ok())
        .unwrap_or(CLIENT_DEFAULT_MAX_MESSAGE_BYTES);
    let topic_limits = topic_max_message_bytes(&admin, outputs).await;
    let by_topic = outputs
        .iter()
        .map(|topic| {
            let topic_limit = topic_limits
                .get(*topic)
                .copied()
                .unwrap_or(BROKER_DEFAULT_MAX_MESSAGE_BYTES);
            (
                (*topic).to_owned(),
                topic_limit.min(client_limit).saturating_sub(BATCH_OVERHEAD),
            )
        })
        .collect();
    Ok(RecordLimits {
        default: client_limit.saturating_sub(BATCH_OVERHEAD),
        by_topic,
    })
}

/// Whether a topic of a metadata answer is usable: known, without error, with partitions.
fn usable(topic: &MetadataTopic) -> bool {
    topic.error().is_none() && !topic.partitions().is_empty()
}

/// The topics in `metadata` that are usable: known, without error, with partitions.
pub fn existing(metadata: &Metadata) -> HashSet<String> {
    metadata
        .topics()
        .iter()
        .filter(|t| usable(t))
        .map(|t| t.name().to_owned())
        .collect()
}

/// The fewest replicas any partition of each topic has, by topic.
pub fn replication(metadata: &Metadata) -> HashMap<String, usize> {
    metadata
        .topics()
        .iter()
        .filter(|t| usable(t))
        .map(|t| {
            let fewest = t.partitions().iter().map(|p| p.replicas().len()).min();
            (t.name().to_owned(), fewest.unwrap_or(0))
        })
        .collect()
}

/// The topics among `topics` whose partitions have a single replica (`replication`
/// from [`replication`]; topics it does not list are left out).
///
/// Exactly-once cannot hold on them through a restart of their broker: Kafka's
/// transaction coordinator drops the markers of a commit it is completing for
/// partitions that have no leader (it takes them for deleted), so a committed
/// transaction can lose its outputs, or leave them open, while its offsets stand.
pub fn single_replica(replication: &HashMap<String, usize>, topics: &[&str]) -> Vec<String> {
    topics
        .iter()
        .filter(|topic| {
            replication
                .get(**topic)
                .is_some_and(|replicas| *replicas < 2)
        })
        .map(|topic| (*topic).to_owned())
        .collect()
}

/// Timeout of one metadata request.
const METADATA_TIMEOUT: Duration = Duration::from_secs(30);
/// How long newly created topics may take to get partition leaders.
const LEADER_WAIT: Duration = Duration::from_secs(30);

/// One partition of a topic, as the cluster's metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMetadata {
    /// Partition id.
    pub id: i32,
    /// Leader broker id; -1 while the partition has none.
    pub leader: i32,
    /// Replica broker ids.
    pub replicas: Vec<i32>,
    /// In-sync replica broker ids.
    pub isr: Vec<i32>,
}

/// An existing topic: its partitions, sorted by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    /// Topic name.
    pub name: String,
    /// Its partitions, sorted by id (never empty).
    pub partitions: Vec<PartitionMetadata>,
}

impl TopicMetadata {
    /// The topic `topic` in `metadata`, when it is usable: known, without error, with
    /// partitions.
    pub fn find(metadata: &Metadata, topic: &str) -> Option<TopicMetadata> {
        let found = metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic && usable(t))?;
        let mut partitions: Vec<PartitionMetadata> = found
            .partitions()
            .iter()
            .map(|p| PartitionMetadata {
                id: p.id(),
                leader: p.leader(),
                replicas: p.replicas().to_vec(),
                isr: p.isr().to_vec(),
            })
            .collect();
        partitions.sort_by_key(|p| p.id);
        Some(TopicMetadata {
            name: topic.to_owned(),
            partitions,
        })
    }

    /// The partition ids, ascending.
    pub fn ids(&self) -> Vec<i32> {
        self.partitions.iter().map(|p| p.id).collect()
    }

    /// Replicas of the first partition (Kafka gives every partition of a topic created
    /// with a replication factor that many).
    pub fn replication(&self) -> usize {
        self.partitions.first().map_or(0, |p| p.replicas.len())
    }

    /// Partitions without a leader.
    pub fn leaderless(&self) -> usize {
        self.partitions.iter().filter(|p| p.leader < 0).count()
    }
}

/// The metadata of `topic` (one blocking metadata request of `client`); `None` when the
/// cluster does not have it usable (unknown, being created, without partitions). Being
/// denied the topic is an error that names it and the code: "missing" would send the
/// user to create a topic that exists.
pub fn describe_topic<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
    timeout: Duration,
) -> Result<Option<TopicMetadata>, RuntimeError> {
    let metadata = client
        .fetch_metadata(Some(topic), timeout)
        .map_err(|e| RuntimeError::kafka(format!("reading the metadata of {topic}"), e))?;
    if let Some(found) = TopicMetadata::find(&metadata, topic) {
        return Ok(Some(found));
    }
    let code = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .and_then(|t| t.error())
        .map(RDKafkaErrorCode::from);
    match code {
        Some(code) if is_denied(code) => Err(RuntimeError::Topic(format!(
            "topic {topic} cannot be read: {code}"
        ))),
        _ => Ok(None),
    }
}

/// The topics of `topics` the cluster does not have.
pub async fn missing_topics(
    admin: &AdminClient<DefaultClientContext>,
    topics: &[&str],
) -> Result<Vec<String>, RuntimeError> {
    let mut missing = Vec::new();
    for topic in topics {
        if describe_topic(admin.inner(), topic, METADATA_TIMEOUT)?.is_none() {
            missing.push((*topic).to_owned());
        }
    }
    Ok(missing)
}

/// Fails fast when `topic` is missing, rather than after the producer's delivery
/// timeout: the error says how to create it.
pub async fn require_topic(settings: &KafkaSettings, topic: &str) -> Result<(), RuntimeError> {
    let admin: AdminClient<DefaultClientContext> = settings.create(&[])?;
    if missing_topics(&admin, &[topic]).await?.is_empty() {
        return Ok(());
    }
    Err(RuntimeError::Topic(format!(
        "topic {topic} does not exist: create it first, for example with `orderflow topics \
         ensure {topic}`"
    )))
}

/// Creates `topics` with `partitions`, `replication` and the topic `configs`, then
/// waits (bounded) until their partitions have leaders, so the clients started next
/// find them usable. Returns the topics this call created: one that exists already, or
/// that someone else created meanwhile, is fine and not among them.
pub async fn create_topics(
    admin: &AdminClient<DefaultClientContext>,
    topics: &[String],
    partitions: i32,
    replication: i32,
    configs: &[(String, String)],
) -> Result<Vec<String>, RuntimeError> {
    if topics.is_empty() {
        return Ok(Vec::new());
    }
    let new: Vec<_> = topics
        .iter()
        .map(|topic| {
            configs.iter().fold(
                NewTopic::new(topic, partitions, TopicReplication::Fixed(replication)),
                |new, (key, value)| new.set(key, value),
            )
        })
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics(&new, &options)
        .await
        .map_err(|e| RuntimeError::kafka("creating topics", e))?;
    let mut created = Vec::new();
    let mut failures = Vec::new();
    for result in results {
        match result {
            Ok(topic) => {
                tracing::info!(topic, partitions, replication, "topic created");
                created.push(topic);
            }
            Err((_, code)) if classify_code(code, Stage::Admin) == Next::Ignore => {}
            Err((topic, code)) => failures.push(format!("{topic}: {code}")),
        }
    }
    if !failures.is_empty() {
        let created = if created.is_empty() {
            String::new()
        } else {
            format!("; created {}", created.join(", "))
        };
        return Err(RuntimeError::Topic(format!(
            "creating topics failed ({}){created}",
            failures.join("; ")
        )));
    }
    wait_for_leaders(admin, &created, partitions).await;
    Ok(created)
}

/// Waits (at most [`LEADER_WAIT`] in all) until each of `topics` has `partitions`
/// partitions, each with a leader; a topic still without them is logged.
async fn wait_for_leaders(
    admin: &AdminClient<DefaultClientContext>,
    topics: &[String],
    partitions: i32,
) {
    let deadline = tokio::time::Instant::now() + LEADER_WAIT;
    for topic in topics {
        loop {
            let ready = describe_topic(admin.inner(), topic, Duration::from_secs(5))
                .ok()
                .flatten()
                .is_some_and(|t| t.partitions.len() == partitions as usize && t.leaderless() == 0);
            if ready {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!(topic, "created, but its partitions have no leaders yet");
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// `max.message.bytes` of each topic, as far as the cluster tells. Best effort: without
/// the permission (or on a cluster that does not answer) the broker default applies.
async fn topic_max_message_bytes(
    admin: &AdminClient<DefaultClientContext>,
    topics: &[&str],
) -> HashMap<String, usize> {
    let resources: Vec<_> = topics.iter().map(|t| ResourceSpecifier::Topic(t)).collect();
    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(3)));
    let Ok(Ok(results)) = tokio::time::timeout(
        Duration::from_secs(5),
        admin.describe_configs(&resources, &options),
    )
    .await
    else {
        return HashMap::new();
    };
    results
        .into_iter()
        .filter_map(|result| {
            let resource = result.ok()?;
            let topic = match &resource.specifier {
                rdkafka::admin::OwnedResourceSpecifier::Topic(name) => name.clone(),
                _ => return None,
            };
            let limit = resource
                .get("max.message.bytes")?
                .value
                .as_deref()?
                .parse()
                .ok()?;
            Some((topic, limit))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_of_one_replica_are_named_and_unknown_topics_left_out() {
        let replication = HashMap::from([
            ("orders.status".to_owned(), 1),
            ("order-status.dlq".to_owned(), 3),
            ("__transaction_state".to_owned(), 1),
        ]);
        assert_eq!(
            single_replica(
                &replication,
                &[
                    "orders.status",
                    "order-status.dlq",
                    "__transaction_state",
                    "__consumer_offsets"
                ]
            ),
            ["orders.status", "__transaction_state"]
        );
    }
}
