//! `orderflow groups` against a real broker: list, describe (committed, end, lag and
//! owner per partition), and reset in every mode, refused while the group has members.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use orderflow_tests::{Kafka, kafka, unique};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::FutureRecord;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;

use crate::cli::{Run, orderflow};

/// A consumer subscribed to a topic on its own thread, polling until dropped: a live
/// member of its group. Dropping it closes the consumer, which leaves the group.
struct LiveMember {
    stop: Arc<AtomicBool>,
    assigned: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl LiveMember {
    /// Joins `group` on `topic` as `client_id`, and once assigned commits `offsets`
    /// (partition, offset) as a member of the group.
    fn join(
        kafka: &Kafka,
        group: &str,
        topic: &str,
        client_id: &str,
        offsets: &[(i32, i64)],
    ) -> LiveMember {
        let consumer: BaseConsumer = kafka
            .settings()
            .create(&[
                ("group.id", group),
                ("client.id", client_id),
                ("enable.auto.commit", "false"),
                ("auto.offset.reset", "earliest"),
            ])
            .expect("member consumer");
        consumer.subscribe(&[topic]).expect("subscribe");
        let mut commit = TopicPartitionList::new();
        for (partition, offset) in offsets {
            commit
                .add_partition_offset(topic, *partition, Offset::Offset(*offset))
                .expect("offset");
        }
        let stop = Arc::new(AtomicBool::new(false));
        let assigned = Arc::new(AtomicBool::new(false));
        let (thread_stop, thread_assigned) = (stop.clone(), assigned.clone());
        let thread = std::thread::spawn(move || {
            let mut committed = commit.count() == 0;
            while !thread_stop.load(Ordering::SeqCst) {
                // Records are read and dropped: only the membership matters.
                let _ = consumer.poll(Duration::from_millis(100));
                let has_partitions = consumer.assignment().is_ok_and(|a| a.count() > 0);
                if has_partitions && !committed {
                    consumer
                        .commit(&commit, CommitMode::Sync)
                        .expect("member commit");
                    committed = true;
                }
                if has_partitions && committed {
                    thread_assigned.store(true, Ordering::SeqCst);
                }
            }
        });
        LiveMember {
            stop,
            assigned,
            thread: Some(thread),
        }
    }

    /// Waits until the member holds partitions and committed its offsets.
    async fn wait_assigned(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.assigned.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "no assignment within 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for LiveMember {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Writes `count` records to `partition`, the i-th with timestamp `first_ms + i` s.
async fn produce_to(kafka: &Kafka, topic: &str, partition: i32, count: i64, first_ms: i64) {
    let producer = kafka.producer();
    for i in 0..count {
        let key = format!("k{i}");
        producer
            .send(
                FutureRecord::to(topic)
                    .partition(partition)
                    .key(&key)
                    .payload("v")
                    .timestamp(first_ms + i * 1000),
                Duration::from_secs(30),
            )
            .await
            .expect("delivered");
    }
}

/// Commits `offsets` (partition, offset) for `group` from outside the group.
fn commit(kafka: &Kafka, group: &str, topic: &str, offsets: &[(i32, i64)]) {
    let client: BaseConsumer = kafka
        .settings()
        .create(&[("group.id", group), ("enable.auto.commit", "false")])
        .expect("commit client");
    let mut list = TopicPartitionList::new();
    for (partition, offset) in offsets {
        list.add_partition_offset(topic, *partition, Offset::Offset(*offset))
            .expect("offset");
    }
    client.commit(&list, CommitMode::Sync).expect("commit");
}

/// A time a minute ago, in milliseconds: record timestamps from there on stay within
/// any retention (records years old would be deleted by time retention mid-test).
fn a_minute_ago() -> i64 {
    jiff::Timestamp::now().as_millisecond() - 60_000
}

/// A topic with 2 partitions: 10 records in 0 and 4 in 1, one second apart from
/// `first_ms` in each.
async fn topic_with_records(kafka: &Kafka, first_ms: i64) -> String {
    let topic = unique("groups");
    kafka.create_topic(&topic, 2, 1).await;
    produce_to(kafka, &topic, 0, 10, first_ms).await;
    produce_to(kafka, &topic, 1, 4, first_ms).await;
    topic
}

fn json(run: &Run) -> Value {
    assert!(run.status.success(), "{}", run.stderr);
    serde_json::from_str(&run.stdout).expect("JSON output")
}

/// The (committed, end, lag, client id) of each partition of a describe --json.
fn partitions(description: &Value) -> Vec<(i64, Value, Value, Value, Value)> {
    description["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|row| {
            (
                row["partition"].as_i64().expect("partition"),
                row["committed_offset"].clone(),
                row["end_offset"].clone(),
                row["lag"].clone(),
                row["client_id"].clone(),
            )
        })
        .collect()
}

#[orderflow_tests::test(timeout = 120)]
async fn describe_shows_offsets_lag_and_owner_and_reset_is_refused_while_a_member_is_in() {
    let kafka = kafka().await;
    let topic = topic_with_records(kafka, a_minute_ago()).await;
    let group = unique("groups-describe");
    let b = kafka.bootstrap_servers();
    let member = LiveMember::join(
        kafka,
        &group,
        &topic,
        "worker-under-test",
        &[(0, 6), (1, 4)],
    );
    member.wait_assigned().await;

    let described =
        json(&orderflow(&["groups", "describe", &group, "-b", b, "--json"], None).await);
    assert_eq!(described["state"], "Stable");
    assert_eq!(described["protocol_type"], "consumer");
    assert_eq!(described["members"].as_array().map(Vec::len), Some(1));
    let owner = Value::from("worker-under-test");
    assert_eq!(
        partitions(&described),
        vec![
            (0, 6.into(), 10.into(), 4.into(), owner.clone()),
            (1, 4.into(), 4.into(), 0.into(), owner),
        ]
    );
    let text = orderflow(&["groups", "describe", &group, "-b", b], None).await;
    assert!(text.status.success(), "{}", text.stderr);
    assert!(
        text.stdout
            .starts_with(&format!("group {group}: state Stable, protocol ")),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("CURRENT-OFFSET  LOG-END-OFFSET  LAG"),
        "{}",
        text.stdout
    );

    let listed = json(&orderflow(&["groups", "list", "-b", b, "--json"], None).await);
    let found = listed
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["group"] == group.as_str())
        .cloned();
    assert_eq!(found.map(|g| g["members"].clone()), Some(Value::from(1)));
    let listed_text = orderflow(&["groups", "list", "-b", b], None).await;
    assert!(
        listed_text.stdout.contains(&group),
        "{}",
        listed_text.stdout
    );

    for dry_run in [true, false] {
        let mut args = vec![
            "groups",
            "reset",
            &group,
            "-b",
            b,
            "--topic",
            &topic,
            "--to-earliest",
        ];
        if dry_run {
            args.push("--dry-run");
        }
        let refused = orderflow(&args, None).await;
        assert!(
            !refused.status.success(),
            "reset of an active group succeeded"
        );
        assert!(
            refused.stderr.contains("stop its workers first"),
            "{}",
            refused.stderr
        );
        assert!(
            refused.stderr.contains("worker-under-test"),
            "{}",
            refused.stderr
        );
    }
    assert_eq!(kafka.committed(&group, &topic, 2), [(0, 6), (1, 4)].into());

    // Once the member has left, the group is Empty and nobody owns the partitions.
    drop(member);
    let after = json(&orderflow(&["groups", "describe", &group, "-b", b, "--json"], None).await);
    assert_eq!(after["state"], "Empty");
    assert_eq!(
        partitions(&after),
        vec![
            (0, 6.into(), 10.into(), 4.into(), Value::Null),
            (1, 4.into(), 4.into(), 0.into(), Value::Null),
        ]
    );
}

/// Runs `groups reset GROUP --topic TOPIC MODE... --json` (with `--dry-run`).
async fn reset_json(b: &str, group: &str, topic: &str, mode: &[&str], dry_run: bool) -> Value {
    let mut args = vec![
        "groups", "reset", group, "-b", b, "--topic", topic, "--json",
    ];
    args.extend_from_slice(mode);
    if dry_run {
        args.push("--dry-run");
    }
    json(&orderflow(&args, None).await)
}

#[orderflow_tests::test(timeout = 180)]
async fn every_reset_mode_moves_the_offsets_and_a_dry_run_moves_none() {
    let kafka = kafka().await;
    let first_ms = a_minute_ago();
    let topic = topic_with_records(kafka, first_ms).await;
    let group = unique("groups-reset");
    let b = kafka.bootstrap_servers();
    commit(kafka, &group, &topic, &[(0, 6), (1, 2)]);
    let offsets = || kafka.committed(&group, &topic, 2);

    let dry = reset_json(b, &group, &topic, &["--to-earliest"], true).await;
    assert_eq!(dry["dry_run"], true);
    assert_eq!(
        dry["moves"],
        serde_json::json!([
            {"topic": topic, "partition": 0, "current_offset": 6, "new_offset": 0},
            {"topic": topic, "partition": 1, "current_offset": 2, "new_offset": 0},
        ])
    );
    assert_eq!(offsets(), [(0, 6), (1, 2)].into(), "a dry run committed");

    reset_json(b, &group, &topic, &["--to-earliest"], false).await;
    assert_eq!(offsets(), [(0, 0), (1, 0)].into());
    reset_json(b, &group, &topic, &["--to-latest"], false).await;
    assert_eq!(offsets(), [(0, 10), (1, 4)].into());
    // Past the end of partition 1: clamped to its end.
    reset_json(b, &group, &topic, &["--to-offset", "7"], false).await;
    assert_eq!(offsets(), [(0, 7), (1, 4)].into());
    reset_json(b, &group, &topic, &["--shift-by", "-3"], false).await;
    assert_eq!(offsets(), [(0, 4), (1, 1)].into());
    reset_json(b, &group, &topic, &["--shift-by", "-5"], false).await;
    assert_eq!(
        offsets(),
        [(0, 0), (1, 0)].into(),
        "not clamped to the start"
    );
    reset_json(b, &group, &topic, &["--shift-by", "100"], false).await;
    assert_eq!(
        offsets(),
        [(0, 10), (1, 4)].into(),
        "not clamped to the end"
    );
    // 5 s after the first record: offset 5 in partition 0; partition 1's last record
    // is at 3 s, so it moves to its end.
    let at = jiff::Timestamp::from_millisecond(first_ms + 5000).expect("time");
    let at = at.to_string();
    let moved = reset_json(b, &group, &topic, &["--to-datetime", &at], false).await;
    assert_eq!(moved["committed"], true);
    assert_eq!(offsets(), [(0, 5), (1, 4)].into());

    // The text form lists every move; --all-topics finds the topic by its offsets.
    let text = orderflow(
        &[
            "groups",
            "reset",
            &group,
            "-b",
            b,
            "--all-topics",
            "--to-offset",
            "1",
            "--dry-run",
        ],
        None,
    )
    .await;
    assert!(text.status.success(), "{}", text.stderr);
    assert!(text.stdout.contains("TOPIC"), "{}", text.stdout);
    assert!(text.stdout.contains(&topic), "{}", text.stdout);
    assert!(
        text.stdout.contains("dry run: nothing committed"),
        "{}",
        text.stdout
    );
    assert_eq!(offsets(), [(0, 5), (1, 4)].into());
}

#[orderflow_tests::test(timeout = 120)]
async fn unknown_groups_deleted_topics_and_an_unreachable_broker_give_clear_errors() {
    let kafka = kafka().await;
    let b = kafka.bootstrap_servers();
    let unknown = unique("groups-unknown");
    let missing = orderflow(&["groups", "describe", &unknown, "-b", b], None).await;
    assert!(!missing.status.success());
    assert!(
        missing.stderr.contains("does not exist"),
        "{}",
        missing.stderr
    );

    // A group with offsets in a topic that is then deleted.
    let kept = topic_with_records(kafka, a_minute_ago()).await;
    let deleted = topic_with_records(kafka, a_minute_ago()).await;
    let group = unique("groups-deleted");
    commit(kafka, &group, &kept, &[(0, 3)]);
    commit(kafka, &group, &deleted, &[(0, 3)]);
    let options = rdkafka::admin::AdminOptions::new();
    kafka
        .admin()
        .delete_topics(&[deleted.as_str()], &options)
        .await
        .expect("delete topic");
    let metadata: BaseConsumer = kafka.settings().create(&[]).expect("metadata client");
    let deadline = Instant::now() + Duration::from_secs(30);
    while metadata
        .fetch_metadata(Some(&deleted), Duration::from_secs(5))
        .is_ok_and(|m| m.topics().iter().any(|t| t.error().is_none()))
    {
        assert!(
            Instant::now() < deadline,
            "{deleted} still listed after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let described = orderflow(&["groups", "describe", &group, "-b", b], None).await;
    assert!(described.status.success(), "{}", described.stderr);
    assert!(described.stdout.contains(&kept), "{}", described.stdout);
    let gone = orderflow(
        &[
            "groups",
            "reset",
            &group,
            "-b",
            b,
            "--topic",
            &deleted,
            "--to-earliest",
        ],
        None,
    )
    .await;
    assert!(!gone.status.success());
    assert!(gone.stderr.contains("does not exist"), "{}", gone.stderr);

    let nowhere = format!("127.0.0.1:{}", orderflow_tests::free_port());
    let started = Instant::now();
    let unreachable = orderflow(&["groups", "list", "-b", &nowhere, "--timeout", "5s"], None).await;
    assert!(!unreachable.status.success());
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        unreachable.stderr.contains("did not answer within 5 s"),
        "{}",
        unreachable.stderr
    );
    assert!(
        !unreachable.stderr.contains("panicked"),
        "{}",
        unreachable.stderr
    );
}
