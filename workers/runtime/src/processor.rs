//! The processor contract: what a worker supplies and what the runtime guarantees.
//!
//! A worker is a [`Processor`]: a pure function from one decoded input event, with its
//! Kafka coordinates, to zero or more derived events. It does no I/O, reads no clock
//! (the runtime passes `now`), and keeps no state between calls.
//!
//! What the runtime guarantees around it:
//!
//! - **Ordering.** Messages of one partition are processed one at a time, in offset
//!   order, and their outputs are produced in that order. Partitions of one process
//!   run concurrently. Outputs keyed like their input (by `order_id`) keep per-order
//!   order downstream.
//! - **Exactly-once** (the default). The outputs of a message, any dead letter, and
//!   the message's offset are committed in one Kafka transaction. If a transaction
//!   aborts, its messages are processed again from the last committed offset; their
//!   earlier outputs were never visible to `read_committed` readers. A processor can
//!   therefore be called more than once for the same input; being pure and giving
//!   deterministic event ids, it yields the same outputs.
//! - **At-least-once.** An offset is committed only when every output of that message
//!   and of every earlier message of its partition is acknowledged by the broker.
//!   After a crash, unacknowledged messages are processed again.
//! - **Errors.** [`ProcessError::Permanent`] (a poison message) sends the input to the
//!   worker's dead-letter topic with its provenance, then processing goes on with the
//!   next message. [`ProcessError::Transient`] is retried with exponential backoff and
//!   jitter, a bounded number of times; then the configured policy applies (stop the
//!   worker, or dead-letter). Decode and schema errors are the runtime's: they
//!   dead-letter the message before the processor is called. A business rejection
//!   is an output, never an error.

use orderflow_events::Record;
use serde::de::DeserializeOwned;

/// One decoded input message, with where it came from.
#[derive(Debug)]
pub struct Input<'a, T> {
    /// The decoded event.
    pub event: &'a T,
    /// Topic it was read from.
    pub topic: &'a str,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Kafka timestamp (milliseconds since the epoch), when the record has one.
    pub timestamp: Option<i64>,
    /// Record key.
    pub key: Option<&'a [u8]>,
    /// Record headers.
    pub headers: &'a [crate::message::RecordHeader],
    /// Processing time in milliseconds since the epoch: the only clock a processor
    /// may read, injected so tests can fix it.
    pub now: i64,
}

/// One derived event to produce.
#[derive(Debug, Clone, PartialEq)]
pub struct Output<T> {
    /// Record key; by convention the order id.
    pub key: String,
    /// The event.
    pub value: T,
}

/// What processing one input yields.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<T> {
    /// Zero or more derived events.
    Emit(Vec<Output<T>>),
    /// The input is of a kind this worker does not handle; the reason (a payload type
    /// name) labels a metric and must come from a small fixed set.
    Skip(&'static str),
}

/// Why processing failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProcessError {
    /// The input can never be processed: dead-letter it.
    #[error("{0}")]
    Permanent(String),
    /// Processing may succeed later: retry.
    #[error("{0}")]
    Transient(String),
}

/// A worker's pure processing function.
pub trait Processor: Send + Sync + 'static {
    /// Type of the input events.
    type Input: Record;
    /// Type of the derived events.
    type Output: Record;
    /// Rules and thresholds, read from the `--rules` TOML file (defaults when absent).
    type Rules: DeserializeOwned + Default + std::fmt::Debug;

    /// The worker's name: default group id, dead-letter topic prefix, id namespace.
    const NAME: &'static str;
    /// The worker's version, carried by every derived event.
    const VERSION: &'static str;
    /// The default input topic.
    const INPUT_TOPIC: &'static str = "orders.lifecycle";
    /// The default output topic.
    const OUTPUT_TOPIC: &'static str;

    /// Builds the processor from its rules; an error says which rule is invalid.
    fn new(rules: Self::Rules) -> Result<Self, String>
    where
        Self: Sized;

    /// Processes one input.
    fn process(
        &self,
        input: &Input<'_, Self::Input>,
    ) -> Result<Outcome<Self::Output>, ProcessError>;
}
