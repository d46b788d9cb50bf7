//! The `orderflow` command-line tool. Each command lives in its own module:
//!
//! - [`dev`] and [`view`]: the local dev stack and its live terminal view;
//! - [`lifecycle`] and [`loadgen`]: realistic order lifecycles and the load generator;
//! - [`tail`], [`produce`]: read any topic as JSON, write events from JSON;
//! - [`gateway`]: the same writing over HTTP, for services that do not speak Kafka;
//! - [`topics`]: create and describe the pipeline's topics;
//! - [`dlq`]: inspect and replay dead letters;
//! - [`groups`]: list and describe consumer groups, reset their offsets;
//! - [`verify`]: compare a worker's outputs with its inputs;
//! - [`schemas`]: the schema-evolution check.

pub mod cli;
pub mod dev;
pub mod dlq;
pub mod gateway;
pub mod groups;
pub mod lifecycle;
pub mod loadgen;
pub mod produce;
pub mod record;
pub mod schemas;
pub mod tail;
pub mod topics;
pub mod topology;
pub mod verify;
pub mod view;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use orderflow_runtime::config::LogFormat;
use orderflow_runtime::telemetry::{init_logging, init_logging_at};

use crate::cli::{Cli, Command};

/// The whole `main` of the `orderflow` binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("orderflow: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let code = match cli.command {
        Command::Passthrough(args) => {
            init_logging(args.log_format);
            let result = runtime.block_on(passthrough(*args));
            orderflow_runtime::worker::exit_code("orderflow passthrough", &result)
        }
        Command::Gateway(args) => {
            init_logging(args.log_format);
            match runtime.block_on(gateway::run(*args)) {
                Ok(()) => 0,
                Err(error) => {
                    tracing::error!("{}", error_text(&error));
                    eprintln!("orderflow gateway: {}", error_text(&error));
                    1
                }
            }
        }
        command => {
            if !matches!(command, Command::Dev(_)) {
                // Commands print their results on stdout; only warnings are logged.
                init_logging_at(
                    Some(LogFormat::Pretty),
                    "warn,librdkafka=error,rdkafka=error",
                );
            }
            match runtime.block_on(run(command)) {
                Ok(()) => 0,
                Err(error) => {
                    eprintln!("orderflow: {}", error_text(&error));
                    1
                }
            }
        }
    };
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    std::process::exit(code)
}

/// The error and its causes, as `{:#}` shows them, without a cause the message before
/// already ends with (an error that shows its source and also returns it as `source()`).
/// Writes `text` to standard output; a reader that went away (`orderflow ... | head`)
/// ends the output quietly instead of failing the command.
pub fn print_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(error).context("writing to stdout"))
        }
        _ => Ok(()),
    }
}

fn error_text(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.ends_with(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Dev(args) => dev::run(args).await,
        Command::Loadgen(args) => loadgen::run(args).await.map(|_| ()),
        Command::Tail(args) => tail::run(args).await,
        Command::Produce(args) => produce::run(args).await,
        Command::Topics(command) => topics::run(command).await,
        Command::Dlq(command) => dlq::run(command).await,
        Command::Groups(command) => groups::run(command).await,
        Command::Schemas(args) => schemas::run(args),
        Command::Verify(args) => verify::run(args).await,
        Command::Passthrough(_) | Command::Gateway(_) => unreachable!("handled in main"),
    }
}

/// Runs the runtime with the passthrough handler: bytes in, the same bytes out.
async fn passthrough(
    args: orderflow_runtime::WorkerArgs,
) -> Result<(), orderflow_runtime::RuntimeError> {
    use orderflow_runtime::metrics::{WorkerStatus, prometheus};
    use orderflow_runtime::{Passthrough, WorkerIdentity, engine, http, worker::shutdown_signal};
    let identity = WorkerIdentity {
        name: "passthrough",
        version: env!("CARGO_PKG_VERSION"),
        input_topic: "orders.lifecycle",
        output_topic: "orders.passthrough",
    };
    let config = args.resolve(identity)?;
    let status = Arc::new(WorkerStatus::new("passthrough"));
    status.set_schemas_ready();
    let router = http::router(prometheus(), vec![status.clone()]);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = http::serve(args.http_addr, router, async {
        let _ = stopped.await;
    })
    .await?;
    let handler = Arc::new(Passthrough::new(&config.output_topic));
    let result = engine::run(config, handler, status, shutdown_signal()).await;
    let _ = stop.send(());
    let _ = server.await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_the_message_already_shows_is_printed_once() {
        let kafka = rdkafka::error::KafkaError::Flush(rdkafka::types::RDKafkaErrorCode::QueueFull);
        let error: anyhow::Error =
            orderflow_runtime::RuntimeError::kafka("producing", kafka).into();
        let error = error.context("replaying");
        let text = error_text(&error);
        assert_eq!(text.matches("Queue full").count(), 1, "{text}");
        assert!(text.starts_with("replaying: producing: "), "{text}");
        let plain = anyhow::anyhow!("inner").context("outer");
        assert_eq!(error_text(&plain), "outer: inner");
    }
}
