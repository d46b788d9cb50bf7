//! `orderflow dev` (what `make run` starts): an embedded Kafka-protocol broker
//! (librdkafka's mock cluster), the topics, all five workers in this process, a
//! generator of order lifecycles, and a live view. `--bootstrap-servers` (with
//! `--command-config` for a secured one) runs the same against a real cluster. The HTTP
//! gateway ([`crate::gateway`]) runs beside them on `--gateway-addr`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use orderflow_events::{Codec, OrderEvent};
use orderflow_runtime::clock::{SystemClock, now_millis};
use orderflow_runtime::config::{KafkaArgs, LogFormat};
use orderflow_runtime::kafka::KafkaSettings;
use orderflow_runtime::metrics::{WorkerStatus, prometheus};
use orderflow_runtime::telemetry::init_logging_at;
use orderflow_runtime::worker::{identity, load_processor, shutdown_signal};
use orderflow_runtime::{AvroHandler, Processor, RuntimeError, WorkerArgs, engine, http};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::Producer;
use tokio::sync::watch;

use crate::cli::DevArgs;
use crate::lifecycle::{Generator, Mix};
use crate::loadgen::{due, producer, send};
use crate::topology::{INPUT_TOPIC, USERS_TOPIC, all_topics};

/// Runs the dev stack until Ctrl-C (or `--duration`).
pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    let log_file = configure_logs()?;
    // The mock cluster lives on this stack frame for the whole run.
    let mock = match &args.bootstrap_servers {
        Some(_) => None,
        None => Some(MockCluster::new(1).context("starting the embedded broker")?),
    };
    let bootstrap = match (&mock, &args.bootstrap_servers) {
        (Some(mock), _) => mock.bootstrap_servers(),
        (None, Some(servers)) => servers.clone(),
        (None, None) => unreachable!(),
    };
    // The workers take the same connection flags as the commands that build `settings`.
    let mut connection = vec!["--bootstrap-servers".to_owned(), bootstrap.clone()];
    if let Some(path) = &args.command_config {
        connection.extend(["--command-config".to_owned(), path.display().to_string()]);
    }
    let settings = KafkaArgs {
        bootstrap_servers: Some(bootstrap.clone()),
        command_config: args.command_config.clone(),
        kafka_config: Vec::new(),
        sasl_username: None,
        sasl_password: None,
    }
    .settings()?;
    let topics = all_topics();
    match &mock {
        Some(mock) => {
            for topic in &topics {
                mock.create_topic(topic, args.partitions, 1)
                    .with_context(|| format!("creating {topic}"))?;
            }
        }
        None => {
            crate::topics::ensure(&settings, &topics, args.partitions, 1, &[]).await?;
        }
    }
    println!("orderflow dev: Kafka-protocol broker at {bootstrap}");
    println!("  try: kcat -b {bootstrap} -L    kcat -b {bootstrap} -C -t orders.status -o end");
    println!("  topics: {}", topics.join(", "));
    println!("  metrics: http://{}/metrics", args.http_addr);
    println!(
        "  gateway: http://{}/v1/orders/events (the API: http://{}/openapi.json)",
        args.gateway_addr, args.gateway_addr
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    let stop = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stopped| *stopped).await;
        }
    };

    let mut statuses = Vec::new();
    let mut workers = Vec::new();
    macro_rules! start {
        ($worker:ty) => {
            start!($worker, <$worker>::NAME)
        };
        // A further input of a worker: its own status and transactional id, the
        // worker's group and dead-letter topic.
        ($worker:ty, $name:expr) => {{
            let status = Arc::new(WorkerStatus::new($name));
            statuses.push(status.clone());
            workers.push(tokio::spawn(run_worker::<$worker>(
                connection.clone(),
                args.guarantee,
                status,
                stop(),
            )));
        }};
    }
    start!(order_validator::OrderValidator);
    start!(order_status::OrderStatusWorker);
    start!(notifier::Notifier);
    start!(notifier::UserNotifier, "notifier.users");
    start!(risk_scorer::RiskScorer);
    start!(order_saga::OrderSaga);

    let gateway = tokio::spawn(crate::gateway::serve(
        gateway_args(&connection, args.gateway_addr)?,
        stop(),
    ));

    let router = http::router(prometheus(), statuses.clone());
    let server = http::serve(args.http_addr, router, stop()).await?;
    let generated = Arc::new(AtomicU64::new(0));
    let generator = tokio::spawn(generate(settings, args.clone(), generated.clone(), stop()));
    let header = crate::view::Header {
        bootstrap: bootstrap.clone(),
        http: args.http_addr.to_string(),
        log_file,
        generated: generated.clone(),
    };
    let view = tokio::spawn(crate::view::run(header, statuses.clone(), stop()));

    let until = args.duration;
    tokio::select! {
        _ = shutdown_signal() => {}
        _ = async { match until { Some(d) => tokio::time::sleep(d).await, None => std::future::pending().await } } => {}
    }
    let _ = stop_tx.send(true);
    let _ = view.await;
    println!("\nstopping...");
    let _ = generator.await;
    let mut failures = Vec::new();
    for (status, worker) in statuses.iter().zip(workers) {
        match tokio::time::timeout(Duration::from_secs(25), worker).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => failures.push(format!("{}: {error}", status.name)),
            Ok(Err(error)) => failures.push(format!("{}: {error}", status.name)),
            Err(_) => failures.push(format!("{}: did not stop in time", status.name)),
        }
    }
    let _ = server.await;
    match tokio::time::timeout(Duration::from_secs(25), gateway).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(error))) => failures.push(format!("gateway: {error:#}")),
        Ok(Err(error)) => failures.push(format!("gateway: {error}")),
        Err(_) => failures.push("gateway: did not stop in time".into()),
    }
    for status in &statuses {
        let s = status.snapshot();
        println!(
            "{:<16} consumed {:>8}  produced {:>8}  dead-lettered {:>5}",
            status.name, s.consumed, s.produced, s.dead_lettered
        );
    }
    println!("generated {} events", generated.load(Ordering::Relaxed));
    drop(mock);
    if failures.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("workers failed: {}", failures.join("; "))
    }
}

/// Logs go to a file while the view owns the terminal, to stderr otherwise.
/// The flags of the dev stack's gateway: the workers' connection, `addr`.
fn gateway_args(
    connection: &[String],
    addr: std::net::SocketAddr,
) -> anyhow::Result<crate::cli::GatewayArgs> {
    use clap::Parser;
    let mut flags = vec!["orderflow".to_owned(), "gateway".to_owned()];
    flags.extend(connection.iter().cloned());
    flags.extend(["--listen".to_owned(), addr.to_string()]);
    match crate::cli::Cli::try_parse_from(flags)?.command {
        crate::cli::Command::Gateway(args) => Ok(*args),
        other => unreachable!("parsed as {other:?}"),
    }
}

fn configure_logs() -> anyhow::Result<Option<String>> {
    if std::io::IsTerminal::is_terminal(&std::io::stdout())
        && std::env::var_os("ORDERFLOW_DEV_LOG_STDERR").is_none()
    {
        let path = "orderflow-dev.log";
        let file = std::fs::File::create(path).with_context(|| format!("creating {path}"))?;
        let filter = tracing_filter();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::sync::Mutex::new(file))
            .with_ansi(false)
            .try_init();
        Ok(Some(path.to_owned()))
    } else {
        init_logging_at(Some(LogFormat::Json), "info,rdkafka=warn,librdkafka=warn");
        Ok(None)
    }
}

fn tracing_filter() -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rdkafka=warn,librdkafka=warn"))
}

/// Runs one worker of the dev stack in this process.
async fn run_worker<P: Processor>(
    connection: Vec<String>,
    guarantee: orderflow_runtime::Guarantee,
    status: Arc<WorkerStatus>,
    stop: impl Future<Output = ()> + Send,
) -> Result<(), RuntimeError> {
    let mut flags: Vec<&str> = connection.iter().map(String::as_str).collect();
    flags.extend([
        "--guarantee",
        guarantee.as_str(),
        "--http-addr",
        "127.0.0.1:0",
        "--shutdown-timeout-secs",
        "15",
    ]);
    if guarantee == orderflow_runtime::Guarantee::ExactlyOnce {
        flags.extend(["--transactional-id", status.name]);
    }
    let args = WorkerArgs::from_flags(flags).map_err(RuntimeError::Config)?;
    let mut config = args.resolve(identity::<P>())?;
    config.identity.name = status.name;
    let processor = load_processor::<P>(&args)?;
    let codec = Arc::new(Codec::new(config.codec.clone()).map_err(RuntimeError::Config)?);
    let handler = Arc::new(AvroHandler::new(
        processor,
        codec,
        &config.output_topic,
        Arc::new(SystemClock),
    ));
    engine::run(config, handler, status, stop).await
}

/// One user event of every [`USER_EVENT_EVERY`] events: the generated customers'
/// accounts, for the notifier's user notices.
const USER_EVENT_EVERY: u64 = 20;

/// The user event number `n`: registrations, logins from new and known devices and
/// address changes of the customers the order generator uses.
fn user_event(n: u64, now: i64) -> orderflow_events::UserEvent {
    use orderflow_events::{UserPayload, sample};
    let mut payload = sample::user_payloads()[(n % 3) as usize].clone();
    if let UserPayload::UserLoggedIn(login) = &mut payload {
        login.new_device = n.is_multiple_of(2);
        login.device_id = format!("dev-{}", n % 7);
    }
    let mut event = sample::user_event(payload);
    event.event_id = uuid::Uuid::new_v4().to_string();
    event.user_id = format!("cus-{:05}", n % 200);
    event.occurred_at = now;
    event.source = "orderflow-dev".into();
    event
}

/// Produces lifecycles at `args.rate` events per second, with a sprinkle of garbage,
/// and a user event now and then.
async fn generate(
    settings: KafkaSettings,
    args: DevArgs,
    generated: Arc<AtomicU64>,
    stop: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let codec = Codec::new(Default::default()).map_err(anyhow::Error::msg)?;
    let header = codec.header_for::<OrderEvent>(INPUT_TOPIC).await?;
    let user_header = codec
        .header_for::<orderflow_events::UserEvent>(USERS_TOPIC)
        .await?;
    let producer = producer(&settings)?;
    let mut generator = Generator::new(
        rand::random(),
        200,
        Mix {
            invalid: args.invalid_share,
            risky: args.risky_share,
        },
    );
    let started = Instant::now();
    let mut stop = std::pin::pin!(stop);
    let mut sent = 0u64;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
        let target = due(args.rate, started.elapsed());
        while sent < target {
            if rand::random::<f64>() < args.garbage_share {
                send(
                    &producer,
                    INPUT_TOPIC,
                    "garbage",
                    b"this is not an order event",
                    None,
                )
                .await?;
            } else if sent % USER_EVENT_EVERY == USER_EVENT_EVERY - 1 {
                let event = user_event(sent / USER_EVENT_EVERY, now_millis());
                let value = codec.encode_with(user_header, &event)?;
                send(&producer, USERS_TOPIC, &event.user_id, &value, None).await?;
            } else {
                let (event, _) = generator.next_event(now_millis());
                let value = codec.encode_with(header, &event)?;
                send(&producer, INPUT_TOPIC, &event.order_id, &value, None).await?;
            }
            sent += 1;
            generated.store(sent, Ordering::Relaxed);
        }
    }
    let flusher = producer.clone();
    let _ = tokio::task::spawn_blocking(move || flusher.flush(Duration::from_secs(5))).await;
    Ok(())
}
