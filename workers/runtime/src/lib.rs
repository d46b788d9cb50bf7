//! The orderflow worker runtime.
//!
//! A worker is a pure function from one decoded input event to zero or more derived
//! events; this crate owns every Kafka rule around it. Module map:
//!
//! - [`kafka`]: the one place where settings become librdkafka properties.
//! - [`error`]: the runtime's typed errors, sorted by what the caller must do next.

pub mod error;
pub mod kafka;

pub use error::RuntimeError;
