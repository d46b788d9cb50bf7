//! Dead letters: the original message plus headers that say where it came from and why
//! it failed, so it can be inspected and replayed.

use std::sync::Arc;

use crate::clock::now_millis;
use crate::handler::Failure;
use crate::message::{InputMessage, OutputRecord};

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
        // Earlier provenance (a message dead-lettered, replayed and failing again) is
        // replaced, not stacked.
        let mut headers: Vec<(String, Vec<u8>)> = message
            .headers
            .iter()
            .filter(|(key, _)| !header::ALL.contains(&key.as_str()))
            .cloned()
            .collect();
        let mut add = |key: &str, value: String| headers.push((key.to_owned(), value.into_bytes()));
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
}
