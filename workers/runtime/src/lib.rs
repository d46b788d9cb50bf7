//! The orderflow worker runtime.
//!
//! A worker is a pure function ([`Processor`]) from one decoded input event to zero or
//! more derived events; this crate owns every Kafka rule around it. Where to find what:
//!
//! - [`processor`]: the contract a worker implements and what the runtime guarantees.
//! - [`handler`]: decode, process, encode one message (and the passthrough ceiling).
//! - [`engine`]: start, run and stop a worker; client properties per guarantee.
//! - `consumer`: the poll thread, backpressure, rebalance callbacks, the rewind.
//! - `partition`: one task per partition, retries, dead letters, the safety valve;
//!   `crash_loop`: records that kill the process, set aside across restarts.
//! - `committer`, `transaction`, `acking`: exactly-once transactions and
//!   at-least-once offset tracking ([`offsets`]).
//! - `producer`: sending records and reading delivery reports.
//! - [`dead_letter`]: the dead-letter record and its provenance headers.
//! - [`config`], [`kafka`]: flags, validation, and the one place settings become
//!   librdkafka properties; [`security`]: security settings that cannot work.
//! - [`metrics`], [`http`], [`telemetry`]: Prometheus, health endpoints, logs, trace
//!   context.
//! - [`worker`]: a worker binary's whole `main`.

mod acking;
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
pub mod message;
pub mod metrics;
pub mod offsets;
mod partition;
pub mod processor;
mod producer;
mod retry;
pub mod security;
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
pub use worker::worker_main;
