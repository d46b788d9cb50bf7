//! Command-line surface of the `orderflow` tool.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use orderflow_events::codec::CodecSettings;
use orderflow_events::{SubjectStrategy, WireFormat};
use orderflow_runtime::WorkerArgs;
use orderflow_runtime::config::{KafkaArgs, RegistryArgs};
use orderflow_runtime::kafka::{KafkaSettings, parse_property};

use crate::groups::plan::Target;
use crate::produce::InputForm;
use crate::tail::{Start, parse_datetime};

/// orderflow: the operator's and developer's tool for the order pipeline.
#[derive(Debug, Parser)]
#[command(name = "orderflow", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole pipeline locally: an embedded Kafka-protocol broker, every worker,
    /// generated traffic and a live view.
    #[command(
        after_help = "Examples:\n  orderflow dev\n  orderflow dev --rate 500\n  orderflow dev --bootstrap-servers 127.0.0.1:9092"
    )]
    Dev(DevArgs),
    /// Produce realistic order lifecycles.
    #[command(
        after_help = "Examples:\n  orderflow loadgen --count 10000\n  orderflow loadgen --rate 2000 --duration 60s --invalid-share 0.1 --seed 7"
    )]
    Loadgen(LoadgenArgs),
    /// Decode any orderflow topic to JSON lines (dead-letter topics included).
    #[command(
        after_help = "Examples:\n  orderflow tail orders.validation --count 5\n  orderflow tail order-validator.dlq --follow"
    )]
    Tail(TailArgs),
    /// Send events given as JSON (one per line) as Avro, validated against the schema.
    #[command(
        after_help = "Examples:\n  orderflow produce orders.lifecycle --file order.json\n  cat events.jsonl | orderflow produce orders.lifecycle"
    )]
    Produce(ProduceArgs),
    /// Serve HTTP: take events as JSON, write them to Kafka as Avro, answer after the
    /// broker acknowledged them (POST /v1/orders/events; the API at /openapi.json).
    #[command(
        after_help = "Examples:\n  orderflow gateway -b kafka:9092 --listen 0.0.0.0:8080\n  orderflow gateway --auth-token-file /var/run/secrets/gateway/token\n  curl -H 'Content-Type: application/json' -d @event.json http://127.0.0.1:8080/v1/orders/events"
    )]
    Gateway(Box<GatewayArgs>),
    /// Create or describe the topics of the pipeline.
    #[command(subcommand)]
    Topics(TopicsCommand),
    /// Inspect and replay dead letters.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// List and describe consumer groups; move a stopped group's committed offsets.
    #[command(subcommand)]
    Groups(GroupsCommand),
    /// Check that every schema in schemas/ is backward and forward compatible with its
    /// earlier versions.
    #[command(after_help = "Example:\n  orderflow schemas check --dir schemas")]
    Schemas(SchemasArgs),
    /// Compare an input topic with a worker's output and dead-letter topics: lost,
    /// duplicated, out-of-order (JSON report).
    #[command(after_help = "Example:\n  orderflow verify --worker order-status")]
    Verify(VerifyArgs),
    /// Copy messages unchanged with the worker runtime (the benchmark ceiling).
    #[command(hide = true)]
    Passthrough(Box<WorkerArgs>),
}

/// How to reach Kafka and the schema registry.
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// How to reach Kafka.
    #[command(flatten)]
    pub kafka: KafkaArgs,
    /// How to reach the schema registry.
    #[command(flatten)]
    pub registry: RegistryArgs,
}

impl ConnectionArgs {
    /// Kafka client settings.
    pub fn kafka(&self) -> anyhow::Result<KafkaSettings> {
        Ok(self.kafka.settings()?)
    }

    /// Codec settings writing `format` (single-object unless a registry is set and
    /// `format` says otherwise).
    pub fn codec(&self, format: Option<FormatArg>) -> anyhow::Result<CodecSettings> {
        self.registry.load_schemas()?;
        let registry = self.registry.settings()?;
        let output_format = match format {
            Some(FormatArg::Confluent) => WireFormat::Confluent,
            Some(FormatArg::SingleObject) => WireFormat::SingleObject,
            None if registry.is_some() => WireFormat::Confluent,
            None => WireFormat::SingleObject,
        };
        if output_format == WireFormat::Confluent && registry.is_none() {
            anyhow::bail!("--format confluent needs --schema-registry-url");
        }
        Ok(CodecSettings {
            output_format,
            registry,
            subject_strategy: SubjectStrategy::TopicName,
            ..CodecSettings::default()
        })
    }
}

/// Wire format to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Confluent framing (needs a registry).
    Confluent,
    /// Avro single-object encoding.
    SingleObject,
}

/// `orderflow dev`.
#[derive(Debug, Clone, Args)]
pub struct DevArgs {
    /// Run against this cluster instead of the embedded broker.
    #[arg(
        short = 'b',
        long,
        visible_alias = "bootstrap-server",
        env = "ORDERFLOW_BOOTSTRAP_SERVERS",
        value_name = "SERVERS"
    )]
    pub bootstrap_servers: Option<String>,
    /// A client.properties file for that cluster, as Kafka's tools take it.
    #[arg(
        long,
        env = "ORDERFLOW_COMMAND_CONFIG",
        value_name = "FILE",
        requires = "bootstrap_servers"
    )]
    pub command_config: Option<PathBuf>,
    /// Generated events per second.
    #[arg(long, default_value_t = 200)]
    pub rate: u64,
    /// Partitions of each topic the dev stack creates.
    #[arg(long, default_value_t = 6)]
    pub partitions: i32,
    /// Delivery guarantee of the workers.
    #[arg(long, value_enum, default_value = "exactly-once")]
    pub guarantee: orderflow_runtime::Guarantee,
    /// Address of the combined /metrics, /healthz and /readyz endpoints.
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub http_addr: std::net::SocketAddr,
    /// Address of the HTTP gateway (POST /v1/orders/events, /openapi.json).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub gateway_addr: std::net::SocketAddr,
    /// Stop after this long (for example 30s); run until Ctrl-C when absent.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Share of generated orders that break a validation rule.
    #[arg(long, default_value_t = 0.05)]
    pub invalid_share: f64,
    /// Share of generated orders that look risky.
    #[arg(long, default_value_t = 0.1)]
    pub risky_share: f64,
    /// Share of generated events that are garbage (to show dead letters).
    #[arg(long, default_value_t = 0.002)]
    pub garbage_share: f64,
}

/// `orderflow loadgen`.
#[derive(Debug, Clone, Args)]
pub struct LoadgenArgs {
    /// Connection.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Topic to write.
    #[arg(long, default_value = crate::topology::INPUT_TOPIC)]
    pub topic: String,
    /// Events per second (0: as fast as possible).
    #[arg(long, default_value_t = 1000)]
    pub rate: u64,
    /// Stop after this many events.
    #[arg(long, conflicts_with = "duration")]
    pub count: Option<u64>,
    /// Stop after this long (for example 60s, 5m).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Share of orders that break a validation rule.
    #[arg(long, default_value_t = 0.05)]
    pub invalid_share: f64,
    /// Share of orders that look risky.
    #[arg(long, default_value_t = 0.1)]
    pub risky_share: f64,
    /// Orders in flight at once: the number of distinct keys interleaved.
    #[arg(long, default_value_t = 1000)]
    pub concurrent_orders: usize,
    /// Seed of the generator (same seed, same events).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Wire format [default: confluent with a registry, else single-object].
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Add a producer timestamp header (epoch microseconds) for latency measurements.
    #[arg(long)]
    pub timestamp_header: bool,
    /// No progress bar, only the final report.
    #[arg(long)]
    pub quiet: bool,
}

/// `orderflow tail`.
#[derive(Debug, Clone, Args)]
pub struct TailArgs {
    /// Connection.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Topic to read.
    pub topic: String,
    /// Where to start in each partition: beginning, end, an offset N, or -N (N records
    /// before the end) [default: beginning].
    #[arg(long, value_name = "beginning|end|N|-N", allow_hyphen_values = true)]
    pub offset: Option<Start>,
    /// Start at the first record at or after this time in each partition: RFC 3339
    /// (2026-12-03T05:00:00Z) or YYYY-MM-DDTHH:mm:SS.sss in the local time zone.
    #[arg(long, value_name = "DATETIME", value_parser = parse_datetime, conflicts_with_all = ["offset", "from_end"])]
    pub from_datetime: Option<i64>,
    /// The same as --offset end.
    #[arg(long, conflicts_with = "offset")]
    pub from_end: bool,
    /// Keep reading new records.
    #[arg(long)]
    pub follow: bool,
    /// Stop after this many records.
    #[arg(long)]
    pub count: Option<usize>,
    /// Read only this partition.
    #[arg(long)]
    pub partition: Option<i32>,
}

/// `orderflow produce`.
#[derive(Debug, Clone, Args)]
pub struct ProduceArgs {
    /// Connection.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Topic to write.
    pub topic: String,
    /// File of JSON events, one per line or one JSON document ('-' or absent: stdin).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Schema of the events [default: from the topic name].
    #[arg(long)]
    pub schema: Option<String>,
    /// Wire format [default: confluent with a registry, else single-object].
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Field of the event used as the record key (for inputs without a key of their
    /// own).
    #[arg(long, default_value = "order_id")]
    pub key_field: String,
    /// How each JSON value is read: a record as `tail` prints it, a bare event, or
    /// whichever it looks like.
    #[arg(long, value_enum, default_value_t = InputForm::Auto)]
    pub form: InputForm,
}

/// `orderflow gateway`.
#[derive(Debug, Clone, Args)]
pub struct GatewayArgs {
    /// Connection.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Address to serve HTTP on (the event endpoints, /openapi.json, /healthz, /readyz,
    /// /metrics).
    #[arg(long, env = "ORDERFLOW_GATEWAY_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: std::net::SocketAddr,
    /// Write a route's events to another topic than its default, as ROUTE=TOPIC
    /// (repeatable; the routes: orders, to orders.lifecycle; users, to users.lifecycle).
    #[arg(long = "topic", value_parser = parse_property, value_name = "ROUTE=TOPIC")]
    pub topics: Vec<(String, String)>,
    /// Largest request body accepted, in bytes; a larger one is answered 413.
    #[arg(
        long,
        env = "ORDERFLOW_GATEWAY_MAX_BODY_BYTES",
        default_value_t = 1024 * 1024,
        value_name = "BYTES"
    )]
    pub max_body_bytes: usize,
    /// A file holding the token clients must send as `Authorization: Bearer <token>`
    /// (surrounding whitespace ignored); without it the event endpoints are open.
    #[arg(long, env = "ORDERFLOW_GATEWAY_AUTH_TOKEN_FILE", value_name = "FILE")]
    pub auth_token_file: Option<PathBuf>,
    /// Requests waiting for the broker at once; more are answered 503 with Retry-After.
    #[arg(long, env = "ORDERFLOW_GATEWAY_MAX_IN_FLIGHT", default_value_t = 256)]
    pub max_in_flight: usize,
    /// How long the producer tries to deliver an event before the request fails with
    /// 503 (message.timeout.ms; a --kafka-config value wins).
    #[arg(long, env = "ORDERFLOW_GATEWAY_DELIVERY_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub delivery_timeout: Duration,
    /// On SIGTERM, how long requests in flight may take to finish before the producer is
    /// flushed and the process exits.
    #[arg(long, env = "ORDERFLOW_GATEWAY_SHUTDOWN_TIMEOUT", default_value = "20s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,
    /// Wire format [default: confluent with a registry, else single-object].
    #[arg(long, env = "ORDERFLOW_OUTPUT_FORMAT", value_enum)]
    pub format: Option<FormatArg>,
    /// Log format [default: pretty on a terminal, else json].
    #[arg(long, env = "ORDERFLOW_LOG_FORMAT", value_enum)]
    pub log_format: Option<orderflow_runtime::config::LogFormat>,
}

/// `orderflow topics`.
#[derive(Debug, Subcommand)]
pub enum TopicsCommand {
    /// Create every topic of the pipeline (or the topics named) that is missing
    /// (running it twice changes nothing).
    #[command(
        after_help = "Examples:\n  orderflow topics ensure --partitions 12 --replication-factor 3 --config min.insync.replicas=2\n  orderflow topics ensure orders.replayed sensors.readings --partitions 4"
    )]
    Ensure(EnsureArgs),
    /// Show partitions, replicas and configs of the pipeline's topics.
    #[command(after_help = "Example:\n  orderflow topics describe")]
    Describe(DescribeArgs),
}

/// `orderflow topics ensure`.
#[derive(Debug, Clone, Args)]
pub struct EnsureArgs {
    /// Connection.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Partitions of each topic (the input's decides the workers' parallelism).
    #[arg(long, default_value_t = 12)]
    pub partitions: i32,
    /// Replication factor.
    #[arg(long, default_value_t = 1)]
    pub replication_factor: i32,
    /// A topic config as key=value for every topic (repeatable).
    #[arg(long = "config", value_parser = parse_property, value_name = "KEY=VALUE")]
    pub configs: Vec<(String, String)>,
    /// Topics to create [default: the pipeline's].
    pub topics: Vec<String>,
}

/// `orderflow topics describe`.
#[derive(Debug, Clone, Args)]
pub struct DescribeArgs {
    /// Connection.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Topics to describe [default: the pipeline's].
    pub topics: Vec<String>,
}

/// `orderflow dlq`.
#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Count dead letters by error class and kind, with samples.
    #[command(after_help = "Example:\n  orderflow dlq inspect order-validator.dlq")]
    Inspect(InspectArgs),
    /// Send chosen dead letters back to their original topic.
    #[command(
        after_help = "Examples:\n  orderflow dlq replay order-validator.dlq --class schema\n  orderflow dlq replay order-status.dlq --partition 0 --from-offset 10 --to-offset 20\n  orderflow dlq replay notifier.dlq --all --dry-run"
    )]
    Replay(ReplayArgs),
}

/// `orderflow dlq inspect`.
#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    /// Connection.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Dead-letter topic.
    pub topic: String,
    /// Sample messages shown per group.
    #[arg(long, default_value_t = 2)]
    pub samples: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `orderflow dlq replay`.
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// Connection.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Dead-letter topic.
    pub topic: String,
    /// Replay every dead letter.
    #[arg(long)]
    pub all: bool,
    /// Only dead letters of this error class (decode, schema, poison, transient).
    #[arg(long)]
    pub class: Option<String>,
    /// Only this partition of the dead-letter topic.
    #[arg(long)]
    pub partition: Option<i32>,
    /// First offset to replay (inclusive).
    #[arg(long)]
    pub from_offset: Option<i64>,
    /// Last offset to replay (inclusive).
    #[arg(long)]
    pub to_offset: Option<i64>,
    /// Write to this topic instead of each letter's original topic.
    #[arg(long)]
    pub to_topic: Option<String>,
    /// Show what would be replayed, write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `orderflow groups`.
#[derive(Debug, Subcommand)]
pub enum GroupsCommand {
    /// List the consumer groups with their state and number of members.
    #[command(after_help = "Examples:\n  orderflow groups list\n  orderflow groups list --json")]
    List(GroupsListArgs),
    /// Per partition: committed offset, end offset, lag and the member that owns it;
    /// the group's state and protocol.
    #[command(
        after_help = "Examples:\n  orderflow groups describe order-status\n  orderflow groups describe order-validator --json"
    )]
    Describe(GroupsDescribeArgs),
    /// Move the committed offsets of a group without members (stop its workers first).
    #[command(
        after_help = "Examples:\n  orderflow groups reset order-status --all-topics --to-datetime 2026-12-03T05:00:00Z --dry-run\n  orderflow groups reset order-status --topic orders.lifecycle --shift-by -100\n  orderflow groups reset notifier --topic orders.status --to-latest"
    )]
    Reset(GroupsResetArgs),
}

/// `orderflow groups list`.
#[derive(Debug, Clone, Args)]
pub struct GroupsListArgs {
    /// Connection.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// How long to wait for the cluster's answers.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Print the groups as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `orderflow groups describe`.
#[derive(Debug, Clone, Args)]
pub struct GroupsDescribeArgs {
    /// Connection.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// The consumer group (a worker's is its name unless its groupId says otherwise).
    pub group: String,
    /// How long to wait for the cluster's answers.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Print the description as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `orderflow groups reset`.
#[derive(Debug, Clone, Args)]
pub struct GroupsResetArgs {
    /// Connection.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// The consumer group.
    pub group: String,
    /// Reset every partition of this topic (repeatable).
    #[arg(
        long = "topic",
        value_name = "TOPIC",
        required_unless_present = "all_topics"
    )]
    pub topics: Vec<String>,
    /// Reset every topic the group has committed offsets for.
    #[arg(long, conflicts_with = "topics")]
    pub all_topics: bool,
    /// Where to move the offsets.
    #[command(flatten)]
    pub target: ResetTargetArgs,
    /// Show every move, commit nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// How long to wait for the cluster's answers.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Print the moves as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Where `groups reset` moves the offsets: exactly one of these. Every new offset is
/// clamped to the partition's [oldest kept, end].
#[derive(Debug, Clone, Args)]
#[group(required = true, multiple = false)]
pub struct ResetTargetArgs {
    /// The first record at or after this time in each partition (the end when there is
    /// none): RFC 3339 (2026-12-03T05:00:00Z) or YYYY-MM-DDTHH:mm:SS.sss in the local
    /// time zone.
    #[arg(long, value_name = "DATETIME", value_parser = parse_datetime)]
    pub to_datetime: Option<i64>,
    /// The oldest record kept.
    #[arg(long)]
    pub to_earliest: bool,
    /// The end: skip everything not yet read.
    #[arg(long)]
    pub to_latest: bool,
    /// The committed offset plus N (negative: back); partitions with no committed
    /// offset are left alone.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub shift_by: Option<i64>,
    /// This offset in every partition.
    #[arg(long, value_name = "N")]
    pub to_offset: Option<i64>,
}

impl ResetTargetArgs {
    /// The target the flags name.
    pub fn target(&self) -> Target {
        match self {
            ResetTargetArgs {
                to_datetime: Some(ms),
                ..
            } => Target::Datetime(*ms),
            ResetTargetArgs {
                shift_by: Some(by), ..
            } => Target::ShiftBy(*by),
            ResetTargetArgs {
                to_offset: Some(offset),
                ..
            } => Target::Offset(*offset),
            ResetTargetArgs {
                to_latest: true, ..
            } => Target::Latest,
            // clap requires one of the flags; --to-earliest is the one left.
            _ => Target::Earliest,
        }
    }
}

/// `orderflow schemas`.
#[derive(Debug, Clone, Args)]
pub struct SchemasArgs {
    /// What to do with the schemas.
    #[command(subcommand)]
    pub action: SchemasAction,
}

/// Actions on the schema folder.
#[derive(Debug, Clone, Subcommand)]
pub enum SchemasAction {
    /// Check compatibility and documentation of every schema version.
    #[command(after_help = "Example:\n  orderflow schemas check --dir schemas")]
    Check {
        /// The schema folder.
        #[arg(long, default_value = "schemas")]
        dir: PathBuf,
    },
}

/// Parses `500ms`, `30s`, `5m`, `2h` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((text, "s"), |at| (&text[..at], &text[at..]));
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration like 30s or 5m"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "unknown unit '{other}' in '{text}': use ms, s, m or h"
            ));
        }
    };
    Ok(Duration::from_secs_f64(seconds))
}

/// `orderflow verify`.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// Connection.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// The worker whose outputs to check (decides which inputs expect an output).
    #[arg(long)]
    pub worker: String,
    /// Input topic.
    #[arg(long, default_value = crate::topology::INPUT_TOPIC)]
    pub input_topic: String,
    /// Output topic [default: the worker's].
    #[arg(long)]
    pub output_topic: Option<String>,
    /// Dead-letter topic [default: <worker>.dlq].
    #[arg(long)]
    pub dlq_topic: Option<String>,
    /// Wait this long for outputs still missing before reporting them.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Exit non-zero when anything is lost, duplicated or out of order.
    #[arg(long)]
    pub strict: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("12").unwrap(), Duration::from_secs(12));
        assert!(parse_duration("5 weeks").is_err());
    }

    #[test]
    fn groups_reset_takes_exactly_one_target_and_topics_or_all_topics() {
        let parse = |args: &[&str]| {
            let mut full = vec!["orderflow", "groups", "reset", "g"];
            full.extend_from_slice(args);
            match Cli::try_parse_from(full) {
                Ok(Cli {
                    command: Command::Groups(GroupsCommand::Reset(args)),
                }) => Ok(args),
                Ok(other) => panic!("parsed as {other:?}"),
                Err(error) => Err(error.kind()),
            }
        };
        let shift = parse(&["--topic", "a", "--topic", "b", "--shift-by", "-5"]).unwrap();
        assert_eq!(shift.topics, vec!["a", "b"]);
        assert_eq!(shift.target.target(), Target::ShiftBy(-5));
        let all = parse(&["--all-topics", "--to-earliest", "--dry-run"]).unwrap();
        assert!(all.all_topics && all.dry_run);
        assert_eq!(all.target.target(), Target::Earliest);
        let at = parse(&["--all-topics", "--to-datetime", "2023-11-14T22:13:20Z"]).unwrap();
        assert_eq!(at.target.target(), Target::Datetime(1_700_000_000_000));
        assert_eq!(
            parse(&["--all-topics", "--to-offset", "7"])
                .unwrap()
                .target
                .target(),
            Target::Offset(7)
        );
        assert_eq!(
            parse(&["--all-topics", "--to-latest"])
                .unwrap()
                .target
                .target(),
            Target::Latest
        );
        use clap::error::ErrorKind;
        assert_eq!(
            parse(&["--all-topics"]).unwrap_err(),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            parse(&["--all-topics", "--to-earliest", "--to-latest"]).unwrap_err(),
            ErrorKind::ArgumentConflict
        );
        assert_eq!(
            parse(&["--to-earliest"]).unwrap_err(),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            parse(&["--topic", "a", "--all-topics", "--to-earliest"]).unwrap_err(),
            ErrorKind::ArgumentConflict
        );
        assert_eq!(
            parse(&["--all-topics", "--to-datetime", "yesterday"]).unwrap_err(),
            ErrorKind::ValueValidation
        );
    }

    #[test]
    fn every_command_has_help_with_an_example() {
        use clap::CommandFactory;
        let mut command = Cli::command();
        command.build();
        for sub in command.get_subcommands() {
            if sub.is_hide_set() || sub.get_name() == "help" {
                continue;
            }
            let nested: Vec<_> = sub.get_subcommands().collect();
            let leaves = if nested.is_empty() { vec![sub] } else { nested };
            for leaf in leaves.into_iter().filter(|l| l.get_name() != "help") {
                let help = leaf
                    .get_after_help()
                    .map(|h| h.to_string())
                    .unwrap_or_default();
                assert!(
                    help.contains("Example"),
                    "{} has no example in --help",
                    leaf.get_name()
                );
            }
        }
    }
}
