//! Worker configuration: command-line flags with environment-variable equivalents,
//! validated at start so that a bad setting stops the program with a message that
//! says what to fix.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::ValueEnum;
use orderflow_events::codec::{CodecSettings, DEFAULT_MAX_PAYLOAD_BYTES};
use orderflow_events::registry::RegistrySettings;
use orderflow_events::{SchemaRegistration, SubjectStrategy, WireFormat};

use crate::error::RuntimeError;
use crate::kafka::{KafkaSettings, parse_property};

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

/// What happens to a message whose transient failure outlasted every retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RetriesExhausted {
    /// Stop the worker (non-zero exit); the message is retried after the restart.
    Fail,
    /// Dead-letter the message with class `transient` and go on.
    DeadLetter,
}

/// Every setting a worker binary accepts (SPEC section 5), flattened into its CLI.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Worker")]
pub struct WorkerArgs {
    /// Kafka bootstrap servers, host:port[,host:port...].
    #[arg(
        long,
        env = "ORDERFLOW_BOOTSTRAP_SERVERS",
        default_value = "127.0.0.1:9092"
    )]
    pub bootstrap_servers: String,

    /// Consumer group id [default: the worker's name].
    #[arg(long, env = "ORDERFLOW_GROUP_ID")]
    pub group_id: Option<String>,

    /// Topic of the order-lifecycle events.
    #[arg(
        long,
        env = "ORDERFLOW_INPUT_TOPIC",
        default_value = "orders.lifecycle"
    )]
    pub input_topic: String,

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

    /// Confluent-compatible schema registry URL [default: none, registry-less].
    #[arg(long, env = "ORDERFLOW_SCHEMA_REGISTRY_URL")]
    pub schema_registry_url: Option<String>,

    /// Schema registry basic-auth user.
    #[arg(long, env = "ORDERFLOW_SCHEMA_REGISTRY_USERNAME")]
    pub schema_registry_username: Option<String>,

    /// Schema registry basic-auth password.
    #[arg(
        long,
        env = "ORDERFLOW_SCHEMA_REGISTRY_PASSWORD",
        hide_env_values = true
    )]
    pub schema_registry_password: Option<String>,

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

    /// A librdkafka property as key=value, applied last (repeatable; the variable
    /// takes several separated by ';'). Prefix a key with consumer. or producer. to
    /// set it on that client only.
    #[arg(long = "kafka-config", env = "ORDERFLOW_KAFKA_CONFIG", value_delimiter = ';',
          value_parser = parse_property, value_name = "KEY=VALUE")]
    pub kafka_config: Vec<(String, String)>,

    /// SASL user name (sasl.username).
    #[arg(long, env = "ORDERFLOW_SASL_USERNAME")]
    pub sasl_username: Option<String>,

    /// SASL password (sasl.password).
    #[arg(long, env = "ORDERFLOW_SASL_PASSWORD", hide_env_values = true)]
    pub sasl_password: Option<String>,

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

/// What a worker is: its name, version and default output topic.
#[derive(Debug, Clone, Copy)]
pub struct WorkerIdentity {
    /// The worker's name: default group id and dead-letter topic prefix.
    pub name: &'static str,
    /// The worker's version.
    pub version: &'static str,
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

    /// Validates the flags for `identity` into runtime settings.
    pub fn resolve(&self, identity: WorkerIdentity) -> Result<RuntimeConfig, RuntimeError> {
        let config_error = |message: String| RuntimeError::Config(message);
        let mut kafka = KafkaSettings::new(self.bootstrap_servers.trim());
        kafka.sasl_username = self.sasl_username.clone();
        kafka.sasl_password = self.sasl_password.clone();
        kafka.passthrough = self.kafka_config.clone();
        kafka.validate()?;
        for (key, _) in &kafka.passthrough {
            if crate::kafka::decides_guarantee(key) {
                return Err(config_error(format!(
                    "--kafka-config {key} is managed by orderflow (it decides the delivery \
                     guarantee); use --guarantee, --group-id or --transactional-id instead"
                )));
            }
        }

        let group_id = self
            .group_id
            .clone()
            .unwrap_or_else(|| identity.name.to_owned());
        let output_topic = self
            .output_topic
            .clone()
            .unwrap_or_else(|| identity.output_topic.to_owned());
        let dlq_topic = self
            .dlq_topic
            .clone()
            .unwrap_or_else(|| format!("{}.dlq", identity.name));
        for (flag, topic) in [
            ("--input-topic", &self.input_topic),
            ("--output-topic", &output_topic),
            ("--dlq-topic", &dlq_topic),
        ] {
            validate_topic(flag, topic)?;
        }
        if group_id.trim().is_empty() {
            return Err(config_error("--group-id is empty".into()));
        }
        if self.input_topic == output_topic || self.input_topic == dlq_topic {
            return Err(config_error(format!(
                "the input topic {} is also an output or dead-letter topic: a worker would \
                 consume its own output",
                self.input_topic
            )));
        }
        if output_topic == dlq_topic {
            return Err(config_error(format!(
                "--output-topic and --dlq-topic are both {output_topic}"
            )));
        }

        let registry = match &self.schema_registry_url {
            Some(url) if !url.trim().is_empty() => {
                let mut settings = RegistrySettings::new(url.trim());
                match (
                    &self.schema_registry_username,
                    &self.schema_registry_password,
                ) {
                    (Some(user), Some(password)) => {
                        settings.credentials = Some((user.clone(), password.clone()))
                    }
                    (None, None) => {}
                    _ => {
                        return Err(config_error(
                            "give both --schema-registry-username and \
                             --schema-registry-password, or neither"
                                .into(),
                        ));
                    }
                }
                Some(settings)
            }
            _ => None,
        };
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
            input_topic: self.input_topic.clone(),
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
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: WorkerArgs,
    }

    const IDENTITY: WorkerIdentity = WorkerIdentity {
        name: "order-validator",
        version: "0.1.0",
        output_topic: "orders.validation",
    };

    fn resolve(args: &[&str]) -> Result<RuntimeConfig, String> {
        let cli = Cli::try_parse_from(std::iter::once("w").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        cli.args.resolve(IDENTITY).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_follow_the_specification() {
        let config = resolve(&[]).unwrap();
        assert_eq!(config.kafka.bootstrap_servers, "127.0.0.1:9092");
        assert_eq!(config.group_id, "order-validator");
        assert_eq!(config.input_topic, "orders.lifecycle");
        assert_eq!(config.output_topic, "orders.validation");
        assert_eq!(config.dlq_topic, "order-validator.dlq");
        assert_eq!(config.guarantee, Guarantee::ExactlyOnce);
        assert_eq!(config.codec.output_format, WireFormat::SingleObject);
        assert_eq!(config.commit_interval, Duration::from_millis(100));
    }

    #[test]
    fn only_a_transaction_must_outlast_the_commit_interval() {
        let long = ["--commit-interval-ms", "45000"];
        let error = resolve(&long).unwrap_err();
        assert!(error.contains("--transaction-timeout-ms 30000"), "{error}");
        let config = resolve(&[long[0], long[1], "--guarantee", "at-least-once"]).unwrap();
        assert_eq!(config.commit_interval, Duration::from_secs(45));
    }

    #[test]
    fn a_registry_makes_confluent_the_default_output() {
        let config = resolve(&["--schema-registry-url", "http://r:8081"]).unwrap();
        assert_eq!(config.codec.output_format, WireFormat::Confluent);
        let config = resolve(&[
            "--schema-registry-url",
            "http://r:8081",
            "--output-format",
            "single-object",
        ])
        .unwrap();
        assert_eq!(config.codec.output_format, WireFormat::SingleObject);
    }

    #[test]
    fn the_output_schema_is_registered_when_missing_unless_told_otherwise() {
        let config = resolve(&[]).unwrap();
        assert_eq!(config.codec.registration, SchemaRegistration::default());
        assert!(config.codec.registration.auto_register);
        let config =
            resolve(&["--auto-register-schemas", "false", "--use-latest-version"]).unwrap();
        assert_eq!(
            config.codec.registration,
            SchemaRegistration {
                auto_register: false,
                use_latest_version: true
            }
        );
    }

    #[test]
    fn kafka_config_is_repeatable_and_semicolon_separated() {
        let config = resolve(&[
            "--kafka-config",
            "linger.ms=7;socket.keepalive.enable=true",
            "--kafka-config",
            "client.id=x",
        ])
        .unwrap();
        assert_eq!(config.kafka.passthrough.len(), 3);
    }

    #[test]
    fn bad_settings_fail_with_a_message_that_says_what_to_fix() {
        for (args, expected) in [
            (
                vec!["--output-format", "confluent"],
                "needs --schema-registry-url",
            ),
            (vec!["--guarantee", "maybe-once"], "exactly-once"),
            (
                vec!["--output-topic", "orders lifecycle"],
                "not a valid Kafka topic name",
            ),
            (
                vec!["--output-topic", "orders.lifecycle"],
                "would consume its own output",
            ),
            (
                vec!["--kafka-config", "enable.auto.commit=true"],
                "managed by orderflow",
            ),
            (
                vec!["--kafka-config", "no.such.property=1"],
                "no.such.property",
            ),
            (vec!["--kafka-config", "novalue"], "key=value"),
            (vec!["--bootstrap-servers", "localhost"], "host:port"),
            (vec!["--commit-interval-ms", "0"], "--commit-interval-ms"),
            (vec!["--rules", "/nonexistent/rules.toml"], "--rules"),
            (
                vec!["--guarantee", "at-least-once", "--transactional-id", "x"],
                "only used with",
            ),
            (
                vec![
                    "--schema-registry-url",
                    "http://r",
                    "--schema-registry-username",
                    "u",
                ],
                "both",
            ),
            (vec!["--max-failure-ratio", "1.5"], "--max-failure-ratio"),
        ] {
            let error = resolve(&args).unwrap_err();
            assert!(error.contains(expected), "{args:?}: {error}");
        }
    }
}
