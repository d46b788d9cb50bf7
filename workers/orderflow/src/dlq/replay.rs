//! `orderflow dlq replay`: which dead letters to write back, the headers they carry
//! (the provenance replaced by where and when they were replayed from), and writing
//! them to their original topic and partition.

use std::collections::HashMap;
use std::time::Duration;

use orderflow_kafka_bytes::headers::RecordHeader;
use orderflow_runtime::clock::now_millis;
use orderflow_runtime::dead_letter::header;
use orderflow_runtime::handler::FailureClass;
use orderflow_runtime::send;
use orderflow_runtime::topics::describe_topic;
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::FutureRecord;

use super::{DeadLetter, HeaderList, read_letters};
use crate::cli::ReplayArgs;

/// Timeout of metadata requests.
const METADATA_TIMEOUT: Duration = Duration::from_secs(30);

/// Which dead letters `replay` writes back. Offsets are dead-letter offsets, inclusive,
/// in every selected partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Only this error class.
    pub class: Option<String>,
    /// Only this partition of the dead-letter topic.
    pub partition: Option<i32>,
    /// From this offset on.
    pub from_offset: Option<i64>,
    /// Up to this offset.
    pub to_offset: Option<i64>,
}

impl Selection {
    /// The selection of `args`. Refuses to select everything implicitly: `--all` or at
    /// least one filter must be given.
    pub fn from_args(args: &ReplayArgs) -> anyhow::Result<Selection> {
        let selection = Selection {
            class: args.class.clone(),
            partition: args.partition,
            from_offset: args.from_offset,
            to_offset: args.to_offset,
        };
        if !args.all && selection == Selection::default() {
            anyhow::bail!(
                "say which dead letters to replay: --all, or filter with --class, --partition, \
                 --from-offset and --to-offset (add --dry-run to see the choice first)"
            );
        }
        let classes = [
            FailureClass::Decode,
            FailureClass::Schema,
            FailureClass::Poison,
            FailureClass::Transient,
            FailureClass::Panic,
            FailureClass::CrashLoop,
        ]
        .map(FailureClass::as_str);
        if let Some(class) = &selection.class
            && !classes.contains(&class.as_str())
        {
            anyhow::bail!(
                "unknown error class '{class}': use one of {}",
                classes.join(", ")
            );
        }
        if let (Some(from), Some(to)) = (selection.from_offset, selection.to_offset)
            && from > to
        {
            anyhow::bail!("--from-offset {from} is after --to-offset {to}: nothing to replay");
        }
        Ok(selection)
    }

    /// Whether `letter` is selected.
    pub fn matches(&self, letter: &DeadLetter) -> bool {
        self.class
            .as_ref()
            .is_none_or(|class| *class == letter.class())
            && self.partition.is_none_or(|p| p == letter.partition)
            && self.from_offset.is_none_or(|from| letter.offset >= from)
            && self.to_offset.is_none_or(|to| letter.offset <= to)
    }
}

/// The headers of a replayed record: the original headers without any dead-letter
/// provenance (or earlier replay headers), plus where and when it was replayed from.
pub fn replay_headers(letter: &DeadLetter, dlq_topic: &str, at: i64) -> HeaderList {
    let mut headers: HeaderList = letter
        .headers
        .iter()
        .filter(|h| !header::is_provenance(&h.name))
        .cloned()
        .collect();
    for (name, value) in [
        (header::REPLAY_DLQ_TOPIC, dlq_topic.to_owned()),
        (header::REPLAY_DLQ_PARTITION, letter.partition.to_string()),
        (header::REPLAY_DLQ_OFFSET, letter.offset.to_string()),
        (header::REPLAY_AT, at.to_string()),
    ] {
        headers.push(RecordHeader::new(name, value));
    }
    headers
}

/// One record `replay` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    /// Position of the dead letter, `partition@offset`.
    pub from: String,
    /// Topic to write.
    pub topic: String,
    /// Partition to write: the original one when going back to the original topic,
    /// else chosen by key.
    pub partition: Option<i32>,
    /// The original key.
    pub key: Option<Vec<u8>>,
    /// The original value.
    pub value: Option<Vec<u8>>,
    /// See [`replay_headers`].
    pub headers: HeaderList,
    /// Error class and kind, for the listing.
    pub reason: String,
}

/// The record replaying `letter` writes, or why it is skipped.
pub fn plan(
    letter: &DeadLetter,
    dlq_topic: &str,
    to_topic: Option<&str>,
    at: i64,
) -> Result<Replayed, String> {
    let origin = letter.origin();
    let (topic, partition) = match (to_topic, letter.header(header::TOPIC)) {
        (Some(topic), _) => (topic.to_owned(), None),
        // Back to its own partition: the key-to-partition mapping of whoever produced
        // it is kept even when their partitioner differs from librdkafka's.
        (None, Some(topic)) => (topic, origin.map(|o| o.partition)),
        (None, None) => {
            return Err(format!(
                "dead letter {dlq_topic}/{} has no {} header: skipped (give --to-topic to replay it)",
                letter.position(),
                header::TOPIC
            ));
        }
    };
    Ok(Replayed {
        from: letter.position(),
        topic,
        partition,
        key: letter.key.clone(),
        value: letter.value.clone(),
        headers: replay_headers(letter, dlq_topic, at),
        reason: format!("{}/{}", letter.class(), letter.kind()),
    })
}

/// Partition counts of `topics`; an error naming the missing ones.
fn partition_counts(
    settings: &orderflow_runtime::kafka::KafkaSettings,
    topics: &[&str],
) -> anyhow::Result<HashMap<String, usize>> {
    let admin: AdminClient<DefaultClientContext> = settings.create(&[])?;
    let mut counts = HashMap::new();
    let mut missing = Vec::new();
    for topic in topics {
        match describe_topic(admin.inner(), topic, METADATA_TIMEOUT)? {
            Some(found) => {
                counts.insert((*topic).to_owned(), found.partitions.len());
            }
            None => missing.push(*topic),
        }
    }
    if !missing.is_empty() {
        anyhow::bail!(
            "cannot replay to missing topic(s) {}: nothing was written",
            missing.join(", ")
        );
    }
    Ok(counts)
}

pub(super) async fn run_replay(args: ReplayArgs) -> anyhow::Result<()> {
    let selection = Selection::from_args(&args)?;
    let letters = read_letters(&args.connection, &args.topic, selection.partition).await?;
    let at = now_millis();
    let mut planned = Vec::new();
    for letter in letters.iter().filter(|l| selection.matches(l)) {
        match plan(letter, &args.topic, args.to_topic.as_deref(), at) {
            Ok(replayed) => planned.push(replayed),
            Err(warning) => eprintln!("warning: {warning}"),
        }
    }
    if args.dry_run {
        for replayed in &planned {
            let key = replayed.key.as_deref().map_or_else(
                || "null".to_owned(),
                |k| String::from_utf8_lossy(k).into_owned(),
            );
            let target = match replayed.partition {
                Some(p) => format!("{}/{p}", replayed.topic),
                None => replayed.topic.clone(),
            };
            crate::print_stdout(&format!(
                "would replay {}/{} to {target} (key {key}, {})\n",
                args.topic, replayed.from, replayed.reason
            ))?;
        }
        println!(
            "would replay {} dead letters (dry run: nothing written)",
            planned.len()
        );
        return Ok(());
    }
    let settings = args.connection.kafka()?;
    let mut targets: Vec<&str> = planned.iter().map(|r| r.topic.as_str()).collect();
    targets.sort_unstable();
    targets.dedup();
    let counts = partition_counts(&settings, &targets)?;
    let producer = send::idempotent_producer(&settings)?;
    let records = planned.iter().map(|replayed| {
        let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&replayed.topic)
            .headers(orderflow_kafka_bytes::headers::to_kafka(&replayed.headers));
        if let Some(key) = &replayed.key {
            record = record.key(key.as_slice());
        }
        if let Some(value) = &replayed.value {
            record = record.payload(value.as_slice());
        }
        // A partition the topic no longer has: fall back to the key.
        if let Some(partition) = replayed
            .partition
            .filter(|p| (*p as usize) < counts[&replayed.topic])
        {
            record = record.partition(partition);
        }
        record
    });
    let outcomes = send::send_all(&producer, records).await?;
    let failed: Vec<String> = outcomes
        .into_iter()
        .zip(&planned)
        .filter_map(|(outcome, replayed)| {
            let error = outcome.err()?;
            Some(format!("{}/{}: {error}", args.topic, replayed.from))
        })
        .collect();
    if !failed.is_empty() {
        anyhow::bail!(
            "{} of {} dead letters were not replayed: {}",
            failed.len(),
            planned.len(),
            failed.join("; ")
        );
    }
    println!("replayed {} dead letters", planned.len());
    Ok(())
}
