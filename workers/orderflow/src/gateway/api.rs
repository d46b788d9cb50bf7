//! The HTTP surface: the event endpoints of the route table, `/openapi.json`,
//! `/healthz`, `/readyz` and `/metrics`, as one axum router (tests drive it with
//! `oneshot`, no socket).
//!
//! A request for an event endpoint goes through, in order: the bearer token (401), the
//! content type (415), the body size (413), JSON and the schema (400, every error of
//! every event), readiness and a slot among the bounded in-flight requests (503), then
//! the producer: 202 once every event is acknowledged.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;
use orderflow_events::contract::WriterSchema;
use orderflow_events::{Codec, SchemaRef};
use serde_json::{Value as Json, json};
use tokio::sync::Semaphore;

use super::auth::BearerToken;
use super::metrics;
use super::routes::Route;
use super::sink::{EventSink, NotWritten};
use crate::produce::{Encoded, encode_bare};

/// Seconds a client should wait after a full queue or too many requests in flight.
const RETRY_SOON: u32 = 1;
/// Seconds a client should wait while Kafka is unreachable.
const RETRY_LATER: u32 = 5;

/// A route with the schema its events are written with.
#[derive(Debug)]
pub struct Endpoint {
    /// The route.
    pub route: Route,
    /// The newest version of its schema.
    pub writer: WriterSchema,
    /// The schema's header on the route's topic (fingerprint or registry id).
    pub header: SchemaRef,
}

/// Everything a request needs.
pub struct Gateway {
    /// Validates and encodes.
    pub codec: Arc<Codec>,
    /// The event endpoints.
    pub endpoints: Vec<Endpoint>,
    /// Where events go.
    pub sink: Arc<dyn EventSink>,
    /// The token clients must send, if any.
    pub token: Option<BearerToken>,
    /// Largest body accepted.
    pub max_body_bytes: usize,
    /// One permit per request allowed to produce at once.
    pub in_flight: Arc<Semaphore>,
    /// Renders `/metrics`.
    pub prometheus: PrometheusHandle,
    /// Set on SIGTERM: not ready, new events refused.
    pub stopping: AtomicBool,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("endpoints", &self.endpoints)
            .field("token", &self.token)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

/// The router of `gateway`.
pub fn router(gateway: Arc<Gateway>) -> Router {
    let routes: Vec<(Route, &WriterSchema)> = gateway
        .endpoints
        .iter()
        .map(|e| (e.route, &e.writer))
        .collect();
    let document = Arc::new(super::openapi::document(
        &routes,
        gateway.token.is_some(),
        gateway.max_body_bytes,
    ));
    let mut router = Router::new();
    for (index, endpoint) in gateway.endpoints.iter().enumerate() {
        router = router.route(
            endpoint.route.path,
            post(
                move |State(gateway): State<Arc<Gateway>>,
                      headers: HeaderMap,
                      body: Result<Bytes, BytesRejection>| async move {
                    events(&gateway, index, &headers, body).await
                },
            ),
        );
    }
    router
        .route(
            "/openapi.json",
            get(move || {
                let document = document.clone();
                async move { axum::Json(document.as_ref().clone()) }
            }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(render_metrics))
        .layer(DefaultBodyLimit::max(gateway.max_body_bytes))
        .layer(middleware::from_fn_with_state(gateway.clone(), measure))
        .with_state(gateway)
}

/// The paths served besides the event endpoints.
const FIXED_PATHS: [&str; 4] = ["/openapi.json", "/healthz", "/readyz", "/metrics"];

/// Counts every answer by route and status, and times it. The route label is a path the
/// gateway serves or `other`, so a client cannot grow the label set.
async fn measure(State(gateway): State<Arc<Gateway>>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let route = gateway
        .endpoints
        .iter()
        .map(|e| e.route.path)
        .chain(FIXED_PATHS)
        .find(|known| *known == path)
        .unwrap_or("other");
    let started = Instant::now();
    let response = next.run(request).await;
    metrics::request(route, response.status().as_u16(), started.elapsed());
    response
}

async fn readyz(State(gateway): State<Arc<Gateway>>) -> Response {
    match gateway.readiness() {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}\n"),
        )
            .into_response(),
    }
}

async fn render_metrics(State(gateway): State<Arc<Gateway>>) -> Response {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        // The process metrics too; no worker readiness or lag (the gateway has none).
        orderflow_runtime::metrics::render(&gateway.prometheus, &[]),
    )
        .into_response()
}

impl Gateway {
    fn readiness(&self) -> Result<(), String> {
        if self.stopping.load(Ordering::Relaxed) {
            return Err("shutting down".into());
        }
        self.sink.ready()
    }
}

/// A JSON answer.
fn answer(status: StatusCode, body: Json) -> Response {
    (status, axum::Json(body)).into_response()
}

fn problem(status: StatusCode, error: impl Into<String>) -> Response {
    answer(status, json!({"error": error.into()}))
}

fn unavailable(retry_after: u32, body: Json) -> Response {
    let mut response = answer(StatusCode::SERVICE_UNAVAILABLE, body);
    response.headers_mut().insert(
        RETRY_AFTER,
        retry_after.to_string().parse().expect("a number"),
    );
    response
}

/// Whether the content type is `application/json` (parameters such as `charset` are
/// allowed).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// One problem of a request's body.
fn field_error(index: Option<usize>, path: &str, message: &str) -> Json {
    json!({"index": index, "path": path, "message": message})
}

fn invalid(errors: Vec<Json>, total: usize) -> Response {
    answer(
        StatusCode::BAD_REQUEST,
        json!({
            "error": format!("{} of {total} events are invalid; nothing was written", errors.len()),
            "errors": errors,
        }),
    )
}

/// The events of a body: one object, or a non-empty array.
fn events_of(body: &[u8]) -> Result<Vec<Json>, Json> {
    match serde_json::from_slice::<Json>(body) {
        Ok(Json::Array(events)) if events.is_empty() => {
            Err(field_error(None, "", "an empty array: no events"))
        }
        Ok(Json::Array(events)) => Ok(events),
        Ok(event) => Ok(vec![event]),
        Err(error) => Err(field_error(None, "", &format!("not valid JSON: {error}"))),
    }
}

/// Gives every event without an id (absent or null) a new UUID v4; returns each event's
/// id (`None` where the event is not an object or its id not a string: it is invalid).
fn fill_ids(events: &mut [Json], id_field: &str) -> Vec<Option<String>> {
    events
        .iter_mut()
        .map(|event| {
            let object = event.as_object_mut()?;
            if object.get(id_field).is_none_or(Json::is_null) {
                let id = uuid::Uuid::new_v4().to_string();
                object.insert(id_field.to_owned(), Json::from(id));
            }
            object.get(id_field)?.as_str().map(str::to_owned)
        })
        .collect()
}

async fn events(
    gateway: &Gateway,
    index: usize,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let endpoint = &gateway.endpoints[index];
    let path = endpoint.route.path;
    if let Some(token) = &gateway.token
        && !token.admits(headers)
    {
        let mut response = problem(
            StatusCode::UNAUTHORIZED,
            "missing or wrong Authorization: Bearer token",
        );
        response
            .headers_mut()
            .insert(WWW_AUTHENTICATE, "Bearer".parse().expect("a header value"));
        return response;
    }
    if !is_json(headers) {
        return problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the Content-Type must be application/json",
        );
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the body is larger than {} bytes (send fewer events per request)",
                    gateway.max_body_bytes
                ),
            );
        }
        Err(rejection) => return problem(rejection.status(), rejection.body_text()),
    };
    let mut events = match events_of(&body) {
        Ok(events) => events,
        Err(error) => {
            return answer(
                StatusCode::BAD_REQUEST,
                json!({
                    "error": "the body is not an event or a non-empty array of events; nothing was written",
                    "errors": [error],
                }),
            );
        }
    };
    let ids = fill_ids(&mut events, endpoint.route.id_field);
    let mut records: Vec<Encoded> = Vec::with_capacity(events.len());
    let mut errors = Vec::new();
    for (at, event) in events.iter().enumerate() {
        match encode_bare(
            &gateway.codec,
            endpoint.header,
            &endpoint.writer,
            event,
            endpoint.route.key_field,
        ) {
            Ok(record) => records.push(record),
            Err(error) => errors.push(field_error(Some(at), &error.path, &error.message)),
        }
    }
    if !errors.is_empty() {
        metrics::events(path, "invalid", events.len());
        return invalid(errors, events.len());
    }
    if let Err(reason) = gateway.readiness() {
        metrics::events(path, "failed", events.len());
        return unavailable(
            RETRY_LATER,
            json!({"error": format!("Kafka is unavailable: {reason}; nothing was written")}),
        );
    }
    let Ok(_permit) = gateway.in_flight.clone().try_acquire_owned() else {
        metrics::events(path, "failed", events.len());
        return unavailable(
            RETRY_SOON,
            json!({"error": "too many requests in flight; nothing was written"}),
        );
    };
    let answers = gateway.sink.send(endpoint.route.topic, &records).await;
    let mut listed = Vec::with_capacity(answers.len());
    let mut worst: Option<NotWritten> = None;
    for (at, (answer, id)) in answers.into_iter().zip(ids).enumerate() {
        listed.push(match answer {
            Ok(written) => json!({"index": at, "event_id": id,
                                  "partition": written.partition, "offset": written.offset}),
            Err(error) => {
                let entry = json!({"index": at, "event_id": id, "error": error.message()});
                if worst.as_ref().is_none_or(NotWritten::is_retriable) {
                    worst = Some(error);
                }
                entry
            }
        });
    }
    let failed = listed.iter().filter(|e| e.get("error").is_some()).count();
    metrics::events(path, "acknowledged", listed.len() - failed);
    metrics::events(path, "failed", failed);
    match worst {
        None => answer(
            StatusCode::ACCEPTED,
            json!({"topic": endpoint.route.topic, "events": listed}),
        ),
        Some(error) => {
            let body = json!({
                "error": format!("{failed} of {} events were not written: {}",
                                 listed.len(), error.message()),
                "events": listed,
            });
            match error {
                NotWritten::QueueFull => unavailable(RETRY_SOON, body),
                NotWritten::Refused(_) => answer(StatusCode::INTERNAL_SERVER_ERROR, body),
                _ => unavailable(RETRY_LATER, body),
            }
        }
    }
}

#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
