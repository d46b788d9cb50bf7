//! The data that flows through the pipeline: consumed messages in, records to produce
//! out, and the result of handling one message, which carries its offset back to the
//! committer (offsets flow as data, as in Arroyo).

use std::sync::Arc;
use std::time::Instant;

pub use orderflow_kafka_bytes::headers::RecordHeader;
use rdkafka::Message;
use rdkafka::message::{BorrowedMessage, OwnedHeaders};

/// A consumed message, owned, with the rewind epoch it was read in.
#[derive(Debug, Clone)]
pub struct InputMessage {
    /// Topic.
    pub topic: Arc<str>,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Kafka timestamp in epoch milliseconds.
    pub timestamp: Option<i64>,
    /// Key.
    pub key: Option<Vec<u8>>,
    /// Value; `None` for a tombstone.
    pub payload: Option<Vec<u8>>,
    /// Headers, in record order: names of any bytes, null values kept null.
    pub headers: Vec<RecordHeader>,
    /// Bumped by every exactly-once rewind: messages of an older rewind epoch are stale.
    pub rewind_epoch: u64,
    /// When the poll loop received it.
    pub received_at: Instant,
}

impl InputMessage {
    /// Copies a message out of the consumer's buffer.
    pub fn from_kafka(message: &BorrowedMessage<'_>, topic: Arc<str>, rewind_epoch: u64) -> Self {
        let headers = orderflow_kafka_bytes::headers::read(message);
        InputMessage {
            topic,
            partition: message.partition(),
            offset: message.offset(),
            timestamp: message.timestamp().to_millis(),
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().map(<[u8]>::to_vec),
            headers,
            rewind_epoch,
            received_at: Instant::now(),
        }
    }

    /// The stand-in for a position advance (see [`Work::Advance`]): no key, value or
    /// headers, at the offset just before the new position, so that committing it
    /// commits that position.
    pub(crate) fn advance(topic: Arc<str>, partition: i32, to: i64, rewind_epoch: u64) -> Self {
        InputMessage {
            topic,
            partition,
            offset: to - 1,
            timestamp: None,
            key: None,
            payload: None,
            headers: Vec::new(),
            rewind_epoch,
            received_at: Instant::now(),
        }
    }

    /// The value of the first header called `name` (`None` when missing or null).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        orderflow_kafka_bytes::headers::find(&self.headers, name).flatten()
    }

    /// The trace id of its W3C `traceparent` header, when it has a valid one: what ties
    /// the log lines about this message to the trace of its outputs.
    pub fn trace_id(&self) -> Option<&str> {
        self.header(crate::telemetry::TRACEPARENT)
            .and_then(crate::telemetry::trace_id)
    }

    /// Bytes it took on the wire, roughly: key, value, headers.
    pub fn size(&self) -> usize {
        self.key.as_ref().map_or(0, Vec::len)
            + self.payload.as_ref().map_or(0, Vec::len)
            + self.headers.iter().map(RecordHeader::size).sum::<usize>()
    }
}

/// A record to produce.
#[derive(Debug, Clone)]
pub struct OutputRecord {
    /// Destination topic.
    pub topic: Arc<str>,
    /// Key.
    pub key: Option<Vec<u8>>,
    /// Value; `None` for a tombstone.
    pub payload: Option<Vec<u8>>,
    /// Headers.
    pub headers: Vec<RecordHeader>,
}

impl OutputRecord {
    /// Headers in the client's form.
    pub fn kafka_headers(&self) -> OwnedHeaders {
        orderflow_kafka_bytes::headers::to_kafka(&self.headers)
    }

    /// Bytes the broker counts against `max.message.bytes`, roughly: key, value, headers.
    pub fn size(&self) -> usize {
        self.key.as_ref().map_or(0, Vec::len)
            + self.payload.as_ref().map_or(0, Vec::len)
            + self.headers.iter().map(RecordHeader::size).sum::<usize>()
    }
}

/// What the poll thread hands a partition's task, in offset order.
#[derive(Debug)]
pub(crate) enum Work {
    /// A consumed message.
    Message(Arc<InputMessage>),
    /// The consumer's position moved to `to` past records no `read_committed` reader
    /// is given (transaction markers, records of aborted transactions), read at
    /// rewind epoch `rewind_epoch`. Committed like a message without outputs, it brings the
    /// group's offset to the partition's end, as `kafka-consumer-groups`, Burrow and
    /// KEDA's lag scaler expect of a consumer that has read everything.
    Advance { to: i64, rewind_epoch: u64 },
}

/// How handling a message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Outputs produced (possibly none).
    Processed,
    /// The worker does not handle this kind of input.
    Skipped,
    /// Sent to the dead-letter topic.
    DeadLettered,
    /// Not a message: the position moved past records no reader is given.
    Advanced,
}

/// The result of handling one input message: what to produce and which offset it
/// completes. The committer commits `offset + 1` once `records` are safely written.
#[derive(Debug)]
pub struct Prepared {
    /// The input's topic.
    pub topic: Arc<str>,
    /// The input's partition.
    pub partition: i32,
    /// The input's offset.
    pub offset: i64,
    /// The input's rewind epoch.
    pub rewind_epoch: u64,
    /// The input's Kafka timestamp, for end-to-end latency.
    pub timestamp: Option<i64>,
    /// What to produce: the outputs, or one dead letter.
    pub records: Vec<OutputRecord>,
    /// How it ended.
    pub disposition: Disposition,
    /// The input message, kept while its outputs are in flight so that an output the
    /// broker refuses for good can still turn into a dead letter.
    pub input: Arc<InputMessage>,
    /// Commit right after this message, recording a crash-loop count.
    pub(crate) checkpoint: Option<Checkpoint>,
}

/// Asks the committer to make a handled message durable at once, with a count of
/// starts in the commit's metadata (see `crash_loop`), and to say so on `done` (which
/// is dropped instead when the commit did not happen).
#[derive(Debug)]
pub(crate) struct Checkpoint {
    /// The count of starts the commit records.
    pub starts: u32,
    /// Answered once the commit succeeded.
    pub done: tokio::sync::oneshot::Sender<()>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_traceparent(value: Option<&str>) -> InputMessage {
        let mut message = InputMessage::advance("orders.lifecycle".into(), 0, 1, 0);
        message.key = Some(b"order-1".to_vec());
        message.payload = Some(vec![0; 10]);
        if let Some(value) = value {
            message
                .headers
                .push(RecordHeader::new("traceparent", value));
        }
        message
    }

    #[test]
    fn the_trace_id_comes_from_a_valid_traceparent_only() {
        let valid = with_traceparent(Some(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ));
        assert_eq!(valid.trace_id(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        assert_eq!(with_traceparent(Some("garbage")).trace_id(), None);
        assert_eq!(with_traceparent(None).trace_id(), None);
    }

    #[test]
    fn the_size_counts_key_value_and_headers() {
        let message = with_traceparent(None);
        assert_eq!(message.size(), 7 + 10);
        let traced = with_traceparent(Some("x"));
        assert_eq!(traced.size(), 7 + 10 + "traceparent".len() + 1 + 8);
    }
}
