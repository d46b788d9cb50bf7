//! The command-line surface of a worker: every flag, its environment variable and its
//! default, and parsing them. What the flags must satisfy, and the settings they become,
//! is the parent module's ([`WorkerArgs::resolve`]).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::ValueEnum;
use orderflow_events::SubjectStrategy;
use orderflow_events::codec::DEFAULT_MAX_PAYLOAD_BYTES;

use super::{Guarantee, KafkaArgs, RegistryArgs, RetriesExhausted};
use crate::error::RuntimeError;

/// Wire format of the outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Confluent framing with a schema-registry id.
    Confluent,
    /// Avro single-object encoding (no registry needed).
    SingleObject,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable.
    Pretty,
}

/// Every setting a worker binary accepts (SPEC section 5), flattened into its CLI.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Worker")]
pub struct WorkerArgs {
    /// How to reach Kafka.
    #[command(flatten)]
    pub kafka: KafkaArgs,

    /// How to reach the schema registry.
    #[command(flatten)]
    pub registry: RegistryArgs,

    /// Consumer group id [default: the worker's name].
    #[arg(long, env = "ORDERFLOW_GROUP_ID")]
    pub group_id: Option<String>,

    /// Topic of the input events [default: the worker's input topic, orders.lifecycle
    /// for the order workers].
    #[arg(long, env = "ORDERFLOW_INPUT_TOPIC")]
    pub input_topic: Option<String>,

    /// Topic of the derived events [default: the worker's topic].
    #[arg(long, env = "ORDERFLOW_OUTPUT_TOPIC")]
    pub output_topic: Option<String>,

    /// Dead-letter topic [default: <worker>.dlq].
    #[arg(long, env = "ORDERFLOW_DLQ_TOPIC")]
    pub dlq_topic: Option<String>,

    /// Delivery guarantee.
    #[arg(
        long,
        env = "ORDERFLOW_GUARANTEE",
        value_enum,
        default_value = "exactly-once"
    )]
    pub guarantee: Guarantee,

    /// Output wire format [default: confluent with a registry, else single-object].
    #[arg(long, env = "ORDERFLOW_OUTPUT_FORMAT", value_enum)]
    pub output_format: Option<OutputFormat>,

    /// Registry subject naming: topic-name (<topic>-value) or record-name.
    #[arg(long, env = "ORDERFLOW_SUBJECT_STRATEGY", default_value = "topic-name")]
    pub subject_strategy: SubjectStrategy,

    /// Register the output schema when it is not under its subject yet (it is always
    /// looked up first); false for registry credentials that may only read.
    #[arg(
        long,
        env = "ORDERFLOW_AUTO_REGISTER_SCHEMAS",
        default_value_t = true,
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new(),
        value_name = "BOOL"
    )]
    pub auto_register_schemas: bool,

    /// When the output schema is not under its subject, use the subject's latest
    /// version (if it is the same schema) instead of registering.
    #[arg(long, env = "ORDERFLOW_USE_LATEST_VERSION")]
    pub use_latest_version: bool,

    /// Address of the HTTP server (/metrics, /healthz, /readyz).
    #[arg(long, env = "ORDERFLOW_HTTP_ADDR", default_value = "0.0.0.0:9090")]
    pub http_addr: SocketAddr,

    /// Log format [default: pretty on a terminal, else json].
    #[arg(long, env = "ORDERFLOW_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,

    /// Stable transactional.id of this instance (exactly-once), for example
    /// <worker>-<pod name). A restarted instance with the same id aborts its
    /// predecessor's open transaction at once [default: generated per process].
    #[arg(long, env = "ORDERFLOW_TRANSACTIONAL_ID")]
    pub transactional_id: Option<String>,

    /// Commit (transaction or offsets) at least this often, in milliseconds.
    #[arg(long, env = "ORDERFLOW_COMMIT_INTERVAL_MS", default_value_t = 100)]
    pub commit_interval_ms: u64,

    /// Commit after this many input messages even before the interval ends.
    #[arg(long, env = "ORDERFLOW_COMMIT_MAX_MESSAGES", default_value_t = 10_000)]
    pub commit_max_messages: usize,

    /// Exactly-once transaction timeout (transaction.timeout.ms), in milliseconds.
    #[arg(
        long,
        env = "ORDERFLOW_TRANSACTION_TIMEOUT_MS",
        default_value_t = 30_000
    )]
    pub transaction_timeout_ms: u64,

    /// Seconds allowed for a clean shutdown after SIGTERM before the worker exits anyway.
    #[arg(long, env = "ORDERFLOW_SHUTDOWN_TIMEOUT_SECS", default_value_t = 20)]
    pub shutdown_timeout_secs: u64,

    /// Create missing input, output and dead-letter topics (development only).
    #[arg(long, env = "ORDERFLOW_CREATE_TOPICS")]
    pub create_topics: bool,

    /// TOML file of the worker's rules and thresholds [default: built-in defaults].
    #[arg(long, env = "ORDERFLOW_RULES")]
    pub rules: Option<PathBuf>,

    /// Largest accepted message, in bytes; larger ones are dead-lettered.
    #[arg(long, env = "ORDERFLOW_MAX_PAYLOAD_BYTES", default_value_t = DEFAULT_MAX_PAYLOAD_BYTES)]
    pub max_payload_bytes: usize,

    /// Messages buffered per partition between the consumer and processing.
    #[arg(long, env = "ORDERFLOW_PARTITION_QUEUE", default_value_t = 256)]
    pub partition_queue: usize,

    /// Attempts for a message failing with a transient error (registry down, ...).
    #[arg(long, env = "ORDERFLOW_RETRY_MAX_ATTEMPTS", default_value_t = 8)]
    pub retry_max_attempts: u32,

    /// First retry delay in milliseconds; doubles per attempt, with jitter.
    #[arg(long, env = "ORDERFLOW_RETRY_INITIAL_MS", default_value_t = 200)]
    pub retry_initial_ms: u64,

    /// Longest retry delay in milliseconds.
    #[arg(long, env = "ORDERFLOW_RETRY_MAX_MS", default_value_t = 30_000)]
    pub retry_max_ms: u64,

    /// What to do when retries are exhausted.
    #[arg(
        long,
        env = "ORDERFLOW_ON_RETRIES_EXHAUSTED",
        value_enum,
        default_value = "fail"
    )]
    pub on_retries_exhausted: RetriesExhausted,

    /// Stop the worker after this many dead letters in a row (0 disables).
    #[arg(
        long,
        env = "ORDERFLOW_MAX_CONSECUTIVE_FAILURES",
        default_value_t = 1000
    )]
    pub max_consecutive_failures: u64,

    /// Stop the worker when more than this share of the last 1,000 messages were
    /// dead-lettered (1.0 disables).
    #[arg(long, env = "ORDERFLOW_MAX_FAILURE_RATIO", default_value_t = 0.5)]
    pub max_failure_ratio: f64,
}

#[derive(clap::Parser)]
struct FlagsOnly {
    #[command(flatten)]
    args: WorkerArgs,
}

impl WorkerArgs {
    /// Parses worker flags (without the program name), as a binary would: for running
    /// workers in-process (the dev stack, tests).
    pub fn from_flags<I, S>(flags: I) -> Result<WorkerArgs, String>
    where
        I: IntoIterator<Item = S>,
        S: Into<std::ffi::OsString> + Clone,
    {
        use clap::Parser;
        let all = std::iter::once(std::ffi::OsString::from("worker"))
            .chain(flags.into_iter().map(Into::into));
        FlagsOnly::try_parse_from(all)
            .map(|f| f.args)
            .map_err(|e| e.to_string())
    }

    /// The rules file's text, when one is configured.
    pub fn rules_text(&self) -> Result<Option<String>, RuntimeError> {
        self.rules
            .as_ref()
            .map(|path| {
                std::fs::read_to_string(path)
                    .map_err(|e| RuntimeError::Config(format!("--rules {}: {e}", path.display())))
            })
            .transpose()
    }
}
