//! Codec errors, sorted by what the runtime must do with the message.

use crate::resolve::ResolveError;

/// What the runtime does with a message that failed with this error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The bytes are not a valid event: dead-letter the message.
    Decode,
    /// The schema is unknown or cannot be read as ours: dead-letter the message.
    Schema,
    /// Retrying later can succeed (a registry that is down): retry with backoff.
    Transient,
}

impl ErrorClass {
    /// Stable name used in dead-letter headers and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Decode => "decode",
            ErrorClass::Schema => "schema",
            ErrorClass::Transient => "transient",
        }
    }

    /// Whether the message can never succeed as it is.
    pub fn is_permanent(self) -> bool {
        !matches!(self, ErrorClass::Transient)
    }
}

/// Why an event could not be decoded or encoded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CodecError {
    /// The message is larger than the configured maximum payload size.
    #[error("payload of {size} bytes exceeds the {limit}-byte limit")]
    PayloadTooLarge {
        /// Size of the payload.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The first bytes match neither Confluent framing nor single-object encoding.
    #[error("unknown wire format: {0}")]
    UnknownFormat(String),
    /// The framing is right but the Avro data is not (truncated, bad lengths,
    /// out-of-range union or enum index, invalid UTF-8, trailing bytes, ...).
    #[error("malformed Avro data: {0}")]
    Malformed(String),
    /// A Confluent schema id the registry does not know (or no registry configured).
    #[error("unknown schema id {id}: {detail}")]
    UnknownSchemaId {
        /// The id from the message.
        id: u32,
        /// Why it is unknown.
        detail: String,
    },
    /// A single-object fingerprint that matches no known schema.
    #[error(
        "unknown schema fingerprint {0:#018x}: not in the schema catalogue (schemas/ and any \
         --schemas-dir), and single-object data names no registry id"
    )]
    UnknownFingerprint(u64),
    /// The writer's schema (or this datum of it: a union branch or an enum symbol the
    /// reader lacks) cannot be read as the reader's under Avro's schema resolution.
    #[error("writer schema {writer} cannot be read as {reader}: {error}")]
    Resolution {
        /// The writer schema's name.
        writer: String,
        /// The reader schema's name.
        reader: String,
        /// What does not match, and where.
        error: Box<ResolveError>,
    },
    /// The schema registry could not be reached or answered with a server error.
    #[error("schema registry unavailable: {0}")]
    RegistryUnavailable(String),
    /// The schema registry refused a request (for example an incompatible schema).
    #[error("schema registry refused the request: {0}")]
    RegistryRefused(String),
    /// The output schema is not registered under its subject, and this worker may not
    /// or must not register it; `reason` says which and what to do.
    #[error("the output schema {schema} is not registered under subject {subject}: {reason}")]
    SchemaNotRegistered {
        /// The subject.
        subject: String,
        /// Full name of the output record.
        schema: String,
        /// Why it was not registered, and what to do.
        reason: String,
    },
    /// A value could not be encoded with its schema.
    #[error("encoding failed: {0}")]
    Encode(String),
}

impl CodecError {
    /// What the runtime must do with the message.
    pub fn class(&self) -> ErrorClass {
        match self {
            CodecError::PayloadTooLarge { .. }
            | CodecError::UnknownFormat(_)
            | CodecError::Malformed(_)
            | CodecError::Encode(_) => ErrorClass::Decode,
            CodecError::Resolution { error, .. } if error.is_datum() => ErrorClass::Decode,
            CodecError::UnknownSchemaId { .. }
            | CodecError::UnknownFingerprint(_)
            | CodecError::Resolution { .. }
            | CodecError::SchemaNotRegistered { .. }
            | CodecError::RegistryRefused(_) => ErrorClass::Schema,
            CodecError::RegistryUnavailable(_) => ErrorClass::Transient,
        }
    }

    /// A short stable name of the error kind, finer than its class.
    pub fn kind(&self) -> &'static str {
        match self {
            CodecError::PayloadTooLarge { .. } => "payload-too-large",
            CodecError::UnknownFormat(_) => "unknown-format",
            CodecError::Malformed(_) => "malformed",
            CodecError::UnknownSchemaId { .. } => "unknown-schema-id",
            CodecError::UnknownFingerprint(_) => "unknown-fingerprint",
            CodecError::Resolution { error, .. } => error.kind(),
            CodecError::RegistryUnavailable(_) => "registry-unavailable",
            CodecError::RegistryRefused(_) => "registry-refused",
            CodecError::SchemaNotRegistered { .. } => "schema-not-registered",
            CodecError::Encode(_) => "encode",
        }
    }
}
