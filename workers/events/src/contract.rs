//! The schema catalogue (`schemas/`, embedded at build time, plus the folders a worker
//! or command adds at start for schemas of its own) and the binding of each Rust event
//! type to its `.avsc` file.
//!
//! The `.avsc` files are the contract. A Rust type is bound to the newest version of
//! its schema by [`Record`]; binding checks that the Avro schema derived from the Rust
//! type has the same Parsing Canonical Form as the file, so the two cannot drift: the
//! unit tests bind every type, and a binary that drifted would refuse to start.
//!
//! Everything that can be prepared once is prepared here: parsed schemas, the
//! fingerprint, and one resolving reader per foreign writer schema, built on first use
//! and cached. Data of the type's own schema is read and written by [`crate::datum`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::schema_compatibility::SchemaCompatibility;
use apache_avro::types::Value;
use apache_avro::{AvroSchema, Schema};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::datum;
use crate::error::CodecError;
use crate::evolution::SchemaFile;
use crate::fingerprint;
use crate::json_form::JsonDatum;
use crate::resolve::Resolver;

/// One schema file: `schemas/<name>/v<version>.avsc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogueEntry {
    /// The schema folder it comes from: `schemas` (built in) or a `--schemas-dir`.
    pub folder: &'static str,
    /// The folder name, which is the record's short name.
    pub name: &'static str,
    /// The version number of the file.
    pub version: u32,
    /// The file's JSON text.
    pub text: &'static str,
}

/// The schemas built in: every version in the repository's `schemas/`, sorted by name
/// then version.
pub static CATALOGUE: &[CatalogueEntry] = include!(concat!(env!("OUT_DIR"), "/catalogue.rs"));

/// Schemas of folders added with [`add_schemas_dir`], and those folders.
static ADDED: Mutex<(Vec<CatalogueEntry>, Vec<PathBuf>)> = Mutex::new((Vec::new(), Vec::new()));

/// The catalogue of this process, fixed on first use.
static IN_USE: OnceLock<Vec<CatalogueEntry>> = OnceLock::new();

/// The schema catalogue of this process: the built-in schemas and those of the folders
/// added with [`add_schemas_dir`] before its first use, sorted by name then version.
pub fn catalogue() -> &'static [CatalogueEntry] {
    IN_USE.get_or_init(|| {
        let mut all = CATALOGUE.to_vec();
        all.extend(ADDED.lock().expect("catalogue").0.iter().copied());
        all.sort_by_key(|entry| (entry.name, entry.version));
        all
    })
}

/// Every schema file of `dir`, laid out as the repository's `schemas/` is
/// (`<Name>/v<N>.avsc`), sorted by name then version. Files and folders whose name
/// starts with a dot are skipped; any other file is an error that names it.
pub fn read_schemas_dir(dir: &Path) -> Result<Vec<SchemaFile>, String> {
    let listed = |dir: &Path| -> Result<Vec<PathBuf>, String> {
        let mut paths = std::fs::read_dir(dir)
            .map_err(|e| format!("reading {}: {e}", dir.display()))?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("reading {}: {e}", dir.display()))?;
        paths.retain(|p| {
            p.file_name()
                .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
        });
        paths.sort();
        Ok(paths)
    };
    let mut files = Vec::new();
    for folder in listed(dir)? {
        if !folder.is_dir() {
            return Err(format!(
                "{}: a schema folder holds one folder per record (<Name>/v<N>.avsc)",
                folder.display()
            ));
        }
        let name = folder
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        for path in listed(&folder)? {
            let version = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .as_deref()
                .and_then(|n| n.strip_prefix('v'))
                .and_then(|n| n.strip_suffix(".avsc"))
                .and_then(|n| n.parse::<u32>().ok())
                .ok_or_else(|| {
                    format!("{}: schema files must be named v<N>.avsc", path.display())
                })?;
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("reading {}: {e}", path.display()))?;
            files.push(SchemaFile {
                name: name.clone(),
                version,
                text,
            });
        }
    }
    files.sort_by(|a, b| (&a.name, a.version).cmp(&(&b.name, b.version)));
    Ok(files)
}

/// Adds every schema of `dir` (see [`read_schemas_dir`]) to the catalogue, for workers
/// and commands on schemas of their own: their Rust types bind to them as the built-in
/// ones do. Must run before the catalogue is first used (at start). Each file must parse,
/// its folder must be its record's short name, and a name and version the catalogue
/// already has must have the same text. Adding the same folder again changes nothing.
/// Returns how many schema files the folder holds.
pub fn add_schemas_dir(dir: &Path) -> Result<usize, String> {
    let files = read_schemas_dir(dir)?;
    let mut added = ADDED.lock().expect("catalogue");
    if added.1.iter().any(|known| known == dir) {
        return Ok(files.len());
    }
    let mut entries = Vec::new();
    for file in &files {
        let label = format!("{}/{}/v{}.avsc", dir.display(), file.name, file.version);
        serde_json::from_str::<serde_json::Value>(&file.text)
            .map_err(|e| format!("{label}: not JSON: {e}"))?;
        let schema = Schema::parse_str(&file.text)
            .map_err(|e| format!("{label}: not a valid Avro schema: {e}"))?;
        let short_name = schema.name().map(|n| n.name().to_owned());
        if short_name.as_deref() != Some(file.name.as_str()) {
            return Err(format!(
                "{label}: the folder must be named after the record it holds ({})",
                short_name.as_deref().unwrap_or("an unnamed type")
            ));
        }
        let known = CATALOGUE
            .iter()
            .chain(&added.0)
            .find(|entry| entry.name == file.name && entry.version == file.version);
        match known {
            Some(entry) if entry.text == file.text => {}
            Some(_) => {
                return Err(format!(
                    "{label}: {} version {} is already in the catalogue with another text",
                    file.name, file.version
                ));
            }
            None => entries.push(CatalogueEntry {
                folder: Box::leak(dir.display().to_string().into_boxed_str()),
                name: Box::leak(file.name.clone().into_boxed_str()),
                version: file.version,
                text: Box::leak(file.text.clone().into_boxed_str()),
            }),
        }
    }
    if IN_USE.get().is_some() {
        return Err(format!(
            "{}: the schema catalogue is already in use; schema folders are added at start",
            dir.display()
        ));
    }
    added.0.extend(entries);
    added.1.push(dir.to_owned());
    Ok(files.len())
}

/// The newest version of the schema called `name`.
pub fn newest(name: &str) -> Option<&'static CatalogueEntry> {
    catalogue()
        .iter()
        .filter(|e| e.name == name)
        .max_by_key(|e| e.version)
}

/// A Rust type that is the reader and writer type of one schema of the catalogue.
pub trait Record: Serialize + DeserializeOwned + AvroSchema + Send + Sync + 'static {
    /// The schema's folder name under `schemas/`.
    const SCHEMA: &'static str;

    /// The prepared binding of this type to its schema.
    fn contract() -> &'static Contract;
}

/// Implements [`Record`] for a type, binding it to the newest `schemas/<name>/`.
#[macro_export]
macro_rules! record {
    ($type:ty, $schema:literal) => {
        impl $crate::contract::Record for $type {
            const SCHEMA: &'static str = $schema;

            fn contract() -> &'static $crate::contract::Contract {
                static CONTRACT: ::std::sync::LazyLock<$crate::contract::Contract> =
                    ::std::sync::LazyLock::new(|| {
                        $crate::contract::Contract::bind::<$type>()
                            .unwrap_or_else(|e| panic!("{e}"))
                    });
                &CONTRACT
            }
        }
    };
}

/// A parsed writer schema: from the catalogue, or fetched from a registry.
#[derive(Debug)]
pub struct WriterSchema {
    /// The parsed schema. Writer schemas live for the whole process: there is one per
    /// distinct schema ever seen, bounded by the catalogue plus the registry's content.
    pub schema: &'static Schema,
    /// The schema's JSON text.
    pub json: Arc<str>,
    /// CRC-64-AVRO fingerprint of its canonical form.
    pub fingerprint: u64,
    /// Full name of the top-level type, when it is named.
    pub full_name: String,
    /// The transcoder to and from the JSON form, prepared on first use.
    form: OnceLock<Result<JsonDatum<'static>, String>>,
}

impl WriterSchema {
    /// Parses a schema's JSON text.
    pub fn parse(json: &str) -> Result<WriterSchema, String> {
        let schema = Schema::parse_str(json).map_err(|e| e.to_string())?;
        let fingerprint = fingerprint::fingerprint(json).map_err(|e| e.to_string())?;
        let full_name = schema.name().map(|n| n.fullname(None)).unwrap_or_default();
        Ok(WriterSchema {
            schema: Box::leak(Box::new(schema)),
            json: json.into(),
            fingerprint,
            full_name,
            form: OnceLock::new(),
        })
    }

    /// The transcoder between data of this schema and its JSON form, prepared once.
    pub fn json_form(&self) -> Result<&JsonDatum<'static>, String> {
        self.form
            .get_or_init(|| JsonDatum::new(self.schema))
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// A Rust type bound to its schema, with everything decoding and encoding need.
pub struct Contract {
    /// The schema's folder name.
    pub name: &'static str,
    /// Full name of the record.
    pub full_name: String,
    /// The newest version number.
    pub version: u32,
    /// The newest `.avsc` text: what is registered and fingerprinted.
    pub avsc: &'static str,
    /// CRC-64-AVRO fingerprint of the `.avsc`.
    pub fingerprint: u64,
    /// The `.avsc` parsed: the reader schema for resolution.
    reader_schema: &'static Schema,
    /// Per writer fingerprint: a reader of the writer's own schema and a resolver into
    /// ours, or why that writer is unreadable.
    resolvers: RwLock<HashMap<u64, Result<Arc<Resolution>, CodecError>>>,
}

impl std::fmt::Debug for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contract")
            .field("full_name", &self.full_name)
            .field("version", &self.version)
            .field("fingerprint", &format_args!("{:#018x}", self.fingerprint))
            .finish()
    }
}

impl Contract {
    /// Binds `T` to the newest version of `schemas/<T::SCHEMA>/`, proving that the
    /// schema derived from `T` and the file agree on the wire format.
    pub fn bind<T: Record>() -> Result<Contract, String> {
        let entry = newest(T::SCHEMA).ok_or_else(|| {
            format!(
                "no schema folder {} in the catalogue: add its folder with --schemas-dir \
                     (<Name>/v<N>.avsc files)",
                T::SCHEMA
            )
        })?;
        let context = format!("{}/{}/v{}.avsc", entry.folder, entry.name, entry.version);
        let file_form =
            fingerprint::canonical_form(entry.text).map_err(|e| format!("{context}: {e}"))?;
        let derived = T::get_schema();
        let derived_json = serde_json::to_value(&derived)
            .map_err(|e| format!("{context}: the Rust type's schema is not JSON: {e}"))?;
        let derived_form =
            fingerprint::canonical_form_of(&derived_json).map_err(|e| format!("{context}: {e}"))?;
        if derived_form != file_form {
            let at = file_form
                .bytes()
                .zip(derived_form.bytes())
                .position(|(a, b)| a != b)
                .unwrap_or(file_form.len().min(derived_form.len()));
            let around = |form: &str| {
                let start = form.floor_char_boundary(at.saturating_sub(60));
                let end = form.ceil_char_boundary((at + 60).min(form.len()));
                form[start..end].to_owned()
            };
            return Err(format!(
                "{context} and the Rust type {} disagree on the wire format at byte {at} of \
                 the canonical form:\n  file: …{}…\n  type: …{}…",
                std::any::type_name::<T>(),
                around(&file_form),
                around(&derived_form)
            ));
        }
        let reader_schema: &'static Schema = Box::leak(Box::new(
            Schema::parse_str(entry.text).map_err(|e| format!("{context}: {e}"))?,
        ));
        Ok(Contract {
            name: entry.name,
            full_name: reader_schema
                .name()
                .map(|n| n.fullname(None))
                .unwrap_or_default(),
            version: entry.version,
            avsc: entry.text,
            fingerprint: fingerprint::rabin(file_form.as_bytes()),
            reader_schema,
            resolvers: RwLock::new(HashMap::new()),
        })
    }

    /// The parsed newest schema.
    pub fn schema(&self) -> &'static Schema {
        self.reader_schema
    }

    /// Decodes one Avro datum written with `writer` into `T`, resolving the writer's
    /// schema to ours when they differ. Every byte must be consumed.
    pub fn decode<T: Record>(&self, writer: &WriterSchema, datum: &[u8]) -> Result<T, CodecError> {
        if writer.fingerprint == self.fingerprint {
            return self.decode_own(datum);
        }
        let value = self.resolution(writer)?.read(datum)?;
        apache_avro::from_value::<T>(&value).map_err(malformed)
    }

    /// Decodes one Avro datum written with exactly our newest schema, straight into `T`
    /// (see [`crate::datum`]: binding proved that `T`'s shape is this schema).
    pub fn decode_own<T: Record>(&self, datum: &[u8]) -> Result<T, CodecError> {
        let (value, rest) =
            datum::read::<T>(datum).map_err(|e| CodecError::Malformed(bounded(e.to_string())))?;
        self.no_trailing_bytes(rest)?;
        Ok(value)
    }

    fn no_trailing_bytes(&self, rest: &[u8]) -> Result<(), CodecError> {
        if rest.is_empty() {
            Ok(())
        } else {
            Err(CodecError::Malformed(format!(
                "{} trailing bytes after the {} record",
                rest.len(),
                self.name
            )))
        }
    }

    /// Appends `value` encoded as an Avro datum of the newest schema to `out`.
    pub fn encode<T: Record>(&self, value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
        datum::write(value, out).map_err(|e| CodecError::Encode(bounded(e.to_string())))
    }

    fn resolution(&self, writer: &WriterSchema) -> Result<Arc<Resolution>, CodecError> {
        if let Some(known) = self
            .resolvers
            .read()
            .expect("resolver cache")
            .get(&writer.fingerprint)
        {
            return known.clone();
        }
        let built = Resolution::new(
            writer.schema,
            self.reader_schema,
            format!("{} ({:#018x})", writer.full_name, writer.fingerprint),
            format!("{} v{}", self.full_name, self.version),
        )
        .map(Arc::new);
        self.resolvers
            .write()
            .expect("resolver cache")
            .insert(writer.fingerprint, built.clone());
        built
    }
}

/// How to read data of one writer schema as another (reader) schema: decode with the
/// writer's schema, then resolve into the reader's (see [`crate::resolve`]).
pub struct Resolution {
    reader: GenericDatumReader<'static>,
    resolver: Resolver,
    writer_name: String,
    reader_name: String,
}

impl std::fmt::Debug for Resolution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolution")
            .field("writer", &self.writer_name)
            .field("reader", &self.reader_name)
            .finish()
    }
}

impl Resolution {
    /// Prepares reading `writer` data as `reader`; fails when no datum of `writer` can
    /// be read as `reader`. The names are what errors call the two schemas.
    pub fn new(
        writer: &'static Schema,
        reader: &'static Schema,
        writer_name: String,
        reader_name: String,
    ) -> Result<Resolution, CodecError> {
        let resolver = Resolver::new(writer, reader).map_err(|error| CodecError::Resolution {
            writer: writer_name.clone(),
            reader: reader_name.clone(),
            error: Box::new(error),
        })?;
        let datum_reader = GenericDatumReader::builder(writer)
            .human_readable(false)
            .build()
            .map_err(malformed)?;
        Ok(Resolution {
            reader: datum_reader,
            resolver,
            writer_name,
            reader_name,
        })
    }

    /// Reads one datum (every byte of it) as a value of the reader's schema.
    pub fn read(&self, datum: &[u8]) -> Result<Value, CodecError> {
        let mut cursor = datum;
        let written = self.reader.read_value(&mut cursor).map_err(malformed)?;
        if !cursor.is_empty() {
            return Err(CodecError::Malformed(format!(
                "{} trailing bytes after the {} datum",
                cursor.len(),
                self.writer_name
            )));
        }
        self.resolver
            .resolve(written)
            .map_err(|error| CodecError::Resolution {
                writer: self.writer_name.clone(),
                reader: self.reader_name.clone(),
                error: Box::new(error),
            })
    }
}

/// Whether data written with `writer` can be read with `reader` under Avro's
/// resolution rules; the error names the field and why.
pub fn readable_as(writer: &Schema, reader: &Schema) -> Result<(), String> {
    SchemaCompatibility::can_read(writer, reader)
        .map(|_| ())
        .map_err(|error| {
            let mut message = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                message.push_str(": ");
                message.push_str(&cause.to_string());
                source = cause.source();
            }
            message
        })
}

fn malformed(error: apache_avro::Error) -> CodecError {
    CodecError::Malformed(bounded(error.to_string()))
}

/// Error texts can quote data; keep them short enough for a header and a log line.
fn bounded(mut text: String) -> String {
    const LIMIT: usize = 300;
    if text.len() > LIMIT {
        let mut cut = LIMIT;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod catalogue_tests {
    use super::*;

    /// A fresh folder under the system's temporary directory, removed when dropped.
    struct Folder(PathBuf);

    impl Folder {
        fn new(files: &[(&str, &str)]) -> Folder {
            let root = std::env::temp_dir().join(format!(
                "orderflow-schemas-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = std::fs::remove_dir_all(&root);
            for (path, text) in files {
                let path = root.join(path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, text).unwrap();
            }
            Folder(root)
        }
    }

    impl Drop for Folder {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const READING: &str = r#"{"type": "record", "name": "Reading", "namespace": "test",
        "fields": [{"name": "celsius", "type": "double"}]}"#;

    #[test]
    fn a_folder_is_read_in_the_layout_of_schemas() {
        let folder = Folder::new(&[
            ("Reading/v2.avsc", READING),
            ("Reading/v1.avsc", READING),
            (".hidden/v1.avsc", "not read"),
        ]);
        let files = read_schemas_dir(&folder.0).unwrap();
        let listed: Vec<_> = files.iter().map(|f| (f.name.as_str(), f.version)).collect();
        assert_eq!(listed, [("Reading", 1), ("Reading", 2)]);
        let missing = read_schemas_dir(&folder.0.join("nowhere")).unwrap_err();
        assert!(missing.starts_with("reading "), "{missing}");
    }

    #[test]
    fn a_folder_that_breaks_the_layout_or_the_catalogue_is_refused_naming_the_file() {
        let cases = [
            (
                "Reading/reading.avsc",
                READING,
                "schema files must be named v<N>.avsc",
            ),
            (
                "Reading/v1.avsc",
                "{",
                "not JSON: EOF while parsing an object at line 1",
            ),
            (
                "Reading/v1.avsc",
                "{\"type\": \"recrd\"}",
                "not a valid Avro schema",
            ),
            (
                "Sensor/v1.avsc",
                READING,
                "the folder must be named after the record it holds (Reading)",
            ),
            (
                "OrderEvent/v1.avsc",
                r#"{"type": "record", "name": "OrderEvent", "fields": []}"#,
                "OrderEvent version 1 is already in the catalogue with another text",
            ),
        ];
        for (path, text, expected) in cases {
            let folder = Folder::new(&[(path, text)]);
            let error = add_schemas_dir(&folder.0).unwrap_err();
            assert!(error.contains(expected), "{path}: {error}");
            assert!(error.contains(&folder.0.display().to_string()), "{error}");
        }
        let folder = Folder::new(&[("stray.avsc", READING)]);
        let error = add_schemas_dir(&folder.0).unwrap_err();
        assert!(error.contains("one folder per record"), "{error}");
    }
}
