//! Typed runtime errors.

use rdkafka::error::KafkaError;

/// What went wrong at the runtime level.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The configuration cannot work; the message says what to fix.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The worker cannot go on (fenced, not authorized, too many failures, ...); it
    /// exits non-zero and the orchestrator restarts it.
    #[error("{0}")]
    Fatal(String),
    /// A Kafka client call failed; `context` says which.
    #[error("{context}: {source}")]
    Kafka {
        /// What the runtime was doing.
        context: String,
        /// The client's error.
        #[source]
        source: KafkaError,
    },
}

impl RuntimeError {
    /// Wraps a Kafka error with what the runtime was doing when it happened.
    pub fn kafka(context: impl Into<String>, source: KafkaError) -> Self {
        RuntimeError::Kafka {
            context: context.into(),
            source,
        }
    }
}
