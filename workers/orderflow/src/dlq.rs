//! `orderflow dlq`: inspect and replay dead letters.
//!
//! A dead letter is the original record (key, value, headers) plus the provenance
//! headers of [`orderflow_runtime::dead_letter::header`]. `inspect` groups them by
//! error class and kind; `replay` writes chosen ones back to their original topic with
//! the provenance replaced by replay headers, so a replayed record that fails again is
//! dead-lettered afresh rather than carrying stale provenance.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use orderflow_events::Codec;
use orderflow_kafka_bytes::headers::RecordHeader;
use orderflow_runtime::dead_letter::header;
use rdkafka::message::{Message, OwnedMessage};
use serde::{Deserialize, Serialize};

use crate::cli::{ConnectionArgs, DlqCommand, InspectArgs};
use crate::record::{JsonRecord, Parts};
use crate::tail::{Start, TopicReader};

mod replay;

pub use replay::{Replayed, Selection, plan, replay_headers};
/// What a dead letter without a class or kind header is grouped under.
const UNKNOWN: &str = "unknown";

/// Runs `orderflow dlq`.
pub async fn run(command: DlqCommand) -> anyhow::Result<()> {
    match command {
        DlqCommand::Inspect(args) => run_inspect(args).await,
        DlqCommand::Replay(args) => replay::run_replay(args).await,
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// The earliest dead letters (as many as samples), each a record in the form
    /// `orderflow tail` prints.
    #[serde(default)]
    pub examples: Vec<JsonRecord>,
}

/// What `dlq inspect` reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// `letters` in the order they were dead-lettered, then where they sit in the topic.
fn chronological(letters: &[DeadLetter]) -> Vec<&DeadLetter> {
    let mut ordered: Vec<&DeadLetter> = letters.iter().collect();
    ordered.sort_by_key(|l| (l.timestamp.unwrap_or(i64::MAX), l.partition, l.offset));
    ordered
}

/// Groups `letters` by (class, kind), with up to `samples` distinct messages each.
pub fn inspect(topic: &str, letters: &[DeadLetter], samples: usize) -> InspectReport {
    let mut groups: BTreeMap<(String, String), Group> = BTreeMap::new();
    for letter in chronological(letters) {
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
                examples: Vec::new(),
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

/// Adds to each group of `report` its `samples` earliest dead letters as records.
pub async fn add_examples(
    codec: &Codec,
    report: &mut InspectReport,
    letters: &[DeadLetter],
    samples: usize,
) {
    let ordered = chronological(letters);
    for group in &mut report.groups {
        for letter in ordered
            .iter()
            .filter(|l| l.class() == group.class && l.kind() == group.kind)
            .take(samples)
        {
            let parts = Parts {
                topic: &report.topic,
                partition: letter.partition,
                offset: letter.offset,
                timestamp: letter.timestamp,
                key: letter.key.as_deref(),
                headers: &letter.headers,
                payload: letter.value.as_deref(),
            };
            group
                .examples
                .push(JsonRecord::from_parts(codec, parts).await);
        }
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
        if let Some(example) = group.examples.first()
            && let Ok(json) = serde_json::to_string(example)
        {
            let _ = writeln!(text, "  example: {json}");
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
    let mut report = inspect(&args.topic, &letters, args.samples);
    let codec = Codec::new(args.connection.codec(None)?).map_err(anyhow::Error::msg)?;
    add_examples(&codec, &mut report, &letters, args.samples).await;
    let text = if args.json {
        format!("{}\n", serde_json::to_string_pretty(&report)?)
    } else {
        inspect_text(&report)
    };
    crate::print_stdout(&text)
}

#[cfg(test)]
mod tests;
