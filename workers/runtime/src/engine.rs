//! Starting and stopping a worker: clients, topics, the poll thread, the partition
//! tasks and the committer, wired together; shutdown bounded by a deadline.
//!
//! Start: connect (authentication and TLS failures stop here with their reason),
//! check the topics, initialise transactions, subscribe. Stop (on the `shutdown`
//! future or a fatal error): stop fetching, let partition tasks finish what they have
//! queued, make the final commit, leave the group. Whatever is left when the deadline
//! passes is abandoned: it was not committed, so it is processed again by the next
//! owner; a transaction left open is aborted by the broker or fenced by the next
//! instance with the same transactional id.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::Producer;
use tokio::sync::mpsc;

use crate::acking::{AckingCommitter, Acks};
use crate::clients;
use crate::committer;
use crate::config::{Guarantee, RuntimeConfig};
use crate::consumer::ConsumerCallbacks;
use crate::error::RuntimeError;
use crate::handler::Handler;
use crate::lifecycle::Phase;
use crate::metrics::{WorkerMetrics, WorkerStatus};
use crate::partition;
use crate::poll_loop::poll_loop;
use crate::producer::{AckSink, WorkerProducer};
use crate::shared::{Shared, Spawner};
use crate::topics;
use crate::transaction::{ProducerFactory, TransactionalCommitter, init_transactions};
use crate::valve::Valve;

/// How long the worker waits for the cluster at start.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Results queued between the partition tasks and the committer; as many more wait in
/// memory while a commit runs (see `committer::commit`). A result holds its input and
/// its outputs, about 1 KiB for an order event: 2,048 cover a 10 ms commit at 200,000
/// events/s, and beyond that the partition tasks wait (which bounds memory) instead of
/// queueing 8,192 (16 MiB at 1 KiB, measured as 8 to 11 MiB more steady RSS).
const COMMITTER_QUEUE: usize = 2048;

/// Runs a worker until `shutdown` resolves (clean stop: `Ok`) or a fatal error.
pub async fn run<H: Handler>(
    config: RuntimeConfig,
    handler: Arc<H>,
    status: Arc<WorkerStatus>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RuntimeError> {
    let name = config.identity.name;
    let metrics = WorkerMetrics::new(name, config.identity.version, status.clone());
    let (items_tx, items_rx) = mpsc::channel(COMMITTER_QUEUE);
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let valve = Arc::new(Mutex::new(Valve::new(config.valve)));
    let spawner: Spawner = {
        let handler = handler.clone();
        Box::new(move |shared, partition, queue, restart, cancel| {
            shared.runtime.spawn(partition::run(
                partition,
                queue,
                restart,
                handler.clone(),
                items_tx.clone(),
                shared.clone(),
                valve.clone(),
                cancel,
            ))
        })
    };
    let shared = Arc::new(Shared::new(
        config.clone(),
        metrics,
        spawner,
        control_tx,
        tokio::runtime::Handle::current(),
    ));

    let consumer = clients::create_consumer(&config, &shared)?;
    // Shutdown is watched from the start: a SIGTERM while the worker connects, checks its
    // topics or initialises transactions stops it cleanly, as nothing is consumed before
    // the subscription below (the signal's handler is installed before this runs).
    let shutdown = shutdown.shared();
    let starting = async {
        let (existing, replication) = connect(&shared, &consumer).await?;
        tracing::debug!(worker = name, "connected");
        let outputs = [config.output_topic.as_str(), config.dlq_topic.as_str()];
        let limits = topics::prepare(
            &config.kafka,
            &config.input_topic,
            &outputs,
            &existing,
            config.create_topics,
        )
        .await?;
        tracing::debug!(worker = name, "topics checked");
        if config.guarantee == Guarantee::ExactlyOnce {
            let single = topics::single_replica(
                &replication,
                &[
                    config.output_topic.as_str(),
                    config.dlq_topic.as_str(),
                    "__transaction_state",
                    "__consumer_offsets",
                ],
            );
            if !single.is_empty() {
                tracing::warn!(
                    worker = name,
                    topics = ?single,
                    "exactly-once cannot survive a restart of the broker of topics with one replica: \
                     Kafka drops the transaction markers of partitions without a leader, so a commit \
                     in progress can lose its outputs while its input offsets stand; use replication \
                     factor 3 with min.insync.replicas 2 in production"
                );
            }
        }
        let _ = shared.limits.set(limits.clone());
        let acks = match config.guarantee {
            Guarantee::AtLeastOnce => Some(Acks::new(shared.clone())),
            Guarantee::ExactlyOnce => None,
        };
        // Creates the producer: once here, and again in process when the exactly-once
        // producer was fenced (see `transaction`).
        let factory: ProducerFactory = {
            let (config, limits, shared) = (config.clone(), limits.clone(), shared.clone());
            let sink = acks.clone().map(|a| a as Arc<dyn AckSink>);
            Arc::new(move || {
                let producer = clients::create_producer(&config, &limits)?;
                producer.context().attach(shared.clone(), sink.clone());
                Ok(producer)
            })
        };
        let producer = factory()?;
        if config.guarantee == Guarantee::ExactlyOnce {
            init_transactions(&producer, config.transaction_timeout).await?;
            tracing::debug!(worker = name, "transactions initialised");
        }
        Ok::<_, RuntimeError>((limits, acks, factory, producer))
    };
    let (limits, acks, factory, producer) = tokio::select! {
        biased;
        () = shutdown.clone() => {
            tracing::info!(worker = name, "shutting down before the worker started");
            return Ok(());
        }
        started = starting => started?,
    };
    // The producer in use, for the final release (the committer may replace it).
    let current = Arc::new(Mutex::new(producer.clone()));
    tokio::spawn(keep_producer_bootstrapped(
        shared.clone(),
        Arc::downgrade(&current),
    ));
    tokio::spawn(prepare_handler(handler.clone(), shared.clone()));

    let policy = committer::CommitPolicy::of(&shared.config);
    let committer_task = match acks {
        Some(acks) => tokio::spawn(committer::run(
            AckingCommitter::new(
                producer.clone(),
                consumer.clone(),
                shared.clone(),
                acks,
                limits,
            ),
            items_rx,
            control_rx,
            policy,
            shared.lifecycle.clone(),
        )),
        None => tokio::spawn(committer::run(
            TransactionalCommitter::new(
                producer,
                factory,
                current.clone(),
                consumer.clone(),
                shared.clone(),
                limits,
            ),
            items_rx,
            control_rx,
            policy,
            shared.lifecycle.clone(),
        )),
    };

    consumer
        .subscribe(&[&config.input_topic])
        .map_err(|e| RuntimeError::kafka(format!("subscribing to {}", config.input_topic), e))?;
    tracing::info!(
        worker = name,
        group = %config.group_id,
        input = %config.input_topic,
        output = %config.output_topic,
        dlq = %config.dlq_topic,
        guarantee = config.guarantee.as_str(),
        format = config.codec.output_format.as_str(),
        "worker started"
    );
    let deadline = Arc::new(Mutex::new(None));
    let poll_thread = {
        let (shared, deadline) = (shared.clone(), deadline.clone());
        // The poll thread gets this reference and drops the consumer last (see poll_loop).
        std::thread::Builder::new()
            .name(format!("{name}-poll"))
            .spawn(move || {
                let failed = shared.clone();
                let run = std::panic::AssertUnwindSafe(|| poll_loop(shared, consumer, deadline));
                if std::panic::catch_unwind(run).is_err() {
                    // The worker must not sit there without a poll thread.
                    failed.fail(RuntimeError::Stopped(
                        "the poll thread panicked (see the log above)".into(),
                    ));
                }
            })
            .map_err(|source| RuntimeError::Thread {
                thread: "the poll thread",
                source,
            })?
    };

    tokio::select! {
        _ = shutdown => tracing::info!(worker = name, "shutting down"),
        error = shared.failed() => tracing::error!(worker = name, %error, "stopping after a fatal error"),
    }
    let stop_by = Instant::now() + config.shutdown_timeout;
    *deadline.lock().expect("deadline") = Some(stop_by);
    shared.lifecycle.advance(Phase::Stopping);
    status.set_stopping();

    let stopped = tokio::time::timeout_at(stop_by.into(), async {
        let _ = tokio::task::spawn_blocking(move || poll_thread.join()).await;
        committer_task.await
    })
    .await;
    let producer = current.lock().expect("current producer").clone();
    let released = release(producer, stop_by).await;
    match (shared.fatal(), stopped) {
        (Some(first), _) => Err(RuntimeError::Failed(first)),
        (_, Err(_)) => Err(RuntimeError::ShutdownTimeout(config.shutdown_timeout)),
        (_, Ok(Ok(Err(error)))) => Err(error),
        (_, Ok(Err(source))) => Err(RuntimeError::Task {
            task: "the committer",
            source,
        }),
        _ if !released => Err(RuntimeError::ProducerNotClosed),
        _ => {
            tracing::info!(worker = name, "stopped cleanly");
            Ok(())
        }
    }
}

/// Waits until the cluster answers, so that wrong credentials or TLS settings stop the
/// worker with their reason instead of a silent retry loop. Returns the topics the
/// cluster has, and the fewest replicas of each.
async fn connect(
    shared: &Arc<Shared>,
    consumer: &Arc<BaseConsumer<ConsumerCallbacks>>,
) -> Result<(HashSet<String>, HashMap<String, usize>), RuntimeError> {
    let started = Instant::now();
    loop {
        let probe = consumer.clone();
        let result = tokio::task::spawn_blocking(move || {
            let result = probe
                .fetch_metadata(None, Duration::from_secs(5))
                .map(|metadata| (topics::existing(&metadata), topics::replication(&metadata)));
            // Serves the client's queued events, log lines first, to the callbacks: its
            // error events (authentication, TLS) become this worker's stop reason. One
            // event per poll call.
            for _ in 0..256 {
                let _ = probe.poll(Duration::ZERO);
            }
            result
        })
        .await
        .map_err(|source| RuntimeError::Task {
            task: "the metadata request",
            source,
        })?;
        if let Some(first) = shared.fatal() {
            return Err(RuntimeError::Failed(first));
        }
        match result {
            Ok((existing, _))
                if lacks_topics(&shared.config, &existing)
                    && started.elapsed() < TOPIC_PROPAGATION =>
            {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Ok(existing) => {
                shared.lifecycle.advance(Phase::Running);
                return Ok(existing);
            }
            Err(source) if started.elapsed() >= CONNECT_TIMEOUT => {
                return Err(RuntimeError::Unreachable {
                    servers: shared.config.kafka.bootstrap_servers.clone(),
                    within: CONNECT_TIMEOUT,
                    source,
                });
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// How long a topic the worker needs may be missing from the metadata before it counts
/// as missing: brokers apply the controller's records one after the other, so a topic
/// created a moment ago can be absent from the metadata of the broker that answered.
const TOPIC_PROPAGATION: Duration = Duration::from_secs(5);

/// Whether one of the worker's topics is absent from `existing` while the worker would
/// refuse to start without it (it creates missing topics only with `--create-topics`).
fn lacks_topics(config: &RuntimeConfig, existing: &HashSet<String>) -> bool {
    let needed = [&config.input_topic, &config.output_topic, &config.dlq_topic];
    !config.create_topics && !topics::missing(existing, needed.map(String::as_str)).is_empty()
}

/// Retries the handler's preparation until it succeeds; then the schemas are ready.
async fn prepare_handler<H: Handler>(handler: Arc<H>, shared: Arc<Shared>) {
    let mut attempt = 1;
    loop {
        match handler.prepare().await {
            Ok(()) => {
                shared.metrics.status.set_schemas_ready();
                return;
            }
            Err(failure) if failure.class.as_str() == "transient" => {
                let delay = shared.config.retry.delay(attempt);
                tracing::warn!(worker = shared.config.identity.name, error = %failure.message, "output schema not ready; retrying");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(failure) => {
                shared.fail(RuntimeError::Schema(failure.message));
                return;
            }
        }
    }
}

/// Looks at the producer in use once a second (the consumer's poll loop does the same
/// for the consumer) for a client that a metadata response left without brokers. Holds
/// the slot weakly and stops with the worker: the producer's last reference is never
/// dropped here.
async fn keep_producer_bootstrapped(
    shared: Arc<Shared>,
    current: std::sync::Weak<Mutex<Arc<WorkerProducer>>>,
) {
    let mut watch = crate::kafka::rebootstrap_watch(&shared.config.kafka);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if shared.lifecycle.reached(Phase::Stopping) || shared.fatal().is_some() {
            break;
        }
        let Some(slot) = current.upgrade() else { break };
        let producer = slot.lock().expect("current producer");
        crate::kafka::keep_bootstrapped(&mut watch, producer.client(), "producer");
    }
}

/// Drops the producer on a helper thread: librdkafka's destroy waits for outstanding
/// requests, which may never finish with the broker gone. Returns whether it finished
/// before the deadline.
async fn release(producer: Arc<WorkerProducer>, deadline: Instant) -> bool {
    let (done, finished) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = producer.flush(deadline.saturating_duration_since(Instant::now()));
        drop(producer);
        let _ = done.send(());
    });
    tokio::time::timeout_at(deadline.into(), finished)
        .await
        .is_ok()
}
