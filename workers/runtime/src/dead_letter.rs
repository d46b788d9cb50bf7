//! Dead letters: the original message plus headers that say where it came from and why
//! it failed, so it can be inspected and replayed.

use std::sync::Arc;

use crate::clock::now_millis;
use crate::handler::{Failure, FailureClass};
use crate::message::{Disposition, InputMessage, OutputRecord, Prepared, RecordHeader};
use crate::metrics::WorkerMetrics;
use crate::topics::RecordLimits;

/// Header names of a dead letter's provenance.
pub mod header {
    /// Topic the message was consumed from.
    pub const TOPIC: &str = "orderflow.dlq.topic";
    /// Its partition.
    pub const PARTITION: &str = "orderflow.dlq.partition";
    /// Its offset.
    pub const OFFSET: &str = "orderflow.dlq.offset";
    /// Its Kafka timestamp (epoch milliseconds).
    pub const TIMESTAMP: &str = "orderflow.dlq.timestamp";
    /// The consumer group that failed it.
    pub const GROUP: &str = "orderflow.dlq.group";
    /// The worker that failed it.
    pub const WORKER: &str = "orderflow.dlq.worker";
    /// That worker's version.
    pub const WORKER_VERSION: &str = "orderflow.dlq.worker-version";
    /// Error class: decode, schema, poison or transient.
    pub const ERROR_CLASS: &str = "orderflow.dlq.error-class";
    /// Finer error kind.
    pub const ERROR_KIND: &str = "orderflow.dlq.error-kind";
    /// Error message.
    pub const ERROR_MESSAGE: &str = "orderflow.dlq.error-message";
    /// Processing attempts made.
    pub const ATTEMPTS: &str = "orderflow.dlq.attempts";
    /// Writer schema named by the message (`id:N` or `fingerprint:0x...`), when known.
    pub const SCHEMA: &str = "orderflow.dlq.schema";
    /// When it was dead-lettered (epoch milliseconds).
    pub const FAILED_AT: &str = "orderflow.dlq.failed-at";

    /// Every provenance header.
    pub const ALL: [&str; 13] = [
        TOPIC,
        PARTITION,
        OFFSET,
        TIMESTAMP,
        GROUP,
        WORKER,
        WORKER_VERSION,
        ERROR_CLASS,
        ERROR_KIND,
        ERROR_MESSAGE,
        ATTEMPTS,
        SCHEMA,
        FAILED_AT,
    ];

    /// Added to a dead letter whose value was cut to fit its topic: the value's size
    /// before (bytes).
    pub const TRUNCATED_FROM: &str = "orderflow.dlq.truncated-from";

    /// Header of a replayed record (`orderflow dlq replay`): the dead-letter topic it
    /// was replayed from.
    pub const REPLAY_DLQ_TOPIC: &str = "orderflow.replay.dlq-topic";
    /// Header of a replayed record: its partition in the dead-letter topic.
    pub const REPLAY_DLQ_PARTITION: &str = "orderflow.replay.dlq-partition";
    /// Header of a replayed record: its offset in the dead-letter topic.
    pub const REPLAY_DLQ_OFFSET: &str = "orderflow.replay.dlq-offset";
    /// Header of a replayed record: when it was replayed (epoch milliseconds).
    pub const REPLAY_AT: &str = "orderflow.replay.at";

    /// Every dead-letter header starts with this, those added later included.
    pub const DLQ_PREFIX: &str = "orderflow.dlq.";
    /// Every replay header starts with this.
    pub const REPLAY_PREFIX: &str = "orderflow.replay.";

    /// Whether a header named `name` is dead-letter or replay provenance: it describes
    /// one record's trip through a dead-letter topic and is not carried on to records
    /// derived from it, nor stacked on a second trip.
    pub fn is_provenance(name: &[u8]) -> bool {
        name.starts_with(DLQ_PREFIX.as_bytes()) || name.starts_with(REPLAY_PREFIX.as_bytes())
    }
}

/// Who writes dead letters, and where.
#[derive(Debug, Clone)]
pub struct DeadLetters {
    /// The dead-letter topic.
    pub topic: Arc<str>,
    /// The consumer group.
    pub group: Arc<str>,
    /// Worker name.
    pub worker: &'static str,
    /// Worker version.
    pub version: &'static str,
}

impl DeadLetters {
    /// The dead letter of `message`: its key, value and headers, plus provenance.
    pub fn record(&self, message: &InputMessage, failure: &Failure, attempts: u32) -> OutputRecord {
        // Earlier provenance (a message dead-lettered, replayed and failing again:
        // its first dead letter's headers, the cut of its value, the replay's) is
        // replaced, not stacked.
        let mut headers: Vec<RecordHeader> = message
            .headers
            .iter()
            .filter(|h| !header::is_provenance(&h.name))
            .cloned()
            .collect();
        let mut add = |key: &str, value: String| headers.push(RecordHeader::new(key, value));
        add(header::TOPIC, message.topic.to_string());
        add(header::PARTITION, message.partition.to_string());
        add(header::OFFSET, message.offset.to_string());
        if let Some(timestamp) = message.timestamp {
            add(header::TIMESTAMP, timestamp.to_string());
        }
        add(header::GROUP, self.group.to_string());
        add(header::WORKER, self.worker.to_owned());
        add(header::WORKER_VERSION, self.version.to_owned());
        add(header::ERROR_CLASS, failure.class.as_str().to_owned());
        add(header::ERROR_KIND, failure.kind.to_owned());
        add(header::ERROR_MESSAGE, failure.message.clone());
        add(header::ATTEMPTS, attempts.to_string());
        if let Some(schema) = failure.schema {
            add(header::SCHEMA, schema.to_string());
        }
        add(header::FAILED_AT, now_millis().to_string());
        OutputRecord {
            topic: self.topic.clone(),
            key: message.key.clone(),
            payload: message.payload.clone(),
            headers,
        }
    }

    /// The dead letter that goes instead of the outputs of `input` when the broker
    /// refuses one of them for good (too large for its topic, for instance): class
    /// poison, kind `output-rejected`, counted in `metrics`.
    pub(crate) fn replacing_outputs(
        &self,
        metrics: &WorkerMetrics,
        input: &InputMessage,
        reason: String,
    ) -> OutputRecord {
        let failure = Failure::new(FailureClass::Poison, "output-rejected", reason);
        metrics.dead_lettered(input, &failure);
        self.record(input, &failure, 1)
    }
}

/// The records to write for a handled message, each within its topic's size limit.
///
/// A dead letter (of a message that did not decode, say) stays what it is, with its
/// class, kind and provenance: only its value is cut, and the cut recorded, when the
/// dead-letter topic would refuse it. An output larger than its topic accepts would be
/// refused by the broker and doom the transaction: the message's dead letter
/// (`replace`, class poison) goes instead.
pub(crate) fn within_limits(
    records: Vec<OutputRecord>,
    item: &Prepared,
    limits: &RecordLimits,
    replace: impl FnOnce(String) -> OutputRecord,
) -> Vec<OutputRecord> {
    if item.disposition == Disposition::DeadLettered {
        return records
            .into_iter()
            .map(|mut letter| {
                limits.fit(&mut letter);
                letter
            })
            .collect();
    }
    let Some(too_large) = records.iter().find(|r| r.size() > limits.of(&r.topic)) else {
        return records;
    };
    let reason = format!(
        "an output of {} bytes exceeds the {}-byte limit of topic {}",
        too_large.size(),
        limits.of(&too_large.topic),
        too_large.topic
    );
    let mut letter = replace(reason);
    limits.fit(&mut letter);
    vec![letter]
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;

    fn input(payload: usize) -> Arc<InputMessage> {
        Arc::new(InputMessage {
            topic: "orders.lifecycle".into(),
            partition: 3,
            offset: 42,
            timestamp: Some(1_700_000_000_000),
            key: Some(b"ord-1".to_vec()),
            payload: Some(vec![7; payload]),
            headers: vec![
                RecordHeader {
                    name: b"n".to_vec(),
                    value: None,
                },
                RecordHeader::new("e", ""),
                RecordHeader::new("x", "1"),
            ],
            rewind_epoch: 0,
            received_at: Instant::now(),
        })
    }

    fn letters() -> DeadLetters {
        DeadLetters {
            topic: "w.dlq".into(),
            group: "w".into(),
            worker: "w",
            version: "1",
        }
    }

    fn item(
        input: &Arc<InputMessage>,
        records: Vec<OutputRecord>,
        disposition: Disposition,
    ) -> Prepared {
        Prepared {
            topic: input.topic.clone(),
            partition: input.partition,
            offset: input.offset,
            rewind_epoch: 0,
            timestamp: input.timestamp,
            records,
            disposition,
            input: input.clone(),
            checkpoint: None,
        }
    }

    fn header<'a>(record: &'a OutputRecord, name: &str) -> Option<Option<&'a [u8]>> {
        orderflow_kafka_bytes::headers::find(&record.headers, name)
    }

    #[test]
    fn a_dead_letter_too_large_for_its_topic_keeps_its_class_and_is_cut() {
        let input = input(2_097_152);
        let failure = Failure::new(FailureClass::Decode, "payload-too-large", "too large");
        let letter = letters().record(&input, &failure, 1);
        let item = item(&input, vec![letter.clone()], Disposition::DeadLettered);
        let limits = RecordLimits::uniform(999_488);
        let written = within_limits(vec![letter], &item, &limits, |_| {
            panic!("a dead letter is not replaced")
        });
        assert_eq!(written.len(), 1);
        let written = &written[0];
        assert!(written.size() <= 999_488, "{}", written.size());
        assert_eq!(
            header(written, header::ERROR_CLASS),
            Some(Some(&b"decode"[..]))
        );
        assert_eq!(
            header(written, header::ERROR_KIND),
            Some(Some(&b"payload-too-large"[..]))
        );
        assert_eq!(
            header(written, "orderflow.dlq.truncated-from"),
            Some(Some(&b"2097152"[..]))
        );
        // The original headers travel as they were: null stays null, empty stays empty.
        assert_eq!(header(written, "n"), Some(None));
        assert_eq!(header(written, "e"), Some(Some(&b""[..])));
        assert_eq!(header(written, "x"), Some(Some(&b"1"[..])));
    }

    #[test]
    fn an_output_too_large_for_its_topic_is_replaced_by_the_inputs_dead_letter() {
        let input = input(10);
        let output = OutputRecord {
            topic: "orders.status".into(),
            key: None,
            payload: Some(vec![0; 2_000]),
            headers: vec![],
        };
        let item = item(&input, vec![output.clone()], Disposition::Processed);
        let limits = RecordLimits::uniform(1_000);
        let written = within_limits(vec![output], &item, &limits, |reason| {
            assert!(reason.contains("exceeds the 1000-byte limit"), "{reason}");
            letters().record(
                &input,
                &Failure::new(FailureClass::Poison, "output-rejected", reason),
                1,
            )
        });
        assert_eq!(written.len(), 1);
        assert_eq!(&*written[0].topic, "w.dlq");
        let small = OutputRecord {
            topic: "orders.status".into(),
            key: None,
            payload: Some(vec![0; 10]),
            headers: vec![],
        };
        let kept = within_limits(vec![small.clone()], &item, &limits, |_| unreachable!());
        assert_eq!(kept[0].payload, small.payload);
    }

    #[test]
    fn a_second_trip_replaces_the_first_trips_provenance() {
        let mut replayed = (*input(10)).clone();
        for (name, value) in [
            (header::ERROR_CLASS, "decode"),
            (header::TRUNCATED_FROM, "2097152"),
            ("orderflow.dlq.added-later", "1"),
            (header::REPLAY_DLQ_TOPIC, "w.dlq"),
            (header::REPLAY_AT, "1700000000000"),
        ] {
            replayed.headers.push(RecordHeader::new(name, value));
        }
        let failure = Failure::new(FailureClass::Poison, "panic", "again");
        let letter = letters().record(&replayed, &failure, 1);
        assert_eq!(
            header(&letter, header::ERROR_CLASS),
            Some(Some(&b"poison"[..]))
        );
        for gone in [
            header::TRUNCATED_FROM,
            "orderflow.dlq.added-later",
            header::REPLAY_DLQ_TOPIC,
            header::REPLAY_AT,
        ] {
            assert_eq!(header(&letter, gone), None, "{gone}");
        }
        let classes = letter
            .headers
            .iter()
            .filter(|h| h.is(header::ERROR_CLASS))
            .count();
        assert_eq!(classes, 1);
        assert_eq!(header(&letter, "x"), Some(Some(&b"1"[..])));
    }
}
