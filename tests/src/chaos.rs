//! The failure suite's machinery: how big a run is, a fleet of worker processes, a
//! load generator, a lag monitor, and the report table.
//!
//! Scenarios run reduced inside `make test`, and at full size with `make chaos`
//! (`ORDERFLOW_CHAOS=full`). Each appends one row to `target/chaos-report.jsonl`.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use orderflow::verify::{Report, verify};
use orderflow_events::{Codec, CodecSettings};
use orderflow_runtime::kafka::KafkaSettings;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;

use crate::process::Process;
use crate::{Kafka, unique};

/// Whether the full-size suite runs (`ORDERFLOW_CHAOS=full`).
pub fn full() -> bool {
    std::env::var("ORDERFLOW_CHAOS").is_ok_and(|v| v == "full")
}

/// `reduced` in `make test`, `full` in `make chaos`.
pub fn scale<T>(reduced: T, full_size: T) -> T {
    if full() { full_size } else { reduced }
}

/// Topics and group of one scenario.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// Input topic.
    pub input: String,
    /// Output topic.
    pub output: String,
    /// Dead-letter topic.
    pub dlq: String,
    /// Consumer group of the workers.
    pub group: String,
    /// Partitions of the input.
    pub partitions: i32,
}

impl Pipeline {
    /// Creates the topics (replicated `replication` times, with `configs`).
    pub async fn create(
        kafka: &Kafka,
        partitions: i32,
        replication: i32,
        configs: &[(&str, &str)],
    ) -> Pipeline {
        let pipeline = Pipeline {
            input: unique("chaos-in"),
            output: unique("chaos-out"),
            dlq: unique("chaos-dlq"),
            group: unique("chaos-group"),
            partitions,
        };
        for topic in [&pipeline.input, &pipeline.output, &pipeline.dlq] {
            kafka
                .create_topic_with(topic, partitions, replication, configs)
                .await;
        }
        pipeline
    }

    /// Flags of an order-status worker on this pipeline.
    pub fn worker_args(
        &self,
        kafka: &Kafka,
        guarantee: &str,
        instance: &str,
        extra: &[&str],
    ) -> Vec<String> {
        let mut args: Vec<String> = [
            "--bootstrap-servers",
            kafka.bootstrap_servers(),
            "--group-id",
            &self.group,
            "--input-topic",
            &self.input,
            "--output-topic",
            &self.output,
            "--dlq-topic",
            &self.dlq,
            "--guarantee",
            guarantee,
            "--http-addr",
            "127.0.0.1:0",
            "--kafka-config",
            "consumer.session.timeout.ms=6000;consumer.heartbeat.interval.ms=1000",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if guarantee == "exactly-once" {
            args.extend([
                "--transactional-id".to_owned(),
                format!("{}-{instance}", self.group),
            ]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    /// Compares outputs with inputs (order-status: one output per input).
    pub async fn verify(&self, kafka: &Kafka, timeout: Duration) -> Report {
        let codec = Codec::new(CodecSettings::default()).expect("codec");
        verify(
            &kafka.settings(),
            &codec,
            "order-status",
            &self.input,
            &self.output,
            &self.dlq,
            timeout,
        )
        .await
        .expect("verify")
    }
}

impl Pipeline {
    /// After a verification that found problems: what each output partition shows to
    /// read_committed and read_uncommitted readers, and a second verification a minute
    /// later, to tell outputs that are missing from outputs not yet visible.
    pub async fn explain(&self, kafka: &Kafka) {
        for (isolation, topic) in [
            ("read_committed", &self.output),
            ("read_uncommitted", &self.output),
            ("read_committed", &self.input),
        ] {
            let consumer: BaseConsumer = match kafka.settings().create(&[
                ("group.id", "orderflow-chaos-explain"),
                ("isolation.level", isolation),
            ]) {
                Ok(consumer) => consumer,
                Err(error) => {
                    println!("explain: {error}");
                    return;
                }
            };
            let name = topic.clone();
            let partitions = self.partitions;
            let line = tokio::task::spawn_blocking(move || {
                (0..partitions)
                    .map(
                        |p| match consumer.fetch_watermarks(&name, p, Duration::from_secs(10)) {
                            Ok((_, high)) => format!("{p}:{high}"),
                            Err(error) => format!("{p}:{error}"),
                        },
                    )
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .await
            .unwrap_or_default();
            println!("explain: end offsets of {topic} for {isolation} readers: {line}");
        }
        // What the group committed on the input: at the end offsets with outputs missing
        // is a commit without its outputs; short of them, work that never finished.
        let committed = match kafka
            .settings()
            .create::<BaseConsumer>(&[("group.id", &self.group)])
        {
            Ok(consumer) => {
                let mut list = TopicPartitionList::new();
                for p in 0..self.partitions {
                    list.add_partition(&self.input, p);
                }
                tokio::task::spawn_blocking(move || {
                    match consumer.committed_offsets(list, Duration::from_secs(10)) {
                        Ok(list) => list
                            .elements()
                            .iter()
                            .map(|e| format!("{}:{:?}", e.partition(), e.offset()))
                            .collect::<Vec<_>>()
                            .join(" "),
                        Err(error) => error.to_string(),
                    }
                })
                .await
                .unwrap_or_default()
            }
            Err(error) => error.to_string(),
        };
        println!(
            "explain: offsets group {} committed on {}: {committed}",
            self.group, self.input
        );
        // The transactions the brokers know of on the output partitions (an open one
        // holds the last stable offset back), and any the coordinator has forgotten.
        for partition in 0..self.partitions {
            let partition = partition.to_string();
            transactions_tool(
                kafka,
                &[
                    "describe-producers",
                    "--topic",
                    &self.output,
                    "--partition",
                    &partition,
                ],
            )
            .await;
        }
        transactions_tool(kafka, &["find-hanging", "--broker-id", "1"]).await;
        tokio::time::sleep(Duration::from_secs(60)).await;
        let again = self.verify(kafka, Duration::from_secs(60)).await;
        println!("explain: verifier report a minute later: {again:?}");
    }
}

/// Runs Kafka's `kafka-transactions` tool against `kafka` and prints what it says.
async fn transactions_tool(kafka: &Kafka, args: &[&str]) {
    let output = tokio::process::Command::new("bash")
        .kill_on_drop(true)
        .arg(crate::cluster::repo_root().join("scripts/kafka.sh"))
        .args(["tool", "org.apache.kafka.tools.TransactionsCommand"])
        .args(["--bootstrap-server", kafka.bootstrap_servers()])
        .args(args)
        .env(
            "KAFKA_STATE_DIR",
            std::env::temp_dir().join("orderflow-kafka-tools"),
        )
        .output();
    match tokio::time::timeout(Duration::from_secs(60), output).await {
        Ok(Ok(output)) => println!(
            "explain: kafka-transactions {}:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
        Ok(Err(error)) => println!("explain: kafka-transactions: {error}"),
        Err(_) => println!("explain: kafka-transactions {} timed out", args.join(" ")),
    }
}

/// Worker processes by instance name, restartable.
pub struct Fleet {
    kafka_servers: String,
    /// Running instances.
    pub workers: HashMap<String, Process>,
    /// Restart instances that exit on their own until the scenario ends, as an
    /// orchestrator would (scenarios whose faults may be fatal to a worker).
    pub supervised: bool,
    /// Instances restarted after they exited on their own.
    pub restarts: usize,
    /// The end of the log of each instance stopped with SIGTERM, in stop order: a
    /// handover's faults are often in the log of the instance that left.
    stopped: Vec<(String, String)>,
    args: Box<ArgsOf>,
}

/// The flags of a named instance.
type ArgsOf = dyn Fn(&str) -> Vec<String> + Send;

impl Fleet {
    /// A fleet whose instance `name` runs order-status with `args(name)`.
    pub fn new(kafka: &Kafka, args: impl Fn(&str) -> Vec<String> + Send + 'static) -> Fleet {
        Fleet {
            kafka_servers: kafka.bootstrap_servers().to_owned(),
            workers: HashMap::new(),
            supervised: false,
            restarts: 0,
            stopped: Vec::new(),
            args: Box::new(args),
        }
    }

    /// Starts instance `name` (again).
    pub fn start(&mut self, name: &str) {
        let process = Process::start("order-status", &(self.args)(name), &[]);
        self.workers.insert(name.to_owned(), process);
    }

    /// SIGKILL and restart of `name`.
    pub fn kill_and_restart(&mut self, name: &str) {
        if let Some(mut process) = self.workers.remove(name) {
            process.kill();
        }
        self.start(name);
    }

    /// SIGTERM `name`, wait for its exit (it must be clean, within `within`).
    pub async fn stop(&mut self, name: &str, within: Duration) {
        let mut process = self.workers.remove(name).expect("running instance");
        process.terminate();
        let status = process.wait(within).await;
        assert!(
            status.is_some_and(|s| s.success()),
            "instance {name} did not stop cleanly within {within:?}: {status:?} (servers {}); \
             the end of its log:\n{}",
            self.kafka_servers,
            process.log_tail(60)
        );
        self.stopped.push((name.to_owned(), process.log_tail(40)));
    }

    /// SIGTERM every instance.
    pub async fn stop_all(&mut self, within: Duration) {
        let names: Vec<String> = self.workers.keys().cloned().collect();
        for name in names {
            self.stop(&name, within).await;
        }
    }

    /// Restarts every instance that exited on its own, as an orchestrator would (a
    /// fatal error exits non-zero so that it is restarted). Returns how many.
    pub fn revive(&mut self) -> usize {
        let dead: Vec<String> = self
            .workers
            .iter_mut()
            .filter_map(|(name, process)| process.try_wait().map(|_| name.clone()))
            .collect();
        for name in &dead {
            let log = self
                .workers
                .get(name)
                .map(|p| p.log_tail(40))
                .unwrap_or_default();
            println!("restarting instance {name} after it exited; the end of its log:\n{log}");
            self.start(name);
        }
        self.restarts += dead.len();
        dead.len()
    }

    /// Prints the end of the log of every instance stopped with SIGTERM, then of every
    /// running one.
    pub fn print_logs(&self, lines: usize) {
        for (name, log) in &self.stopped {
            println!("the end of stopped instance {name}'s log:\n{log}");
        }
        for (name, process) in &self.workers {
            println!(
                "the end of instance {name}'s log:\n{}",
                process.log_tail(lines)
            );
        }
    }

    /// Instances that exited on their own, with their status.
    pub fn crashed(&mut self) -> Vec<String> {
        self.workers
            .iter_mut()
            .filter_map(|(name, p)| p.try_wait().map(|status| format!("{name}: {status}")))
            .collect()
    }
}

/// `orderflow loadgen` writing `count` events at `rate` per second to `topic`.
pub fn loadgen(kafka: &Kafka, topic: &str, count: u64, rate: u64, seed: u64) -> Process {
    Process::start(
        "orderflow",
        &[
            "loadgen",
            "--bootstrap-servers",
            kafka.bootstrap_servers(),
            "--topic",
            topic,
            "--count",
            &count.to_string(),
            "--rate",
            &rate.to_string(),
            "--seed",
            &seed.to_string(),
            "--quiet",
            "--concurrent-orders",
            "500",
        ]
        .map(String::from),
        &[],
    )
}

/// Watches a group's lag on a topic: the worst lag, and how long partitions went
/// without progress while they had lag.
///
/// Its sampling thread stops when the monitor is stopped or dropped (also when a test
/// panics): the tokio runtime waits for blocking tasks when it shuts down, so a loop
/// left running would hold the test binary forever. Each sample is bounded too.
pub struct LagMonitor {
    state: Arc<Mutex<LagState>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for LagMonitor {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Reads the longest stall of a [`LagMonitor`], also after it stopped.
pub struct StallProbe(Arc<Mutex<LagState>>);

impl StallProbe {
    /// The longest time a partition had lag without its committed offset moving.
    pub fn longest(&self) -> Duration {
        self.0.lock().expect("lag state").longest_stall
    }
}

#[derive(Default)]
struct LagState {
    worst: i64,
    last: i64,
    zero_since: Option<Instant>,
    longest_stall: Duration,
    /// The latest readable sample: (partition, lag, committed offset).
    latest: Vec<(i32, i64, i64)>,
    /// Samples in a row that could not be read (cluster not answering in time).
    unreadable: u32,
    /// Why the latest unreadable sample was.
    last_error: String,
}

impl LagMonitor {
    /// Starts sampling every 500 ms.
    pub fn start(settings: KafkaSettings, group: &str, topic: &str, partitions: i32) -> LagMonitor {
        let state = Arc::new(Mutex::new(LagState::default()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (group, topic, shared, stopped) = (
            group.to_owned(),
            topic.to_owned(),
            state.clone(),
            stop.clone(),
        );
        let task = tokio::task::spawn_blocking(move || {
            let connect = || {
                settings
                    .create::<BaseConsumer>(&[("group.id", &group)])
                    .ok()
            };
            let Some(mut consumer) = connect() else {
                return;
            };
            let mut progress: HashMap<i32, (i64, Instant)> = HashMap::new();
            while !stopped.load(std::sync::atomic::Ordering::SeqCst) {
                let lags = match sample(&consumer, &topic, partitions, &stopped) {
                    Ok(lags) => lags,
                    Err(error) => {
                        // Unknown (the cluster is down): not caught up.
                        let mut state = shared.lock().expect("lag state");
                        state.zero_since = None;
                        state.unreadable += 1;
                        state.last_error = error;
                        // A client that lost its group coordinator while brokers were killed
                        // can stay unable to read after the cluster is back (seen: minutes of
                        // unreadable samples with the lag already 0): start a new one.
                        let reconnect = state.unreadable % 4 == 0;
                        drop(state);
                        if reconnect && let Some(fresh) = connect() {
                            consumer = fresh;
                        }
                        std::thread::sleep(Duration::from_millis(500));
                        continue;
                    }
                };
                {
                    let total: i64 = lags.iter().map(|(_, lag, _)| lag).sum();
                    let mut state = shared.lock().expect("lag state");
                    state.worst = state.worst.max(total);
                    state.last = total;
                    state.unreadable = 0;
                    state.latest = lags.clone();
                    if total == 0 {
                        state.zero_since.get_or_insert_with(Instant::now);
                    } else {
                        state.zero_since = None;
                    }
                    for (partition, lag, committed) in lags {
                        let entry = progress
                            .entry(partition)
                            .or_insert((committed, Instant::now()));
                        if committed != entry.0 || lag == 0 {
                            *entry = (committed, Instant::now());
                        } else {
                            state.longest_stall = state.longest_stall.max(entry.1.elapsed());
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        });
        LagMonitor {
            state,
            stop,
            task: Some(task),
        }
    }

    /// The largest total lag seen.
    pub fn worst(&self) -> i64 {
        self.state.lock().expect("lag state").worst
    }

    /// The latest readable sample and how many samples since could not be read, for a
    /// report when the lag never returned to 0.
    pub fn describe(&self) -> String {
        let state = self.state.lock().expect("lag state");
        let partitions: Vec<String> = state
            .latest
            .iter()
            .map(|(p, lag, committed)| format!("{p}: committed {committed}, lag {lag}"))
            .collect();
        format!(
            "latest lag sample [{}]; {} samples since unreadable (last: {})",
            partitions.join("; "),
            state.unreadable,
            state.last_error
        )
    }

    /// A reader of the longest stall that outlives the monitor.
    pub fn longest_stall_probe(&self) -> StallProbe {
        StallProbe(self.state.clone())
    }

    /// Waits until a sample taken from now on shows lag 0; returns how long that took,
    /// or `None` on timeout.
    pub async fn wait_for_zero(&self, timeout: Duration) -> Option<Duration> {
        let started = Instant::now();
        self.state.lock().expect("lag state").zero_since = None;
        while started.elapsed() < timeout {
            if self.state.lock().expect("lag state").zero_since.is_some() {
                return Some(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        None
    }

    /// Stops sampling.
    pub async fn stop(mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// (partition, lag, committed offset) of every partition, when readable; why not when
/// the cluster does not answer in time or the monitor is stopping.
fn sample(
    consumer: &BaseConsumer,
    topic: &str,
    partitions: i32,
    stopped: &std::sync::atomic::AtomicBool,
) -> Result<Vec<(i32, i64, i64)>, String> {
    const CALL_TIMEOUT: Duration = Duration::from_secs(5);
    let mut list = TopicPartitionList::new();
    for partition in 0..partitions {
        list.add_partition(topic, partition);
    }
    let committed = consumer
        .committed_offsets(list, CALL_TIMEOUT)
        .map_err(|error| format!("committed offsets: {error}"))?;
    let mut out = Vec::new();
    for element in committed.elements() {
        if stopped.load(std::sync::atomic::Ordering::SeqCst) {
            return Err("the monitor is stopping".into());
        }
        let (low, high) = consumer
            .fetch_watermarks(topic, element.partition(), CALL_TIMEOUT)
            .map_err(|error| format!("watermarks: {error}"))?;
        let position = match element.offset() {
            Offset::Offset(offset) => offset,
            _ => low,
        };
        out.push((element.partition(), (high - position).max(0), position));
    }
    Ok(out)
}

/// One row of the report table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Scenario name.
    pub scenario: String,
    /// Input events.
    pub events: u64,
    /// Faults injected.
    pub faults: u64,
    /// Lost inputs.
    pub lost: u64,
    /// Duplicated outputs.
    pub duplicated: u64,
    /// Largest total lag seen.
    pub worst_lag: i64,
    /// Seconds from the last fault to lag 0.
    pub recovery_seconds: f64,
    /// `reduced` (make test) or `full` (make chaos).
    pub size: &'static str,
}

/// Appends `row` to `target/chaos-report.jsonl` and prints it.
pub fn record(row: Row) {
    println!(
        "chaos report row: {}",
        serde_json::to_string(&row).unwrap_or_default()
    );
    let path = crate::cluster::repo_root()
        .join("target")
        .join("chaos-report.jsonl");
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(file, "{}", serde_json::to_string(&row).unwrap_or_default());
    }
}

/// The size label of this run.
pub fn size() -> &'static str {
    if full() { "full" } else { "reduced" }
}

/// Resident memory of a process, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// What a scenario did, for its report row.
pub struct Summary {
    /// The scenario's name in the report.
    pub scenario: String,
    /// Events the load generator wrote.
    pub events: u64,
    /// Faults injected.
    pub faults: u64,
    /// When the last fault ended: recovery is counted from here.
    pub last_fault: Instant,
}

/// The end of a scenario under load: waits for the load generator to finish and the
/// lag to reach 0, verifies the outputs, stops the workers still running, and records
/// the row.
pub async fn conclude(
    kafka: &Kafka,
    pipeline: &Pipeline,
    fleet: &mut Fleet,
    monitor: LagMonitor,
    mut generator: Process,
    summary: Summary,
) -> Report {
    let loaded = generator.wait(Duration::from_secs(900)).await;
    assert!(
        loaded.is_some_and(|s| s.success()),
        "loadgen failed: {loaded:?}\n{}",
        generator.log()
    );
    let deadline = Instant::now() + Duration::from_secs(180);
    let recovery = loop {
        if fleet.supervised {
            fleet.revive();
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break None;
        }
        let step = left.min(Duration::from_secs(5));
        if monitor.wait_for_zero(step).await.is_some() {
            break Some(summary.last_fault.elapsed());
        }
    };
    let report = pipeline.verify(kafka, Duration::from_secs(60)).await;
    println!("verifier report: {report:?}");
    if recovery.is_none() {
        println!(
            "the lag did not return to 0 within 180 s: {}",
            monitor.describe()
        );
    }
    if recovery.is_none() || !report.is_clean() {
        fleet.print_logs(60);
    }
    if report.lost > 0 {
        pipeline.explain(kafka).await;
    }
    let scenario = match fleet.restarts {
        0 => summary.scenario,
        n => format!(
            "{} ({n} worker restarts after fatal errors)",
            summary.scenario
        ),
    };
    fleet
        .workers
        .retain(|_, process| process.try_wait().is_none());
    fleet.stop_all(Duration::from_secs(25)).await;
    record(Row {
        scenario,
        events: summary.events,
        faults: summary.faults,
        lost: report.lost,
        duplicated: report.duplicated,
        worst_lag: monitor.worst(),
        recovery_seconds: recovery.map_or(-1.0, |d| d.as_secs_f64()),
        size: size(),
    });
    monitor.stop().await;
    report
}
