//! `orderflow topics`: create and describe the pipeline's topics (or any topics named).
//!
//! `ensure` only ever creates: an existing topic is never modified, even when it has
//! fewer partitions than asked (adding partitions moves keys to other partitions and
//! breaks per-order ordering, a decision for an operator, not for a provisioning run).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use orderflow_runtime::kafka::KafkaSettings;
use orderflow_runtime::kafka_errors;
use orderflow_runtime::topics::{self as runtime_topics, PartitionMetadata, TopicMetadata};
use rdkafka::admin::{AdminClient, AdminOptions, ConfigEntry, ConfigSource, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;

use crate::cli::{DescribeArgs, EnsureArgs, TopicsCommand};
use crate::topology::all_topics;

type Admin = AdminClient<DefaultClientContext>;

/// Timeout of metadata requests.
const METADATA_TIMEOUT: Duration = Duration::from_secs(30);
/// Timeout of the DescribeConfigs request (topic configs are shown when they come).
const DESCRIBE_CONFIGS_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `orderflow topics`.
pub async fn run(command: TopicsCommand) -> anyhow::Result<()> {
    match command {
        TopicsCommand::Ensure(args) => run_ensure(args).await,
        TopicsCommand::Describe(args) => run_describe(args).await,
    }
}

/// Creates every topic in `topics` that is missing, with `partitions`, `replication`
/// and the topic `configs`; returns the names it created. Existing topics are left
/// as they are.
pub async fn ensure(
    settings: &KafkaSettings,
    topics: &[String],
    partitions: i32,
    replication: i32,
    configs: &[(String, String)],
) -> anyhow::Result<Vec<String>> {
    let admin: Admin = settings.create(&[])?;
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let missing = runtime_topics::missing_topics(&admin, &names).await?;
    Ok(runtime_topics::create_topics(&admin, &missing, partitions, replication, configs).await?)
}

/// Partitions and replication of an existing topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Number of partitions.
    pub partitions: usize,
    /// Replicas of its first partition.
    pub replication: usize,
    /// Partitions without a leader.
    pub leaderless: usize,
}

impl Shape {
    fn of(topic: &TopicMetadata) -> Shape {
        Shape {
            partitions: topic.partitions.len(),
            replication: topic.replication(),
            leaderless: topic.leaderless(),
        }
    }
}

/// The line `ensure` prints for one topic.
pub fn ensure_line(
    topic: &str,
    existing: Option<Shape>,
    partitions: i32,
    replication: i32,
) -> String {
    match existing {
        None => format!("created {topic} ({partitions} partitions, replication {replication})"),
        Some(shape) => {
            let mut line = format!(
                "exists {topic} ({} partitions, replication {})",
                shape.partitions, shape.replication
            );
            if shape.partitions < partitions as usize {
                let _ = write!(
                    line,
                    ": fewer than the {partitions} partitions asked, left unchanged"
                );
            }
            line
        }
    }
}

/// The shape of every topic of `topics` that exists.
fn existing_shapes(admin: &Admin, topics: &[String]) -> anyhow::Result<HashMap<String, Shape>> {
    let mut shapes = HashMap::new();
    for topic in topics {
        if let Some(found) = runtime_topics::describe_topic(admin.inner(), topic, METADATA_TIMEOUT)?
        {
            shapes.insert(topic.clone(), Shape::of(&found));
        }
    }
    Ok(shapes)
}

async fn run_ensure(args: EnsureArgs) -> anyhow::Result<()> {
    if args.partitions < 1 || args.replication_factor < 1 {
        anyhow::bail!("--partitions and --replication-factor must be at least 1");
    }
    let settings = args.connection.kafka()?;
    let admin: Admin = settings.create(&[])?;
    let topics = if args.topics.is_empty() {
        all_topics()
    } else {
        args.topics.clone()
    };
    let before = existing_shapes(&admin, &topics)?;
    let missing: Vec<String> = topics
        .iter()
        .filter(|t| !before.contains_key(*t))
        .cloned()
        .collect();
    let created = runtime_topics::create_topics(
        &admin,
        &missing,
        args.partitions,
        args.replication_factor,
        &args.configs,
    )
    .await?;
    // A topic someone else created between the metadata read and ours exists now.
    let raced: Vec<String> = missing
        .iter()
        .filter(|t| !created.contains(t))
        .cloned()
        .collect();
    let after = existing_shapes(&admin, &raced)?;
    for topic in &topics {
        let existing = before.get(topic).or_else(|| after.get(topic)).copied();
        println!(
            "{}",
            ensure_line(topic, existing, args.partitions, args.replication_factor)
        );
    }
    Ok(())
}

/// The topic configs of `describe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Configs {
    /// The entries that differ from Kafka's defaults: (name, value, where it is set).
    Read(Vec<(String, String, &'static str)>),
    /// Why they could not be read.
    Unavailable(String),
}

/// The entries of a DescribeConfigs answer that differ from Kafka's defaults.
pub fn non_default(entries: &[ConfigEntry]) -> Vec<(String, String, &'static str)> {
    let mut out: Vec<_> = entries
        .iter()
        .filter(|e| !e.is_default && !matches!(e.source, ConfigSource::Default))
        .map(|e| {
            let value = if e.is_sensitive {
                "<sensitive>".to_owned()
            } else {
                e.value.clone().unwrap_or_default()
            };
            let source = match e.source {
                ConfigSource::DynamicTopic => "topic",
                ConfigSource::DynamicBroker => "broker (dynamic)",
                ConfigSource::DynamicDefaultBroker => "cluster default (dynamic)",
                ConfigSource::StaticBroker => "broker (static)",
                ConfigSource::Default | ConfigSource::Unknown => "unknown",
            };
            (e.name.clone(), value, source)
        })
        .collect();
    out.sort();
    out
}

/// The text `describe` prints for one existing topic.
pub fn describe_text(topic: &str, rows: &[PartitionMetadata], configs: &Configs) -> String {
    let list = |ids: &[i32]| ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
    let replication = rows.first().map_or(0, |r| r.replicas.len());
    let mut text = format!(
        "{topic}: {} partitions, replication {replication}\n",
        rows.len()
    );
    let _ = writeln!(
        text,
        "  {:<10} {:<7} {:<12} in-sync",
        "partition", "leader", "replicas"
    );
    for row in rows {
        let leader = if row.leader < 0 {
            "none".to_owned()
        } else {
            row.leader.to_string()
        };
        let line = format!(
            "  {:<10} {:<7} {:<12} {}",
            row.id,
            leader,
            list(&row.replicas),
            list(&row.isr)
        );
        let _ = writeln!(text, "{}", line.trim_end());
    }
    match configs {
        Configs::Read(entries) if entries.is_empty() => text.push_str("  configs: all defaults\n"),
        Configs::Read(entries) => {
            text.push_str("  configs that differ from the defaults:\n");
            let names = entries
                .iter()
                .map(|(name, _, _)| name.len())
                .max()
                .unwrap_or(0);
            let values = entries
                .iter()
                .map(|(_, value, _)| value.len())
                .max()
                .unwrap_or(0);
            for (name, value, source) in entries {
                let _ = writeln!(text, "    {name:<names$} = {value:<values$}  ({source})");
            }
        }
        Configs::Unavailable(reason) => {
            let _ = writeln!(text, "  configs: {reason}");
        }
    }
    text
}

async fn topic_configs(admin: &Admin, topic: &str) -> Configs {
    let options = AdminOptions::new().request_timeout(Some(DESCRIBE_CONFIGS_TIMEOUT));
    let specifier = [ResourceSpecifier::Topic(topic)];
    let answer = tokio::time::timeout(
        DESCRIBE_CONFIGS_TIMEOUT + Duration::from_secs(2),
        admin.describe_configs(&specifier, &options),
    )
    .await;
    match answer {
        Err(_) => Configs::Unavailable(format!(
            "not read: no answer within {} s",
            DESCRIBE_CONFIGS_TIMEOUT.as_secs()
        )),
        Ok(Err(error)) => Configs::Unavailable(format!("not read: {error}")),
        Ok(Ok(results)) => match results.into_iter().next() {
            Some(Ok(resource)) => Configs::Read(non_default(&resource.entries)),
            Some(Err(code)) if kafka_errors::is_denied(code) => Configs::Unavailable(format!(
                "not allowed to read them (DescribeConfigs: {code})"
            )),
            Some(Err(code)) => Configs::Unavailable(format!("not read: {code}")),
            None => Configs::Unavailable("not read: empty answer".to_owned()),
        },
    }
}

async fn run_describe(args: DescribeArgs) -> anyhow::Result<()> {
    let settings = args.connection.kafka()?;
    let admin: Admin = settings.create(&[])?;
    let topics = if args.topics.is_empty() {
        all_topics()
    } else {
        args.topics.clone()
    };
    let mut missing = Vec::new();
    for topic in &topics {
        let Some(found) = runtime_topics::describe_topic(admin.inner(), topic, METADATA_TIMEOUT)?
        else {
            crate::print_stdout(&format!("{topic}: missing\n\n"))?;
            missing.push(topic.clone());
            continue;
        };
        let configs = topic_configs(&admin, topic).await;
        crate::print_stdout(&format!(
            "{}\n",
            describe_text(topic, &found.partitions, &configs)
        ))?;
    }
    if !missing.is_empty() {
        anyhow::bail!(
            "{} of {} topics missing: {}",
            missing.len(),
            topics.len(),
            missing.join(", ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, value: &str, source: ConfigSource, is_default: bool) -> ConfigEntry {
        ConfigEntry {
            name: name.into(),
            value: Some(value.into()),
            source,
            is_read_only: false,
            is_default,
            is_sensitive: false,
        }
    }

    #[test]
    fn ensure_lines_say_what_was_created_and_what_existed() {
        assert_eq!(
            ensure_line("orders.status", None, 12, 3),
            "created orders.status (12 partitions, replication 3)"
        );
        let shape = Shape {
            partitions: 12,
            replication: 3,
            leaderless: 0,
        };
        assert_eq!(
            ensure_line("orders.status", Some(shape), 6, 3),
            "exists orders.status (12 partitions, replication 3)"
        );
        let small = Shape {
            partitions: 3,
            replication: 1,
            leaderless: 0,
        };
        assert_eq!(
            ensure_line("orders.lifecycle", Some(small), 12, 3),
            "exists orders.lifecycle (3 partitions, replication 1): fewer than the 12 partitions asked, left unchanged"
        );
    }

    #[test]
    fn only_configs_that_differ_from_the_defaults_are_shown() {
        let mut secret = entry("sasl.jaas.config", "x", ConfigSource::DynamicTopic, false);
        secret.is_sensitive = true;
        let entries = vec![
            entry("retention.ms", "3600000", ConfigSource::DynamicTopic, false),
            entry("cleanup.policy", "delete", ConfigSource::Default, true),
            entry(
                "min.insync.replicas",
                "2",
                ConfigSource::StaticBroker,
                false,
            ),
            secret,
        ];
        assert_eq!(
            non_default(&entries),
            vec![
                (
                    "min.insync.replicas".to_owned(),
                    "2".to_owned(),
                    "broker (static)"
                ),
                ("retention.ms".to_owned(), "3600000".to_owned(), "topic"),
                (
                    "sasl.jaas.config".to_owned(),
                    "<sensitive>".to_owned(),
                    "topic"
                ),
            ]
        );
    }

    #[test]
    fn describe_shows_partitions_leaders_and_configs_as_a_table() {
        let rows = vec![
            PartitionMetadata {
                id: 0,
                leader: 1,
                replicas: vec![1, 2],
                isr: vec![1, 2],
            },
            PartitionMetadata {
                id: 1,
                leader: -1,
                replicas: vec![2, 1],
                isr: vec![],
            },
        ];
        let configs = Configs::Read(vec![("retention.ms".into(), "3600000".into(), "topic")]);
        let text = describe_text("orders.status", &rows, &configs);
        assert_eq!(
            text,
            "orders.status: 2 partitions, replication 2\n  partition  leader  replicas     in-sync\n  0          1       1,2          1,2\n  1          none    2,1\n  configs that differ from the defaults:\n    retention.ms = 3600000  (topic)\n"
        );
        let denied = describe_text(
            "t",
            &rows[..1],
            &Configs::Unavailable("not allowed to read them".into()),
        );
        assert!(
            denied.ends_with("  configs: not allowed to read them\n"),
            "{denied}"
        );
    }
}
