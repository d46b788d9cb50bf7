//! An in-process HTTP double of the Confluent Schema Registry API, for tests that
//! need a registry to fail on command, to refuse writes or to count requests.
//!
//! Serves, on an ephemeral loopback port:
//! - `POST /subjects/{subject}/versions`: registers (same schema text, same id);
//! - `POST /subjects/{subject}`: looks a schema up under a subject (404 with 40401 for
//!   an unknown subject, 40403 for a schema not under it);
//! - `GET /subjects/{subject}/versions/{version}` (a number or `latest`);
//! - `GET /schemas/ids/{id}` (404 with 40403 when unknown), with the schema's
//!   `references`.
//!
//! `set_failing(true)` makes every request answer HTTP 503; `set_read_only(true)`
//! makes registrations answer 403 with error code 40301, as a registry does for
//! credentials that may read but not write.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

struct Entry {
    schema: String,
    references: Vec<Value>,
}

#[derive(Default)]
struct Registry {
    schemas: Mutex<Vec<Entry>>,
    /// Ids of each subject's versions, oldest first.
    subjects: Mutex<HashMap<String, Vec<u32>>>,
    failing: AtomicBool,
    read_only: AtomicBool,
    requests: AtomicUsize,
    registrations: AtomicUsize,
}

/// A running registry double; stops when dropped.
pub struct RegistryDouble {
    /// Base URL of the API.
    pub url: String,
    state: Arc<Registry>,
    server: tokio::task::JoinHandle<()>,
}

impl RegistryDouble {
    /// Starts the double on `127.0.0.1:<ephemeral>`.
    pub async fn start() -> RegistryDouble {
        let state = Arc::new(Registry::default());
        let app = Router::new()
            .route("/subjects/{subject}", post(lookup))
            .route("/subjects/{subject}/versions", post(register))
            .route("/subjects/{subject}/versions/{version}", get(version))
            .route("/schemas/ids/{id}", get(by_id))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        RegistryDouble { url, state, server }
    }

    /// Makes every request fail with HTTP 503 (or succeed again).
    pub fn set_failing(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::SeqCst);
    }

    /// Makes registrations answer 403 with error code 40301 (or succeed again).
    pub fn set_read_only(&self, read_only: bool) {
        self.state.read_only.store(read_only, Ordering::SeqCst);
    }

    /// Requests served so far.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Registration requests (`POST /subjects/{subject}/versions`) so far, refused ones
    /// included.
    pub fn registrations(&self) -> usize {
        self.state.registrations.load(Ordering::SeqCst)
    }

    /// Registers `schema` without HTTP and under no subject, and returns its id.
    pub fn register(&self, schema: &str) -> u32 {
        id_of(&self.state, schema, Vec::new())
    }

    /// Registers `schema` under `subject` without HTTP and returns its id.
    pub fn register_under(&self, subject: &str, schema: &str) -> u32 {
        self.register_with_references(subject, schema, &[])
    }

    /// Registers `schema` under `subject` with Confluent schema references, each
    /// `(name, subject, version)`, and returns its id.
    pub fn register_with_references(
        &self,
        subject: &str,
        schema: &str,
        references: &[(&str, &str, i64)],
    ) -> u32 {
        let references = references
            .iter()
            .map(|(name, subject, version)| {
                json!({"name": name, "subject": subject, "version": version})
            })
            .collect();
        let id = id_of(&self.state, schema, references);
        add_version(&self.state, subject, id);
        id
    }
}

impl Drop for RegistryDouble {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn id_of(state: &Registry, schema: &str, references: Vec<Value>) -> u32 {
    let mut schemas = state.schemas.lock().expect("registry");
    let position = schemas
        .iter()
        .position(|s| s.schema == schema && s.references == references)
        .unwrap_or_else(|| {
            schemas.push(Entry {
                schema: schema.to_owned(),
                references,
            });
            schemas.len() - 1
        });
    position as u32 + 1
}

/// The version `id` has under `subject`, added when new.
fn add_version(state: &Registry, subject: &str, id: u32) -> usize {
    let mut subjects = state.subjects.lock().expect("registry");
    let versions = subjects.entry(subject.to_owned()).or_default();
    match versions.iter().position(|v| *v == id) {
        Some(index) => index + 1,
        None => {
            versions.push(id);
            versions.len()
        }
    }
}

/// An answer of the double; `Err` is one of the registry's error answers, so that a
/// handler stops at the first with `?`.
type Answer = Result<Response, Refusal>;

/// One of the registry's error answers: an HTTP status, and a body with the registry's
/// error code and a message.
struct Refusal {
    status: StatusCode,
    code: i64,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, code: i64, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            code,
            message: message.into(),
        }
    }

    fn not_found(code: i64, message: impl Into<String>) -> Refusal {
        Refusal::new(StatusCode::NOT_FOUND, code, message)
    }

    fn schema_not_found() -> Refusal {
        Refusal::not_found(40403, "Schema not found")
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = json!({"error_code": self.code, "message": self.message});
        (self.status, Json(body)).into_response()
    }
}

/// Counts the request; HTTP 503 while the double is set failing.
fn available(state: &Registry) -> Result<(), Refusal> {
    state.requests.fetch_add(1, Ordering::SeqCst);
    if state.failing.load(Ordering::SeqCst) {
        return Err(Refusal::new(StatusCode::SERVICE_UNAVAILABLE, 50301, "down"));
    }
    Ok(())
}

/// The `schema` text of a request body (422 with 42201 when it has none).
fn schema_text(body: &Value) -> Result<&str, Refusal> {
    body.get("schema")
        .and_then(Value::as_str)
        .ok_or_else(|| Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, 42201, "no schema"))
}

/// The ids of `subject`'s versions, oldest first (404 with 40401 for an unknown
/// subject).
fn versions_of(state: &Registry, subject: &str) -> Result<Vec<u32>, Refusal> {
    state
        .subjects
        .lock()
        .expect("registry")
        .get(subject)
        .cloned()
        .ok_or_else(|| Refusal::not_found(40401, format!("Subject '{subject}' not found.")))
}

/// The schema registered with id `id` (ids count from 1).
fn schema_by_id(schemas: &[Entry], id: u32) -> Option<&Entry> {
    schemas.get(id.checked_sub(1)? as usize)
}

impl Entry {
    /// The answer describing this schema: `body` with the schema's text and, when it
    /// has any, its references.
    fn answer(&self, mut body: Value) -> Response {
        body["schema"] = Value::String(self.schema.clone());
        if !self.references.is_empty() {
            body["references"] = Value::Array(self.references.clone());
        }
        Json(body).into_response()
    }
}

/// The answer describing version `version` (1-based) of `subject`, holding `id`.
fn subject_schema(state: &Registry, subject: &str, version: usize, id: u32) -> Answer {
    let schemas = state.schemas.lock().expect("registry");
    let entry = schema_by_id(&schemas, id).ok_or_else(Refusal::schema_not_found)?;
    Ok(entry.answer(json!({
        "subject": subject,
        "version": version,
        "id": id,
    })))
}

async fn register(
    State(state): State<Arc<Registry>>,
    Path(subject): Path<String>,
    Json(body): Json<Value>,
) -> Answer {
    available(&state)?;
    state.registrations.fetch_add(1, Ordering::SeqCst);
    if state.read_only.load(Ordering::SeqCst) {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            40301,
            format!("User is denied operation Write on Subject: {subject}"),
        ));
    }
    let schema = schema_text(&body)?;
    let references = body
        .get("references")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let id = id_of(&state, schema, references);
    add_version(&state, &subject, id);
    Ok(Json(json!({ "id": id })).into_response())
}

async fn lookup(
    State(state): State<Arc<Registry>>,
    Path(subject): Path<String>,
    Json(body): Json<Value>,
) -> Answer {
    available(&state)?;
    let schema = schema_text(&body)?;
    let versions = versions_of(&state, &subject)?;
    let found = {
        let schemas = state.schemas.lock().expect("registry");
        versions.iter().enumerate().find_map(|(index, id)| {
            let entry = schema_by_id(&schemas, *id)?;
            (entry.schema == schema).then_some((index + 1, *id))
        })
    };
    let (version, id) = found.ok_or_else(Refusal::schema_not_found)?;
    subject_schema(&state, &subject, version, id)
}

async fn version(
    State(state): State<Arc<Registry>>,
    Path((subject, version)): Path<(String, String)>,
) -> Answer {
    available(&state)?;
    let versions = versions_of(&state, &subject)?;
    let index = match version.as_str() {
        "latest" => versions.len(),
        number => number.parse::<usize>().unwrap_or(0),
    };
    let id = index
        .checked_sub(1)
        .and_then(|i| versions.get(i))
        .ok_or_else(|| Refusal::not_found(40402, "Version not found."))?;
    subject_schema(&state, &subject, index, *id)
}

async fn by_id(State(state): State<Arc<Registry>>, Path(id): Path<u32>) -> Answer {
    available(&state)?;
    let schemas = state.schemas.lock().expect("registry");
    let entry = schema_by_id(&schemas, id).ok_or_else(Refusal::schema_not_found)?;
    Ok(entry.answer(json!({})))
}
