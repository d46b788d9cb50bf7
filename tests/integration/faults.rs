//! Deterministic fault injection on librdkafka's mock cluster: each fault must take the
//! runtime branch meant for it, which the tests read from the worker's metrics.
//! (The mock cluster stands in for nothing else: every other test uses real brokers.)
//!
//! The mock does not hide aborted transactions from `read_committed` readers (its
//! Fetch answers no aborted-transaction list), so exactly-once here is read from the
//! worker's own count of records in committed transactions; the real-broker tests
//! check what readers see.

use std::sync::Arc;
use std::time::Duration;

use order_status::OrderStatusWorker;
use orderflow_events::{Codec, CodecSettings};
use orderflow_runtime::clock::SystemClock;
use orderflow_runtime::metrics::{WorkerStatus, prometheus};
use orderflow_runtime::{AvroHandler, Processor, RuntimeError, WorkerArgs, WorkerIdentity, engine};
use orderflow_tests::orders::events;
use orderflow_tests::{Kafka, unique};
use rdkafka::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, DefaultProducerContext, Producer};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use tokio::sync::oneshot;

struct Run {
    name: &'static str,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), RuntimeError>>,
}

/// Starts order-status in this process against `mock`, under a unique metric name, in
/// `group` (default: a group of its own).
fn start(mock: &Mock, group: Option<&str>, extra: &[&str]) -> Run {
    orderflow_runtime::telemetry::init_logging(Some(orderflow_runtime::config::LogFormat::Pretty));
    let name: &'static str = Box::leak(unique("faults").into_boxed_str());
    let (input, output, dlq) = (&mock.input, &mock.output, &mock.dlq);
    let mut flags = vec![
        "--bootstrap-servers",
        mock.kafka.bootstrap_servers(),
        "--group-id",
        group.unwrap_or(name),
        "--input-topic",
        input,
        "--output-topic",
        output,
        "--dlq-topic",
        dlq,
        "--retry-initial-ms",
        "50",
    ];
    if !extra
        .windows(2)
        .any(|w| w == ["--guarantee", "at-least-once"])
    {
        flags.extend(["--transactional-id", name]);
    }
    flags.extend_from_slice(extra);
    let args = WorkerArgs::from_flags(flags).expect("flags");
    let identity = WorkerIdentity {
        name,
        version: "test",
        input_topic: "orders.lifecycle",
        output_topic: "orders.status",
    };
    let config = args.resolve(identity).expect("config");
    let codec = Arc::new(Codec::new(CodecSettings::default()).unwrap());
    let processor = OrderStatusWorker::new(Default::default()).unwrap();
    let handler = Arc::new(AvroHandler::new(
        processor,
        codec,
        output,
        Arc::new(SystemClock),
    ));
    let status = Arc::new(WorkerStatus::new(name));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(engine::run(config, handler, status, async {
        let _ = stopped.await;
    }));
    Run { name, stop, task }
}

impl Run {
    async fn stop(self) -> Result<(), RuntimeError> {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("stops")
            .expect("task")
    }
}

/// The sum of a metric's samples for `worker` whose labels include `labels`.
fn metric(worker: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let text = orderflow_runtime::metrics::render(&prometheus(), &[]);
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .filter(|line| line.contains(&format!("worker=\"{worker}\"")))
        .filter(|line| {
            labels
                .iter()
                .all(|(k, v)| line.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct Mock {
    /// The client that owns the mock cluster (`test.mock.num.brokers`): through it the
    /// tests reach the parts of the mock API that `MockCluster` does not wrap.
    owner: BaseProducer,
    kafka: Kafka,
    input: String,
    output: String,
    dlq: String,
}

fn mock(brokers: i32) -> Mock {
    let owner: BaseProducer = ClientConfig::new()
        .set("test.mock.num.brokers", brokers.to_string())
        .create()
        .expect("mock cluster");
    let (input, output, dlq) = (unique("in"), unique("out"), unique("dlq"));
    let kafka = {
        let cluster = owner.client().mock_cluster().expect("mock cluster");
        for topic in [&input, &output, &dlq] {
            cluster
                .create_topic(topic, 3, brokers.min(3))
                .expect("mock topic");
        }
        Kafka::at(&cluster.bootstrap_servers())
    };
    Mock {
        owner,
        kafka,
        input,
        output,
        dlq,
    }
}

impl Mock {
    fn cluster(&self) -> MockCluster<'_, DefaultProducerContext> {
        self.owner.client().mock_cluster().expect("mock cluster")
    }

    /// The next `count` requests of `api` to `broker` are answered normally, each
    /// `delay` late (a coordinator whose answers do not come back in time).
    fn delay_requests(&self, broker: i32, api: RDKafkaApiKey, count: usize, delay: Duration) {
        orderflow_kafka_bytes::mock::delay_requests(self.owner.client(), broker, api, count, delay)
            .expect("delay pushed");
    }

    /// Starts counting the requests the cluster receives (see `requests_seen`).
    fn track_requests(&self) {
        orderflow_kafka_bytes::mock::track_requests(self.owner.client()).expect("tracking");
    }

    /// How many requests of `api` the cluster received since `track_requests`.
    fn requests_seen(&self, api: RDKafkaApiKey) -> usize {
        orderflow_kafka_bytes::mock::requests_seen(self.owner.client(), api).expect("requests")
    }
}

/// Every input's output was in exactly one committed transaction.
fn assert_committed_once(name: &str, inputs: usize) {
    let committed = metric(name, "orderflow_records_produced_total", &[]);
    assert_eq!(
        committed, inputs as f64,
        "records in committed transactions"
    );
    assert_eq!(metric(name, "orderflow_dead_letters_total", &[]), 0.0);
}

async fn load(mock: &Mock, orders: usize, total: usize) -> usize {
    let events = events(&mock.input, orders, total).await;
    let records: Vec<_> = events
        .iter()
        .map(|e| (e.order_id.clone(), e.bytes.clone()))
        .collect();
    mock.kafka.produce(&mock.input, &records).await;
    events.len()
}

fn run(mock: &Mock) -> Run {
    start(mock, None, &[])
}

async fn wait_committed(name: &str, records: usize) {
    wait_for("every output committed", Duration::from_secs(60), || {
        metric(name, "orderflow_records_produced_total", &[]) >= records as f64
    })
    .await;
}

/// Runs a worker (with `extra` flags) until every one of `inputs` has its output
/// committed, checks that it is still running (nothing made it exit), stops it cleanly,
/// and returns its name and how many producers it replaced.
async fn run_through(mock: &Mock, inputs: usize, extra: &[&str]) -> (&'static str, f64) {
    let run = start(mock, None, extra);
    let name = run.name;
    wait_committed(name, inputs).await;
    assert!(!run.task.is_finished(), "the worker is still running");
    let renewals = metric(name, "orderflow_producer_renewals_total", &[]);
    run.stop().await.expect("clean stop");
    (name, renewals)
}

#[orderflow_tests::test(timeout = 300)]
async fn retriable_produce_errors_are_retried_by_the_client_without_aborting() {
    let mock = mock(1);
    let inputs = load(&mock, 20, 200).await;
    let refusals = [RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS; 3];
    mock.cluster()
        .request_errors(RDKafkaApiKey::Produce, &refusals);
    let run = run(&mock);
    let name = run.name;
    wait_committed(name, inputs).await;
    run.stop().await.expect("clean stop");
    assert_eq!(
        metric(
            name,
            "orderflow_transactions_total",
            &[("outcome", "aborted")]
        ),
        0.0
    );
    assert_committed_once(name, inputs);
}

#[orderflow_tests::test(timeout = 300)]
async fn a_batch_the_broker_refuses_aborts_rewinds_and_blames_no_input() {
    let mock = mock(1);
    let inputs = load(&mock, 20, 200).await;
    let refusal = [RDKafkaRespErr::RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE];
    mock.cluster()
        .request_errors(RDKafkaApiKey::Produce, &refusal);
    let run = run(&mock);
    let name = run.name;
    wait_committed(name, inputs).await;
    run.stop().await.expect("clean stop");
    let aborted = metric(
        name,
        "orderflow_transactions_total",
        &[("outcome", "aborted")],
    );
    let refused = metric(
        name,
        "orderflow_delivery_errors_total",
        &[("class", "permanent")],
    );
    let collateral = metric(
        name,
        "orderflow_delivery_errors_total",
        &[("class", "retriable")],
    );
    println!("aborted {aborted}, refused {refused}, collateral {collateral}");
    // The batch's records are small: none is poison. librdkafka may need a second
    // abort to bump the producer epoch after the failed batch; never a loop.
    assert!((1.0..=3.0).contains(&aborted), "aborted {aborted}");
    assert_eq!(metric(name, "orderflow_rewinds_total", &[]), aborted);
    assert!(collateral >= 1.0 && refused == 0.0);
    assert_committed_once(name, inputs);
}

#[orderflow_tests::test(timeout = 300)]
async fn an_abortable_commit_error_aborts_rewinds_and_commits_every_input_once() {
    let mock = mock(1);
    let inputs = load(&mock, 20, 200).await;
    // What a zombie whose group generation moved on gets: the transaction must abort.
    let refusal = [RDKafkaRespErr::RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION];
    mock.cluster()
        .request_errors(RDKafkaApiKey::TxnOffsetCommit, &refusal);
    let run = run(&mock);
    let name = run.name;
    wait_committed(name, inputs).await;
    run.stop().await.expect("clean stop");
    let aborted = metric(
        name,
        "orderflow_transactions_total",
        &[("outcome", "aborted")],
    );
    println!("aborted {aborted}");
    assert!(aborted >= 1.0, "the abortable branch ran");
    assert_eq!(metric(name, "orderflow_rewinds_total", &[]), aborted);
    assert_committed_once(name, inputs);
}

/// A transaction that outlived its timeout (the coordinator moved during an outage) is
/// aborted by the broker, which fences the producer: the worker replaces its producer
/// in process, rewinds, and commits every input once, without a restart.
#[orderflow_tests::test(timeout = 300)]
async fn a_fenced_producer_is_replaced_in_process_and_every_input_commits_once() {
    let mock = mock(1);
    let inputs = load(&mock, 20, 200).await;
    let refusal = [RDKafkaRespErr::RD_KAFKA_RESP_ERR_PRODUCER_FENCED];
    mock.cluster()
        .request_errors(RDKafkaApiKey::EndTxn, &refusal);
    let (name, renewals) = run_through(&mock, inputs, &[]).await;
    assert_eq!(renewals, 1.0, "one fenced producer replaced");
    assert_committed_once(name, inputs);
}

/// An abort that fails too (the coordinator refused the commit, then the abort, as one
/// that moves during a leader election may): the open transaction's fate is unknown to
/// the worker, so it replaces its producer, whose init settles the transaction, rewinds
/// and commits every input once, without a restart.
#[orderflow_tests::test(timeout = 300)]
async fn a_failed_abort_replaces_the_producer_in_process_and_every_input_commits_once() {
    let mock = mock(1);
    let inputs = load(&mock, 20, 200).await;
    // The first EndTxn is the first commit, the second its abort; an unknown server
    // error is neither retriable nor fatal to the client.
    let refusals = [RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN; 2];
    mock.cluster()
        .request_errors(RDKafkaApiKey::EndTxn, &refusals);
    let (name, renewals) = run_through(&mock, inputs, &[]).await;
    let aborted = metric(
        name,
        "orderflow_transactions_total",
        &[("outcome", "aborted")],
    );
    assert_eq!(aborted, 1.0, "the commit refused, its abort tried");
    assert_eq!(renewals, 1.0, "the producer whose abort failed replaced");
    assert_committed_once(name, inputs);
}

/// A transaction call that gets no answer within the transaction timeout (after a
/// broker restart, a producer's requests to its coordinator timed out again and again
/// while queued on a connection that did not come back) is not repeated for minutes:
/// the broker aborts that transaction anyway, so the worker replaces its producer,
/// rewinds, and commits every input once, without a restart.
#[orderflow_tests::test(timeout = 300)]
async fn an_unanswered_transaction_call_replaces_the_producer_and_every_input_commits_once() {
    let mock = mock(1);
    let inputs = load(&mock, 20, 200).await;
    // The first commit's offsets reach the coordinator, whose answer comes two
    // minutes late: far past the 3 s transaction timeout, and past the test's wait.
    mock.delay_requests(
        1,
        RDKafkaApiKey::AddOffsetsToTxn,
        1,
        Duration::from_secs(120),
    );
    let (name, renewals) = run_through(&mock, inputs, &["--transaction-timeout-ms", "3000"]).await;
    assert_eq!(
        renewals, 1.0,
        "the producer left without an answer replaced"
    );
    assert_committed_once(name, inputs);
}

/// Fenced again and again (another live instance with the same transactional id), the
/// worker stops with a reason that says so instead of fencing the other one forever.
#[orderflow_tests::test(timeout = 300)]
async fn a_producer_fenced_again_and_again_stops_the_worker_with_a_clear_reason() {
    let mock = mock(1);
    load(&mock, 5, 50).await;
    let refusals = [RDKafkaRespErr::RD_KAFKA_RESP_ERR_PRODUCER_FENCED; 8];
    mock.cluster()
        .request_errors(RDKafkaApiKey::EndTxn, &refusals);
    let run = run(&mock);
    let result = tokio::time::timeout(Duration::from_secs(120), run.task).await;
    let error = result
        .expect("stops by itself")
        .expect("task")
        .expect_err("fenced again and again is fatal");
    println!("fatal: {error}");
    assert!(
        matches!(
            error.origin(),
            RuntimeError::ProducerRenewals { renewals: 4, .. }
        ),
        "{error:?}"
    );
    let reason = error.to_string();
    assert!(reason.contains("failed 4 times"), "{reason}");
    assert!(reason.contains("--transactional-id"), "{reason}");
    assert_eq!(
        metric(run.name, "orderflow_producer_renewals_total", &[]),
        3.0
    );
    assert_eq!(
        metric(
            run.name,
            "orderflow_transactions_total",
            &[("outcome", "committed")]
        ),
        0.0
    );
}

#[orderflow_tests::test(timeout = 300)]
async fn the_worker_rides_out_a_broker_outage_and_commits_everything_once() {
    let mock = mock(1);
    let first = load(&mock, 20, 200).await;
    let run = run(&mock);
    let name = run.name;
    wait_committed(name, first).await;
    let committed_before = metric(
        name,
        "orderflow_transactions_total",
        &[("outcome", "committed")],
    );
    mock.cluster().broker_down(1).unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    mock.cluster().broker_up(1).unwrap();
    let second = load(&mock, 20, 200).await;
    wait_committed(name, first + second).await;
    let committed_after = metric(
        name,
        "orderflow_transactions_total",
        &[("outcome", "committed")],
    );
    run.stop().await.expect("clean stop");
    assert!(
        committed_after > committed_before,
        "transactions commit again after the outage"
    );
    assert_committed_once(name, first + second);
}

#[orderflow_tests::test(timeout = 300)]
async fn a_commit_refused_inside_a_revoke_aborts_rewinds_and_loses_nothing() {
    // The revoke's commit fails while the member keeps other partitions: the abort
    // rewinds those inside the rebalance callback, and the poll that ran the callback
    // may return the first message read after the seek. It must be processed, not
    // dropped as read before the rewind (its successors would go on without it).
    let mock = mock(1);
    let inputs = load(&mock, 200, 20_000).await;
    // Long transactions: the first commit after the refusal is the revoke's own.
    let slow = [
        "--commit-interval-ms",
        "5000",
        "--transaction-timeout-ms",
        "60000",
    ];
    let group = unique("faults-group");
    let first = start(&mock, Some(&group), &slow);
    wait_for(
        "the first member consuming",
        Duration::from_secs(30),
        || metric(first.name, "orderflow_messages_consumed_total", &[]) > 0.0,
    )
    .await;
    let refusal = [RDKafkaRespErr::RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION];
    mock.cluster()
        .request_errors(RDKafkaApiKey::TxnOffsetCommit, &refusal);
    let second = start(&mock, Some(&group), &slow);
    let names = [first.name, second.name];
    let committed = || {
        names
            .iter()
            .map(|name| metric(name, "orderflow_records_produced_total", &[]))
            .sum::<f64>()
    };
    wait_for("every output committed", Duration::from_secs(90), || {
        committed() >= inputs as f64
    })
    .await;
    let aborted = metric(
        first.name,
        "orderflow_transactions_total",
        &[("outcome", "aborted")],
    );
    println!("aborted {aborted}, committed {}", committed());
    second.stop().await.expect("clean stop");
    first.stop().await.expect("clean stop");
    assert!(aborted >= 1.0, "the revoke's commit aborted");
    assert_eq!(
        committed(),
        inputs as f64,
        "records in committed transactions"
    );
}

#[orderflow_tests::test(timeout = 300)]
async fn a_stop_while_the_member_rejoins_the_group_gives_its_partitions_up_in_time() {
    // librdkafka postpones an unsubscribe while the member rejoins the group, until the
    // JoinGroup and SyncGroup answers come, and the coordinator answers a JoinGroup only
    // once every member has rejoined (up to the rebalance timeout): the worker must give
    // its partitions up and commit without waiting for that. Here the rejoin's answer
    // comes 40 s late, twice the time a stop may take.
    let mock = mock(1);
    let first = load(&mock, 20, 200).await;
    let run = run(&mock);
    let name = run.name;
    wait_committed(name, first).await;
    mock.track_requests();
    mock.delay_requests(1, RDKafkaApiKey::JoinGroup, 1, Duration::from_secs(40));
    mock.cluster().request_errors(
        RDKafkaApiKey::Heartbeat,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS],
    );
    wait_for("the member rejoining", Duration::from_secs(30), || {
        mock.requests_seen(RDKafkaApiKey::JoinGroup) > 0
    })
    .await;
    // A cooperative member keeps its partitions while it rejoins: it goes on working.
    let second = load(&mock, 20, 200).await;
    wait_committed(name, first + second).await;
    run.stop().await.expect("clean stop");
    assert_committed_once(name, first + second);
}

/// At-least-once: a stop commits again a commit refused while the group moves to a
/// new generation (`refusal`), so that the next owner does not do its work again.
async fn stop_commits_again_after(refusal: RDKafkaRespErr) {
    let mock = mock(1);
    let inputs = load(&mock, 20, 300).await;
    let run = start(
        &mock,
        None,
        &[
            "--guarantee",
            "at-least-once",
            "--commit-interval-ms",
            "60000",
        ],
    );
    let name = run.name;
    wait_committed(name, inputs).await;
    mock.cluster()
        .request_errors(RDKafkaApiKey::OffsetCommit, &[refusal; 4]);
    run.stop().await.expect("clean stop");
    let committed = mock.kafka.committed(name, &mock.input, 3);
    println!("committed offsets after the stop: {committed:?}");
    assert_eq!(
        committed.values().sum::<i64>(),
        inputs as i64,
        "every processed input committed"
    );
    assert_eq!(metric(name, "orderflow_dead_letters_total", &[]), 0.0);
}

#[orderflow_tests::test(timeout = 300)]
async fn an_at_least_once_stop_commits_again_what_a_rebalance_refused() {
    // While a member joins or leaves, the broker answers the group's offset commits
    // REBALANCE_IN_PROGRESS until every member has synced. A stopping at-least-once
    // worker that gave its final commit up then would leave all it had done since its
    // last commit to be done again by the next owner. Background commits are off here
    // (a one-minute interval): only the stop commits.
    stop_commits_again_after(RDKafkaRespErr::RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS).await;
}

#[orderflow_tests::test(timeout = 300)]
async fn an_at_least_once_stop_commits_again_with_the_generation_it_rejoins_with() {
    // A member stopping in the middle of a rebalance commits with the generation it
    // knows, which the group has left: ILLEGAL_GENERATION until its rejoin brings it the
    // new one (seen in rolling restarts: `offsets not committed ... IllegalGeneration`,
    // then duplicates).
    stop_commits_again_after(RDKafkaRespErr::RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION).await;
}
