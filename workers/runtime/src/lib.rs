//! The orderflow worker runtime.
//!
//! # Write a worker in 30 lines
//!
//! A worker is a [`Processor`]: a pure function from one decoded input event to zero or
//! more derived events. Give it the Rust types of its input and output, each bound to
//! the `.avsc` file of its schema with [`orderflow_events::record!`], and call
//! [`worker_main`]. The runtime owns everything Kafka-shaped around it: the consumer
//! group, exactly-once transactions, dead letters, retries, metrics, health, shutdown.
//!
//! ```no_run
//! use apache_avro::AvroSchema;
//! use orderflow_events::{derived_event_id, event_id_text, record};
//! use orderflow_runtime::{Input, Outcome, Output, ProcessError, Processor};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Serialize, Deserialize, AvroSchema)]
//! #[avro(namespace = "io.example.sensors")]
//! struct Reading { reading_id: String, sensor_id: String, celsius: f64, taken_at: i64 }
//!
//! #[derive(Debug, Serialize, Deserialize, AvroSchema)]
//! #[avro(namespace = "io.example.sensors")]
//! struct TemperatureAlert {
//!     alert_id: String, reading_id: String, sensor_id: String,
//!     celsius: f64, limit_celsius: f64, taken_at: i64,
//! }
//!
//! // Each bound to the newest <Name>/v<N>.avsc of the folder given with --schemas-dir.
//! record!(Reading, "Reading");
//! record!(TemperatureAlert, "TemperatureAlert");
//!
//! struct TemperatureAlerts;
//!
//! impl Processor for TemperatureAlerts {
//!     type Input = Reading;
//!     type Output = TemperatureAlert;
//!     type Rules = ();
//!     const NAME: &'static str = "temperature-alerts";
//!     const VERSION: &'static str = env!("CARGO_PKG_VERSION");
//!     const INPUT_TOPIC: &'static str = "sensors.readings";
//!     const OUTPUT_TOPIC: &'static str = "sensors.alerts";
//!
//!     fn new(_rules: ()) -> Result<Self, String> { Ok(TemperatureAlerts) }
//!
//!     fn process(&self, input: &Input<'_, Reading>) -> Result<Outcome<TemperatureAlert>,
//!                                                                ProcessError> {
//!         let r = input.event;
//!         if !(r.celsius > 30.0) {
//!             return Ok(Outcome::Emit(Vec::new()));
//!         }
//!         let alert_id = event_id_text(derived_event_id(Self::NAME, &r.reading_id, 0));
//!         let (reading_id, sensor_id) = (r.reading_id.clone(), r.sensor_id.clone());
//!         let alert = TemperatureAlert { alert_id, reading_id, sensor_id: sensor_id.clone(),
//!             celsius: r.celsius, limit_celsius: 30.0, taken_at: r.taken_at };
//!         Ok(Outcome::Emit(vec![Output { key: sensor_id, value: alert }]))
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     orderflow_runtime::worker_main::<TemperatureAlerts>("Alerts on hot readings.")
//! }
//! ```
//!
//! The schemas are data: a folder laid out as the repository's `schemas/` is
//! (`Reading/v1.avsc`, `TemperatureAlert/v1.avsc`: those of
//! `examples/temperature-alerts/schemas`), given at start with
//! `--schemas-dir` (`ORDERFLOW_SCHEMAS_DIR`), and read beside the built-in order
//! schemas. At start each type is checked against its newest file: a type and a file
//! that disagree on the wire format, or a missing file, stop the worker with a message
//! that says which. Older versions in the folder are the writer schemas the worker can
//! still read, resolved to the newest as Avro's rules say. `orderflow tail`, `produce`
//! and `dlq` take the same flag.
//!
//! The dependencies, in the worker's `Cargo.toml` (the orderflow crates are not on
//! crates.io: Cargo takes them from the repository; pin a `rev`):
//!
//! ```toml
//! [dependencies]
//! orderflow-runtime = { git = "https://github.com/orderflow/orderflow" }
//! orderflow-events = { git = "https://github.com/orderflow/orderflow" }
//! apache-avro = { version = "0.22", features = ["derive"] }  # the version orderflow-events uses
//! serde = { version = "1", features = ["derive"] }
//! serde_json = "1"  # named by the AvroSchema derive
//! ```
//!
//! [`processor`] documents the contract: what a process call may do, and what the
//! runtime guarantees around it.
//! `examples/temperature-alerts` is this worker with rules and tests, run against a real
//! broker by `make test`.
//!
//! # Where to find what
//!
//! This crate owns every Kafka rule around the processor:
//!
//! - [`processor`]: the contract a worker implements and what the runtime guarantees.
//! - [`handler`]: decode, process, encode one message (and the passthrough ceiling).
//! - [`engine`]: start, run and stop a worker; `clients`: the consumer and producer
//!   and their librdkafka properties per guarantee.
//! - `poll_loop`: the poll thread and backpressure; `rebalance`: the assignment,
//!   assign and revoke; `rewind`: the exactly-once rewind and its epoch; `consumer`:
//!   the consumer's lag statistics and client-error report.
//! - [`kafka_errors`]: every Kafka error sorted by what the caller does next (retry,
//!   abort the transaction, dead-letter, replace the producer, stop, ignore);
//!   [`error`]: what stops a worker, typed, with the error that caused it.
//! - `lifecycle`: the worker's phases (connecting to stopped) and its failure;
//!   `shared`: the state the poll thread, the tasks and the committer share (the
//!   rewind's and the assignment's parts in `rewind::state` and `rebalance::slot`).
//! - `partition`: one task per partition, retries, dead letters, the safety valve;
//!   `crash_loop`: records that kill the process, set aside across restarts.
//! - `committer`: the commit policy and the loop that applies it, and the crash-loop
//!   counts both committers commit and clear (`committer::start_counts`);
//!   `transaction`, `acking`: exactly-once transactions and at-least-once offset
//!   tracking ([`offsets`], with the partition lists to commit); `client_call`: a
//!   blocking client call retried by the error table within a time budget.
//! - `producer`: sending records and reading delivery reports; [`send`]: the
//!   idempotent producer of tools and sending a set of records to the last
//!   acknowledgement.
//! - [`dead_letter`]: the dead-letter record, its provenance headers, and the letter
//!   that replaces an output the broker refuses.
//! - [`config`], [`kafka`]: flags (`config::args`; the connection flags every worker
//!   and command shares in `config::connection`), validation, and the one place
//!   settings become librdkafka properties (`clients` adds the worker's own);
//!   [`security`]: security settings that cannot work; [`topics`]: the topics a
//!   worker needs, a topic's metadata, creating topics, the record size each accepts.
//! - [`metrics`], [`http`], [`telemetry`]: Prometheus, health endpoints, logs, trace
//!   context.
//! - [`worker`]: a worker binary's whole `main`.

mod acking;
mod client_call;
mod clients;
pub mod clock;
mod committer;
pub mod config;
mod consumer;
mod crash_loop;
pub mod dead_letter;
pub mod engine;
pub mod error;
pub mod handler;
pub mod http;
pub mod kafka;
pub mod kafka_errors;
mod lifecycle;
pub mod message;
pub mod metrics;
pub mod offsets;
mod partition;
mod poll_loop;
pub mod processor;
mod producer;
mod rebalance;
mod retry;
mod rewind;
pub mod security;
pub mod send;
mod shared;
pub mod telemetry;
pub mod topics;
mod transaction;
mod valve;
pub mod worker;

pub use config::{Guarantee, RuntimeConfig, WorkerArgs, WorkerIdentity};
pub use error::RuntimeError;
pub use handler::{AvroHandler, Handler, Passthrough};
pub use processor::{Input, Outcome, Output, ProcessError, Processor};
pub use worker::{Route, route, worker_main, worker_main_with_routes};

/// Every message allocates its copy, its decoded event and its outputs, and frees them
/// on another thread; glibc's allocator spent a fifth of a worker's instructions on it
/// (`make profile`). mimalloc's thread-local free lists cost less: 15 to 20% less CPU
/// per event for `order-validator` in a side-by-side drain, at the same resident size
/// (transparent huge pages off, see the workspace's `Cargo.toml`).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
