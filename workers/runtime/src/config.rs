//! Worker configuration: command-line flags with environment-variable equivalents
//! ([`WorkerArgs`], in `args`; the connection flags every command shares,
//! [`KafkaArgs`] and [`RegistryArgs`], in `connection`), validated at start into the settings a worker runs
//! with ([`RuntimeConfig`], here), so that a bad setting stops the program with a
//! message that says what to fix.

use std::time::Duration;

use clap::ValueEnum;
use orderflow_events::codec::CodecSettings;
use orderflow_events::{SchemaRegistration, WireFormat};

pub use self::args::{LogFormat, OutputFormat, WorkerArgs};
pub use self::connection::{KafkaArgs, RegistryArgs};
use crate::error::RuntimeError;
use crate::kafka::KafkaSettings;

mod args;
mod command_config;
mod connection;

/// Delivery guarantee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Guarantee {
    /// Outputs, dead letters and input offsets commit in one Kafka transaction.
    ExactlyOnce,
    /// Offsets are stored only after every output of a message is acknowledged.
    AtLeastOnce,
}

impl Guarantee {
    /// The setting's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Guarantee::ExactlyOnce => "exactly-once",
            Guarantee::AtLeastOnce => "at-least-once",
        }
    }
}

/// What happens to a message whose transient failure outlasted every retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RetriesExhausted {
    /// Stop the worker (non-zero exit); the message is retried after the restart.
    Fail,
    /// Dead-letter the message with class `transient` and go on.
    DeadLetter,
}

/// What a worker is: its name, version and default output topic.
#[derive(Debug, Clone, Copy)]
pub struct WorkerIdentity {
    /// The worker's name: default group id and dead-letter topic prefix.
    pub name: &'static str,
    /// The worker's version.
    pub version: &'static str,
    /// The worker's default input topic.
    pub input_topic: &'static str,
    /// The worker's default output topic.
    pub output_topic: &'static str,
}

/// Validated runtime settings.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Who runs.
    pub identity: WorkerIdentity,
    /// Kafka connection settings.
    pub kafka: KafkaSettings,
    /// Consumer group.
    pub group_id: String,
    /// Input topic.
    pub input_topic: String,
    /// Output topic.
    pub output_topic: String,
    /// Dead-letter topic.
    pub dlq_topic: String,
    /// Delivery guarantee.
    pub guarantee: Guarantee,
    /// Codec settings (formats, registry, payload limit).
    pub codec: CodecSettings,
    /// Stable transactional id, when given.
    pub transactional_id: Option<String>,
    /// Commit at least this often.
    pub commit_interval: Duration,
    /// Commit after this many messages.
    pub commit_max_messages: usize,
    /// transaction.timeout.ms.
    pub transaction_timeout: Duration,
    /// Clean-shutdown deadline.
    pub shutdown_timeout: Duration,
    /// Create missing topics.
    pub create_topics: bool,
    /// Per-partition buffer.
    pub partition_queue: usize,
    /// Retry policy of transient failures.
    pub retry: RetryPolicy,
    /// The safety valve.
    pub valve: ValveSettings,
}

/// Retry policy of transient failures.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in total.
    pub max_attempts: u32,
    /// First delay.
    pub initial: Duration,
    /// Longest delay.
    pub max: Duration,
    /// After the last attempt.
    pub exhausted: RetriesExhausted,
}

/// When too many messages fail, stop rather than dead-letter everything.
#[derive(Debug, Clone, Copy)]
pub struct ValveSettings {
    /// Dead letters in a row that stop the worker (0: never).
    pub max_consecutive: u64,
    /// Share of the last window that stops the worker (1.0: never).
    pub max_ratio: f64,
}

impl WorkerArgs {
    /// Validates the flags for `identity` into runtime settings.
    pub fn resolve(&self, identity: WorkerIdentity) -> Result<RuntimeConfig, RuntimeError> {
        let config_error = |message: String| RuntimeError::Config(message);
        let kafka = self.kafka.settings()?;
        for (key, _) in &kafka.passthrough {
            if crate::kafka::decides_guarantee(key) {
                return Err(config_error(format!(
                    "Kafka property {key} (from --kafka-config or --command-config) is managed \
                     by orderflow (it decides the delivery guarantee); use --guarantee, \
                     --group-id or --transactional-id instead"
                )));
            }
        }

        let group_id = self
            .group_id
            .clone()
            .unwrap_or_else(|| identity.name.to_owned());
        let input_topic = self
            .input_topic
            .clone()
            .unwrap_or_else(|| identity.input_topic.to_owned());
        let output_topic = self
            .output_topic
            .clone()
            .unwrap_or_else(|| identity.output_topic.to_owned());
        let dlq_topic = self
            .dlq_topic
            .clone()
            .unwrap_or_else(|| format!("{}.dlq", identity.name));
        for (flag, topic) in [
            ("--input-topic", &input_topic),
            ("--output-topic", &output_topic),
            ("--dlq-topic", &dlq_topic),
        ] {
            validate_topic(flag, topic)?;
        }
        if group_id.trim().is_empty() {
            return Err(config_error("--group-id is empty".into()));
        }
        if input_topic == output_topic || input_topic == dlq_topic {
            return Err(config_error(format!(
                "the input topic {} is also an output or dead-letter topic: a worker would \
                 consume its own output",
                input_topic
            )));
        }
        if output_topic == dlq_topic {
            return Err(config_error(format!(
                "--output-topic and --dlq-topic are both {output_topic}"
            )));
        }

        let registry = self.registry.settings()?;
        let output_format = match (self.output_format, &registry) {
            (Some(OutputFormat::Confluent), None) => {
                return Err(config_error(
                    "--output-format confluent needs --schema-registry-url; without a registry \
                     use --output-format single-object"
                        .into(),
                ));
            }
            (Some(OutputFormat::Confluent), Some(_)) | (None, Some(_)) => WireFormat::Confluent,
            (Some(OutputFormat::SingleObject), _) | (None, None) => WireFormat::SingleObject,
        };
        if self.max_payload_bytes < 64 {
            return Err(config_error(format!(
                "--max-payload-bytes {} is too small for any event",
                self.max_payload_bytes
            )));
        }

        if self.commit_interval_ms == 0 || self.commit_interval_ms > 60_000 {
            return Err(config_error(format!(
                "--commit-interval-ms {} must be between 1 and 60000",
                self.commit_interval_ms
            )));
        }
        if self.commit_max_messages == 0 {
            return Err(config_error(
                "--commit-max-messages must be at least 1".into(),
            ));
        }
        // A transaction stays open for a commit interval: only exactly-once has one.
        if self.transaction_timeout_ms < 1_000
            || (self.guarantee == Guarantee::ExactlyOnce
                && self.transaction_timeout_ms <= self.commit_interval_ms)
        {
            return Err(config_error(format!(
                "--transaction-timeout-ms {} must be at least 1000 and longer than the commit \
                 interval",
                self.transaction_timeout_ms
            )));
        }
        if self.transactional_id.is_some() && self.guarantee == Guarantee::AtLeastOnce {
            return Err(config_error(
                "--transactional-id is only used with --guarantee exactly-once".into(),
            ));
        }
        if self.partition_queue == 0 {
            return Err(config_error("--partition-queue must be at least 1".into()));
        }
        if self.retry_max_attempts == 0 || self.retry_initial_ms == 0 {
            return Err(config_error(
                "--retry-max-attempts and --retry-initial-ms must be at least 1".into(),
            ));
        }
        if !(0.0..=1.0).contains(&self.max_failure_ratio) || self.max_failure_ratio == 0.0 {
            return Err(config_error(format!(
                "--max-failure-ratio {} must be above 0 and at most 1",
                self.max_failure_ratio
            )));
        }
        if let Some(path) = &self.rules
            && !path.is_file()
        {
            return Err(config_error(format!(
                "--rules {} does not exist or is not a file",
                path.display()
            )));
        }

        Ok(RuntimeConfig {
            identity,
            kafka,
            group_id,
            input_topic,
            output_topic,
            dlq_topic,
            guarantee: self.guarantee,
            codec: CodecSettings {
                max_payload_bytes: self.max_payload_bytes,
                output_format,
                subject_strategy: self.subject_strategy,
                registry,
                registration: SchemaRegistration {
                    auto_register: self.auto_register_schemas,
                    use_latest_version: self.use_latest_version,
                },
            },
            transactional_id: self.transactional_id.clone(),
            commit_interval: Duration::from_millis(self.commit_interval_ms),
            commit_max_messages: self.commit_max_messages,
            transaction_timeout: Duration::from_millis(self.transaction_timeout_ms),
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout_secs),
            create_topics: self.create_topics,
            partition_queue: self.partition_queue,
            retry: RetryPolicy {
                max_attempts: self.retry_max_attempts,
                initial: Duration::from_millis(self.retry_initial_ms),
                max: Duration::from_millis(self.retry_max_ms.max(self.retry_initial_ms)),
                exhausted: self.on_retries_exhausted,
            },
            valve: ValveSettings {
                max_consecutive: self.max_consecutive_failures,
                max_ratio: self.max_failure_ratio,
            },
        })
    }
}

fn validate_topic(flag: &str, topic: &str) -> Result<(), RuntimeError> {
    let valid = !topic.is_empty()
        && topic.len() <= 249
        && topic != "."
        && topic != ".."
        && topic
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid {
        Ok(())
    } else {
        Err(RuntimeError::Config(format!(
            "{flag} '{topic}' is not a valid Kafka topic name (1-249 characters of a-z, A-Z, \
             0-9, '.', '_', '-')"
        )))
    }
}

#[cfg(test)]
mod tests;
