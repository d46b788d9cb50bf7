//! `orderflow dlq`: inspect and replay dead letters.
//!
//! A dead letter is the original record (key, value, headers) plus the provenance
//! headers of [`orderflow_runtime::dead_letter::header`]. `inspect` groups them by
//! error class and kind; `replay` writes chosen ones back to their original topic with
//! the provenance replaced by replay headers, so a replayed record that fails again is
//! dead-lettered afresh rather than carrying stale provenance.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Context;
use orderflow_kafka_bytes::headers::RecordHeader;
use orderflow_runtime::clock::now_millis;
use orderflow_runtime::dead_letter::header;
use orderflow_runtime::handler::FailureClass;
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::producer::{FutureRecord, Producer};
use serde::{Deserialize, Serialize};

use crate::cli::{ConnectionArgs, DlqCommand, InspectArgs, ReplayArgs};
use crate::produce::idempotent_producer;
use crate::tail::{Start, TopicReader};

/// What a dead letter without a class or kind header is grouped under.
const UNKNOWN: &str = "unknown";

/// Runs `orderflow dlq`.
pub async fn run(command: DlqCommand) -> anyhow::Result<()> {
    match command {
        DlqCommand::Inspect(args) => run_inspect(args).await,
        DlqCommand::Replay(args) => run_replay(args).await,
    }
}

/// A header list: names of any bytes with values that may be null, in record order.
pub type HeaderList = Vec<RecordHeader>;

/// One record of a dead-letter topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Its partition in the dead-letter topic.
    pub partition: i32,
    /// Its offset there.
    pub offset: i64,
    /// When it was dead-lettered (the record's timestamp, epoch milliseconds).
    pub timestamp: Option<i64>,
    /// The original key.
    pub key: Option<Vec<u8>>,
    /// The original value.
    pub value: Option<Vec<u8>>,
    /// The original headers plus the provenance headers.
    pub headers: HeaderList,
}

/// Where a dead letter was originally consumed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The original topic.
    pub topic: String,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}@{}", self.topic, self.partition, self.offset)
    }
}

impl DeadLetter {
    /// The dead letter in `message`.
    pub fn of(message: &OwnedMessage) -> DeadLetter {
        DeadLetter {
            partition: message.partition(),
            offset: message.offset(),
            timestamp: message.timestamp().to_millis(),
            key: message.key().map(<[u8]>::to_vec),
            value: message.payload().map(<[u8]>::to_vec),
            headers: orderflow_kafka_bytes::headers::read(message),
        }
    }

    /// The value of header `name` as text (its last occurrence).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .rev()
            .find(|h| h.is(name))
            .and_then(|h| h.value.as_deref())
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// Its error class (`unknown` without the header).
    pub fn class(&self) -> String {
        self.header(header::ERROR_CLASS)
            .unwrap_or_else(|| UNKNOWN.to_owned())
    }

    /// Its error kind (`unknown` without the header).
    pub fn kind(&self) -> String {
        self.header(header::ERROR_KIND)
            .unwrap_or_else(|| UNKNOWN.to_owned())
    }

    /// Where it was originally consumed, when the headers say.
    pub fn origin(&self) -> Option<Origin> {
        Some(Origin {
            topic: self.header(header::TOPIC)?,
            partition: self.header(header::PARTITION)?.trim().parse().ok()?,
            offset: self.header(header::OFFSET)?.trim().parse().ok()?,
        })
    }

    /// `partition@offset` in the dead-letter topic.
    pub fn position(&self) -> String {
        format!("{}@{}", self.partition, self.offset)
    }
}

/// Dead letters of one error class and kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Error class: decode, schema, poison or transient.
    pub class: String,
    /// Finer error kind.
    pub kind: String,
    /// How many dead letters.
    pub count: usize,
    /// Original position of the earliest dead letter (by dead-letter time).
    pub first: Option<Origin>,
    /// Original position of the latest dead letter.
    pub last: Option<Origin>,
    /// Distinct error messages, earliest first.
    pub samples: Vec<String>,
}

/// What `dlq inspect` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InspectReport {
    /// The dead-letter topic.
    pub topic: String,
    /// Groups, largest first.
    pub groups: Vec<Group>,
    /// Every dead letter read.
    pub total: usize,
}

impl std::str::FromStr for InspectReport {
    type Err = String;

    /// Parses the output of `orderflow dlq inspect --json`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        serde_json::from_str(text).map_err(|e| format!("not an inspect report: {e}"))
    }
}

/// Groups `letters` by (class, kind), with up to `samples` distinct messages each.
pub fn inspect(topic: &str, letters: &[DeadLetter], samples: usize) -> InspectReport {
    // Chronological: when they were dead-lettered, then where they sit in the topic.
    let mut ordered: Vec<&DeadLetter> = letters.iter().collect();
    ordered.sort_by_key(|l| (l.timestamp.unwrap_or(i64::MAX), l.partition, l.offset));
    let mut groups: BTreeMap<(String, String), Group> = BTreeMap::new();
    for letter in ordered {
        let (class, kind) = (letter.class(), letter.kind());
        let group = groups
            .entry((class.clone(), kind.clone()))
            .or_insert_with(|| Group {
                class,
                kind,
                count: 0,
                first: None,
                last: None,
                samples: Vec::new(),
            });
        group.count += 1;
        if let Some(origin) = letter.origin() {
            group.first.get_or_insert_with(|| origin.clone());
            group.last = Some(origin);
        }
        if let Some(message) = letter.header(header::ERROR_MESSAGE)
            && group.samples.len() < samples
            && !group.samples.contains(&message)
        {
            group.samples.push(message);
        }
    }
    let mut groups: Vec<Group> = groups.into_values().collect();
    groups.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| (&a.class, &a.kind).cmp(&(&b.class, &b.kind)))
    });
    InspectReport {
        topic: topic.to_owned(),
        groups,
        total: letters.len(),
    }
}

/// The readable form of an [`InspectReport`].
pub fn inspect_text(report: &InspectReport) -> String {
    let mut text = format!(
        "dead letters in {}, by error class and kind:\n",
        report.topic
    );
    for group in &report.groups {
        let _ = writeln!(text, "\n{} / {}: {}", group.class, group.kind, group.count);
        if let (Some(first), Some(last)) = (&group.first, &group.last) {
            let _ = writeln!(text, "  first: {first}");
            let _ = writeln!(text, "  last:  {last}");
        }
        for sample in &group.samples {
            let _ = writeln!(text, "  sample: {sample}");
        }
    }
    let _ = writeln!(text, "\ntotal: {} dead letters", report.total);
    text
}

/// Reads every dead letter of `topic` (of one partition, when given) up to now.
async fn read_letters(
    connection: &ConnectionArgs,
    topic: &str,
    partition: Option<i32>,
) -> anyhow::Result<Vec<DeadLetter>> {
    let settings = connection.kafka()?;
    let mut reader = TopicReader::open(&settings, topic, partition, Start::Beginning).await?;
    let mut letters = Vec::new();
    while let Some(message) = reader.next(false).await? {
        letters.push(DeadLetter::of(&message));
    }
    letters.sort_by_key(|l| (l.partition, l.offset));
    Ok(letters)
}

async fn run_inspect(args: InspectArgs) -> anyhow::Result<()> {
    let letters = read_letters(&args.connection, &args.topic, None).await?;
    let report = inspect(&args.topic, &letters, args.samples);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", inspect_text(&report));
    }
    Ok(())
}

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
        let metadata = admin
            .inner()
            .fetch_metadata(Some(topic), Duration::from_secs(30))
            .with_context(|| format!("reading the metadata of {topic}"))?;
        match metadata
            .topics()
            .iter()
            .find(|t| t.name() == *topic && t.error().is_none())
        {
            Some(found) if !found.partitions().is_empty() => {
                counts.insert((*topic).to_owned(), found.partitions().len());
            }
            _ => missing.push(*topic),
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

async fn run_replay(args: ReplayArgs) -> anyhow::Result<()> {
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
            println!(
                "would replay {}/{} to {target} (key {key}, {})",
                args.topic, replayed.from, replayed.reason
            );
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
    let producer = idempotent_producer(&settings)?;
    let mut deliveries = Vec::with_capacity(planned.len());
    for replayed in &planned {
        let headers = orderflow_kafka_bytes::headers::to_kafka(&replayed.headers);
        let mut record: FutureRecord<'_, [u8], [u8]> =
            FutureRecord::to(&replayed.topic).headers(headers);
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
        let delivery = producer
            .send_result(record)
            .map_err(|(error, _)| error)
            .context("producing")?;
        deliveries.push(delivery);
    }
    let mut failed = Vec::new();
    for (delivery, replayed) in deliveries.into_iter().zip(&planned) {
        match delivery.await {
            Ok(Ok(_)) => {}
            Ok(Err((error, _))) => {
                failed.push(format!("{}/{}: {error}", args.topic, replayed.from))
            }
            Err(_) => failed.push(format!(
                "{}/{}: the producer went away",
                args.topic, replayed.from
            )),
        }
    }
    let flusher = rdkafka::producer::FutureProducer::clone(&producer);
    tokio::task::spawn_blocking(move || flusher.flush(Duration::from_secs(30)))
        .await?
        .context("waiting for acknowledgements")?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(
        partition: i32,
        offset: i64,
        class: &str,
        kind: &str,
        origin_offset: i64,
    ) -> DeadLetter {
        let h = |name: &str, value: &str| RecordHeader::new(name, value);
        DeadLetter {
            partition,
            offset,
            timestamp: Some(1_000 + offset),
            key: Some(b"ord-1".to_vec()),
            value: Some(b"payload".to_vec()),
            headers: vec![
                h("traceparent", "00-abc-def-01"),
                h(header::TOPIC, "orders.lifecycle"),
                h(header::PARTITION, "2"),
                h(header::OFFSET, &origin_offset.to_string()),
                h(header::ERROR_CLASS, class),
                h(header::ERROR_KIND, kind),
                h(header::ERROR_MESSAGE, &format!("{kind} at {origin_offset}")),
                h(header::TRUNCATED_FROM, "2000000"),
            ],
        }
    }

    fn replay_args(all: bool) -> ReplayArgs {
        ReplayArgs {
            connection: ConnectionArgs {
                bootstrap_servers: "127.0.0.1:9092".into(),
                kafka_config: Vec::new(),
                sasl_username: None,
                sasl_password: None,
                schema_registry_url: None,
                schema_registry_username: None,
                schema_registry_password: None,
            },
            topic: "order-status.dlq".into(),
            all,
            class: None,
            partition: None,
            from_offset: None,
            to_offset: None,
            to_topic: None,
            dry_run: false,
        }
    }

    #[test]
    fn dead_letters_are_grouped_by_class_and_kind_with_first_last_and_samples() {
        let letters = vec![
            letter(0, 0, "decode", "malformed", 10),
            letter(0, 1, "transient", "registry-unavailable", 11),
            letter(1, 2, "decode", "malformed", 12),
            letter(0, 3, "decode", "malformed", 13),
        ];
        let report = inspect("order-status.dlq", &letters, 2);
        assert_eq!(report.total, 4);
        assert_eq!(report.groups.len(), 2);
        let decode = &report.groups[0];
        assert_eq!(
            (decode.class.as_str(), decode.kind.as_str(), decode.count),
            ("decode", "malformed", 3)
        );
        assert_eq!(
            decode.first,
            Some(Origin {
                topic: "orders.lifecycle".into(),
                partition: 2,
                offset: 10
            })
        );
        assert_eq!(decode.last.as_ref().map(|o| o.offset), Some(13));
        assert_eq!(decode.samples, ["malformed at 10", "malformed at 12"]);
        assert_eq!(report.groups[1].count, 1);
        let text = inspect_text(&report);
        assert!(text.contains("\ndecode / malformed: 3\n  first: orders.lifecycle/2@10\n  last:  orders.lifecycle/2@13\n"), "{text}");
        assert!(text.ends_with("\ntotal: 4 dead letters\n"), "{text}");
        let json = serde_json::to_string(&report).unwrap();
        assert_eq!(
            serde_json::from_str::<InspectReport>(&json).unwrap(),
            report
        );
    }

    #[test]
    fn a_record_without_provenance_is_grouped_as_unknown() {
        let bare = DeadLetter {
            headers: Vec::new(),
            ..letter(0, 0, "", "", 0)
        };
        let report = inspect("t", &[bare], 2);
        assert_eq!(report.groups[0].class, "unknown");
        assert_eq!(report.groups[0].first, None);
        assert!(report.groups[0].samples.is_empty());
    }

    #[test]
    fn replay_refuses_to_run_without_a_selector() {
        let error = Selection::from_args(&replay_args(false))
            .unwrap_err()
            .to_string();
        assert!(error.contains("--all"), "{error}");
        assert_eq!(
            Selection::from_args(&replay_args(true)).unwrap(),
            Selection::default()
        );
        let mut args = replay_args(false);
        args.class = Some("transient".into());
        assert!(Selection::from_args(&args).is_ok());
        args.class = Some("transiant".into());
        assert!(
            Selection::from_args(&args)
                .unwrap_err()
                .to_string()
                .contains("unknown error class")
        );
        let mut args = replay_args(false);
        (args.from_offset, args.to_offset) = (Some(5), Some(4));
        assert!(Selection::from_args(&args).is_err());
    }

    #[test]
    fn selection_filters_by_class_partition_and_inclusive_offsets() {
        let letters = [
            letter(0, 4, "decode", "malformed", 1),
            letter(0, 5, "transient", "registry-unavailable", 2),
            letter(0, 7, "transient", "registry-unavailable", 3),
            letter(1, 6, "transient", "registry-unavailable", 4),
        ];
        let chosen = |selection: Selection| -> Vec<String> {
            letters
                .iter()
                .filter(|l| selection.matches(l))
                .map(DeadLetter::position)
                .collect()
        };
        assert_eq!(chosen(Selection::default()).len(), 4);
        assert_eq!(
            chosen(Selection {
                class: Some("transient".into()),
                ..Default::default()
            }),
            ["0@5", "0@7", "1@6"]
        );
        assert_eq!(
            chosen(Selection {
                partition: Some(0),
                from_offset: Some(5),
                to_offset: Some(7),
                ..Default::default()
            }),
            ["0@5", "0@7"]
        );
        assert_eq!(
            chosen(Selection {
                from_offset: Some(6),
                to_offset: Some(6),
                ..Default::default()
            }),
            ["1@6"]
        );
    }

    #[test]
    fn replayed_headers_drop_the_provenance_and_say_where_they_came_from() {
        let mut dead = letter(1, 42, "transient", "registry-unavailable", 7);
        dead.headers.push(RecordHeader::new(header::REPLAY_AT, "1"));
        let headers = replay_headers(&dead, "order-status.dlq", 1_700_000_000_000);
        let names: Vec<String> = headers
            .iter()
            .map(|h| h.name_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "traceparent",
                header::REPLAY_DLQ_TOPIC,
                header::REPLAY_DLQ_PARTITION,
                header::REPLAY_DLQ_OFFSET,
                header::REPLAY_AT
            ]
        );
        let value = |name: &str| {
            headers
                .iter()
                .find(|h| h.is(name))
                .and_then(|h| h.value.clone())
                .unwrap()
        };
        assert_eq!(value("traceparent"), b"00-abc-def-01");
        assert_eq!(value(header::REPLAY_DLQ_TOPIC), b"order-status.dlq");
        assert_eq!(value(header::REPLAY_DLQ_PARTITION), b"1");
        assert_eq!(value(header::REPLAY_DLQ_OFFSET), b"42");
        assert_eq!(value(header::REPLAY_AT), b"1700000000000");
    }

    #[test]
    fn a_letter_goes_back_to_its_original_topic_and_partition_unless_redirected() {
        let dead = letter(0, 3, "poison", "rejected", 9);
        let replayed = plan(&dead, "d", None, 5).unwrap();
        assert_eq!(
            (replayed.topic.as_str(), replayed.partition),
            ("orders.lifecycle", Some(2))
        );
        assert_eq!(
            (replayed.key.as_deref(), replayed.value.as_deref()),
            (Some(&b"ord-1"[..]), Some(&b"payload"[..]))
        );
        assert_eq!(replayed.reason, "poison/rejected");
        let redirected = plan(&dead, "d", Some("orders.retry"), 5).unwrap();
        assert_eq!(
            (redirected.topic.as_str(), redirected.partition),
            ("orders.retry", None)
        );
        let orphan = DeadLetter {
            headers: Vec::new(),
            ..dead
        };
        let warning = plan(&orphan, "d", None, 5).unwrap_err();
        assert!(
            warning.contains("d/0@3") && warning.contains("--to-topic"),
            "{warning}"
        );
        assert!(plan(&orphan, "d", Some("x"), 5).is_ok());
    }
}
