//! What librdkafka hands out as bytes, read and written without assuming text.
//!
//! rust-rdkafka turns record header names and committed-offset metadata into `&str`
//! with an `unwrap`/`expect`: bytes that are not UTF-8, legal on the wire and written by
//! other clients, would panic whoever reads them, and a worker that panics on a record
//! panics again on every restart. The workspace forbids unsafe code; this crate is the
//! one exception, a few calls into librdkafka's C API, each with its safety argument.
//! The same calls bring a client back from a state librdkafka does not leave by itself
//! ([`brokers`]).

pub mod brokers;
pub mod headers;
pub mod metadata;
#[cfg(feature = "mock")]
pub mod mock;

pub use headers::RecordHeader;
