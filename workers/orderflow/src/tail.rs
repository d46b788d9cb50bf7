//! `orderflow tail`: decode any topic to JSON lines, dead-letter topics included, one
//! record per line in the form of [`crate::record`].
//!
//! [`TopicReader`] reads one topic with its own assignment of partitions: it joins no
//! consumer group and commits nothing, so tailing never disturbs a worker's group, and
//! it reads `read_committed`, so it shows what downstream consumers see. `orderflow
//! dlq` reads dead-letter topics with it too.

use std::collections::HashSet;
use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use orderflow_events::Codec;
use orderflow_runtime::kafka::{KafkaSettings, Role};
use orderflow_runtime::kafka_errors::{Next, Stage, classify};
use orderflow_runtime::topics::describe_topic;
use rdkafka::ClientContext;
use rdkafka::consumer::{Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::{Offset, TopicPartitionList};

use crate::cli::TailArgs;
use crate::record::JsonRecord;

/// How long a reader that does not follow waits for any progress (a record or the end
/// of a partition) before it gives up: a partition without a leader never ends.
const STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Timeout of the metadata request that lists the topic's partitions.
const METADATA_TIMEOUT: Duration = Duration::from_secs(30);
/// Timeout of one attempt at that request: errors queued meanwhile are read in between.
const METADATA_ATTEMPT: Duration = Duration::from_secs(5);

/// Where a [`TopicReader`] starts, in each partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The oldest record.
    Beginning,
    /// After the newest record.
    End,
    /// This offset. One the partition no longer or not yet holds is reset as librdkafka
    /// resets it (`auto.offset.reset`, the latest unless set), as kcat does.
    Offset(i64),
    /// This many offsets before the end (or the beginning, when it holds fewer). In a
    /// transactional topic the commit markers hold offsets too.
    BeforeEnd(i64),
    /// The first record whose timestamp is at or after this time (milliseconds since
    /// the Unix epoch); the end when there is none.
    Time(i64),
}

impl std::str::FromStr for Start {
    type Err = String;

    /// `beginning` (or `earliest`), `end` (or `latest`), an offset `N`, or `-N`: N
    /// records before the end.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "beginning" | "earliest" => Ok(Start::Beginning),
            "end" | "latest" => Ok(Start::End),
            number => match number.parse::<i64>() {
                Ok(n) if number.starts_with('-') => Ok(Start::BeforeEnd(n.saturating_neg())),
                Ok(n) => Ok(Start::Offset(n)),
                Err(_) => Err(format!(
                    "{text:?} is not an offset: use beginning, end, N (an offset) or -N (N \
                     records before the end)"
                )),
            },
        }
    }
}

/// Parses `--from-datetime`: RFC 3339 (`2026-12-03T05:00:00Z`, with any offset), or a
/// date and time without a zone (`2026-12-03T05:00:00.000`, as Kafka's tools take it)
/// in the local time zone; milliseconds since the Unix epoch.
pub fn parse_datetime(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let timestamp = match text.parse::<jiff::Timestamp>() {
        Ok(timestamp) => timestamp,
        Err(_) => text
            .parse::<jiff::civil::DateTime>()
            .and_then(|local| jiff::tz::TimeZone::system().to_timestamp(local))
            .map_err(|error| {
                format!(
                    "{text:?} is not a date and time: use RFC 3339 (2026-12-03T05:00:00Z) or \
                     YYYY-MM-DDTHH:mm:SS.sss in the local time zone ({error})"
                )
            })?,
    };
    Ok(timestamp.as_millisecond())
}

/// The reader's client context: reaching the end of a partition is how the reader
/// knows it caught up, not an error worth a log line.
struct ReaderContext;

impl ClientContext for ReaderContext {
    fn error(&self, error: KafkaError, reason: &str) {
        let end_of_partition = matches!(
            error,
            KafkaError::PartitionEOF(_) | KafkaError::Global(RDKafkaErrorCode::PartitionEOF)
        );
        if !end_of_partition {
            tracing::error!("librdkafka: {error}: {reason}");
        }
    }
}

impl ConsumerContext for ReaderContext {}

/// Reads one topic from an own assignment of its partitions.
pub struct TopicReader {
    consumer: StreamConsumer<ReaderContext>,
    topic: String,
    partitions: Vec<i32>,
    /// Partitions whose end the reader reached, with nothing read from them since.
    at_end: HashSet<i32>,
}

impl std::fmt::Debug for TopicReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicReader")
            .field("topic", &self.topic)
            .field("partitions", &self.partitions)
            .finish()
    }
}

impl TopicReader {
    /// Assigns every partition of `topic` (or only `partition`) from `start`. Fails when
    /// the topic or the partition does not exist.
    pub async fn open(
        settings: &KafkaSettings,
        topic: &str,
        partition: Option<i32>,
        start: Start,
    ) -> anyhow::Result<TopicReader> {
        let config = settings.config_for(
            Role::Consumer,
            &[
                // librdkafka's assign() needs a group id, but an assignment never joins
                // the group, and with auto-commit off nothing is ever committed to it.
                ("group.id", "orderflow-cli-reader"),
                ("enable.auto.commit", "false"),
                ("enable.auto.offset.store", "false"),
                ("isolation.level", "read_committed"),
                // End of partition is how "caught up" is detected: with read_committed it
                // is reported at the last stable offset, past transaction markers.
                ("enable.partition.eof", "true"),
            ],
        );
        let consumer: StreamConsumer<ReaderContext> = config
            .create_with_context(ReaderContext)
            .context("creating the consumer")?;
        let available = partitions_of(&consumer, topic).await?;
        let partitions = match partition {
            Some(p) if available.contains(&p) => vec![p],
            Some(p) => anyhow::bail!(
                "topic {topic} has no partition {p} (it has {} partitions)",
                available.len()
            ),
            None => available,
        };
        let mut assignment = TopicPartitionList::new();
        for p in &partitions {
            let offset = match start {
                Start::Beginning => Offset::Beginning,
                Start::End => Offset::End,
                Start::Offset(n) => Offset::Offset(n),
                Start::BeforeEnd(n) => {
                    let (low, high) = consumer
                        .fetch_watermarks(topic, *p, METADATA_TIMEOUT)
                        .with_context(|| format!("reading the offsets of {topic} [{p}]"))?;
                    Offset::Offset(high.saturating_sub(n).max(low))
                }
                // The time stands in the offset's place for the look-up below.
                Start::Time(ms) => Offset::Offset(ms),
            };
            assignment.add_partition_offset(topic, *p, offset)?;
        }
        if let Start::Time(ms) = start {
            assignment = consumer
                .offsets_for_times(assignment, METADATA_TIMEOUT)
                .with_context(|| format!("looking up the offsets of {topic} at {ms} ms"))?;
            // A partition with no record that late answers the end (-1) already.
            for mut element in assignment.elements() {
                if element.offset() == Offset::Invalid {
                    element.set_offset(Offset::End)?;
                }
            }
        }
        consumer
            .assign(&assignment)
            .with_context(|| format!("assigning the partitions of {topic}"))?;
        Ok(TopicReader {
            consumer,
            topic: topic.to_owned(),
            partitions,
            at_end: HashSet::new(),
        })
    }

    /// The assigned partitions.
    pub fn partitions(&self) -> &[i32] {
        &self.partitions
    }

    /// The next record; `None` once every partition is caught up, unless `follow`, in
    /// which case it waits for new records forever.
    pub async fn next(&mut self, follow: bool) -> anyhow::Result<Option<OwnedMessage>> {
        loop {
            if !follow && self.at_end.len() == self.partitions.len() {
                return Ok(None);
            }
            let received = if follow {
                self.consumer.recv().await
            } else {
                tokio::time::timeout(STALL_TIMEOUT, self.consumer.recv())
                    .await
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "no record and no end of partition from {} within {} s: are its \
                         partition leaders available?",
                            self.topic,
                            STALL_TIMEOUT.as_secs()
                        )
                    })?
            };
            match received {
                Ok(message) => {
                    self.at_end.remove(&message.partition());
                    return Ok(Some(message.detach()));
                }
                Err(KafkaError::PartitionEOF(partition)) => {
                    self.at_end.insert(partition);
                }
                Err(error) if stops_reading(&error) => {
                    return Err(error).with_context(|| format!("reading {}", self.topic));
                }
                Err(error) => {
                    // Connection trouble: librdkafka reconnects by itself.
                    tracing::warn!(topic = %self.topic, %error, "reading goes on after an error");
                }
            }
        }
    }
}

/// Errors that waiting cannot cure: those the runtime's table says stop a reader.
fn stops_reading(error: &KafkaError) -> bool {
    classify(error, Stage::Poll) == Next::Stop
}

/// The partition ids of `topic`, sorted; an error naming the topic when it is missing.
/// Asks in short attempts and, between them, reads the errors the client queued: an
/// authentication or TLS failure ends the wait at once with its reason, instead of a
/// transport error after the whole timeout.
async fn partitions_of(
    consumer: &StreamConsumer<ReaderContext>,
    topic: &str,
) -> anyhow::Result<Vec<i32>> {
    let started = std::time::Instant::now();
    loop {
        let error = match describe_topic(consumer.client(), topic, METADATA_ATTEMPT) {
            Ok(Some(found)) => return Ok(found.ids()),
            Ok(None) => anyhow::bail!("topic {topic} does not exist"),
            Err(error) => error,
        };
        // Nothing is assigned yet, so what the consumer queue holds are client errors.
        while let Ok(Err(queued)) =
            tokio::time::timeout(Duration::from_millis(100), consumer.recv()).await
        {
            if classify(&queued, Stage::Connecting) == Next::Stop {
                return Err(queued).with_context(|| format!("connecting to read {topic}"));
            }
        }
        if started.elapsed() >= METADATA_TIMEOUT {
            return Err(error.into());
        }
    }
}

/// Runs `orderflow tail`.
pub async fn run(args: TailArgs) -> anyhow::Result<()> {
    let settings = args.connection.kafka()?;
    let codec = Codec::new(args.connection.codec(None)?).map_err(anyhow::Error::msg)?;
    let start = match (args.from_datetime, args.offset) {
        (Some(ms), _) => Start::Time(ms),
        (None, Some(start)) => start,
        (None, None) if args.from_end => Start::End,
        (None, None) => Start::Beginning,
    };
    let mut reader = TopicReader::open(&settings, &args.topic, args.partition, start).await?;
    let limit = args.count.unwrap_or(usize::MAX);
    let mut printed = 0usize;
    let mut interrupted = std::pin::pin!(tokio::signal::ctrl_c());
    let stdout = std::io::stdout();
    while printed < limit {
        let message = tokio::select! {
            next = reader.next(args.follow) => next?,
            _ = &mut interrupted => break,
        };
        let Some(message) = message else { break };
        let line = serde_json::to_string(&JsonRecord::of(&codec, &message).await)?;
        let mut out = stdout.lock();
        match writeln!(out, "{line}").and_then(|()| out.flush()) {
            Ok(()) => printed += 1,
            // The reader of the output went away (`orderflow tail ... | head`).
            Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => break,
            Err(error) => return Err(error).context("writing to stdout"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_positions_parse_as_kcat_takes_them() {
        let parse = |text: &str| text.parse::<Start>();
        assert_eq!(parse("beginning"), Ok(Start::Beginning));
        assert_eq!(parse("earliest"), Ok(Start::Beginning));
        assert_eq!(parse("end"), Ok(Start::End));
        assert_eq!(parse("latest"), Ok(Start::End));
        assert_eq!(parse("42"), Ok(Start::Offset(42)));
        assert_eq!(parse("0"), Ok(Start::Offset(0)));
        assert_eq!(parse("-10"), Ok(Start::BeforeEnd(10)));
        assert!(parse("stored").unwrap_err().contains("-N"));
        assert!(parse("ten").is_err());
    }

    #[test]
    fn datetimes_parse_with_or_without_a_zone() {
        assert_eq!(
            parse_datetime("2023-11-14T22:13:20Z"),
            Ok(1_700_000_000_000)
        );
        assert_eq!(
            parse_datetime("2023-11-14T23:13:20.250+01:00"),
            Ok(1_700_000_000_250)
        );
        let local = parse_datetime("2023-11-14T22:13:20.000").unwrap();
        let offset = jiff::tz::TimeZone::system()
            .to_offset(jiff::Timestamp::from_millisecond(local).unwrap())
            .seconds();
        assert_eq!(local + i64::from(offset) * 1000, 1_700_000_000_000);
        let bad = parse_datetime("yesterday").unwrap_err();
        assert!(bad.contains("RFC 3339"), "{bad}");
    }
    #[test]
    fn only_errors_that_waiting_cannot_cure_stop_the_reader() {
        assert!(stops_reading(&KafkaError::MessageConsumption(
            RDKafkaErrorCode::TopicAuthorizationFailed
        )));
        assert!(!stops_reading(&KafkaError::MessageConsumption(
            RDKafkaErrorCode::BrokerTransportFailure
        )));
        assert!(!stops_reading(&KafkaError::MessageConsumption(
            RDKafkaErrorCode::AllBrokersDown
        )));
    }
}
