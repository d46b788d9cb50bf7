//! What a worker binary's `main` calls: parse flags, set up logs, metrics and the HTTP
//! endpoints, run until SIGTERM or SIGINT, and map the result to an exit code.

use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser};
use orderflow_events::{Codec, CodecError, Contract};

use crate::clock::SystemClock;
use crate::config::{WorkerArgs, WorkerIdentity};
use crate::error::RuntimeError;
use crate::handler::AvroHandler;
use crate::metrics::{WorkerStatus, prometheus};
use crate::processor::Processor;
use crate::telemetry::init_logging;
use crate::{engine, http};

/// How long a worker the safety valve stopped waits for a scrape of `/metrics` before
/// it exits: the chart's scrape interval is 30 s.
const VALVE_SCRAPE_WAIT: Duration = Duration::from_secs(35);

#[derive(Parser)]
struct WorkerCli {
    #[command(flatten)]
    args: WorkerArgs,
}

/// The whole `main` of a worker binary.
pub fn worker_main<P: Processor>(about: &'static str) -> ExitCode {
    let command = WorkerCli::command()
        .name(P::NAME)
        .version(P::VERSION)
        .about(about);
    let cli = match WorkerCli::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    init_logging(cli.args.log_format);
    crate::telemetry::log_panics();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{}: cannot start the async runtime: {error}", P::NAME);
            return ExitCode::FAILURE;
        }
    };
    // The signal handlers are installed now, not when the engine first waits for them:
    // until then a SIGTERM (a rolling update right after a start) would kill the process
    // by the default action instead of stopping it cleanly.
    let shutdown = {
        let _context = runtime.enter();
        shutdown_signal()
    };
    let result = runtime.block_on(run::<P>(cli.args, shutdown));
    // Blocking calls stuck on an unreachable broker must not hold the exit.
    runtime.shutdown_timeout(Duration::from_secs(1));
    let code = exit_code(P::NAME, &result);
    // librdkafka handles still draining in helper threads are abandoned with the process.
    std::process::exit(code)
}

/// Prints the one-line reason of a failure and returns the exit code: 0 clean, 2 bad
/// configuration, 1 any other fatal error.
pub fn exit_code(name: &str, result: &Result<(), RuntimeError>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(error) if error.is_config() => {
            eprintln!("{name}: {error}");
            2
        }
        Err(error) => {
            eprintln!("{name}: fatal: {error}");
            1
        }
    }
}

/// The identity of processor `P`.
pub fn identity<P: Processor>() -> WorkerIdentity {
    WorkerIdentity {
        name: P::NAME,
        version: P::VERSION,
        input_topic: P::INPUT_TOPIC,
        output_topic: P::OUTPUT_TOPIC,
    }
}

/// Builds processor `P` from the rules file named by `args`, if any.
pub fn load_processor<P: Processor>(args: &WorkerArgs) -> Result<P, RuntimeError> {
    let rules: P::Rules = match args.rules_text()? {
        Some(text) => toml::from_str(&text).map_err(|e| {
            RuntimeError::Config(format!(
                "--rules {}: {e}",
                args.rules
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ))
        })?,
        None => P::Rules::default(),
    };
    P::new(rules).map_err(|e| RuntimeError::Config(format!("invalid rules: {e}")))
}

/// Runs processor `P` with `args` until `shutdown`, serving the HTTP endpoints.
pub async fn run<P: Processor>(
    args: WorkerArgs,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RuntimeError> {
    args.registry.load_schemas()?;
    // A type whose schema is missing or differs is a configuration error at start, not
    // a panic at the first message.
    for bound in [
        Contract::bind::<P::Input>().map(drop),
        Contract::bind::<P::Output>().map(drop),
    ] {
        bound.map_err(RuntimeError::Config)?;
    }
    let config = args.resolve(identity::<P>())?;
    let processor = load_processor::<P>(&args)?;
    let codec = Arc::new(Codec::new(config.codec.clone()).map_err(RuntimeError::Config)?);
    let status = Arc::new(WorkerStatus::new(P::NAME));
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let router = http::router(prometheus(), vec![status.clone()]);
    let server = http::serve(args.http_addr, router, async {
        let _ = http_stopped.await;
    })
    .await?;
    // The output schema's id is settled before consuming: a schema that is not under its
    // subject and may not be registered there (read-only registry credentials) is a
    // configuration error naming the subject and what to do. Anything else (a registry
    // that is down) is left to the engine, which retries.
    if let Err(error @ CodecError::SchemaNotRegistered { .. }) =
        codec.header_for::<P::Output>(&config.output_topic).await
    {
        let _ = stop_http.send(());
        let _ = tokio::time::timeout(Duration::from_secs(1), server).await;
        return Err(RuntimeError::Config(error.to_string()));
    }
    let handler = Arc::new(AvroHandler::new(
        processor,
        codec,
        &config.output_topic,
        Arc::new(SystemClock),
    ));
    let result = engine::run(config, handler, status.clone(), shutdown).await;
    if result.as_ref().is_err_and(RuntimeError::is_safety_valve) {
        // Until a scrape has seen the trip (Prometheus scrapes every 30 s or so), or
        // the alert on it could never fire: the restart comes a little later instead.
        if !status.scraped_since_trip(VALVE_SCRAPE_WAIT).await {
            tracing::warn!(
                worker = P::NAME,
                "no scrape of /metrics since the safety valve tripped; exiting anyway"
            );
        }
    }
    let _ = stop_http.send(());
    let _ = tokio::time::timeout(Duration::from_secs(1), server).await;
    result
}

/// Resolves on SIGTERM or SIGINT. The handlers are installed when this is called (inside
/// a tokio runtime), so a signal that arrives before the future is first polled is not
/// lost.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let handlers = signal(SignalKind::terminate())
            .and_then(|terminate| Ok((terminate, signal(SignalKind::interrupt())?)));
        async move {
            match handlers {
                Ok((mut terminate, mut interrupt)) => {
                    tokio::select! {
                        _ = terminate.recv() => {}
                        _ = interrupt.recv() => {}
                    }
                }
                // No signal driver: Ctrl-C still stops the worker.
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
