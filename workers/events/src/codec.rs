//! Decode and encode events in either wire format.
//!
//! Decoding detects the format per message from its first byte, finds the writer's
//! schema (the catalogue, or the registry for Confluent ids), and decodes into the
//! Rust type: straight from the bytes when the writer used our newest schema, through
//! Avro schema resolution otherwise. Every failure is a typed [`CodecError`] whose
//! class tells the runtime to dead-letter the message or to retry it.
//!
//! Hardening: payloads above the configured limit are refused before any parsing,
//! apache-avro's allocation limit is set to the same size (so no length prefix can
//! allocate more than the message could hold), and none of our schemas is recursive,
//! so decoding depth is bounded by the schema.

use std::sync::Arc;

use serde_json::Value as Json;

use crate::contract::{Record, WriterSchema};
use crate::error::CodecError;
use crate::json_form::JsonError;
use crate::registry::{RegistryClient, RegistrySettings};
use crate::store::{SchemaRegistration, SchemaStore};
use crate::wire::{self, SchemaRef, WireFormat};

/// Default maximum payload size, 960 KiB: a value this large still fits, with its key
/// and dead-letter headers, in a record of a topic with Kafka's default size limit (the
/// producer's `message.max.bytes`, 1,000,000), so rejecting it for its size needs no
/// truncation of its dead letter.
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 960 * 1024;

/// How Confluent subjects are named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubjectStrategy {
    /// `<topic>-value` (the serializers' default).
    #[default]
    TopicName,
    /// The record's full name.
    RecordName,
}

impl std::str::FromStr for SubjectStrategy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "topic-name" => Ok(SubjectStrategy::TopicName),
            "record-name" => Ok(SubjectStrategy::RecordName),
            other => Err(format!(
                "unknown subject strategy '{other}': use topic-name or record-name"
            )),
        }
    }
}

/// Codec settings.
#[derive(Debug, Clone)]
pub struct CodecSettings {
    /// Messages larger than this are refused.
    pub max_payload_bytes: usize,
    /// What `encode` writes.
    pub output_format: WireFormat,
    /// How Confluent subjects are named.
    pub subject_strategy: SubjectStrategy,
    /// The registry, when there is one.
    pub registry: Option<RegistrySettings>,
    /// How the output schema's id is found (Confluent format).
    pub registration: SchemaRegistration,
}

impl Default for CodecSettings {
    fn default() -> Self {
        CodecSettings {
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
            output_format: WireFormat::SingleObject,
            subject_strategy: SubjectStrategy::TopicName,
            registry: None,
            registration: SchemaRegistration::default(),
        }
    }
}

/// A decoded event and the schema it was written with.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded<T> {
    /// The event.
    pub value: T,
    /// How the message named its writer schema.
    pub schema: SchemaRef,
}

/// Decodes and encodes orderflow events. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Codec {
    settings: CodecSettings,
    store: SchemaStore,
}

impl Codec {
    /// A codec with `settings`. Fails on an invalid registry URL or a schema in
    /// `schemas/` that does not parse.
    pub fn new(settings: CodecSettings) -> Result<Codec, String> {
        if settings.output_format == WireFormat::Confluent && settings.registry.is_none() {
            return Err(
                "--output-format confluent needs --schema-registry-url; use single-object \
                 without a registry"
                    .into(),
            );
        }
        // apache-avro's limit is process-wide and set once; the first codec's wins.
        apache_avro::util::max_allocation_bytes(settings.max_payload_bytes);
        let registry = settings
            .registry
            .clone()
            .map(RegistryClient::new)
            .transpose()?;
        let store = SchemaStore::new(registry, settings.registration)?;
        Ok(Codec { settings, store })
    }

    /// The settings this codec runs with.
    pub fn settings(&self) -> &CodecSettings {
        &self.settings
    }

    /// The schema store.
    pub fn store(&self) -> &SchemaStore {
        &self.store
    }

    /// Decodes one message into `T`.
    pub async fn decode<T: Record>(&self, bytes: &[u8]) -> Result<Decoded<T>, CodecError> {
        self.check_size(bytes)?;
        let (schema, datum) = wire::split(bytes)?;
        let contract = T::contract();
        let value = match schema {
            // The common case: written with our newest schema.
            SchemaRef::Fingerprint(fp) if fp == contract.fingerprint => {
                contract.decode_own::<T>(datum)?
            }
            SchemaRef::Fingerprint(fp) => {
                let writer = self.store.by_fingerprint(fp)?;
                contract.decode::<T>(&writer, datum)?
            }
            SchemaRef::RegistryId(id) => {
                let writer = self.store.by_id(id).await?;
                contract.decode::<T>(&writer, datum)?
            }
        };
        Ok(Decoded { value, schema })
    }

    /// The writer schema a message names, fetched from the registry when needed.
    pub async fn writer_schema(&self, schema: SchemaRef) -> Result<Arc<WriterSchema>, CodecError> {
        match schema {
            SchemaRef::Fingerprint(fp) => self.store.by_fingerprint(fp),
            SchemaRef::RegistryId(id) => self.store.by_id(id).await,
        }
    }

    /// Decodes any message whose writer schema is known into the JSON form of the
    /// writer's own schema ([`crate::json_form`]), for inspection tools.
    pub async fn decode_json(&self, bytes: &[u8]) -> Result<(Json, Arc<WriterSchema>), CodecError> {
        self.check_size(bytes)?;
        let (schema, datum) = wire::split(bytes)?;
        let writer = self.writer_schema(schema).await?;
        let json = writer
            .json_form()
            .map_err(CodecError::Malformed)?
            .to_json(datum)
            .map_err(|e| CodecError::Malformed(e.to_string()))?;
        Ok((json, writer))
    }

    /// Encodes `json`, the JSON form of a datum of `writer`, behind `header`: the
    /// inverse of [`Self::decode_json`], to the byte.
    pub fn encode_json(
        &self,
        header: SchemaRef,
        writer: &WriterSchema,
        json: &Json,
    ) -> Result<Vec<u8>, JsonError> {
        let form = writer.json_form().map_err(|message| JsonError {
            path: String::new(),
            message,
        })?;
        let datum = form.from_json(json)?;
        let mut out = Vec::with_capacity(datum.len() + 10);
        wire::write_header(header, &mut out);
        out.extend_from_slice(&datum);
        if out.len() > self.settings.max_payload_bytes {
            return Err(JsonError {
                path: String::new(),
                message: CodecError::PayloadTooLarge {
                    size: out.len(),
                    limit: self.settings.max_payload_bytes,
                }
                .to_string(),
            });
        }
        Ok(out)
    }

    /// Encodes `value` for `topic` in the configured output format.
    pub async fn encode<T: Record>(&self, topic: &str, value: &T) -> Result<Vec<u8>, CodecError> {
        let header = self.header_for::<T>(topic).await?;
        self.encode_with(header, value)
    }

    /// Encodes `value` after a header already resolved with [`Self::header_for`].
    pub fn encode_with<T: Record>(
        &self,
        header: SchemaRef,
        value: &T,
    ) -> Result<Vec<u8>, CodecError> {
        let mut out = Vec::with_capacity(512);
        wire::write_header(header, &mut out);
        T::contract().encode(value, &mut out)?;
        if out.len() > self.settings.max_payload_bytes {
            return Err(CodecError::PayloadTooLarge {
                size: out.len(),
                limit: self.settings.max_payload_bytes,
            });
        }
        Ok(out)
    }

    /// The header `encode` writes for `T` on `topic`: in Confluent format, the id of
    /// the schema under its subject, looked up (or registered, see
    /// [`SchemaRegistration`]) on first use.
    pub async fn header_for<T: Record>(&self, topic: &str) -> Result<SchemaRef, CodecError> {
        let contract = T::contract();
        self.header_of(
            topic,
            &contract.full_name,
            contract.avsc,
            contract.fingerprint,
        )
        .await
    }

    /// The header [`Self::encode_json`] writes for data of `writer` on `topic`, as
    /// [`Self::header_for`] finds it for a Rust type.
    pub async fn header_for_writer(
        &self,
        topic: &str,
        writer: &WriterSchema,
    ) -> Result<SchemaRef, CodecError> {
        self.header_of(topic, &writer.full_name, &writer.json, writer.fingerprint)
            .await
    }

    async fn header_of(
        &self,
        topic: &str,
        full_name: &str,
        avsc: &str,
        fingerprint: u64,
    ) -> Result<SchemaRef, CodecError> {
        match self.settings.output_format {
            WireFormat::SingleObject => Ok(SchemaRef::Fingerprint(fingerprint)),
            WireFormat::Confluent => {
                let subject = match self.settings.subject_strategy {
                    SubjectStrategy::TopicName => format!("{topic}-value"),
                    SubjectStrategy::RecordName => full_name.to_owned(),
                };
                if let Some(id) = self.store.cached_id(&subject, fingerprint) {
                    return Ok(SchemaRef::RegistryId(id));
                }
                let id = self
                    .store
                    .registered_id(&subject, full_name, avsc, fingerprint)
                    .await?;
                Ok(SchemaRef::RegistryId(id))
            }
        }
    }

    fn check_size(&self, bytes: &[u8]) -> Result<(), CodecError> {
        if bytes.len() > self.settings.max_payload_bytes {
            return Err(CodecError::PayloadTooLarge {
                size: bytes.len(),
                limit: self.settings.max_payload_bytes,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
