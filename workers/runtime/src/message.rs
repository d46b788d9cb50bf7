//! The data that flows through the pipeline: consumed messages in, records to produce
//! out, and the result of handling one message, which carries its offset back to the
//! committer (offsets flow as data, as in Arroyo).

use std::sync::Arc;
use std::time::Instant;

use rdkafka::Message;
use rdkafka::message::{BorrowedMessage, Headers, OwnedHeaders};

/// A consumed message, owned, with the rewind generation it was read in.
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
    /// Headers (a null header value becomes empty).
    pub headers: Vec<(String, Vec<u8>)>,
    /// Bumped by every exactly-once rewind: messages of an older generation are stale.
    pub generation: u64,
    /// When the poll loop received it.
    pub received_at: Instant,
}

impl InputMessage {
    /// Copies a message out of the consumer's buffer.
    pub fn from_kafka(message: &BorrowedMessage<'_>, topic: Arc<str>, generation: u64) -> Self {
        let headers = message
            .headers()
            .map(|headers| {
                headers
                    .iter()
                    .map(|h| {
                        (
                            h.key.to_owned(),
                            h.value.map(<[u8]>::to_vec).unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        InputMessage {
            topic,
            partition: message.partition(),
            offset: message.offset(),
            timestamp: message.timestamp().to_millis(),
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().map(<[u8]>::to_vec),
            headers,
            generation,
            received_at: Instant::now(),
        }
    }

    /// The value of the first header called `name`.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_slice())
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
    pub headers: Vec<(String, Vec<u8>)>,
}

impl OutputRecord {
    /// Headers in the client's form.
    pub fn kafka_headers(&self) -> OwnedHeaders {
        let mut headers = OwnedHeaders::new_with_capacity(self.headers.len());
        for (key, value) in &self.headers {
            headers = headers.insert(rdkafka::message::Header {
                key,
                value: Some(value),
            });
        }
        headers
    }

    /// Bytes the broker counts against `max.message.bytes`, roughly: key, value, headers.
    pub fn size(&self) -> usize {
        self.key.as_ref().map_or(0, Vec::len)
            + self.payload.as_ref().map_or(0, Vec::len)
            + self
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.len() + 8)
                .sum::<usize>()
    }
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
    /// The input's generation.
    pub generation: u64,
    /// The input's Kafka timestamp, for end-to-end latency.
    pub timestamp: Option<i64>,
    /// What to produce: the outputs, or one dead letter.
    pub records: Vec<OutputRecord>,
    /// How it ended.
    pub disposition: Disposition,
    /// The input message, kept while its outputs are in flight so that an output the
    /// broker refuses for good can still turn into a dead letter.
    pub input: Arc<InputMessage>,
}
