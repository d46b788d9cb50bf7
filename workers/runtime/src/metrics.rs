//! Metrics, and the status the health endpoints and the dev view read.
//!
//! Every metric name starts with `orderflow_` and carries a `worker` label; the other
//! labels come from small fixed sets (error class, outcome, partition), never from
//! message content. Where something worth logging happens, the log line and the
//! counter are emitted by one method of [`WorkerMetrics`].
//!
//! The process's own metrics (`process_cpu_seconds_total`,
//! `process_resident_memory_bytes`, `process_open_fds`, ...) keep the names every
//! Prometheus client gives them, without a `worker` label: they describe the process,
//! which may run several workers (the dev stack does). They are read at each scrape.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::clock::now_millis;
use crate::handler::{Failure, FailureClass};
use crate::message::InputMessage;

/// Input messages consumed.
pub const CONSUMED: &str = "orderflow_messages_consumed_total";
/// Derived records produced (acknowledged or committed).
pub const PRODUCED: &str = "orderflow_records_produced_total";
/// Messages sent to the dead-letter topic, by `class`.
pub const DEAD_LETTERED: &str = "orderflow_dead_letters_total";
/// Retries of transient failures, by `class`.
pub const RETRIES: &str = "orderflow_retries_total";
/// Inputs of a kind the worker does not handle, by `reason` (payload type).
pub const SKIPPED: &str = "orderflow_messages_skipped_total";
/// Time to decode, process and encode one message.
pub const PROCESSING: &str = "orderflow_processing_seconds";
/// From the input's Kafka timestamp to its outputs being committed or acknowledged.
pub const END_TO_END: &str = "orderflow_end_to_end_seconds";
/// Consumer lag per partition: last stable offset minus the next offset to read
/// (from librdkafka statistics, every 5 s).
pub const LAG: &str = "orderflow_consumer_lag";
/// Transactions by `outcome` (committed, aborted).
pub const TRANSACTIONS: &str = "orderflow_transactions_total";
/// Offset commits (at-least-once) by `outcome` (ok, failed).
pub const OFFSET_COMMITS: &str = "orderflow_offset_commits_total";
/// Rebalance events by `kind` (assign, revoke, lost).
pub const REBALANCES: &str = "orderflow_rebalances_total";
/// Partitions currently assigned.
pub const ASSIGNED: &str = "orderflow_assigned_partitions";
/// Partitions paused because processing fell behind.
pub const BACKPRESSURE: &str = "orderflow_backpressure_pauses_total";
/// Produce failures reported by the client, by `class` (retriable, permanent).
pub const DELIVERY_ERRORS: &str = "orderflow_delivery_errors_total";
/// Messages the client delivered again within one rewind epoch, ignored.
pub const REDELIVERIES: &str = "orderflow_redeliveries_ignored_total";
/// Rewinds to the last committed offsets after an aborted transaction.
pub const REWINDS: &str = "orderflow_rewinds_total";
/// Exactly-once producers replaced in process after a fatal error (fenced, ...).
pub const PRODUCER_RENEWALS: &str = "orderflow_producer_renewals_total";
/// Bytes of the input messages consumed (key, value and headers).
pub const CONSUMED_BYTES: &str = "orderflow_consumed_bytes_total";
/// Bytes of the derived records produced (key, value and headers), counted with
/// [`PRODUCED`].
pub const PRODUCED_BYTES: &str = "orderflow_produced_bytes_total";
/// Time to commit a transaction: sending its offsets, waiting for its records,
/// committing (exactly-once), whatever the outcome.
pub const TRANSACTION_COMMIT: &str = "orderflow_transaction_commit_seconds";
/// Time of one offset commit (at-least-once), whatever the outcome.
pub const OFFSET_COMMIT: &str = "orderflow_offset_commit_seconds";
/// Messages waiting in the producer client's queue (librdkafka statistics, every 5 s).
pub const PRODUCER_QUEUE_MESSAGES: &str = "orderflow_producer_queue_messages";
/// Bytes waiting in the producer client's queue (librdkafka statistics, every 5 s).
pub const PRODUCER_QUEUE_BYTES: &str = "orderflow_producer_queue_bytes";
/// Messages fetched and not yet handed to the worker, over the assigned partitions
/// (librdkafka statistics, every 5 s).
pub const FETCH_QUEUE_MESSAGES: &str = "orderflow_consumer_fetch_queue_messages";
/// Bytes fetched and not yet handed to the worker (librdkafka statistics, every 5 s).
pub const FETCH_QUEUE_BYTES: &str = "orderflow_consumer_fetch_queue_bytes";
/// Times the safety valve stopped the worker (too many dead letters).
pub const VALVE_TRIPS: &str = "orderflow_safety_valve_trips_total";
/// 1, with the worker's `version` and the client library's (`librdkafka`) as labels.
pub const BUILD_INFO: &str = "orderflow_build_info";
/// 1 when the worker is ready (what `/readyz` answers), else 0; computed at each scrape.
pub const READY: &str = "orderflow_ready";

/// Consumer lag of the assigned partitions, by (worker, topic, partition). Exposed by
/// [`render`] rather than registered as a gauge: the recorder cannot remove a series,
/// and a revoked partition's lag must disappear, or lag summed over the fleet counts it
/// twice after a rebalance.
static LAGS: Mutex<BTreeMap<(&'static str, String, i32), i64>> = Mutex::new(BTreeMap::new());

/// The Prometheus text of every metric: the process's, read now, the recorder's, the
/// readiness of `workers` and the lag table.
pub fn render(handle: &PrometheusHandle, workers: &[std::sync::Arc<WorkerStatus>]) -> String {
    use std::fmt::Write;
    process_collector().collect();
    let mut text = handle.render();
    let _ = writeln!(
        text,
        "# HELP {READY} 1 when the worker is ready (what /readyz answers), else 0."
    );
    let _ = writeln!(text, "# TYPE {READY} gauge");
    for worker in workers {
        let ready = u8::from(worker.is_ready());
        let _ = writeln!(text, "{READY}{{worker=\"{}\"}} {ready}", worker.name);
    }
    let table = LAGS.lock().expect("lag table");
    let _ = writeln!(
        text,
        "# HELP {LAG} Consumer lag per assigned partition: last stable offset minus the next offset to read."
    );
    let _ = writeln!(text, "# TYPE {LAG} gauge");
    for ((worker, topic, partition), lag) in table.iter() {
        let _ = writeln!(
            text,
            "{LAG}{{worker=\"{worker}\",topic=\"{topic}\",partition=\"{partition}\"}} {lag}"
        );
    }
    text
}

/// Installs the Prometheus recorder (once per process) and returns its handle.
pub fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.000_05, 0.0001, 0.000_25, 0.0005, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
                0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ];
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &buckets)
                .expect("valid buckets")
                .install_recorder()
                .expect("the Prometheus recorder is installed once");
            describe();
            process_collector().describe();
            // Histogram samples wait in buffers until upkeep folds them in; a scrape
            // does it too, but memory must stay flat when nobody scrapes.
            let upkeep = handle.clone();
            let _ = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(Duration::from_secs(5));
                        upkeep.run_upkeep();
                    }
                });
            handle
        })
        .clone()
}

/// The process metrics' collector (it keeps what it read of the process at start).
fn process_collector() -> &'static metrics_process::Collector {
    static COLLECTOR: OnceLock<metrics_process::Collector> = OnceLock::new();
    COLLECTOR.get_or_init(metrics_process::Collector::default)
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(CONSUMED, "Input messages consumed.");
    describe_counter!(
        PRODUCED,
        "Derived records produced and committed or acknowledged."
    );
    describe_counter!(
        DEAD_LETTERED,
        "Messages sent to the dead-letter topic, by error class."
    );
    describe_counter!(RETRIES, "Retries of transient failures.");
    describe_counter!(
        SKIPPED,
        "Inputs of a kind the worker does not handle, by payload type."
    );
    describe_histogram!(
        PROCESSING,
        metrics::Unit::Seconds,
        "Decode, process and encode time per message."
    );
    describe_histogram!(
        END_TO_END,
        metrics::Unit::Seconds,
        "Input timestamp to committed output."
    );
    describe_counter!(TRANSACTIONS, "Kafka transactions by outcome.");
    describe_counter!(OFFSET_COMMITS, "Offset commits by outcome (at-least-once).");
    describe_counter!(REBALANCES, "Rebalance events by kind.");
    describe_gauge!(ASSIGNED, "Partitions currently assigned.");
    describe_counter!(
        BACKPRESSURE,
        "Partitions paused because processing fell behind."
    );
    describe_counter!(DELIVERY_ERRORS, "Produce failures reported by the client.");
    describe_counter!(
        REWINDS,
        "Rewinds to the last committed offsets after an abort."
    );
    describe_counter!(
        REDELIVERIES,
        "Messages the client delivered again within one rewind epoch, ignored."
    );
    describe_counter!(
        PRODUCER_RENEWALS,
        "Exactly-once producers replaced in process after a fatal error."
    );
    describe_counter!(
        CONSUMED_BYTES,
        metrics::Unit::Bytes,
        "Bytes of the input messages consumed (key, value, headers)."
    );
    describe_counter!(
        PRODUCED_BYTES,
        metrics::Unit::Bytes,
        "Bytes of the derived records produced and committed or acknowledged."
    );
    describe_histogram!(
        TRANSACTION_COMMIT,
        metrics::Unit::Seconds,
        "Time to commit a transaction (offsets, outstanding records, commit)."
    );
    describe_histogram!(
        OFFSET_COMMIT,
        metrics::Unit::Seconds,
        "Time of an offset commit (at-least-once)."
    );
    describe_gauge!(
        PRODUCER_QUEUE_MESSAGES,
        "Messages waiting in the producer client's queue."
    );
    describe_gauge!(
        PRODUCER_QUEUE_BYTES,
        metrics::Unit::Bytes,
        "Bytes waiting in the producer client's queue."
    );
    describe_gauge!(
        FETCH_QUEUE_MESSAGES,
        "Messages fetched and not yet handed to the worker."
    );
    describe_gauge!(
        FETCH_QUEUE_BYTES,
        metrics::Unit::Bytes,
        "Bytes fetched and not yet handed to the worker."
    );
    describe_counter!(
        VALVE_TRIPS,
        "Times the safety valve stopped the worker (too many dead letters)."
    );
    describe_gauge!(
        BUILD_INFO,
        "1, labelled with the worker's version and librdkafka's."
    );
}

/// What a worker is doing right now: read by `/healthz`, `/readyz` and the dev view.
#[derive(Debug)]
pub struct WorkerStatus {
    /// The worker's name.
    pub name: &'static str,
    last_poll_ms: AtomicI64,
    assigned: AtomicUsize,
    joined: AtomicBool,
    schemas_ready: AtomicBool,
    stopping: AtomicBool,
    consumed: AtomicU64,
    produced: AtomicU64,
    dead_lettered: AtomicU64,
    lag: AtomicI64,
    latency_us: AtomicU64,
    /// Times `/metrics` was read, and that count when the safety valve tripped.
    scrapes: AtomicU64,
    scrapes_at_trip: AtomicU64,
}

/// A copy of a worker's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusSnapshot {
    /// Messages consumed.
    pub consumed: u64,
    /// Records produced.
    pub produced: u64,
    /// Messages dead-lettered.
    pub dead_lettered: u64,
    /// Total consumer lag, -1 when unknown.
    pub lag: i64,
    /// Recent end-to-end latency (moving average), microseconds.
    pub latency_us: u64,
    /// Partitions assigned.
    pub assigned: usize,
}

impl WorkerStatus {
    /// A fresh status for `name`.
    pub fn new(name: &'static str) -> WorkerStatus {
        WorkerStatus {
            name,
            last_poll_ms: AtomicI64::new(now_millis()),
            assigned: AtomicUsize::new(0),
            joined: AtomicBool::new(false),
            schemas_ready: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            consumed: AtomicU64::new(0),
            produced: AtomicU64::new(0),
            dead_lettered: AtomicU64::new(0),
            lag: AtomicI64::new(-1),
            latency_us: AtomicU64::new(0),
            scrapes: AtomicU64::new(0),
            scrapes_at_trip: AtomicU64::new(0),
        }
    }

    /// The poll loop went round.
    pub fn polled(&self) {
        self.last_poll_ms.store(now_millis(), Ordering::Relaxed);
    }

    /// Whether the poll loop went round within `within`.
    pub fn is_live(&self, within: Duration) -> bool {
        now_millis() - self.last_poll_ms.load(Ordering::Relaxed) <= within.as_millis() as i64
    }

    /// Group joined, partitions assigned, schemas loaded, not stopping.
    pub fn is_ready(&self) -> bool {
        self.joined.load(Ordering::Relaxed)
            && self.assigned.load(Ordering::Relaxed) > 0
            && self.schemas_ready.load(Ordering::Relaxed)
            && !self.stopping.load(Ordering::Relaxed)
    }

    /// Why the worker is not ready, for `/readyz`.
    pub fn not_ready_reason(&self) -> Option<&'static str> {
        if self.stopping.load(Ordering::Relaxed) {
            Some("stopping")
        } else if !self.schemas_ready.load(Ordering::Relaxed) {
            Some("schemas not loaded")
        } else if !self.joined.load(Ordering::Relaxed) {
            Some("consumer group not joined")
        } else if self.assigned.load(Ordering::Relaxed) == 0 {
            Some("no partitions assigned")
        } else {
            None
        }
    }

    /// Records the assignment size (and that the group was joined).
    pub fn set_assigned(&self, partitions: usize) {
        self.joined.store(true, Ordering::Relaxed);
        self.assigned.store(partitions, Ordering::Relaxed);
    }

    /// The schemas are loaded (and registered, with a registry).
    pub fn set_schemas_ready(&self) {
        self.schemas_ready.store(true, Ordering::Relaxed);
    }

    /// Shutdown began.
    pub fn set_stopping(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    /// `/metrics` was read.
    pub fn scraped(&self) {
        self.scrapes.fetch_add(1, Ordering::SeqCst);
    }

    /// Waits, at most `limit`, until `/metrics` has been read since the safety valve
    /// tripped; whether it was. The process exits right after a trip, and a trip no
    /// scrape saw would never reach the dashboard or the alert.
    pub async fn scraped_since_trip(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if self.scrapes.load(Ordering::SeqCst) > self.scrapes_at_trip.load(Ordering::SeqCst) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Current counters.
    pub fn snapshot(&self) -> StatusSnapshot {
        StatusSnapshot {
            consumed: self.consumed.load(Ordering::Relaxed),
            produced: self.produced.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            lag: self.lag.load(Ordering::Relaxed),
            latency_us: self.latency_us.load(Ordering::Relaxed),
            assigned: self.assigned.load(Ordering::Relaxed),
        }
    }
}

/// A worker's metric handles, created once with its labels.
#[derive(Debug)]
pub struct WorkerMetrics {
    worker: &'static str,
    /// The status the metrics also update.
    pub status: std::sync::Arc<WorkerStatus>,
    consumed: Counter,
    consumed_bytes: Counter,
    produced: Counter,
    produced_bytes: Counter,
    processing: Histogram,
    end_to_end: Histogram,
    committed: Counter,
    aborted: Counter,
    commits_ok: Counter,
    commits_failed: Counter,
    assigned: Gauge,
    backpressure: Counter,
    rewinds: Counter,
    transaction_commit: Histogram,
    offset_commit: Histogram,
    producer_queue_messages: Gauge,
    producer_queue_bytes: Gauge,
    fetch_queue_messages: Gauge,
    fetch_queue_bytes: Gauge,
}

impl WorkerMetrics {
    /// Handles for `worker` of `version` (installing the recorder first, if it is not
    /// yet); sets its build information.
    pub fn new(
        worker: &'static str,
        version: &'static str,
        status: std::sync::Arc<WorkerStatus>,
    ) -> WorkerMetrics {
        prometheus();
        let (_, librdkafka) = rdkafka::util::get_rdkafka_version();
        gauge!(BUILD_INFO, "worker" => worker, "version" => version, "librdkafka" => librdkafka)
            .set(1.0);
        // Series of rare events exist at 0 from the start: `rate` and `increase` count
        // nothing of a series' first sample, so the first dead letter (or valve trip)
        // of a process would go unseen by the dashboard and the alerts.
        for class in FailureClass::ALL {
            counter!(DEAD_LETTERED, "worker" => worker, "class" => class.as_str()).increment(0);
        }
        let transient = FailureClass::Transient.as_str();
        counter!(RETRIES, "worker" => worker, "class" => transient).increment(0);
        for class in ["retriable", "permanent"] {
            counter!(DELIVERY_ERRORS, "worker" => worker, "class" => class).increment(0);
        }
        for kind in ["assign", "revoke", "lost"] {
            counter!(REBALANCES, "worker" => worker, "kind" => kind).increment(0);
        }
        counter!(PRODUCER_RENEWALS, "worker" => worker).increment(0);
        counter!(VALVE_TRIPS, "worker" => worker).increment(0);
        counter!(REDELIVERIES, "worker" => worker).increment(0);
        WorkerMetrics {
            worker,
            status,
            consumed: counter!(CONSUMED, "worker" => worker),
            consumed_bytes: counter!(CONSUMED_BYTES, "worker" => worker),
            produced: counter!(PRODUCED, "worker" => worker),
            produced_bytes: counter!(PRODUCED_BYTES, "worker" => worker),
            processing: histogram!(PROCESSING, "worker" => worker),
            end_to_end: histogram!(END_TO_END, "worker" => worker),
            committed: counter!(TRANSACTIONS, "worker" => worker, "outcome" => "committed"),
            aborted: counter!(TRANSACTIONS, "worker" => worker, "outcome" => "aborted"),
            commits_ok: counter!(OFFSET_COMMITS, "worker" => worker, "outcome" => "ok"),
            commits_failed: counter!(OFFSET_COMMITS, "worker" => worker, "outcome" => "failed"),
            assigned: gauge!(ASSIGNED, "worker" => worker),
            backpressure: counter!(BACKPRESSURE, "worker" => worker),
            rewinds: counter!(REWINDS, "worker" => worker),
            transaction_commit: histogram!(TRANSACTION_COMMIT, "worker" => worker),
            offset_commit: histogram!(OFFSET_COMMIT, "worker" => worker),
            producer_queue_messages: gauge!(PRODUCER_QUEUE_MESSAGES, "worker" => worker),
            producer_queue_bytes: gauge!(PRODUCER_QUEUE_BYTES, "worker" => worker),
            fetch_queue_messages: gauge!(FETCH_QUEUE_MESSAGES, "worker" => worker),
            fetch_queue_bytes: gauge!(FETCH_QUEUE_BYTES, "worker" => worker),
        }
    }

    /// The worker's name.
    pub fn worker(&self) -> &'static str {
        self.worker
    }

    /// A message of `bytes` (key, value, headers) was consumed.
    pub fn consumed(&self, bytes: usize) {
        self.consumed.increment(1);
        self.consumed_bytes.increment(bytes as u64);
        self.status.consumed.fetch_add(1, Ordering::Relaxed);
    }

    /// A message was decoded, processed and encoded in `elapsed`.
    pub fn processed(&self, elapsed: Duration) {
        self.processing.record(elapsed.as_secs_f64());
    }

    /// `records` outputs (`bytes` in all) of messages with these input timestamps are
    /// now committed (exactly-once) or acknowledged (at-least-once).
    pub fn delivered(&self, records: u64, bytes: u64, input_timestamps: &[i64]) {
        self.produced.increment(records);
        self.produced_bytes.increment(bytes);
        self.status.produced.fetch_add(records, Ordering::Relaxed);
        let now = now_millis();
        for &timestamp in input_timestamps {
            let latency = (now - timestamp).max(0) as f64 / 1000.0;
            self.end_to_end.record(latency);
        }
        if let Some(&last) = input_timestamps.last() {
            let sample = ((now - last).max(0) as u64) * 1000;
            let old = self.status.latency_us.load(Ordering::Relaxed);
            let blended = if old == 0 {
                sample
            } else {
                (old * 7 + sample) / 8
            };
            self.status.latency_us.store(blended, Ordering::Relaxed);
        }
    }

    /// A message went to the dead-letter topic.
    pub fn dead_lettered(&self, input: &InputMessage, failure: &Failure) {
        tracing::warn!(
            worker = self.worker, topic = &*input.topic, partition = input.partition,
            offset = input.offset, trace_id = input.trace_id(),
            class = failure.class.as_str(), kind = failure.kind, error = %failure.message,
            "message dead-lettered"
        );
        counter!(DEAD_LETTERED, "worker" => self.worker, "class" => failure.class.as_str())
            .increment(1);
        self.status.dead_lettered.fetch_add(1, Ordering::Relaxed);
    }

    /// A transient failure will be retried after `delay`.
    pub fn retrying(&self, input: &InputMessage, attempt: u32, delay: Duration, failure: &Failure) {
        tracing::warn!(
            worker = self.worker, partition = input.partition, offset = input.offset,
            trace_id = input.trace_id(), attempt,
            delay_ms = delay.as_millis() as u64, kind = failure.kind, error = %failure.message,
            "transient failure; retrying"
        );
        counter!(RETRIES, "worker" => self.worker, "class" => failure.class.as_str()).increment(1);
    }

    /// An input of a kind the worker does not handle.
    pub fn skipped(&self, reason: &'static str) {
        counter!(SKIPPED, "worker" => self.worker, "reason" => reason).increment(1);
    }

    /// The client delivered a message of `partition` again that was already dispatched.
    pub fn redelivery_ignored(&self, partition: i32, offset: i64) {
        tracing::debug!(
            worker = self.worker,
            partition,
            offset,
            "message delivered again by the client; ignored"
        );
        counter!(REDELIVERIES, "worker" => self.worker).increment(1);
    }

    /// A transaction committed.
    pub fn transaction_committed(&self) {
        self.committed.increment(1);
    }

    /// Committing a transaction (successfully or not) took `elapsed`.
    pub fn transaction_commit_took(&self, elapsed: Duration) {
        self.transaction_commit.record(elapsed.as_secs_f64());
    }

    /// An offset commit (successful or not) took `elapsed`.
    pub fn offset_commit_took(&self, elapsed: Duration) {
        self.offset_commit.record(elapsed.as_secs_f64());
    }

    /// The safety valve tripped: the worker stops for `reason`.
    pub fn valve_tripped(&self, reason: &str) {
        tracing::error!(
            worker = self.worker,
            reason,
            "safety valve tripped; stopping"
        );
        counter!(VALVE_TRIPS, "worker" => self.worker).increment(1);
        // After the increment: a scrape counted from here renders it.
        let scrapes = self.status.scrapes.load(Ordering::SeqCst);
        self.status.scrapes_at_trip.store(scrapes, Ordering::SeqCst);
    }

    /// The producer client's queue, from its statistics.
    pub fn producer_queue(&self, messages: u64, bytes: u64) {
        self.producer_queue_messages.set(messages as f64);
        self.producer_queue_bytes.set(bytes as f64);
    }

    /// The consumer client's fetch queue over the assigned partitions, from its
    /// statistics.
    pub fn fetch_queue(&self, messages: u64, bytes: u64) {
        self.fetch_queue_messages.set(messages as f64);
        self.fetch_queue_bytes.set(bytes as f64);
    }

    /// A transaction aborted.
    pub fn transaction_aborted(&self, reason: &str) {
        tracing::warn!(
            worker = self.worker,
            reason,
            "transaction aborted; rewinding to the last committed offsets"
        );
        self.aborted.increment(1);
        self.rewinds.increment(1);
    }

    /// The exactly-once producer failed (fenced, ...) and is replaced in process.
    pub fn producer_renewed(&self, reason: &str) {
        tracing::warn!(
            worker = self.worker,
            reason,
            "the producer failed; replacing it and rewinding to the last committed offsets"
        );
        counter!(PRODUCER_RENEWALS, "worker" => self.worker).increment(1);
        self.rewinds.increment(1);
    }

    /// An offset commit finished.
    pub fn offsets_committed(&self, ok: bool) {
        if ok {
            self.commits_ok.increment(1)
        } else {
            self.commits_failed.increment(1)
        }
    }

    /// A rebalance event of `kind` (assign, revoke, lost) over `partitions`.
    pub fn rebalanced(&self, kind: &'static str, partitions: usize, assigned_now: usize) {
        tracing::info!(
            worker = self.worker,
            kind,
            partitions,
            assigned = assigned_now,
            "rebalance"
        );
        counter!(REBALANCES, "worker" => self.worker, "kind" => kind).increment(1);
        self.assigned.set(assigned_now as f64);
        self.status.set_assigned(assigned_now);
    }

    /// A partition was paused because its queue is full.
    pub fn paused(&self) {
        self.backpressure.increment(1);
    }

    /// The client reported a failed delivery.
    pub fn delivery_failed(&self, permanent: bool, error: &str) {
        let class = if permanent { "permanent" } else { "retriable" };
        tracing::warn!(worker = self.worker, class, error, "delivery failed");
        counter!(DELIVERY_ERRORS, "worker" => self.worker, "class" => class).increment(1);
    }

    /// The lag of every partition of `topic` this worker is assigned, from the client's
    /// statistics: replaces what was known, so partitions no longer assigned drop out.
    pub fn assigned_lag(&self, topic: &str, lags: &[(i32, i64)]) {
        let mut table = LAGS.lock().expect("lag table");
        table.retain(|(worker, t, _), _| *worker != self.worker || t != topic);
        for (partition, lag) in lags {
            table.insert((self.worker, topic.to_owned(), *partition), *lag);
        }
    }

    /// Partitions revoked (or lost): their lag is someone else's now.
    pub fn forget_lag(&self, topic: &str, partitions: &[i32]) {
        LAGS.lock().expect("lag table").retain(|(worker, t, p), _| {
            *worker != self.worker || t != topic || !partitions.contains(p)
        });
    }

    /// Total lag over the assignment.
    pub fn total_lag(&self, lag: i64) {
        self.status.lag.store(lag, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests;
