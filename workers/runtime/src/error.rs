//! Typed runtime errors: each names what failed and keeps the error that caused it
//! (a Kafka client's, an operating system's, a task's) as its `source`.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// What went wrong at the runtime level. Every variant but [`RuntimeError::Config`]
/// stops a running worker: it exits non-zero and the orchestrator restarts it; what was
/// not committed is processed again.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The configuration cannot work; the message says what to fix.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A Kafka client call failed; `context` says which.
    #[error("{context}: {source}")]
    Kafka {
        /// What the runtime was doing.
        context: String,
        /// The client's error.
        #[source]
        source: KafkaError,
    },
    /// No broker answered at start.
    #[error("cannot reach Kafka at {servers} within {} s: {source}", within.as_secs())]
    Unreachable {
        /// `--bootstrap-servers`.
        servers: String,
        /// How long the worker tried.
        within: Duration,
        /// The last metadata request's error.
        #[source]
        source: KafkaError,
    },
    /// The producer failed with an error no new producer cures (authorization,
    /// versions): librdkafka's fatal error `code`.
    #[error("{context} ({cause})")]
    ProducerFatal {
        /// What the runtime was doing.
        context: String,
        /// librdkafka's fatal error code.
        code: RDKafkaErrorCode,
        /// librdkafka's description of it.
        cause: String,
    },
    /// A transaction call (init, begin, send offsets, commit, abort) failed past its
    /// retries.
    #[error("{0}")]
    Transaction(String),
    /// Producers were replaced too often in a short time: something outside keeps
    /// fencing them (another instance with the same transactional id, most likely).
    #[error(
        "the producer failed {renewals} times within {} s (last: {last}); if it was \
         fenced, is another instance running with the same --transactional-id?",
        within.as_secs()
    )]
    ProducerRenewals {
        /// Producers created in the window, the failing one included.
        renewals: usize,
        /// The window.
        within: Duration,
        /// Why the last one failed.
        last: String,
    },
    /// Transactions kept aborting: the work never becomes durable.
    #[error("{aborts} transactions in a row aborted; last reason: {last}")]
    Aborts {
        /// Aborts in a row.
        aborts: u32,
        /// Why the last one aborted.
        last: String,
    },
    /// The partitions could not be rewound to their committed offsets.
    #[error("cannot rewind to the committed offsets: {0}")]
    Rewind(String),
    /// An output of an input failed for retriable reasons more times than allowed
    /// (at-least-once): its offset was never committed.
    #[error("an output of partition {partition} offset {offset} failed {attempts} times: {reason}")]
    Delivery {
        /// The input's partition.
        partition: i32,
        /// The input's offset.
        offset: i64,
        /// Sends of that output.
        attempts: u32,
        /// The last delivery error.
        reason: String,
    },
    /// A message's handling failed transiently past its retries with
    /// `--on-retries-exhausted fail`.
    #[error(
        "partition {partition} offset {offset}: still failing after {attempts} attempts: {reason}"
    )]
    RetriesExhausted {
        /// The input's partition.
        partition: i32,
        /// The input's offset.
        offset: i64,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        reason: String,
    },
    /// The safety valve tripped: too many messages in a row, or too large a share of
    /// the recent ones, were dead-lettered (`--max-consecutive-failures`,
    /// `--max-failure-ratio`).
    #[error("{0}")]
    SafetyValve(String),
    /// A topic is missing, denied, or could not be created; the message names it and
    /// says what to do.
    #[error("{0}")]
    Topic(String),
    /// The output schema could not be prepared (registered, or found registered).
    #[error("cannot prepare the output schema: {0}")]
    Schema(String),
    /// A thread of the worker could not start.
    #[error("cannot start {thread}: {source}")]
    Thread {
        /// Which thread.
        thread: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A task of the worker panicked or was cancelled.
    #[error("{task} failed: {source}")]
    Task {
        /// Which task.
        task: &'static str,
        /// The runtime's error.
        #[source]
        source: tokio::task::JoinError,
    },
    /// A part of the worker stopped unexpectedly (a panic is logged above it).
    #[error("{0}")]
    Stopped(String),
    /// The shutdown outlived `--shutdown-timeout-ms`.
    #[error(
        "shutdown did not finish within {} s; uncommitted work will be processed again",
        .0.as_secs()
    )]
    ShutdownTimeout(Duration),
    /// The producer still had work when the shutdown deadline came.
    #[error("the producer did not close within the shutdown deadline")]
    ProducerNotClosed,
    /// Another part of the worker failed first: its error (see `lifecycle`).
    #[error(transparent)]
    Failed(Arc<RuntimeError>),
}

impl RuntimeError {
    /// Wraps a Kafka error with what the runtime was doing when it happened.
    pub fn kafka(context: impl Into<String>, source: KafkaError) -> Self {
        RuntimeError::Kafka {
            context: context.into(),
            source,
        }
    }

    /// This error, or the one another part of the worker failed with first.
    pub fn origin(&self) -> &RuntimeError {
        match self {
            RuntimeError::Failed(first) => first.origin(),
            error => error,
        }
    }

    /// Whether the configuration is what must change (exit code 2).
    pub fn is_config(&self) -> bool {
        matches!(self.origin(), RuntimeError::Config(_))
    }

    /// Whether the safety valve stopped the worker.
    pub fn is_safety_valve(&self) -> bool {
        matches!(self.origin(), RuntimeError::SafetyValve(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_safety_valve_is_recognised_through_the_first_failure() {
        let valve = RuntimeError::SafetyValve("3 in a row".into());
        assert!(valve.is_safety_valve());
        assert!(RuntimeError::Failed(Arc::new(valve)).is_safety_valve());
        let config = RuntimeError::Failed(Arc::new(RuntimeError::Config("x".into())));
        assert!(!config.is_safety_valve() && config.is_config());
    }
}
