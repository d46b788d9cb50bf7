//! `orderflow groups`: list and describe consumer groups, and move the committed
//! offsets of a group whose workers are stopped (the first half of reprocessing from a
//! point in time; docs/deploy.md, "Reprocessing").
//!
//! Every command uses one consumer client whose `group.id` is the group in question
//! (a placeholder for `list`). It never subscribes, so it never joins the group: it
//! only reads the group's description (DescribeGroups), its committed offsets
//! (OffsetFetch) and the partitions' watermarks, and `reset` commits offsets with it.
//! Kafka accepts such a commit from outside the group only while the group has no
//! members; `reset` checks that first, and the broker refuses the commit if a member
//! joined in between.
//!
//! rust-rdkafka has no call that lists a group's committed topics
//! (ListConsumerGroupOffsets), so the topics of a group are those of the cluster's
//! metadata in which it has a committed offset, plus those its members are assigned.
//! Kafka deletes a group's offsets of a topic when the topic is deleted; a member still
//! assigned a deleted topic shows its partitions with an unknown end.

pub mod assignment;
pub mod plan;
pub mod report;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use orderflow_runtime::kafka::{KafkaSettings, Role};
use orderflow_runtime::kafka_errors::{Next, Stage, classify};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::groups::GroupInfo;
use rdkafka::metadata::Metadata;
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::cli::{GroupsCommand, GroupsDescribeArgs, GroupsListArgs, GroupsResetArgs};
use plan::{PartitionState, Target};
use report::{Description, GroupSummary, Member};

/// Timeout of one metadata attempt while connecting: the client's errors are read in
/// between, so a refused login ends the wait at once.
const CONNECT_ATTEMPT: Duration = Duration::from_secs(5);
/// The `group.id` of the client of `list`, which reads no group's offsets.
const LIST_CLIENT_GROUP: &str = "orderflow-cli-groups";
/// Group states in which Kafka accepts offset commits from outside the group.
const INACTIVE_STATES: &[&str] = &["Empty", "Dead"];

/// Runs `orderflow groups`.
pub async fn run(command: GroupsCommand) -> anyhow::Result<()> {
    // Every call below blocks on the network (librdkafka's synchronous API).
    tokio::task::spawn_blocking(move || match command {
        GroupsCommand::List(args) => run_list(&args),
        GroupsCommand::Describe(args) => run_describe(&args),
        GroupsCommand::Reset(args) => run_reset(&args),
    })
    .await
    .context("the groups command stopped")?
}

/// The client's context: keeps the errors librdkafka reports while connecting, so that
/// a failure to connect is reported with its reason.
#[derive(Default)]
struct GroupsContext {
    /// The first error no retry cures (authentication, TLS, a wrong address).
    fatal: Mutex<Option<String>>,
    /// The latest error.
    last: Mutex<Option<String>>,
}

impl GroupsContext {
    fn record(&self, error: &KafkaError, reason: &str) {
        // librdkafka's reason names the broker and the cause; the error only its code.
        let text = if reason.is_empty() {
            error.to_string()
        } else {
            reason.to_owned()
        };
        if classify(error, Stage::Connecting) == Next::Stop
            && let Ok(mut fatal) = self.fatal.lock()
        {
            fatal.get_or_insert_with(|| text.clone());
        }
        if let Ok(mut last) = self.last.lock() {
            *last = Some(text);
        }
    }

    fn fatal(&self) -> Option<String> {
        self.fatal.lock().ok().and_then(|f| f.clone())
    }

    fn last(&self) -> Option<String> {
        self.last.lock().ok().and_then(|l| l.clone())
    }
}

impl ClientContext for GroupsContext {
    fn error(&self, error: KafkaError, reason: &str) {
        self.record(&error, reason);
    }

    /// A failed connection is logged, not reported as an error: its line is the
    /// reason the command gives when the cluster does not answer, printed once.
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        if facility == "FAIL" {
            if let Ok(mut last) = self.last.lock() {
                *last = Some(message.to_owned());
            }
        } else if (level as i32) <= (RDKafkaLogLevel::Warning as i32) {
            tracing::warn!(target: "librdkafka", "{facility}: {message}");
        }
    }
}

impl ConsumerContext for GroupsContext {}

type GroupsClient = BaseConsumer<GroupsContext>;

/// A connected client with `group.id` = `group`, and the cluster's metadata. Fails
/// within `timeout` with the client's reason when the cluster does not answer.
fn connect(
    settings: &KafkaSettings,
    group: &str,
    timeout: Duration,
) -> anyhow::Result<(GroupsClient, Metadata)> {
    let client: GroupsClient = settings
        .config_for(
            Role::Consumer,
            &[
                ("group.id", group),
                ("enable.auto.commit", "false"),
                ("enable.auto.offset.store", "false"),
            ],
        )
        .create_with_context(GroupsContext::default())
        .context("creating the Kafka client")?;
    let started = Instant::now();
    let servers = &settings.bootstrap_servers;
    loop {
        let left = timeout.saturating_sub(started.elapsed());
        let error = match client.fetch_metadata(None, CONNECT_ATTEMPT.min(left)) {
            Ok(metadata) => return Ok((client, metadata)),
            Err(error) => error,
        };
        // Nothing is assigned, so what a poll returns are the client's errors.
        while let Some(Err(queued)) = client.poll(Duration::from_millis(100)) {
            if classify(&queued, Stage::Connecting) == Next::Stop {
                client.context().record(&queued, "");
            }
        }
        if let Some(fatal) = client.context().fatal() {
            anyhow::bail!("cannot connect to Kafka at {servers}: {fatal}");
        }
        if started.elapsed() >= timeout {
            let reason = client.context().last().unwrap_or_else(|| error.to_string());
            anyhow::bail!(
                "Kafka at {servers} did not answer within {} s: {reason}",
                timeout.as_secs()
            );
        }
    }
}

/// One group as the broker describes it, members' assignments decoded.
#[derive(Debug, Clone)]
struct Group {
    state: String,
    protocol_type: String,
    protocol: String,
    members: Vec<Member>,
}

impl Group {
    fn of(info: &GroupInfo) -> Group {
        // Only the consumer protocol's assignments are in the consumer format.
        let consumer = matches!(info.protocol_type(), "consumer" | "");
        let members = info
            .members()
            .iter()
            .map(|member| {
                let (assignment, assignment_error) = match member.assignment() {
                    _ if !consumer => (BTreeMap::new(), None),
                    None => (BTreeMap::new(), None),
                    Some(bytes) => match assignment::decode(bytes) {
                        Ok(decoded) => (decoded.topics.into_iter().collect(), None),
                        Err(error) => (BTreeMap::new(), Some(error.to_string())),
                    },
                };
                Member {
                    member_id: member.id().to_owned(),
                    client_id: member.client_id().to_owned(),
                    host: member.client_host().to_owned(),
                    assignment,
                    assignment_error,
                }
            })
            .collect();
        Group {
            state: info.state().to_owned(),
            protocol_type: info.protocol_type().to_owned(),
            protocol: info.protocol().to_owned(),
            members,
        }
    }

    /// Whether Kafka knows nothing of the group.
    fn is_dead(&self) -> bool {
        self.state == "Dead" && self.members.is_empty()
    }
}

/// The description of `group` (a group Kafka does not know is `Dead`, no members).
fn describe_group(client: &GroupsClient, group: &str, timeout: Duration) -> anyhow::Result<Group> {
    let list = client
        .fetch_group_list(Some(group), timeout)
        .with_context(|| format!("describing consumer group {group}"))?;
    Ok(list
        .groups()
        .iter()
        .find(|info| info.name() == group)
        .map_or_else(
            || Group {
                state: "Dead".to_owned(),
                protocol_type: String::new(),
                protocol: String::new(),
                members: Vec::new(),
            },
            Group::of,
        ))
}

/// The partition ids of every topic in `metadata` (internal `__` topics left out).
fn topic_partitions(metadata: &Metadata) -> HashMap<String, Vec<i32>> {
    metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none() && !t.name().starts_with("__"))
        .map(|t| {
            let mut ids: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
            ids.sort_unstable();
            (t.name().to_owned(), ids)
        })
        .collect()
}

/// The group's committed offsets in the partitions `topics` lists, by (topic,
/// partition); partitions without one are left out.
fn committed(
    client: &GroupsClient,
    group: &str,
    topics: &HashMap<String, Vec<i32>>,
    timeout: Duration,
) -> anyhow::Result<HashMap<(String, i32), i64>> {
    let mut list = TopicPartitionList::new();
    for (topic, partitions) in topics {
        for partition in partitions {
            list.add_partition(topic, *partition);
        }
    }
    if list.count() == 0 {
        return Ok(HashMap::new());
    }
    let answer = client
        .committed_offsets(list, timeout)
        .with_context(|| format!("reading the committed offsets of group {group}"))?;
    Ok(answer
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(offset) if e.error().is_ok() => {
                Some(((e.topic().to_owned(), e.partition()), offset))
            }
            _ => None,
        })
        .collect())
}

/// Low and high watermark of each partition.
fn watermarks<'a>(
    client: &GroupsClient,
    partitions: impl IntoIterator<Item = (&'a str, i32)>,
    timeout: Duration,
) -> anyhow::Result<HashMap<(String, i32), (i64, i64)>> {
    partitions
        .into_iter()
        .map(|(topic, partition)| {
            let marks = client
                .fetch_watermarks(topic, partition, timeout)
                .with_context(|| format!("reading the offsets of {topic} [{partition}]"))?;
            Ok(((topic.to_owned(), partition), marks))
        })
        .collect()
}

fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    crate::print_stdout(&format!("{}\n", serde_json::to_string_pretty(value)?))
}

fn run_list(args: &GroupsListArgs) -> anyhow::Result<()> {
    let settings = args.connection.kafka()?;
    let (client, _) = connect(&settings, LIST_CLIENT_GROUP, args.timeout)?;
    let list = client
        .fetch_group_list(None, args.timeout)
        .context("listing the consumer groups")?;
    let mut groups: Vec<GroupSummary> = list
        .groups()
        .iter()
        .map(|info| GroupSummary {
            group: info.name().to_owned(),
            state: info.state().to_owned(),
            protocol_type: info.protocol_type().to_owned(),
            members: info.members().len(),
        })
        .collect();
    groups.sort_by(|a, b| a.group.cmp(&b.group));
    if args.json {
        print_json(&groups)
    } else {
        crate::print_stdout(&report::list_text(&groups))
    }
}

/// What `describe` shows of `group`; `None` when Kafka knows nothing of it.
fn description(
    client: &GroupsClient,
    metadata: &Metadata,
    group: &str,
    timeout: Duration,
) -> anyhow::Result<Option<Description>> {
    let described = describe_group(client, group, timeout)?;
    let topics = topic_partitions(metadata);
    let committed = committed(client, group, &topics, timeout)?;
    if described.is_dead() && committed.is_empty() {
        return Ok(None);
    }
    let mut rows = report::partition_rows(&described.members, &topics, &committed, &HashMap::new());
    let existing: Vec<(&str, i32)> = rows
        .iter()
        .filter(|row| topics.contains_key(&row.topic))
        .map(|row| (row.topic.as_str(), row.partition))
        .collect();
    let ends: HashMap<(String, i32), i64> = watermarks(client, existing, timeout)?
        .into_iter()
        .map(|(key, (_, high))| (key, high))
        .collect();
    rows = report::partition_rows(&described.members, &topics, &committed, &ends);
    Ok(Some(Description {
        group: group.to_owned(),
        state: described.state,
        protocol_type: described.protocol_type,
        protocol: described.protocol,
        members: described.members,
        partitions: rows,
    }))
}

fn run_describe(args: &GroupsDescribeArgs) -> anyhow::Result<()> {
    let settings = args.connection.kafka()?;
    let (client, metadata) = connect(&settings, &args.group, args.timeout)?;
    let Some(description) = description(&client, &metadata, &args.group, args.timeout)? else {
        anyhow::bail!(
            "consumer group {} does not exist (Kafka reports it Dead: no members and no \
             committed offsets)",
            args.group
        );
    };
    if args.json {
        print_json(&description)
    } else {
        crate::print_stdout(&report::describe_text(&description))
    }
}

/// The refusal of a reset while `group` is active, naming its members.
fn active_group_refusal(group: &str, described: &Group) -> anyhow::Error {
    let members: Vec<String> = described
        .members
        .iter()
        .map(|m| format!("{} on {} (member {})", m.client_id, m.host, m.member_id))
        .collect();
    let who = if members.is_empty() {
        String::new()
    } else {
        format!(" with {} member(s): {}", members.len(), members.join(", "))
    };
    anyhow::anyhow!(
        "consumer group {group} is active (state {}){who}; stop its workers first (scale them \
         to 0) and reset when the group is Empty: Kafka refuses offset commits from outside an \
         active group, and its members would commit over the reset",
        described.state
    )
}

fn run_reset(args: &GroupsResetArgs) -> anyhow::Result<()> {
    let settings = args.connection.kafka()?;
    let group = args.group.as_str();
    let (client, metadata) = connect(&settings, group, args.timeout)?;
    let described = describe_group(&client, group, args.timeout)?;
    if !described.members.is_empty() || !INACTIVE_STATES.contains(&described.state.as_str()) {
        return Err(active_group_refusal(group, &described));
    }
    let all = topic_partitions(&metadata);
    let committed = committed(&client, group, &all, args.timeout)?;
    let topics: Vec<String> = if args.all_topics {
        let mut named: Vec<String> = committed.keys().map(|(t, _)| t.clone()).collect();
        named.sort();
        named.dedup();
        if named.is_empty() {
            anyhow::bail!(
                "consumer group {group} has no committed offsets: name the topics with --topic"
            );
        }
        named
    } else {
        let mut seen = std::collections::HashSet::new();
        let named: Vec<String> = args
            .topics
            .iter()
            .filter(|t| seen.insert(t.as_str()))
            .cloned()
            .collect();
        if let Some(missing) = named.iter().find(|t| !all.contains_key(*t)) {
            anyhow::bail!("topic {missing} does not exist");
        }
        named
    };
    let partitions: Vec<(&str, i32)> = topics
        .iter()
        .flat_map(|t| all[t].iter().map(move |p| (t.as_str(), *p)))
        .collect();
    let marks = watermarks(&client, partitions.iter().copied(), args.timeout)?;
    let target = args.target.target();
    let at_time = match target {
        Target::Datetime(ms) => offsets_at(&client, &partitions, ms, args.timeout)?,
        _ => HashMap::new(),
    };
    let states: Vec<PartitionState> = partitions
        .iter()
        .map(|(topic, partition)| {
            let key = ((*topic).to_owned(), *partition);
            let (low, high) = marks[&key];
            PartitionState {
                committed: committed.get(&key).copied(),
                at_time: at_time.get(&key).copied(),
                topic: key.0,
                partition: *partition,
                low,
                high,
            }
        })
        .collect();
    let moves = plan::plan(target, &states);
    if !args.dry_run {
        let mut list = TopicPartitionList::new();
        for m in &moves {
            if let Some(offset) = m.new_offset {
                list.add_partition_offset(&m.topic, m.partition, Offset::Offset(offset))?;
            }
        }
        if described.is_dead() {
            eprintln!("consumer group {group} did not exist: committing creates it");
        }
        if list.count() > 0 {
            client.commit(&list, CommitMode::Sync).with_context(|| {
                format!(
                    "committing the new offsets of group {group} (a member that joined \
                         meanwhile makes Kafka refuse: stop the workers and try again)"
                )
            })?;
        }
    }
    if args.json {
        print_json(&serde_json::json!({
            "group": group,
            "dry_run": args.dry_run,
            "committed": !args.dry_run,
            "moves": moves,
        }))
    } else {
        crate::print_stdout(&report::reset_text(group, &moves, !args.dry_run))
    }
}

/// The offset of the first record at or after `ms` in each partition; partitions with
/// no record that late are left out (the plan moves them to the end).
fn offsets_at(
    client: &GroupsClient,
    partitions: &[(&str, i32)],
    ms: i64,
    timeout: Duration,
) -> anyhow::Result<HashMap<(String, i32), i64>> {
    let mut list = TopicPartitionList::new();
    for (topic, partition) in partitions {
        // The time stands in the offset's place for the look-up.
        list.add_partition_offset(topic, *partition, Offset::Offset(ms))?;
    }
    let answer = client
        .offsets_for_times(list, timeout)
        .with_context(|| format!("looking up the offsets at {ms} ms"))?;
    Ok(answer
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(offset) if offset >= 0 => {
                Some(((e.topic().to_owned(), e.partition()), offset))
            }
            _ => None,
        })
        .collect())
}
