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

use rdkafka::config::FromClientConfigAndContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::Producer;
use tokio::sync::mpsc;

use crate::acking::{AckingCommitter, Acks};
use crate::committer;
use crate::config::{Guarantee, RuntimeConfig};
use crate::consumer::{ConsumerCallbacks, poll_loop};
use crate::error::RuntimeError;
use crate::handler::Handler;
use crate::kafka::Role;
use crate::metrics::{WorkerMetrics, WorkerStatus};
use crate::partition;
use crate::producer::{AckSink, ProducerCallbacks, WorkerProducer};
use crate::shared::{Shared, Spawner};
use crate::topics::{self, RecordLimits};
use crate::transaction::{ProducerFactory, TransactionalCommitter, init_transactions};
use crate::valve::Valve;

/// How long the worker waits for the cluster at start.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Results queued between the partition tasks and the committer.
const COMMITTER_QUEUE: usize = 8192;

/// Runs a worker until `shutdown` resolves (clean stop: `Ok`) or a fatal error.
pub async fn run<H: Handler>(
    config: RuntimeConfig,
    handler: Arc<H>,
    status: Arc<WorkerStatus>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RuntimeError> {
    let name = config.identity.name;
    let metrics = WorkerMetrics::new(name, status.clone());
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

    let consumer = create_consumer(&config, &shared)?;
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
            let producer = create_producer(&config, &limits)?;
            producer.context().attach(shared.clone(), sink.clone());
            Ok(producer)
        })
    };
    let producer = factory()?;
    if config.guarantee == Guarantee::ExactlyOnce {
        init_transactions(&producer, config.transaction_timeout).await?;
        tracing::debug!(worker = name, "transactions initialised");
    }
    // The producer in use, for the final release (the committer may replace it).
    let current = Arc::new(Mutex::new(producer.clone()));
    tokio::spawn(keep_producer_bootstrapped(
        shared.clone(),
        Arc::downgrade(&current),
    ));
    tokio::spawn(prepare_handler(handler.clone(), shared.clone()));

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
            shared.clone(),
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
            shared.clone(),
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
                    failed.fail("the poll thread panicked (see the log above)");
                }
            })
            .map_err(|e| RuntimeError::Fatal(format!("cannot start the poll thread: {e}")))?
    };

    tokio::select! {
        _ = shutdown => tracing::info!(worker = name, "shutting down"),
        reason = shared.failed() => tracing::error!(worker = name, %reason, "stopping after a fatal error"),
    }
    let stop_by = Instant::now() + config.shutdown_timeout;
    *deadline.lock().expect("deadline") = Some(stop_by);
    shared
        .stopping
        .store(true, std::sync::atomic::Ordering::SeqCst);
    status.set_stopping();

    let stopped = tokio::time::timeout_at(stop_by.into(), async {
        let _ = tokio::task::spawn_blocking(move || poll_thread.join()).await;
        committer_task.await
    })
    .await;
    let producer = current.lock().expect("current producer").clone();
    let released = release(producer, stop_by).await;
    match (shared.fatal(), stopped) {
        (Some(reason), _) => Err(RuntimeError::Fatal(reason)),
        (_, Err(_)) => Err(RuntimeError::Fatal(format!(
            "shutdown did not finish within {} s; uncommitted work will be processed again",
            config.shutdown_timeout.as_secs()
        ))),
        (_, Ok(Ok(Err(error)))) => Err(error),
        (_, Ok(Err(error))) => Err(RuntimeError::Fatal(format!(
            "the committer failed: {error}"
        ))),
        _ if !released => Err(RuntimeError::Fatal(
            "the producer did not close within the shutdown deadline".into(),
        )),
        _ => {
            tracing::info!(worker = name, "stopped cleanly");
            Ok(())
        }
    }
}

fn create_consumer(
    config: &RuntimeConfig,
    shared: &Arc<Shared>,
) -> Result<Arc<BaseConsumer<ConsumerCallbacks>>, RuntimeError> {
    let properties = consumer_properties(config);
    let borrowed: Vec<(&str, &str)> = properties
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let client_config = config.kafka.config_for(Role::Consumer, &borrowed);
    let consumer = BaseConsumer::from_config_and_context(
        &client_config,
        ConsumerCallbacks::new(config.identity.name),
    )
    .map_err(|e| RuntimeError::Config(format!("the Kafka consumer rejected its settings: {e}")))?;
    consumer.context().attach(shared.clone());
    Ok(Arc::new(consumer))
}

fn create_producer(
    config: &RuntimeConfig,
    limits: &RecordLimits,
) -> Result<Arc<WorkerProducer>, RuntimeError> {
    let mut properties = producer_properties(config);
    // A batch larger than its topic's max.message.bytes would be refused as a whole:
    // keep batches within the smallest output limit.
    let smallest = limits
        .of(&config.output_topic)
        .min(limits.of(&config.dlq_topic));
    properties.push((
        "batch.size".into(),
        smallest.clamp(1, 1_000_000).to_string(),
    ));
    let borrowed: Vec<(&str, &str)> = properties
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let client_config = config.kafka.config_for(Role::Producer, &borrowed);
    let producer = WorkerProducer::from_config_and_context(
        &client_config,
        ProducerCallbacks::new(
            config.identity.name,
            config.guarantee == Guarantee::ExactlyOnce,
        ),
    )
    .map_err(|e| RuntimeError::Config(format!("the Kafka producer rejected its settings: {e}")))?;
    Ok(Arc::new(producer))
}

/// The consumer's properties for the guarantee; the user's passthrough still wins
/// except for the properties the guarantee depends on (refused at validation).
pub fn consumer_properties(config: &RuntimeConfig) -> Vec<(String, String)> {
    let at_least_once = config.guarantee == Guarantee::AtLeastOnce;
    let mut properties = vec![
        ("group.id", config.group_id.clone()),
        ("client.id", format!("{}-consumer", config.identity.name)),
        (
            "partition.assignment.strategy",
            "cooperative-sticky".to_owned(),
        ),
        ("isolation.level", "read_committed".to_owned()),
        ("auto.offset.reset", "earliest".to_owned()),
        ("enable.partition.eof", "false".to_owned()),
        ("enable.auto.commit", at_least_once.to_string()),
        ("enable.auto.offset.store", "false".to_owned()),
        ("statistics.interval.ms", "5000".to_owned()),
        // The whole prefetch queue, not per partition: memory stays bounded at any lag.
        ("queued.max.messages.kbytes", "2048".to_owned()),
        // When that queue is full, look again soon rather than after a second.
        ("fetch.queue.backoff.ms", "20".to_owned()),
    ];
    if at_least_once {
        properties.push((
            "auto.commit.interval.ms",
            config.commit_interval.as_millis().to_string(),
        ));
    }
    properties
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

/// The producer's properties for the guarantee.
pub fn producer_properties(config: &RuntimeConfig) -> Vec<(String, String)> {
    let mut properties = vec![
        ("client.id", format!("{}-producer", config.identity.name)),
        ("enable.idempotence", "true".to_owned()),
        ("acks", "all".to_owned()),
        ("linger.ms", "5".to_owned()),
        ("compression.type", "lz4".to_owned()),
        // Bounded producer queue: when it is full, the committer waits (backpressure).
        ("queue.buffering.max.messages", "100000".to_owned()),
        ("queue.buffering.max.kbytes", "16384".to_owned()),
    ];
    match config.guarantee {
        Guarantee::ExactlyOnce => {
            let id = config
                .transactional_id
                .clone()
                .unwrap_or_else(|| generated_transactional_id(config));
            let timeout = config.transaction_timeout.as_millis().to_string();
            properties.push(("transactional.id", id));
            properties.push(("transaction.timeout.ms", timeout.clone()));
            // A record must not outlive its transaction.
            properties.push(("message.timeout.ms", timeout));
        }
        Guarantee::AtLeastOnce => properties.push(("message.timeout.ms", "120000".to_owned())),
    }
    properties
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

/// A transactional id unique to this process: safe (no two live instances share it),
/// but a restart cannot fence its predecessor's open transaction, which then lingers
/// until `transaction.timeout.ms`. `--transactional-id` gives the stable alternative.
fn generated_transactional_id(config: &RuntimeConfig) -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
    format!(
        "{}-{}-{}",
        config.group_id,
        host,
        uuid::Uuid::new_v4().simple()
    )
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
        .map_err(|e| RuntimeError::Fatal(e.to_string()))?;
        if let Some(reason) = shared.fatal() {
            return Err(RuntimeError::Fatal(reason));
        }
        match result {
            Ok((existing, _))
                if lacks_topics(&shared.config, &existing)
                    && started.elapsed() < TOPIC_PROPAGATION =>
            {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Ok(existing) => {
                shared
                    .connected
                    .store(true, std::sync::atomic::Ordering::SeqCst);
                return Ok(existing);
            }
            Err(error) if started.elapsed() >= CONNECT_TIMEOUT => {
                return Err(RuntimeError::Fatal(format!(
                    "cannot reach Kafka at {} within {} s: {error}",
                    shared.config.kafka.bootstrap_servers,
                    CONNECT_TIMEOUT.as_secs()
                )));
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
                shared.fail(format!(
                    "cannot prepare the output schema: {}",
                    failure.message
                ));
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
        if shared.stopping.load(std::sync::atomic::Ordering::SeqCst) || shared.fatal().is_some() {
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
