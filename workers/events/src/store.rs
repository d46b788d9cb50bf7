//! Writer schemas by fingerprint and by registry id.
//!
//! Built from the catalogue (every version in `schemas/`), extended with whatever
//! the registry returns. A registry id is fetched once: concurrent lookups of the
//! same id wait for the one request in flight. A schema registered with Confluent
//! schema references is fetched with the subjects and versions it references
//! (recursively, each once, with one request in flight per reference) and made
//! self-contained (see [`crate::references`]). Ids the registry does not know are
//! remembered for a while, so a stream of messages with a bad id does not turn into
//! a stream of registry requests.
//!
//! The output schema's id is looked up under its subject before anything is
//! registered, so read-only registry credentials work once the schema is there.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use tokio::sync::OnceCell;

use crate::contract::{WriterSchema, catalogue};
use crate::error::CodecError;
use crate::references::{self, MAX_DEPTH};
use crate::registry::{Refusal, RegistryClient, SchemaReference};

/// How long an id the registry did not know stays known as unknown.
const UNKNOWN_ID_TTL: Duration = Duration::from_secs(30);
/// At most this many unknown ids are remembered.
const UNKNOWN_ID_CAPACITY: usize = 1024;
/// At most this many distinct schemas are accepted from a registry.
const MAX_FETCHED_SCHEMAS: usize = 10_000;

type Pending<T> = Arc<OnceCell<T>>;

/// A referenced subject version, made self-contained.
type Referenced = Arc<Json>;

/// Writer schemas known to this process.
#[derive(Debug)]
pub struct SchemaStore {
    by_fingerprint: RwLock<HashMap<u64, Arc<WriterSchema>>>,
    by_id: RwLock<HashMap<u32, Arc<WriterSchema>>>,
    fetching: Mutex<HashMap<u32, Pending<Arc<WriterSchema>>>>,
    unknown_ids: Mutex<HashMap<u32, Instant>>,
    registered: Mutex<HashMap<(String, u64), Pending<u32>>>,
    /// Referenced subject versions, by (subject, version); they never change.
    referenced: Mutex<HashMap<(String, i64), Pending<Referenced>>>,
    registry: Option<RegistryClient>,
    registration: SchemaRegistration,
}

impl SchemaStore {
    /// A store holding every schema of the catalogue, with an optional registry and
    /// how to find the output schema's id in it.
    pub fn new(
        registry: Option<RegistryClient>,
        registration: SchemaRegistration,
    ) -> Result<SchemaStore, String> {
        let mut by_fingerprint = HashMap::new();
        for entry in catalogue() {
            let schema = WriterSchema::parse(entry.text)
                .map_err(|e| format!("schema {} v{}: {e}", entry.name, entry.version))?;
            by_fingerprint.insert(schema.fingerprint, Arc::new(schema));
        }
        Ok(SchemaStore {
            by_fingerprint: RwLock::new(by_fingerprint),
            by_id: RwLock::new(HashMap::new()),
            fetching: Mutex::new(HashMap::new()),
            unknown_ids: Mutex::new(HashMap::new()),
            registered: Mutex::new(HashMap::new()),
            referenced: Mutex::new(HashMap::new()),
            registry,
            registration,
        })
    }

    /// The registry client, when one is configured.
    pub fn registry(&self) -> Option<&RegistryClient> {
        self.registry.as_ref()
    }

    /// The schema with this fingerprint, from the catalogue or an earlier fetch.
    pub fn by_fingerprint(&self, fingerprint: u64) -> Result<Arc<WriterSchema>, CodecError> {
        self.by_fingerprint
            .read()
            .expect("schema store")
            .get(&fingerprint)
            .cloned()
            .ok_or(CodecError::UnknownFingerprint(fingerprint))
    }

    /// The schema registered under `id`, fetched from the registry on first use.
    pub async fn by_id(&self, id: u32) -> Result<Arc<WriterSchema>, CodecError> {
        if let Some(schema) = self.by_id.read().expect("schema store").get(&id) {
            return Ok(schema.clone());
        }
        let Some(registry) = &self.registry else {
            return Err(CodecError::UnknownSchemaId {
                id,
                detail: "the message uses Confluent framing but no --schema-registry-url is set"
                    .into(),
            });
        };
        if let Some(since) = self.unknown_ids.lock().expect("schema store").get(&id)
            && since.elapsed() < UNKNOWN_ID_TTL
        {
            return Err(CodecError::UnknownSchemaId {
                id,
                detail: "the registry does not know it (cached answer)".into(),
            });
        }
        let cell = self
            .fetching
            .lock()
            .expect("schema store")
            .entry(id)
            .or_default()
            .clone();
        let fetched = cell
            .get_or_try_init(|| async {
                let fetched = registry.schema_by_id(id).await?;
                let text = if fetched.references.is_empty() {
                    fetched.schema
                } else {
                    self.with_references(registry, &fetched.schema, &fetched.references, 0)
                        .await
                        .map_err(|error| match error {
                            CodecError::UnknownSchemaId { detail, .. } => {
                                CodecError::UnknownSchemaId { id, detail }
                            }
                            other => other,
                        })?
                };
                let schema =
                    WriterSchema::parse(&text).map_err(|e| CodecError::UnknownSchemaId {
                        id,
                        detail: format!("the registry returned a schema that does not parse: {e}"),
                    })?;
                self.remember(Arc::new(schema))
            })
            .await
            .cloned();
        self.fetching.lock().expect("schema store").remove(&id);
        match fetched {
            Ok(schema) => {
                self.by_id
                    .write()
                    .expect("schema store")
                    .insert(id, schema.clone());
                Ok(schema)
            }
            Err(error) => {
                if matches!(error, CodecError::UnknownSchemaId { .. }) {
                    let mut unknown = self.unknown_ids.lock().expect("schema store");
                    if unknown.len() >= UNKNOWN_ID_CAPACITY {
                        unknown.retain(|_, since| since.elapsed() < UNKNOWN_ID_TTL);
                    }
                    if unknown.len() < UNKNOWN_ID_CAPACITY {
                        unknown.insert(id, Instant::now());
                    }
                }
                Err(error)
            }
        }
    }

    /// Keeps a fetched schema, sharing the catalogue's copy when it is the same schema.
    fn remember(&self, schema: Arc<WriterSchema>) -> Result<Arc<WriterSchema>, CodecError> {
        let mut known = self.by_fingerprint.write().expect("schema store");
        if let Some(existing) = known.get(&schema.fingerprint) {
            return Ok(existing.clone());
        }
        if known.len() >= catalogue().len() + MAX_FETCHED_SCHEMAS {
            return Err(CodecError::RegistryRefused(format!(
                "more than {MAX_FETCHED_SCHEMAS} distinct writer schemas fetched; refusing more"
            )));
        }
        known.insert(schema.fingerprint, schema.clone());
        Ok(schema)
    }

    /// `schema` with the definitions of its references in place.
    fn with_references<'a>(
        &'a self,
        registry: &'a RegistryClient,
        schema: &'a str,
        references: &'a [SchemaReference],
        depth: usize,
    ) -> Pin<Box<dyn Future<Output = Result<String, CodecError>> + Send + 'a>> {
        Box::pin(async move {
            if depth >= MAX_DEPTH {
                return Err(unknown(format!(
                    "schema references nest deeper than {MAX_DEPTH} (a cycle?)"
                )));
            }
            let mut definitions = HashMap::new();
            for reference in references {
                let definition = self.referenced(registry, reference, depth).await?;
                definitions.insert(reference.name.clone(), (*definition).clone());
            }
            references::inline(schema, &definitions).map_err(unknown)
        })
    }

    /// The self-contained definition of one referenced subject version, fetched once.
    async fn referenced(
        &self,
        registry: &RegistryClient,
        reference: &SchemaReference,
        depth: usize,
    ) -> Result<Referenced, CodecError> {
        let key = (reference.subject.clone(), reference.version);
        let cell = self
            .referenced
            .lock()
            .expect("schema store")
            .entry(key.clone())
            .or_default()
            .clone();
        let result = cell
            .get_or_try_init(|| async {
                let found = registry
                    .subject_version(&reference.subject, reference.version)
                    .await?
                    .ok_or_else(|| {
                        unknown(format!(
                            "the referenced subject {} has no version {} (type {})",
                            reference.subject, reference.version, reference.name
                        ))
                    })?;
                let text = if found.references.is_empty() {
                    found.schema
                } else {
                    self.with_references(registry, &found.schema, &found.references, depth + 1)
                        .await?
                };
                let json: Json = serde_json::from_str(&text).map_err(|e| {
                    unknown(format!(
                        "the referenced subject {} version {} is not JSON: {e}",
                        reference.subject, reference.version
                    ))
                })?;
                Ok::<_, CodecError>(Arc::new(json))
            })
            .await
            .cloned();
        if result.is_err() {
            // Failures are not cached: the next message asks again.
            self.referenced.lock().expect("schema store").remove(&key);
        }
        result
    }

    /// The id of `schema` (record `name`, with fingerprint `fingerprint`) under
    /// `subject`: looked up first, then registered or taken from the subject's latest
    /// version as [`SchemaRegistration`] says. Found once, then cached.
    pub async fn registered_id(
        &self,
        subject: &str,
        name: &str,
        schema: &str,
        fingerprint: u64,
    ) -> Result<u32, CodecError> {
        let Some(registry) = &self.registry else {
            return Err(CodecError::Encode(
                "Confluent output needs --schema-registry-url".into(),
            ));
        };
        let cell = self
            .registered
            .lock()
            .expect("schema store")
            .entry((subject.to_owned(), fingerprint))
            .or_default()
            .clone();
        cell.get_or_try_init(|| self.find_or_register(registry, subject, name, schema, fingerprint))
            .await
            .copied()
    }

    async fn find_or_register(
        &self,
        registry: &RegistryClient,
        subject: &str,
        name: &str,
        schema: &str,
        fingerprint: u64,
    ) -> Result<u32, CodecError> {
        // A lookup only reads: credentials that may not write find a schema that was
        // registered ahead (issue 15).
        if let Some(id) = registry.lookup(subject, schema).await? {
            return Ok(id);
        }
        let not_registered = |reason: String| CodecError::SchemaNotRegistered {
            subject: subject.to_owned(),
            schema: name.to_owned(),
            reason,
        };
        if self.registration.use_latest_version {
            return match registry.latest_version(subject).await? {
                Some(latest)
                    if crate::fingerprint::fingerprint(&latest.schema).ok()
                        == Some(fingerprint) =>
                {
                    Ok(latest.id)
                }
                Some(latest) => Err(not_registered(format!(
                    "--use-latest-version found id {} as the subject's latest version, which is \
                     another schema; register this worker's schema under the subject",
                    latest.id
                ))),
                None => Err(not_registered(
                    "--use-latest-version found no version of the subject; register this worker's \
                     schema under it"
                        .into(),
                )),
            };
        }
        if !self.registration.auto_register {
            return Err(not_registered(
                "--auto-register-schemas is off; register it under the subject ahead, or turn \
                 --auto-register-schemas on with credentials that may write"
                    .into(),
            ));
        }
        match registry.register(subject, schema).await {
            Ok(id) => Ok(id),
            Err(Refusal::Failed(error)) => Err(error),
            Err(
                refused @ Refusal::Refused {
                    status: 401 | 403, ..
                },
            ) => Err(not_registered(format!(
                "the registry refused to register it: {refused}; register it under the subject \
                 with credentials that may write, or give this worker such credentials"
            ))),
            Err(refused) => Err(CodecError::RegistryRefused(format!(
                "registering subject {subject}: {refused}"
            ))),
        }
    }

    /// The id of a schema under `subject` if it was registered already (no I/O).
    pub fn cached_id(&self, subject: &str, fingerprint: u64) -> Option<u32> {
        self.registered
            .lock()
            .expect("schema store")
            .get(&(subject.to_owned(), fingerprint))
            .and_then(|c| c.get().copied())
    }
}

/// A reference that cannot be resolved; the caller names the id.
fn unknown(detail: String) -> CodecError {
    CodecError::UnknownSchemaId { id: 0, detail }
}

/// How `encode` finds the registry id of the output schema, in the terms of
/// Confluent's serializers (`auto.register.schemas`, `use.latest.version`). The schema
/// is always looked up under its subject first, so credentials that may only read
/// work once the schema is registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaRegistration {
    /// Register the schema when the lookup does not find it.
    pub auto_register: bool,
    /// When the lookup does not find it, use the subject's latest version instead of
    /// registering, provided it is the same schema (same Parsing Canonical Form).
    pub use_latest_version: bool,
}

impl Default for SchemaRegistration {
    fn default() -> Self {
        SchemaRegistration {
            auto_register: true,
            use_latest_version: false,
        }
    }
}
