//! The orderflow worker runtime.
//!
//! A worker is a pure function ([`Processor`]) from one decoded input event to zero or
//! more derived events; this crate owns every Kafka rule around it. Where to find what:
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
pub use worker::worker_main;

/// Every message allocates its copy, its decoded event and its outputs, and frees them
/// on another thread; glibc's allocator spent a fifth of a worker's instructions on it
/// (`make profile`). mimalloc's thread-local free lists cost less: 15 to 20% less CPU
/// per event for `order-validator` in a side-by-side drain, at the same resident size
/// (transparent huge pages off, see the workspace's `Cargo.toml`).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
