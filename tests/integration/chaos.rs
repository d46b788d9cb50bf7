//! The failure suite: workers and brokers killed, frozen, scaled and fed garbage while
//! load runs; an independent verifier (`orderflow verify`) proves that nothing was lost
//! and, under exactly-once, nothing duplicated. Reduced here; `make chaos` runs the
//! full sizes (ORDERFLOW_CHAOS=full).

use std::time::{Duration, Instant};

use orderflow_tests::chaos::{
    Fleet, LagMonitor, Pipeline, Row, Summary, conclude, full, loadgen, record, rss_kib, scale,
    size,
};
use orderflow_tests::cluster::LocalCluster;
use orderflow_tests::{Kafka, kafka};
use rand::Rng;

fn leak(kafka: Kafka) -> &'static Kafka {
    Box::leak(Box::new(kafka))
}

async fn wait_loaded(mut generator: orderflow_tests::process::Process, timeout: Duration) {
    let status = generator.wait(timeout).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "loadgen failed: {status:?}\n{}",
        generator.log()
    );
}

/// Scenario 1: SIGKILL of a random worker every few seconds during the load, 3 workers, 12
/// partitions: exactly-once 0 lost and 0 duplicated; at-least-once 0 lost.
async fn sigkill_storm(guarantee: &'static str) {
    let kafka = kafka().await;
    let pipeline = Pipeline::create(kafka, 12, 1, &[]).await;
    let events = scale(20_000, 200_000);
    let rate = scale(2_000, 2_000);
    let (min_gap, max_gap) = scale((2_000, 4_000), (5_000, 15_000));
    let p = pipeline.clone();
    let mut fleet = Fleet::new(kafka, move |name| {
        p.worker_args(kafka, guarantee, name, &[])
    });
    for name in ["w1", "w2", "w3"] {
        fleet.start(name);
    }
    let monitor = LagMonitor::start(
        kafka.settings(),
        &pipeline.group,
        &pipeline.input,
        pipeline.partitions,
    );
    let mut generator = loadgen(kafka, &pipeline.input, events, rate, 11);
    let mut kills = 0;
    let mut last_fault = Instant::now();
    while generator.try_wait().is_none() {
        fleet.revive();
        let gap = rand::rng().random_range(min_gap..=max_gap);
        tokio::time::sleep(Duration::from_millis(gap)).await;
        let victim = ["w1", "w2", "w3"][rand::rng().random_range(0..3)];
        fleet.kill_and_restart(victim);
        kills += 1;
        last_fault = Instant::now();
    }
    let scenario = format!("SIGKILL storm ({guarantee})");
    let report = conclude(
        kafka,
        &pipeline,
        &mut fleet,
        monitor,
        generator,
        Summary {
            scenario,
            events,
            faults: kills,
            last_fault,
        },
    )
    .await;
    assert!(kills >= 2, "only {kills} kills happened");
    assert_eq!(report.lost, 0, "{report:?}");
    assert_eq!(report.order_violations, 0, "{report:?}");
    if guarantee == "exactly-once" {
        assert_eq!(report.duplicated, 0, "{report:?}");
    }
}

#[orderflow_tests::test(timeout = 600, full_timeout = 2400)]
async fn chaos_sigkill_storm_exactly_once() {
    sigkill_storm("exactly-once").await;
}

#[orderflow_tests::test(timeout = 600, full_timeout = 2400)]
async fn chaos_sigkill_storm_at_least_once() {
    sigkill_storm("at-least-once").await;
}

/// Scenario 2: Rolling SIGTERM restarts: 0 lost, 0 duplicated in both modes.
async fn rolling_restarts(guarantee: &'static str) {
    let kafka = kafka().await;
    let pipeline = Pipeline::create(kafka, 12, 1, &[]).await;
    let events = scale(15_000, 100_000);
    let p = pipeline.clone();
    let mut fleet = Fleet::new(kafka, move |name| {
        p.worker_args(kafka, guarantee, name, &[])
    });
    let names = ["w1", "w2", "w3"];
    for name in names {
        fleet.start(name);
    }
    let monitor = LagMonitor::start(
        kafka.settings(),
        &pipeline.group,
        &pipeline.input,
        pipeline.partitions,
    );
    let mut generator = loadgen(kafka, &pipeline.input, events, 2_000, 12);
    let mut restarts = 0;
    'rolling: loop {
        for name in names {
            if generator.try_wait().is_some() && restarts >= names.len() as u64 {
                break 'rolling;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
            fleet.stop(name, Duration::from_secs(25)).await;
            fleet.start(name);
            restarts += 1;
        }
    }
    let scenario = format!("rolling SIGTERM restarts ({guarantee})");
    let report = conclude(
        kafka,
        &pipeline,
        &mut fleet,
        monitor,
        generator,
        Summary {
            scenario,
            events,
            faults: restarts,
            last_fault: Instant::now(),
        },
    )
    .await;
    assert!(report.is_clean(), "{report:?}");
}

#[orderflow_tests::test(timeout = 600, full_timeout = 2400)]
async fn chaos_rolling_restarts_exactly_once() {
    rolling_restarts("exactly-once").await;
}

#[orderflow_tests::test(timeout = 600, full_timeout = 2400)]
async fn chaos_rolling_restarts_at_least_once() {
    rolling_restarts("at-least-once").await;
}

/// What the broker-fault scenarios share: two exactly-once workers on 6 partitions of
/// `cluster`, restarted when they exit (an outage they cannot ride out, such as a
/// transaction fenced after its coordinator moved, exits non-zero and the chart's
/// Deployment restarts it), under load at 1,000 events/s.
struct Outage {
    kafka: &'static Kafka,
    pipeline: Pipeline,
    fleet: Fleet,
    monitor: LagMonitor,
    generator: orderflow_tests::process::Process,
    rounds: u64,
    events: u64,
}

async fn outage(
    cluster: &LocalCluster,
    replication: i32,
    configs: &[(&str, &str)],
    seed: u64,
) -> Outage {
    let kafka = leak(Kafka::at(cluster.bootstrap_servers()));
    let pipeline = Pipeline::create(kafka, 6, replication, configs).await;
    let events = scale(12_000, 60_000);
    let p = pipeline.clone();
    let mut fleet = Fleet::new(kafka, move |name| {
        p.worker_args(kafka, "exactly-once", name, &[])
    });
    fleet.supervised = true;
    fleet.start("w1");
    fleet.start("w2");
    let monitor = LagMonitor::start(
        kafka.settings(),
        &pipeline.group,
        &pipeline.input,
        pipeline.partitions,
    );
    let generator = loadgen(kafka, &pipeline.input, events, 1_000, seed);
    Outage {
        kafka,
        pipeline,
        fleet,
        monitor,
        generator,
        rounds: scale(2, 5),
        events,
    }
}

impl Outage {
    /// Waits for the load and the lag, verifies, records the report row; returns the
    /// report and how many workers had to be restarted.
    async fn conclude(
        mut self,
        scenario: String,
        last_fault: Instant,
    ) -> (orderflow::verify::Report, usize) {
        let report = conclude(
            self.kafka,
            &self.pipeline,
            &mut self.fleet,
            self.monitor,
            self.generator,
            Summary {
                scenario,
                events: self.events,
                faults: self.rounds,
                last_fault,
            },
        )
        .await;
        (report, self.fleet.restarts)
    }
}

/// Scenario 3: The broker killed (SIGKILL) and restarted repeatedly: 0 lost, 0 duplicated, lag
/// back to 0 within 120 s of each return.
///
/// The controller runs in a process of its own, as in production, and a killed broker
/// comes back once the controller fenced it. A one-node cluster restarted at once loses
/// committed transactions in Kafka itself: its coordinator drops the markers of a
/// commit it was completing when the partitions briefly have no leader (it takes them
/// for deleted), and with one replica nobody else leads them (see README, Guarantees).
#[orderflow_tests::test(timeout = 600, full_timeout = 2400)]
async fn chaos_broker_killed_and_restarted() {
    let cluster = LocalCluster::start_with_separate_controller(1).await;
    let mut outage = outage(&cluster, 1, &[], 13).await;
    let mut worst_recovery = Duration::ZERO;
    for round in 0..outage.rounds {
        tokio::time::sleep(Duration::from_secs(3)).await;
        cluster.kill_broker(1).await;
        tokio::time::sleep(Duration::from_secs(4)).await;
        cluster.start_broker(1).await;
        let revived = outage.fleet.revive();
        let recovery = outage.monitor.wait_for_zero(Duration::from_secs(120)).await;
        println!(
            "broker restart {}: lag back to 0 after {recovery:?} ({revived} workers restarted)",
            round + 1
        );
        let Some(recovery) = recovery else {
            outage.fleet.print_logs(80);
            panic!(
                "lag not back to 0 within 120 s of return {}: {}",
                round + 1,
                outage.monitor.describe()
            );
        };
        worst_recovery = worst_recovery.max(recovery);
    }
    let scenario = format!(
        "broker SIGKILL and restart (worst recovery {:.1} s)",
        worst_recovery.as_secs_f64()
    );
    let (report, restarts) = outage.conclude(scenario, Instant::now()).await;
    assert!(report.is_clean(), "{report:?}");
    // A producer fenced during the outage is replaced in process, not by a restart.
    assert_eq!(restarts, 0, "workers exited and had to be restarted");
}

/// Scenario 4: Three brokers (replication 3, min.insync.replicas 2, acks all): the broker leading
/// the most partitions is killed repeatedly: 0 lost, 0 duplicated.
#[orderflow_tests::test(timeout = 600, full_timeout = 2400)]
async fn chaos_partition_leader_killed_on_three_brokers() {
    let cluster = LocalCluster::start(3).await;
    let mut outage = outage(&cluster, 3, &[("min.insync.replicas", "2")], 14).await;
    let mut last_fault = Instant::now();
    for _ in 0..outage.rounds {
        tokio::time::sleep(Duration::from_secs(4)).await;
        let leader = busiest_leader(outage.kafka, &outage.pipeline.input);
        println!("killing broker {leader}, the leader of the most partitions");
        cluster.kill_broker(leader).await;
        tokio::time::sleep(Duration::from_secs(6)).await;
        cluster.start_broker(leader).await;
        outage.fleet.revive();
        last_fault = Instant::now();
    }
    let scenario = "leader broker killed (3 brokers, RF 3, min ISR 2)".to_owned();
    let (report, restarts) = outage.conclude(scenario, last_fault).await;
    assert!(report.is_clean(), "{report:?}");
    // A transaction that outlived its timeout while the coordinator moved gets the
    // producer fenced: the worker replaces it in process instead of exiting.
    assert_eq!(restarts, 0, "workers exited and had to be restarted");
}

fn busiest_leader(kafka: &Kafka, topic: &str) -> usize {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let client: BaseConsumer = kafka.settings().create(&[]).expect("client");
    // Right after a broker returns, on a loaded machine, one fetch can fail: try again
    // for a minute before calling the cluster unusable.
    let deadline = Instant::now() + Duration::from_secs(60);
    let metadata = loop {
        match client.fetch_metadata(Some(topic), Duration::from_secs(10)) {
            Ok(metadata) => break metadata,
            Err(error) if Instant::now() < deadline => {
                println!("metadata not readable yet ({error}); trying again");
                std::thread::sleep(Duration::from_secs(1));
            }
            Err(error) => panic!("metadata of {topic} unreadable for 60 s: {error}"),
        }
    };
    let mut counts = std::collections::HashMap::new();
    // A partition without a leader for the moment reports -1.
    for partition in metadata.topics()[0]
        .partitions()
        .iter()
        .filter(|p| p.leader() >= 0)
    {
        *counts.entry(partition.leader()).or_insert(0) += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(id, _)| id as usize)
        .expect("a leader")
}

/// Scenario 5: A worker frozen (SIGSTOP) past its session timeout, then resumed: it is fenced
/// and nothing is duplicated.
#[orderflow_tests::test(timeout = 600, full_timeout = 2400)]
async fn chaos_frozen_worker_is_fenced() {
    use nix::sys::signal::Signal;
    let kafka = kafka().await;
    let pipeline = Pipeline::create(kafka, 6, 1, &[]).await;
    let events = scale(10_000, 40_000);
    // The 10 s transaction timeout runs out during the freeze too.
    let p = pipeline.clone();
    let mut fleet = Fleet::new(kafka, move |name| {
        p.worker_args(
            kafka,
            "exactly-once",
            name,
            &["--transaction-timeout-ms", "10000"],
        )
    });
    fleet.start("frozen");
    fleet.start("healthy");
    let generator = loadgen(kafka, &pipeline.input, events, 1_000, 15);
    assert!(
        fleet.workers["frozen"]
            .wait_assigned(Duration::from_secs(30))
            .await
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    fleet.workers["frozen"].signal(Signal::SIGSTOP);
    // Past the 6 s session timeout and the 10 s transaction timeout.
    tokio::time::sleep(Duration::from_secs(15)).await;
    fleet.workers["frozen"].signal(Signal::SIGCONT);
    wait_loaded(generator, Duration::from_secs(600)).await;
    let report = pipeline.verify(kafka, Duration::from_secs(90)).await;
    let frozen = fleet.workers.get_mut("frozen").expect("frozen");
    let exit = frozen.wait(Duration::from_secs(30)).await;
    let log = frozen.log();
    record(Row {
        scenario: "worker frozen past its session timeout".into(),
        events,
        faults: 1,
        lost: report.lost,
        duplicated: report.duplicated,
        worst_lag: -1,
        recovery_seconds: -1.0,
        size: size(),
    });
    println!("frozen worker after resume: exit {exit:?}");
    assert!(report.is_clean(), "{report:?}");
    let fenced = log.to_lowercase().contains("fenced") || log.contains("lost");
    assert!(
        fenced,
        "the frozen worker noticed it was fenced or lost its partitions:\n{log}"
    );
    fleet.workers.retain(|_, p| p.try_wait().is_none());
    fleet.stop_all(Duration::from_secs(25)).await;
}

/// Scenario 6: Scaling 1 to 4 to 1 workers repeatedly: 0 lost, 0 duplicated, no partition
/// without progress for more than 30 s while it had lag.
#[orderflow_tests::test(timeout = 600, full_timeout = 2400)]
async fn chaos_rebalance_storm() {
    let kafka = kafka().await;
    let pipeline = Pipeline::create(kafka, 12, 1, &[]).await;
    let cycles = scale(2, 5);
    let events = scale(15_000, 100_000);
    let p = pipeline.clone();
    let mut fleet = Fleet::new(kafka, move |name| {
        p.worker_args(kafka, "exactly-once", name, &[])
    });
    fleet.start("w0");
    let monitor = LagMonitor::start(
        kafka.settings(),
        &pipeline.group,
        &pipeline.input,
        pipeline.partitions,
    );
    let generator = loadgen(kafka, &pipeline.input, events, 1_500, 16);
    let mut faults = 0;
    for _ in 0..cycles {
        tokio::time::sleep(Duration::from_secs(2)).await;
        for name in ["w1", "w2", "w3"] {
            fleet.start(name);
            faults += 1;
        }
        tokio::time::sleep(Duration::from_secs(4)).await;
        for name in ["w1", "w2", "w3"] {
            fleet.stop(name, Duration::from_secs(25)).await;
            faults += 1;
        }
    }
    let stall = monitor.longest_stall_probe();
    let scenario = "scale 1 to 4 to 1 (rebalance storm)".to_owned();
    let report = conclude(
        kafka,
        &pipeline,
        &mut fleet,
        monitor,
        generator,
        Summary {
            scenario,
            events,
            faults,
            last_fault: Instant::now(),
        },
    )
    .await;
    let stall = stall.longest();
    println!("longest partition stall with lag: {stall:?}");
    assert!(report.is_clean(), "{report:?}");
    assert!(
        stall <= Duration::from_secs(30),
        "a partition made no progress for {stall:?}"
    );
}

/// Scenario 7: A malformed corpus mixed at 1% into valid events: each bad event dead-lettered
/// exactly once with its provenance, no crash, valid events unaffected, memory bounded.
#[orderflow_tests::test(timeout = 600, full_timeout = 2400)]
async fn chaos_malformed_corpus_in_the_stream() {
    use orderflow_events::codec::DEFAULT_MAX_PAYLOAD_BYTES;
    use orderflow_events::corpus::malformed_cases;
    let kafka = kafka().await;
    let pipeline = Pipeline::create(kafka, 6, 1, &[]).await;
    let valid = scale(10_000, 100_000);
    let good = orderflow_tests::orders::events(&pipeline.input, 500, valid).await;
    // Cases the broker itself would refuse (over its 1 MiB limit) are left out.
    let bad: Vec<Vec<u8>> = malformed_cases(DEFAULT_MAX_PAYLOAD_BYTES)
        .into_iter()
        .map(|case| case.bytes)
        .filter(|bytes| bytes.len() < 512 * 1024)
        .collect();
    let mut records = Vec::with_capacity(good.len() * 101 / 100);
    let mut bad_count = 0;
    for (i, event) in good.iter().enumerate() {
        records.push((event.order_id.clone(), event.bytes.clone()));
        if i % 100 == 99 {
            records.push((format!("bad-{i}"), bad[(i / 100) % bad.len()].clone()));
            bad_count += 1;
        }
    }
    let p = pipeline.clone();
    let mut fleet = Fleet::new(kafka, move |name| {
        p.worker_args(kafka, "exactly-once", name, &[])
    });
    fleet.start("w1");
    let pid = fleet.workers["w1"].pid();
    let sampler = tokio::spawn(async move {
        let mut peak = 0;
        for _ in 0..600 {
            match rss_kib(pid) {
                Some(kib) => peak = peak.max(kib),
                None => break,
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        peak
    });
    kafka.produce(&pipeline.input, &records).await;
    let report = pipeline.verify(kafka, Duration::from_secs(120)).await;
    assert!(
        fleet.crashed().is_empty(),
        "the worker crashed: {:?}",
        fleet.crashed()
    );
    fleet.stop_all(Duration::from_secs(25)).await;
    let peak = sampler.await.unwrap_or(0);
    record(Row {
        scenario: "malformed corpus at 1%".into(),
        events: records.len() as u64,
        faults: bad_count,
        lost: report.lost,
        duplicated: report.duplicated,
        worst_lag: -1,
        recovery_seconds: -1.0,
        size: size(),
    });
    println!("{bad_count} malformed events; peak RSS {peak} KiB; {report:?}");
    assert_eq!(report.expected_dead_letters, bad_count, "{report:?}");
    assert!(report.is_clean(), "{report:?}");
    assert!(peak < 300 * 1024, "peak RSS {peak} KiB");
}

/// Scenario 8: An output larger than its topic's max.message.bytes: the input is dead-lettered
/// once, with no abort-and-retry loop.
#[orderflow_tests::test(timeout = 600, full_timeout = 2400)]
async fn chaos_output_too_large_for_its_topic() {
    use orderflow_events::{Codec, CodecSettings};
    let kafka = kafka().await;
    let pipeline = Pipeline::create(kafka, 1, 1, &[]).await;
    let small_output = orderflow_tests::unique("chaos-small");
    kafka
        .create_topic_with(&small_output, 1, 1, &[("max.message.bytes", "2000")])
        .await;
    let mut good = orderflow_tests::orders::events(&pipeline.input, 5, 20).await;
    // One event whose output (it repeats the customer id) cannot fit in 2,000 bytes.
    let codec = Codec::new(CodecSettings::default()).unwrap();
    let mut big = codec
        .decode::<orderflow_events::OrderEvent>(&good[10].bytes)
        .await
        .unwrap()
        .value;
    big.customer_id = "c".repeat(5_000);
    good[10].bytes = codec.encode("t", &big).await.unwrap();
    let records: Vec<_> = good
        .iter()
        .map(|e| (e.order_id.clone(), e.bytes.clone()))
        .collect();
    kafka.produce(&pipeline.input, &records).await;
    let port = orderflow_tests::free_port();
    let http = format!("127.0.0.1:{port}");
    let args = {
        let mut args = pipeline.worker_args(kafka, "exactly-once", "w1", &[]);
        let at = args.iter().position(|a| a == "--output-topic").unwrap();
        args[at + 1] = small_output.clone();
        let at = args.iter().position(|a| a == "--http-addr").unwrap();
        args[at + 1] = http.clone();
        args
    };
    let mut worker = orderflow_tests::process::Process::start("order-status", &args, &[]);
    let outputs = kafka
        .consume(&small_output, 19, Duration::from_secs(60))
        .await;
    let letters = kafka
        .consume(&pipeline.dlq, 1, Duration::from_secs(60))
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let metrics = orderflow_tests::http_get(&format!("http://{http}/metrics"))
        .await
        .map(|m| m.1)
        .unwrap_or_default();
    worker.terminate();
    worker.wait(Duration::from_secs(25)).await;
    let aborted: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("orderflow_transactions_total{") && l.contains("aborted"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    record(Row {
        scenario: "output over max.message.bytes".into(),
        events: 20,
        faults: 1,
        lost: 19 - outputs.len() as u64,
        duplicated: 0,
        worst_lag: -1,
        recovery_seconds: -1.0,
        size: size(),
    });
    assert_eq!(outputs.len(), 19, "every other event processed");
    assert_eq!(letters.len(), 1, "the oversized one dead-lettered once");
    let more = kafka
        .consume_all(&pipeline.dlq, Duration::from_secs(2))
        .await;
    assert_eq!(more.len(), 1, "dead-lettered exactly once");
    assert_eq!(aborted, 0.0, "no abort-and-retry loop:\n{metrics}");
    let _ = full();
}

/// Scenario 9: a SASL_SSL (SCRAM) listener. With the right credentials and CA the
/// worker works; a wrong password, a wrong CA or a certificate for another host name
/// make it exit non-zero with a clear reason, having processed nothing (never falling
/// back to plaintext); no secret appears in its logs.
#[orderflow_tests::test(timeout = 600, full_timeout = 2400)]
async fn chaos_tls_and_sasl_scram() {
    use orderflow_tests::cluster::SCRAM_PASSWORD;
    use orderflow_tests::process::Process;
    let cluster = LocalCluster::start_secure().await;
    let plain = leak(Kafka::at(cluster.bootstrap_servers()));
    let pipeline = Pipeline::create(plain, 3, 1, &[]).await;
    let good = orderflow_tests::orders::events(&pipeline.input, 20, 200).await;
    let records: Vec<_> = good
        .iter()
        .map(|e| (e.order_id.clone(), e.bytes.clone()))
        .collect();
    plain.produce(&pipeline.input, &records).await;
    let ca = cluster.tls_file("ca.crt").display().to_string();
    let other_ca = cluster.tls_file("other-ca.crt").display().to_string();
    let secured = |servers: &str, password: &str, ca: &str, group: &str| -> Vec<String> {
        [
            "--bootstrap-servers",
            servers,
            "--group-id",
            group,
            "--input-topic",
            &pipeline.input,
            "--output-topic",
            &pipeline.output,
            "--dlq-topic",
            &pipeline.dlq,
            "--http-addr",
            "127.0.0.1:0",
            "--sasl-username",
            "orderflow",
            "--sasl-password",
            password,
            "--kafka-config",
            &format!(
                "security.protocol=SASL_SSL;sasl.mechanisms=SCRAM-SHA-256;ssl.ca.location={ca}"
            ),
        ]
        .map(String::from)
        .to_vec()
    };

    // Wrong password, wrong CA, wrong host name: each must stop the worker.
    let bad_password = "not-the-".to_owned() + SCRAM_PASSWORD;
    let cases = [
        (
            "wrong password",
            secured(
                &cluster.secure_servers(),
                &bad_password,
                &ca,
                "g-bad-password",
            ),
            "authentication",
        ),
        (
            "wrong CA",
            secured(
                &cluster.secure_servers(),
                SCRAM_PASSWORD,
                &other_ca,
                "g-bad-ca",
            ),
            "certificate",
        ),
        (
            "host name mismatch",
            secured(
                &cluster.mismatch_servers(),
                SCRAM_PASSWORD,
                &ca,
                "g-bad-host",
            ),
            "certificate",
        ),
    ];
    for (what, args, reason) in cases {
        let mut worker = Process::start("order-status", &args, &[]);
        let status = worker.wait(Duration::from_secs(60)).await;
        let log = worker.log();
        let last = log.lines().last().unwrap_or_default().to_owned();
        println!("{what}: exit {status:?}: {last}");
        assert!(
            status.is_some_and(|s| !s.success()),
            "{what}: the worker must exit non-zero: {status:?}\n{log}"
        );
        assert!(
            last.contains("fatal") && last.to_lowercase().contains(reason),
            "{what}: unclear reason: {last}"
        );
        assert!(
            !log.contains(SCRAM_PASSWORD) && !log.contains(&bad_password),
            "{what}: a secret was logged"
        );
    }
    assert!(
        plain
            .consume_all(&pipeline.output, Duration::from_secs(2))
            .await
            .is_empty(),
        "nothing was processed without authentication"
    );

    // The right credentials.
    let mut worker = Process::start(
        "order-status",
        &secured(
            &cluster.secure_servers(),
            SCRAM_PASSWORD,
            &ca,
            &pipeline.group,
        ),
        &[],
    );
    let outputs = plain
        .consume(&pipeline.output, good.len(), Duration::from_secs(60))
        .await;
    worker.terminate();
    let status = worker.wait(Duration::from_secs(25)).await;
    let log = worker.log();
    assert_eq!(
        outputs.len(),
        good.len(),
        "the worker processes everything over SASL_SSL"
    );
    assert!(status.is_some_and(|s| s.success()));
    assert!(
        !log.contains(SCRAM_PASSWORD),
        "the password appears in the log"
    );
    record(Row {
        scenario: "TLS + SASL/SCRAM: right and wrong credentials, CA, host name".into(),
        events: good.len() as u64,
        faults: 3,
        lost: (good.len() - outputs.len()) as u64,
        duplicated: 0,
        worst_lag: -1,
        recovery_seconds: -1.0,
        size: size(),
    });
}
