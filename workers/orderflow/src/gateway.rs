//! `orderflow gateway`: an HTTP front door for services that do not speak Kafka. It
//! takes events as JSON, checks them against the schemas and writes them to Kafka as
//! Avro, answering only after the broker acknowledged every one.
//!
//! - [`routes`]: which URL writes which schema to which topic (the one table to extend);
//! - [`api`]: the router, the request checks and the answers;
//! - [`sink`]: the idempotent producer and readiness;
//! - [`openapi`] and [`json_schema`]: `/openapi.json`, generated from the `.avsc` files;
//! - [`auth`]: the optional bearer token; [`metrics`]: `orderflow_gateway_*`.
//!
//! Shutdown (SIGTERM, SIGINT): readiness turns false and new events are refused, the
//! listener stops accepting, requests in flight get `--shutdown-timeout` to finish, then
//! the producer is flushed.

pub mod api;
pub mod auth;
pub mod json_schema;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod sink;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use orderflow_events::Codec;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use self::api::{Endpoint, Gateway};
use self::auth::BearerToken;
use self::routes::{ROUTES, Route};
use self::sink::{EventSink, KafkaSink};
use crate::cli::GatewayArgs;
use crate::produce::{DefaultSchema, schema_for};

/// How long the final flush waits for acknowledgements still outstanding.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// The endpoints of `routes`: each schema parsed and its header found (a registry
/// lookup in Confluent format, so a registry problem stops the gateway at start).
pub async fn endpoints(codec: &Codec, routes: &[Route]) -> anyhow::Result<Vec<Endpoint>> {
    let mut endpoints = Vec::with_capacity(routes.len());
    for route in routes {
        let mut default = DefaultSchema::new(schema_for(Some(route.schema), route.topic)?);
        let header = match default.resolve(codec, route.topic).await? {
            Some((header, _)) => header,
            None => anyhow::bail!("{}: no schema {}", route.path, route.schema),
        };
        let writer = default.writer.take().expect("resolved");
        endpoints.push(Endpoint {
            route: *route,
            writer,
            header,
        });
    }
    Ok(endpoints)
}

/// Runs `orderflow gateway` until SIGTERM or SIGINT.
pub async fn run(args: GatewayArgs) -> anyhow::Result<()> {
    serve(args, orderflow_runtime::worker::shutdown_signal()).await
}

/// Runs the gateway until `shutdown` resolves.
pub async fn serve(
    args: GatewayArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let settings = args.connection.kafka()?;
    let codec =
        Arc::new(Codec::new(args.connection.codec(args.format)?).map_err(anyhow::Error::msg)?);
    let token = args
        .auth_token_file
        .as_deref()
        .map(BearerToken::read)
        .transpose()?;
    anyhow::ensure!(args.max_in_flight > 0, "--max-in-flight must be at least 1");
    let routes = routes::with_topics(ROUTES, &args.topics).map_err(anyhow::Error::msg)?;
    let endpoints = endpoints(&codec, &routes).await?;
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on --listen {}", args.listen))?;
    let sink: Arc<dyn EventSink> = Arc::new(KafkaSink::start(
        &settings,
        args.delivery_timeout,
        routes::topics(&routes),
    )?);
    let prometheus = orderflow_runtime::metrics::prometheus();
    metrics::describe();
    let gateway = Arc::new(Gateway {
        codec,
        endpoints,
        sink: sink.clone(),
        token,
        max_body_bytes: args.max_body_bytes,
        in_flight: Arc::new(Semaphore::new(args.max_in_flight)),
        prometheus,
        stopping: AtomicBool::new(false),
    });
    let router = api::router(gateway.clone());
    let (signalled, stop) = tokio::sync::oneshot::channel::<()>();
    let stopping = gateway.clone();
    let server = axum::serve(listener, router).with_graceful_shutdown(async move {
        shutdown.await;
        stopping.stopping.store(true, Ordering::Relaxed);
        tracing::info!("stopping: no new connections, finishing the requests in flight");
        let _ = signalled.send(());
    });
    tracing::info!(
        listen = %args.listen,
        routes = ?routes.iter().map(|r| format!("{} -> {}", r.path, r.topic)).collect::<Vec<_>>(),
        auth = gateway.token.is_some(),
        "gateway listening"
    );
    let grace = args.shutdown_timeout;
    tokio::select! {
        served = server => served.context("serving HTTP")?,
        () = async {
            if stop.await.is_ok() {
                tokio::time::sleep(grace).await;
            } else {
                std::future::pending::<()>().await;
            }
        } => tracing::warn!(
            seconds = grace.as_secs_f64(),
            "requests still in flight after --shutdown-timeout: stopping anyway"
        ),
    }
    let flushed = tokio::task::spawn_blocking(move || sink.flush(FLUSH_TIMEOUT))
        .await
        .context("flushing the producer")?;
    if let Err(error) = flushed {
        tracing::warn!(%error, "records still unacknowledged at exit");
    }
    tracing::info!("gateway stopped");
    Ok(())
}
