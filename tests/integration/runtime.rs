//! The runtime against the real broker: exactly-once and at-least-once under SIGKILL
//! and SIGTERM, poison messages, broker restarts, metrics and readiness.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use orderflow::verify::read_all;
use orderflow_events::{Codec, CodecSettings, OrderStatusChanged};
use orderflow_tests::orders::{TestEvent, events};
use orderflow_tests::process::Process;
use orderflow_tests::verify::{Report, check};
use orderflow_tests::{Kafka, kafka, payload, unique};
use rdkafka::message::OwnedMessage;

pub struct Topics {
    pub input: String,
    pub output: String,
    pub dlq: String,
    pub group: String,
}

pub async fn topics(kafka: &Kafka, partitions: i32) -> Topics {
    let topics = Topics {
        input: unique("in"),
        output: unique("status"),
        dlq: unique("dlq"),
        group: unique("group"),
    };
    for topic in [&topics.input, &topics.output, &topics.dlq] {
        kafka.create_topic(topic, partitions, 1).await;
    }
    topics
}

pub fn worker_args(kafka: &Kafka, topics: &Topics, guarantee: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--bootstrap-servers",
        kafka.bootstrap_servers(),
        "--group-id",
        &topics.group,
        "--input-topic",
        &topics.input,
        "--output-topic",
        &topics.output,
        "--dlq-topic",
        &topics.dlq,
        "--guarantee",
        guarantee,
        "--http-addr",
        "127.0.0.1:0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

pub async fn produce(kafka: &Kafka, topic: &str, events: &[TestEvent]) {
    let records: Vec<_> = events
        .iter()
        .map(|e| (e.order_id.clone(), e.bytes.clone()))
        .collect();
    kafka.produce(topic, &records).await;
}

/// Every output's `causation_id`.
pub async fn causations(outputs: &[OwnedMessage]) -> Vec<Option<String>> {
    let codec = Codec::new(CodecSettings::default()).unwrap();
    let mut out = Vec::with_capacity(outputs.len());
    for message in outputs {
        out.push(
            codec
                .decode::<OrderStatusChanged>(payload(message))
                .await
                .ok()
                .map(|d| d.value.causation_id),
        );
    }
    out
}

/// How long the outputs are read again after every input has one, for late duplicates.
const SETTLE: Duration = Duration::from_secs(3);

/// Reads `topic` (read_committed, to its end) until every input in `events` has an
/// output or `timeout` passed, then once more after [`SETTLE`], and verifies that read.
/// A count of records says nothing here: at-least-once duplicates reach the count of
/// inputs while outputs are still missing (work another instance takes over only once
/// the group's session timeout ends).
pub async fn verify(kafka: &Kafka, topic: &str, events: &[TestEvent], timeout: Duration) -> Report {
    let expected: HashSet<String> = events.iter().map(|e| e.event_id.clone()).collect();
    let deadline = Instant::now() + timeout;
    let read = || async {
        let outputs = read_all(&kafka.settings(), topic, true)
            .await
            .expect("reading the outputs");
        let ids = causations(&outputs).await;
        (outputs, ids)
    };
    let (mut outputs, mut ids) = read().await;
    loop {
        let seen: HashSet<&str> = ids.iter().flatten().map(String::as_str).collect();
        if expected.iter().all(|id| seen.contains(id.as_str())) {
            tokio::time::sleep(SETTLE).await;
            (outputs, ids) = read().await;
            break;
        }
        if Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        (outputs, ids) = read().await;
    }
    let index: std::collections::HashMap<(i32, i64), Option<String>> = outputs
        .iter()
        .zip(ids)
        .map(|(m, id)| {
            (
                (rdkafka::Message::partition(m), rdkafka::Message::offset(m)),
                id,
            )
        })
        .collect();
    check(&expected, &outputs, |m| {
        index[&(rdkafka::Message::partition(m), rdkafka::Message::offset(m))].clone()
    })
}

#[orderflow_tests::test(timeout = 300)]
async fn one_instance_processes_every_event_exactly_once_and_stops_cleanly() {
    let kafka = kafka().await;
    let topics = topics(kafka, 3).await;
    let events = events(&topics.input, 50, 2_000).await;
    produce(kafka, &topics.input, &events).await;
    let started = Instant::now();
    let mut worker = Process::start(
        "order-status",
        &worker_args(kafka, &topics, "exactly-once", &[]),
        &[],
    );
    let report = verify(kafka, &topics.output, &events, Duration::from_secs(60)).await;
    println!(
        "{} events processed in {:?}: {report:?}",
        events.len(),
        started.elapsed()
    );
    worker.terminate();
    let status = worker
        .wait(Duration::from_secs(25))
        .await
        .expect("exits after SIGTERM");
    assert!(status.success(), "exit status {status}");
    assert_eq!(
        report.lost.len(),
        0,
        "lost: {:?}",
        &report.lost[..report.lost.len().min(10)]
    );
    assert_eq!(report.duplicates(), 0);
    assert!(
        report.order_violations.is_empty(),
        "{:?}",
        report.order_violations
    );
    assert_eq!(report.unexpected, 0);
}

/// Flags that make a killed member's partitions move quickly in tests.
const FAST_GROUP: &[&str] = &[
    "--kafka-config",
    "consumer.session.timeout.ms=6000;consumer.heartbeat.interval.ms=1000",
];

fn with(base: &[&str], more: &[&str]) -> Vec<String> {
    base.iter().chain(more).map(|s| s.to_string()).collect()
}

/// Two instances in one group while 20,000 events arrive; instance A is killed with
/// SIGKILL and restarted twice.
async fn kill_storm(guarantee: &str) -> Report {
    let kafka = kafka().await;
    let topics = topics(kafka, 6).await;
    let events = events(&topics.input, 400, 20_000).await;
    let records: Vec<_> = events
        .iter()
        .map(|e| (e.order_id.clone(), e.bytes.clone()))
        .collect();
    // Half up front, so that the kills find a backlog and open transactions; the rest
    // arrives while the instances die and restart.
    let (backlog, rest) = records.split_at(records.len() / 2);
    kafka.produce(&topics.input, backlog).await;
    let producing = kafka.produce_paced(
        &topics.input,
        rest.to_vec(),
        1_000,
        Duration::from_millis(400),
    );
    let args = |id: &str| {
        let mut extra: Vec<String> = FAST_GROUP.iter().map(|s| s.to_string()).collect();
        if guarantee == "exactly-once" {
            extra.extend([
                "--transactional-id".to_owned(),
                format!("{}-{id}", topics.group),
            ]);
        }
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        worker_args(kafka, &topics, guarantee, &extra)
    };
    let mut a = Process::start("order-status", &args("a"), &[]);
    let mut b = Process::start("order-status", &args("b"), &[]);
    for _ in 0..2 {
        // Kill while A owns partitions and works through the backlog.
        assert!(
            a.wait_assigned(Duration::from_secs(30)).await,
            "instance a never got partitions"
        );
        tokio::time::sleep(Duration::from_millis(800)).await;
        a.kill();
        println!("killed instance a (pid {})", a.pid());
        a = Process::start("order-status", &args("a"), &[]);
    }
    producing.await.unwrap();
    let report = verify(kafka, &topics.output, &events, Duration::from_secs(150)).await;
    if !report.lost.is_empty() {
        // Outputs missing after the wait: what the instances were doing then.
        for worker in [&a, &b] {
            println!(
                "{} (outputs missing): the end of its log:\n{}",
                worker.name(),
                worker.log_tail(80)
            );
        }
    }
    a.terminate();
    b.terminate();
    for worker in [&mut a, &mut b] {
        let status = worker.wait(Duration::from_secs(25)).await;
        assert!(
            status.is_some_and(|s| s.success()),
            "{} exit: {status:?}",
            worker.name()
        );
    }
    println!(
        "{guarantee}: {} inputs, {} outputs, {} lost, {} duplicated, {} order violations",
        events.len(),
        report.outputs,
        report.lost.len(),
        report.duplicates(),
        report.order_violations.len()
    );
    report
}

#[orderflow_tests::test(timeout = 300)]
async fn exactly_once_loses_and_duplicates_nothing_when_an_instance_is_killed_twice() {
    let report = kill_storm("exactly-once").await;
    assert_eq!(
        report.lost.len(),
        0,
        "lost: {:?}",
        &report.lost[..report.lost.len().min(10)]
    );
    assert_eq!(
        report.duplicates(),
        0,
        "duplicated: {:?}",
        report.duplicated.iter().take(10).collect::<Vec<_>>()
    );
    assert!(
        report.order_violations.is_empty(),
        "{:?}",
        report.order_violations
    );
    assert_eq!(report.unexpected, 0);
}

#[orderflow_tests::test(timeout = 300)]
async fn at_least_once_loses_nothing_when_an_instance_is_killed_twice() {
    let report = kill_storm("at-least-once").await;
    assert_eq!(
        report.lost.len(),
        0,
        "lost: {:?}",
        &report.lost[..report.lost.len().min(10)]
    );
    assert_eq!(report.unexpected, 0);
    println!(
        "at-least-once duplicates from work in flight at the kills: {}",
        report.duplicates()
    );
}

/// Two instances; A gets SIGTERM mid-stream and must hand over cleanly.
async fn sigterm_handover(guarantee: &str) {
    let kafka = kafka().await;
    let topics = topics(kafka, 6).await;
    let events = events(&topics.input, 200, 8_000).await;
    let records: Vec<_> = events
        .iter()
        .map(|e| (e.order_id.clone(), e.bytes.clone()))
        .collect();
    let producing = kafka.produce_paced(&topics.input, records, 500, Duration::from_millis(250));
    let extra = with(FAST_GROUP, &["--shutdown-timeout-secs", "10"]);
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let mut a = Process::start(
        "order-status",
        &worker_args(kafka, &topics, guarantee, &extra),
        &[],
    );
    let mut b = Process::start(
        "order-status",
        &worker_args(kafka, &topics, guarantee, &extra),
        &[],
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let asked = Instant::now();
    a.terminate();
    let status = a.wait(Duration::from_secs(14)).await;
    let took = asked.elapsed();
    assert!(
        status.is_some_and(|s| s.success()),
        "SIGTERM exit: {status:?} after {took:?}"
    );
    assert!(
        took < Duration::from_secs(11),
        "took {took:?}, deadline 10 s"
    );
    producing.await.unwrap();
    let report = verify(kafka, &topics.output, &events, Duration::from_secs(90)).await;
    b.terminate();
    assert!(
        b.wait(Duration::from_secs(15))
            .await
            .is_some_and(|s| s.success())
    );
    println!("{guarantee}: SIGTERM exit after {took:?}; {report:?}");
    assert_eq!(
        report.lost.len(),
        0,
        "lost: {:?}",
        &report.lost[..report.lost.len().min(10)]
    );
    assert_eq!(
        report.duplicates(),
        0,
        "duplicated: {:?}",
        report.duplicated.iter().take(10).collect::<Vec<_>>()
    );
    assert!(report.order_violations.is_empty());
}

#[orderflow_tests::test(timeout = 300)]
async fn sigterm_mid_stream_hands_over_without_loss_or_duplicates_exactly_once() {
    sigterm_handover("exactly-once").await;
}

#[orderflow_tests::test(timeout = 300)]
async fn sigterm_mid_stream_hands_over_without_loss_or_duplicates_at_least_once() {
    sigterm_handover("at-least-once").await;
}

#[orderflow_tests::test(timeout = 300)]
async fn a_poison_message_is_dead_lettered_with_its_provenance_and_the_partition_goes_on() {
    use orderflow_runtime::dead_letter::header;
    use rdkafka::Message;
    use rdkafka::message::Headers;

    let kafka = kafka().await;
    let topics = topics(kafka, 1).await;
    let good = events(&topics.input, 1, 10).await;
    let unknown_schema = [
        &[0xC3, 0x01][..],
        &0x0123_4567_89ab_cdefu64.to_le_bytes(),
        b"xyz",
    ]
    .concat();
    let mut records: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, event) in good.iter().enumerate() {
        records.push((event.order_id.clone(), event.bytes.clone()));
        if i == 4 {
            records.push(("poison-key".into(), b"definitely not avro".to_vec()));
            records.push(("unknown-schema".into(), unknown_schema.clone()));
        }
    }
    kafka.produce(&topics.input, &records).await;
    let mut worker = Process::start(
        "order-status",
        &worker_args(kafka, &topics, "exactly-once", &[]),
        &[],
    );
    let letters = kafka.consume(&topics.dlq, 2, Duration::from_secs(60)).await;
    let report = verify(kafka, &topics.output, &good, Duration::from_secs(60)).await;
    worker.terminate();
    worker.wait(Duration::from_secs(25)).await;
    assert_eq!(
        report.lost.len(),
        0,
        "messages after the poison were processed: {report:?}"
    );
    assert_eq!(report.duplicates(), 0);
    assert_eq!(letters.len(), 2, "both bad messages dead-lettered once");
    let header_of = |m: &OwnedMessage, name: &str| {
        m.headers().and_then(|h| {
            h.iter()
                .find(|h| h.key == name)
                .and_then(|h| h.value.map(|v| String::from_utf8_lossy(v).into_owned()))
        })
    };
    let poison = &letters[0];
    assert_eq!(poison.key(), Some(&b"poison-key"[..]));
    assert_eq!(payload(poison), b"definitely not avro");
    for name in header::ALL {
        if name == header::SCHEMA {
            continue;
        }
        assert!(
            header_of(poison, name).is_some(),
            "dead letter lacks header {name}"
        );
    }
    assert_eq!(
        header_of(poison, header::TOPIC).as_deref(),
        Some(topics.input.as_str())
    );
    assert_eq!(header_of(poison, header::PARTITION).as_deref(), Some("0"));
    assert_eq!(header_of(poison, header::OFFSET).as_deref(), Some("5"));
    assert_eq!(
        header_of(poison, header::GROUP).as_deref(),
        Some(topics.group.as_str())
    );
    assert_eq!(
        header_of(poison, header::WORKER).as_deref(),
        Some("order-status")
    );
    assert_eq!(
        header_of(poison, header::ERROR_CLASS).as_deref(),
        Some("decode")
    );
    assert_eq!(header_of(poison, header::ATTEMPTS).as_deref(), Some("1"));
    let unknown = &letters[1];
    assert_eq!(
        header_of(unknown, header::ERROR_CLASS).as_deref(),
        Some("schema")
    );
    assert_eq!(
        header_of(unknown, header::SCHEMA).as_deref(),
        Some("fingerprint:0x0123456789abcdef")
    );
    assert_eq!(header_of(unknown, header::OFFSET).as_deref(), Some("6"));
}

#[orderflow_tests::test(timeout = 300)]
async fn the_worker_resumes_after_a_broker_restart_and_stops_in_time_while_the_broker_is_down() {
    let cluster = orderflow_tests::cluster::LocalCluster::start(1).await;
    let kafka: &'static Kafka = Box::leak(Box::new(Kafka::at(cluster.bootstrap_servers())));
    let topics = topics(kafka, 3).await;
    let events = events(&topics.input, 100, 6_000).await;
    let records: Vec<_> = events
        .iter()
        .map(|e| (e.order_id.clone(), e.bytes.clone()))
        .collect();
    let (first, second) = records.split_at(3_000);
    kafka.produce(&topics.input, first).await;
    let extra = [
        "--shutdown-timeout-secs",
        "8",
        "--transactional-id",
        &topics.group,
    ];
    let mut worker = Process::start(
        "order-status",
        &worker_args(kafka, &topics, "exactly-once", &extra),
        &[],
    );
    assert!(worker.wait_assigned(Duration::from_secs(30)).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.stop_broker(1).await;
    println!("broker stopped");
    tokio::time::sleep(Duration::from_secs(5)).await;
    cluster.start_broker(1).await;
    println!("broker started again");
    kafka.produce(&topics.input, second).await;
    let report = verify(kafka, &topics.output, &events, Duration::from_secs(120)).await;
    println!("after the restart: {report:?}");
    assert!(
        worker.try_wait().is_none(),
        "the worker kept running through the restart"
    );
    assert_eq!(
        report.lost.len(),
        0,
        "lost: {:?}",
        &report.lost[..report.lost.len().min(10)]
    );
    assert_eq!(report.duplicates(), 0);

    // More work, and the broker goes away in the middle of it.
    let more = orderflow_tests::orders::events(&format!("{}-more", topics.input), 100, 3_000).await;
    produce(kafka, &topics.input, &more).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    cluster.kill_broker(1).await;
    let asked = Instant::now();
    worker.terminate();
    let status = worker.wait(Duration::from_secs(15)).await;
    let took = asked.elapsed();
    println!("SIGTERM with the broker down: exit {status:?} after {took:?}");
    assert!(status.is_some(), "the worker did not exit within 15 s");
    assert!(
        took <= Duration::from_secs(10),
        "took {took:?} for an 8 s deadline"
    );
}

#[orderflow_tests::test(timeout = 300)]
async fn readyz_turns_ready_on_assignment_and_metrics_show_the_work_done() {
    let kafka = kafka().await;
    let topics = topics(kafka, 3).await;
    let good = events(&topics.input, 10, 200).await;
    let mut records: Vec<(String, Vec<u8>)> = good
        .iter()
        .map(|e| (e.order_id.clone(), e.bytes.clone()))
        .collect();
    records.push(("garbage".into(), b"not avro".to_vec()));
    // Confluent framing while the registry is unreachable: retried, then dead-lettered.
    records.push((
        "registry-down".into(),
        [&[0u8, 0, 0, 0, 7][..], &good[0].bytes[10..]].concat(),
    ));
    let port = orderflow_tests::free_port();
    let http = format!("127.0.0.1:{port}");
    let args = worker_args(kafka, &topics, "exactly-once", &[]);
    let mut args: Vec<String> = args.into_iter().filter(|a| a != "127.0.0.1:0").collect();
    let at = args.iter().position(|a| a == "--http-addr").unwrap();
    args.insert(at + 1, http.clone());
    args.extend(
        [
            "--schema-registry-url",
            "http://127.0.0.1:9",
            "--output-format",
            "single-object",
            "--retry-max-attempts",
            "3",
            "--retry-initial-ms",
            "50",
            "--on-retries-exhausted",
            "dead-letter",
        ]
        .map(String::from),
    );
    let mut worker = Process::start("order-validator", &args, &[]);
    let base = format!("http://{http}");
    let first = loop {
        if let Some(answer) = orderflow_tests::http_get(&format!("{base}/readyz")).await {
            break answer;
        }
        assert!(worker.try_wait().is_none(), "the worker exited early");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    println!("first /readyz answer: {first:?}");
    assert_eq!(
        first.0, 503,
        "not ready before the group is joined: {first:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while orderflow_tests::http_get(&format!("{base}/readyz"))
        .await
        .map(|a| a.0)
        != Some(200)
    {
        assert!(Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        orderflow_tests::http_get(&format!("{base}/healthz"))
            .await
            .map(|a| a.0),
        Some(200)
    );
    kafka.produce(&topics.input, &records).await;
    let outputs = kafka
        .consume(&topics.output, 40, Duration::from_secs(60))
        .await;
    assert_eq!(
        outputs.len(),
        40,
        "one validation per OrderPlaced (every fifth event)"
    );
    let letters = kafka.consume(&topics.dlq, 2, Duration::from_secs(60)).await;
    assert_eq!(letters.len(), 2);
    // Lag comes from librdkafka's statistics, every 5 s.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (_, metrics) = orderflow_tests::http_get(&format!("{base}/metrics"))
        .await
        .expect("metrics");
    worker.terminate();
    worker.wait(Duration::from_secs(25)).await;
    let value = |name: &str, labels: &[&str]| -> f64 {
        metrics
            .lines()
            .filter(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    for (name, labels, at_least) in [
        ("orderflow_messages_consumed_total", &[][..], 202.0),
        ("orderflow_records_produced_total", &[], 42.0),
        ("orderflow_dead_letters_total", &["class=\"decode\""], 1.0),
        (
            "orderflow_dead_letters_total",
            &["class=\"transient\""],
            1.0,
        ),
        ("orderflow_retries_total", &[], 2.0),
        (
            "orderflow_messages_skipped_total",
            &["reason=\"PaymentAuthorized\""],
            1.0,
        ),
        ("orderflow_processing_seconds_count", &[], 202.0),
        ("orderflow_end_to_end_seconds_count", &[], 202.0),
        (
            "orderflow_transactions_total",
            &["outcome=\"committed\""],
            1.0,
        ),
        ("orderflow_rebalances_total", &["kind=\"assign\""], 1.0),
        ("orderflow_assigned_partitions", &[], 3.0),
    ] {
        let seen = value(name, labels);
        assert!(
            seen >= at_least,
            "{name}{labels:?} = {seen}, expected at least {at_least}\n{metrics}"
        );
    }
    assert!(
        metrics.contains("orderflow_consumer_lag{"),
        "per-partition lag:\n{metrics}"
    );
    assert!(
        metrics.contains("orderflow_transactions_total{"),
        "{metrics}"
    );
}

/// The only broker stops answering for longer than its session with the controller
/// (`broker.session.timeout.ms`, 9 s): when it answers again, the controller fences it
/// for a moment, and a metadata response from that moment lists no broker at all.
/// librdkafka then forgets every broker and would never ask again; the worker's consumer
/// and producer go back to the bootstrap servers and every input's output is committed
/// once.
#[orderflow_tests::test(timeout = 300)]
async fn the_worker_goes_on_after_its_only_broker_froze_past_its_session_timeout() {
    let cluster = orderflow_tests::cluster::LocalCluster::start(1).await;
    let kafka: &'static Kafka = Box::leak(Box::new(Kafka::at(cluster.bootstrap_servers())));
    let topics = topics(kafka, 3).await;
    let events = events(&topics.input, 100, 6_000).await;
    let records: Vec<_> = events
        .iter()
        .map(|e| (e.order_id.clone(), e.bytes.clone()))
        .collect();
    let (first, second) = records.split_at(3_000);
    kafka.produce(&topics.input, first).await;
    let extra = ["--transactional-id", &topics.group];
    let mut worker = Process::start(
        "order-status",
        &worker_args(kafka, &topics, "exactly-once", &extra),
        &[],
    );
    assert!(worker.wait_assigned(Duration::from_secs(30)).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.pause_broker(1).await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    cluster.resume_broker(1).await;
    kafka.produce(&topics.input, second).await;
    let report = verify(kafka, &topics.output, &events, Duration::from_secs(120)).await;
    println!("after the freeze: {report:?}");
    if !report.lost.is_empty() {
        // Tells a worker that stopped committing from a reader that stopped reading.
        let again = kafka
            .consume_all(&topics.output, Duration::from_secs(5))
            .await;
        let committed = kafka.committed(&topics.group, &topics.input, 3);
        println!(
            "a second reader found {} outputs; the group's committed input offsets: \
             {committed:?} (3,000 + 3,000 inputs)",
            again.len()
        );
    }
    assert!(
        worker.try_wait().is_none(),
        "the worker kept running through the freeze"
    );
    assert_eq!(
        report.lost.len(),
        0,
        "lost: {:?}",
        &report.lost[..report.lost.len().min(10)]
    );
    assert_eq!(report.duplicates(), 0);
}

/// A topic that does not exist stops the worker at start with what to do, once the
/// time a new topic takes to reach every broker's metadata has passed.
#[orderflow_tests::test(timeout = 120)]
async fn a_missing_topic_stops_the_worker_at_start_with_what_to_do() {
    let kafka = kafka().await;
    let topics = topics(kafka, 1).await;
    let absent = Topics {
        dlq: unique("absent-dlq"),
        ..topics
    };
    let mut worker = Process::start(
        "order-status",
        &worker_args(kafka, &absent, "exactly-once", &[]),
        &[],
    );
    let status = worker.wait(Duration::from_secs(60)).await;
    assert!(
        status.is_some_and(|s| !s.success()),
        "exit status {status:?}"
    );
    let log = worker.log_tail(20);
    assert!(
        log.contains(&format!("topic(s) {} do not exist", absent.dlq))
            && log.contains("orderflow topics ensure"),
        "{log}"
    );
}

#[orderflow_tests::test(timeout = 120)]
async fn sigterm_while_the_worker_starts_stops_it_cleanly() {
    // No broker at this address: the worker stays in its start (it waits up to 30 s for
    // the cluster), with its HTTP endpoints already up. A SIGTERM then (a rolling update
    // right after a start) must stop it cleanly at once, not kill it by the signal's
    // default action, as it did while the handler was installed only once started.
    let nowhere = Kafka::at(&format!("127.0.0.1:{}", orderflow_tests::free_port()));
    let topics = Topics {
        input: unique("in"),
        output: unique("status"),
        dlq: unique("dlq"),
        group: unique("group"),
    };
    let http = format!("127.0.0.1:{}", orderflow_tests::free_port());
    let mut args = worker_args(&nowhere, &topics, "exactly-once", &[]);
    let at = args.iter().position(|a| a == "127.0.0.1:0").unwrap();
    args[at] = http.clone();
    let mut worker = Process::start("order-status", &args, &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while orderflow_tests::http_get(&format!("http://{http}/healthz"))
        .await
        .is_none()
    {
        assert!(Instant::now() < deadline, "{}", worker.log_tail(20));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.terminate();
    // Within 10 s: not after the 30 s the start would wait for the cluster.
    let status = worker.wait(Duration::from_secs(10)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "exit status {status:?} after a SIGTERM during the start; the end of its log:\n{}",
        worker.log_tail(20)
    );
    assert!(
        worker
            .log_tail(20)
            .contains("shutting down before the worker started"),
        "{}",
        worker.log_tail(20)
    );
}
