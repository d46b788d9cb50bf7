//! Writer schemas by fingerprint and by registry id.
//!
//! Built from the catalogue (every version in `schemas/`), extended with whatever
//! the registry returns. A registry id is fetched once: concurrent lookups of the
//! same id wait for the one request in flight. Ids the registry does not know are
//! remembered for a while, so a stream of messages with a bad id does not turn into
//! a stream of registry requests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

use crate::contract::{CATALOGUE, WriterSchema};
use crate::error::CodecError;
use crate::registry::RegistryClient;

/// How long an id the registry did not know stays known as unknown.
const UNKNOWN_ID_TTL: Duration = Duration::from_secs(30);
/// At most this many unknown ids are remembered.
const UNKNOWN_ID_CAPACITY: usize = 1024;
/// At most this many distinct schemas are accepted from a registry.
const MAX_FETCHED_SCHEMAS: usize = 10_000;

type Pending<T> = Arc<OnceCell<T>>;

/// Writer schemas known to this process.
#[derive(Debug)]
pub struct SchemaStore {
    by_fingerprint: RwLock<HashMap<u64, Arc<WriterSchema>>>,
    by_id: RwLock<HashMap<u32, Arc<WriterSchema>>>,
    fetching: Mutex<HashMap<u32, Pending<Arc<WriterSchema>>>>,
    unknown_ids: Mutex<HashMap<u32, Instant>>,
    registered: Mutex<HashMap<(String, u64), Pending<u32>>>,
    registry: Option<RegistryClient>,
}

impl SchemaStore {
    /// A store holding every schema of the catalogue, with an optional registry.
    pub fn new(registry: Option<RegistryClient>) -> Result<SchemaStore, String> {
        let mut by_fingerprint = HashMap::new();
        for entry in CATALOGUE {
            let schema = WriterSchema::parse(entry.text)
                .map_err(|e| format!("schemas/{}/v{}.avsc: {e}", entry.name, entry.version))?;
            by_fingerprint.insert(schema.fingerprint, Arc::new(schema));
        }
        Ok(SchemaStore {
            by_fingerprint: RwLock::new(by_fingerprint),
            by_id: RwLock::new(HashMap::new()),
            fetching: Mutex::new(HashMap::new()),
            unknown_ids: Mutex::new(HashMap::new()),
            registered: Mutex::new(HashMap::new()),
            registry,
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
                let text = registry.schema_by_id(id).await?;
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
        if known.len() >= CATALOGUE.len() + MAX_FETCHED_SCHEMAS {
            return Err(CodecError::RegistryRefused(format!(
                "more than {MAX_FETCHED_SCHEMAS} distinct writer schemas fetched; refusing more"
            )));
        }
        known.insert(schema.fingerprint, schema.clone());
        Ok(schema)
    }

    /// The id of `schema` (with fingerprint `fingerprint`) under `subject`, registering
    /// it on first use.
    pub async fn registered_id(
        &self,
        subject: &str,
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
        cell.get_or_try_init(|| registry.register(subject, schema))
            .await
            .copied()
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
