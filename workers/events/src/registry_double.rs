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

fn unavailable(state: &Registry) -> Option<Response> {
    state.requests.fetch_add(1, Ordering::SeqCst);
    state.failing.load(Ordering::SeqCst).then(|| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error_code": 50301, "message": "down"})),
        )
            .into_response()
    })
}

fn not_found(code: i64, message: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error_code": code, "message": message})),
    )
        .into_response()
}

/// The answer describing version `version` (1-based) of `subject`, holding `id`.
fn subject_schema(state: &Registry, subject: &str, version: usize, id: u32) -> Response {
    let schemas = state.schemas.lock().expect("registry");
    let Some(entry) = id.checked_sub(1).and_then(|i| schemas.get(i as usize)) else {
        return not_found(40403, "Schema not found");
    };
    let mut body = json!({
        "subject": subject,
        "version": version,
        "id": id,
        "schema": entry.schema,
    });
    if !entry.references.is_empty() {
        body["references"] = Value::Array(entry.references.clone());
    }
    Json(body).into_response()
}

async fn register(
    State(state): State<Arc<Registry>>,
    Path(subject): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if let Some(response) = unavailable(&state) {
        return response;
    }
    state.registrations.fetch_add(1, Ordering::SeqCst);
    if state.read_only.load(Ordering::SeqCst) {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({
                "error_code": 40301,
                "message": format!("User is denied operation Write on Subject: {subject}")
            })),
        )
            .into_response();
    }
    match body.get("schema").and_then(Value::as_str) {
        Some(schema) => {
            let references = body
                .get("references")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let id = id_of(&state, schema, references);
            add_version(&state, &subject, id);
            Json(json!({ "id": id })).into_response()
        }
        None => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error_code": 42201, "message": "no schema"})),
        )
            .into_response(),
    }
}

async fn lookup(
    State(state): State<Arc<Registry>>,
    Path(subject): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if let Some(response) = unavailable(&state) {
        return response;
    }
    let Some(schema) = body.get("schema").and_then(Value::as_str) else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error_code": 42201, "message": "no schema"})),
        )
            .into_response();
    };
    let Some(versions) = state
        .subjects
        .lock()
        .expect("registry")
        .get(&subject)
        .cloned()
    else {
        return not_found(40401, &format!("Subject '{subject}' not found."));
    };
    let found = {
        let schemas = state.schemas.lock().expect("registry");
        versions.iter().enumerate().find_map(|(index, id)| {
            let entry = schemas.get(id.checked_sub(1)? as usize)?;
            (entry.schema == schema).then_some((index + 1, *id))
        })
    };
    match found {
        Some((version, id)) => subject_schema(&state, &subject, version, id),
        None => not_found(40403, "Schema not found"),
    }
}

async fn version(
    State(state): State<Arc<Registry>>,
    Path((subject, version)): Path<(String, String)>,
) -> Response {
    if let Some(response) = unavailable(&state) {
        return response;
    }
    let Some(versions) = state
        .subjects
        .lock()
        .expect("registry")
        .get(&subject)
        .cloned()
    else {
        return not_found(40401, &format!("Subject '{subject}' not found."));
    };
    let index = match version.as_str() {
        "latest" => versions.len(),
        number => number.parse::<usize>().unwrap_or(0),
    };
    match index.checked_sub(1).and_then(|i| versions.get(i)) {
        Some(id) => subject_schema(&state, &subject, index, *id),
        None => not_found(40402, "Version not found."),
    }
}

async fn by_id(State(state): State<Arc<Registry>>, Path(id): Path<u32>) -> Response {
    if let Some(response) = unavailable(&state) {
        return response;
    }
    let schemas = state.schemas.lock().expect("registry");
    match id.checked_sub(1).and_then(|i| schemas.get(i as usize)) {
        Some(entry) => {
            let mut body = json!({ "schema": entry.schema });
            if !entry.references.is_empty() {
                body["references"] = Value::Array(entry.references.clone());
            }
            Json(body).into_response()
        }
        None => not_found(40403, "Schema not found"),
    }
}
