//! An in-process HTTP double of the Confluent Schema Registry API, for tests that
//! need a registry to fail on command or to count requests.
//!
//! Serves `POST /subjects/{subject}/versions` (same schema text, same id) and
//! `GET /schemas/ids/{id}` (404 with error code 40403 when unknown) on an ephemeral
//! loopback port. `set_failing(true)` makes every request answer HTTP 503.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

#[derive(Default)]
struct Registry {
    schemas: Mutex<Vec<String>>,
    failing: AtomicBool,
    requests: AtomicUsize,
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
            .route("/subjects/{subject}/versions", post(register))
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

    /// Requests served so far.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// Registers `schema` without HTTP and returns its id.
    pub fn register(&self, schema: &str) -> u32 {
        id_of(&self.state, schema)
    }
}

impl Drop for RegistryDouble {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn id_of(state: &Registry, schema: &str) -> u32 {
    let mut schemas = state.schemas.lock().expect("registry");
    let position = schemas.iter().position(|s| s == schema).unwrap_or_else(|| {
        schemas.push(schema.to_owned());
        schemas.len() - 1
    });
    position as u32 + 1
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

async fn register(
    State(state): State<Arc<Registry>>,
    Path(_subject): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if let Some(response) = unavailable(&state) {
        return response;
    }
    match body.get("schema").and_then(Value::as_str) {
        Some(schema) => Json(json!({ "id": id_of(&state, schema) })).into_response(),
        None => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"error_code": 42201, "message": "no schema"})),
        )
            .into_response(),
    }
}

async fn by_id(State(state): State<Arc<Registry>>, Path(id): Path<u32>) -> Response {
    if let Some(response) = unavailable(&state) {
        return response;
    }
    let schemas = state.schemas.lock().expect("registry");
    match id.checked_sub(1).and_then(|i| schemas.get(i as usize)) {
        Some(schema) => Json(json!({ "schema": schema })).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error_code": 40403, "message": "Schema not found"})),
        )
            .into_response(),
    }
}
