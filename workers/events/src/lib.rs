//! The orderflow event contract.
//!
//! - [`contract`]: the schemas of `schemas/` embedded, and each Rust type bound to its
//!   `.avsc` file with a proof that they agree on the wire format.
//! - [`model`]: the Rust types of the input and derived events.
//! - [`codec`]: decode and encode in Confluent framing or single-object encoding.
//! - [`datum`]: Avro's binary encoding of one datum, straight through serde.
//! - [`json_form`]: the JSON form of a datum of any schema, for people and tools.
//! - [`wire`], [`fingerprint`], [`registry`], [`references`], [`store`], [`resolve`]: the
//!   parts the codec is made of.
//! - [`error`]: typed errors whose class tells the runtime to dead-letter or retry.

pub mod codec;
pub mod contract;
pub mod corpus;
pub mod datum;
pub mod error;
pub mod evolution;
pub mod fingerprint;
pub mod json_form;
pub mod model;
pub mod references;
pub mod registry;
pub mod resolve;
pub mod sample;
pub mod store;
pub mod wire;

#[cfg(test)]
mod arbitrary;

#[cfg(any(test, feature = "registry-double"))]
pub mod registry_double;

pub use codec::{Codec, CodecSettings, Decoded, SubjectStrategy};
pub use contract::{Contract, Record};
pub use error::{CodecError, ErrorClass};
pub use model::*;
pub use store::SchemaRegistration;
pub use wire::{SchemaRef, WireFormat};
