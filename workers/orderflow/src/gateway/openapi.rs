//! The OpenAPI 3.1 document served at `/openapi.json`: the event endpoints of the
//! route table, their request bodies generated from the Avro schemas
//! ([`super::json_schema`]), and every response.

use orderflow_events::contract::WriterSchema;
use serde_json::{Value as Json, json};

use super::json_schema::Components;
use super::routes::Route;

/// The document for `routes` (each with its writer schema); `auth` adds the bearer
/// security requirement to the event endpoints.
pub fn document(routes: &[(Route, &WriterSchema)], auth: bool, max_body_bytes: usize) -> Json {
    let mut components = Components::default();
    let mut paths = serde_json::Map::new();
    for (route, writer) in routes {
        let event = components.add_record(writer.schema, &[route.id_field]);
        paths.insert(
            route.path.to_owned(),
            json!({ "post": event_operation(route, &writer.full_name, event, auth, max_body_bytes) }),
        );
    }
    paths.insert("/healthz".into(), plain_get("The process is up.", "ok"));
    paths.insert(
        "/readyz".into(),
        plain_get(
            "Ready when the producer has the metadata of every topic the gateway writes \
             (503 with the reason otherwise).",
            "ready",
        ),
    );
    paths.insert(
        "/metrics".into(),
        plain_get(
            "Prometheus text format: orderflow_gateway_requests_total{route,status}, \
             orderflow_gateway_request_duration_seconds{route}, \
             orderflow_gateway_events_total{route,outcome} and the process metrics.",
            "# TYPE orderflow_gateway_requests_total counter",
        ),
    );
    paths.insert(
        "/openapi.json".into(),
        json!({"get": {"summary": "This document.", "responses": {
            "200": {"description": "The OpenAPI document.",
                    "content": {"application/json": {}}}}}}),
    );
    let mut schemas = components.schemas;
    for (name, schema) in shared_schemas() {
        schemas.insert(name.to_owned(), schema);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "orderflow gateway",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Writes events given as JSON to Kafka as Avro. Each request holds one \
                event or an array of events; all are validated against the schema before any \
                is written (a request is accepted or refused as a whole), and the answer comes \
                after the broker acknowledged every event (acks=all, idempotent producer). \
                The event's JSON form is the one `orderflow produce` reads: the Avro JSON \
                encoding where a union of null and one type is null or the bare value, and any \
                other union's value is an object naming its branch ({\"OrderPlaced\": {...}}).",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    })
}

fn event_operation(
    route: &Route,
    full_name: &str,
    event: Json,
    auth: bool,
    max_body_bytes: usize,
) -> Json {
    let problem = |text: &str| {
        json!({"description": text,
               "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}})
    };
    let retry = |text: &str| {
        json!({"description": text,
               "headers": {"Retry-After": {"description": "Seconds to wait before retrying.",
                                            "schema": {"type": "integer"}}},
               "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Unavailable"}}}})
    };
    let mut operation = json!({
        "summary": format!("Write {full_name} events to {}", route.topic),
        "description": format!(
            "One event or a non-empty array of events of schemas/{schema}/ (the newest \
             version), written to topic {topic} keyed by {key}. {id} is generated (UUID v4) \
             when absent. Answers after the broker acknowledged every event.",
            schema = route.schema, topic = route.topic, key = route.key_field, id = route.id_field
        ),
        "requestBody": {
            "required": true,
            "content": {"application/json": {"schema": {
                "oneOf": [event.clone(), {"type": "array", "minItems": 1, "items": event}]
            }}},
        },
        "responses": {
            "202": {"description": "Every event was acknowledged by the broker.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}}},
            "400": {"description": "Not JSON, or events that do not match the schema: nothing was written.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ValidationFailed"}}}},
            "401": problem("The Authorization: Bearer token is missing or wrong (only with --auth-token-file)."),
            "413": problem(&format!("The body is larger than {max_body_bytes} bytes: nothing was written.")),
            "415": problem("The Content-Type is not application/json: nothing was written."),
            "500": {"description": "The broker refused an event for good (too large, not authorized); events listed with a partition were written, the rest were not.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Unavailable"}}}},
            "503": retry("Kafka is unreachable, the producer queue is full or too many requests are in flight. Without an events list nothing was written; with one, events listed with a partition were written, and the others were not acknowledged (one whose delivery timed out may still have been written, once). Retrying with the same event_ids is safe for consumers that deduplicate on event_id."),
        },
    });
    if auth {
        operation["security"] = json!([{"bearer": []}]);
    }
    operation
}

fn plain_get(summary: &str, example: &str) -> Json {
    json!({"get": {"summary": summary, "responses": {
        "200": {"description": "OK.", "content": {"text/plain": {"example": example}}},
        "503": {"description": "Not ready, with the reason.", "content": {"text/plain": {}}},
    }}})
}

fn shared_schemas() -> [(&'static str, Json); 4] {
    let written = json!({
        "type": "object",
        "required": ["index", "event_id"],
        "properties": {
            "index": {"type": "integer", "description": "Position in the request (0 for a single event)."},
            "event_id": {"type": "string"},
            "partition": {"type": "integer"},
            "offset": {"type": "integer", "format": "int64"},
            "error": {"type": "string", "description": "Why it was not written."},
        },
    });
    [
        (
            "Accepted",
            json!({"type": "object", "required": ["topic", "events"], "properties": {
                "topic": {"type": "string"},
                "events": {"type": "array", "items": written.clone()},
            }}),
        ),
        (
            "ValidationFailed",
            json!({"type": "object", "required": ["error", "errors"], "properties": {
                "error": {"type": "string"},
                "errors": {"type": "array", "items": {"type": "object",
                    "required": ["path", "message"],
                    "properties": {
                        "index": {"type": ["integer", "null"],
                                  "description": "Position of the event in the request (0 for a single event); null when the body is not JSON."},
                        "path": {"type": "string", "description": "Path of the field: names, union branches and [index], dot-separated; empty for the whole event."},
                        "message": {"type": "string"},
                    }}},
            }}),
        ),
        (
            "Problem",
            json!({"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}),
        ),
        (
            "Unavailable",
            json!({"type": "object", "required": ["error"], "properties": {
                "error": {"type": "string"},
                "events": {"type": "array", "items": written},
            }}),
        ),
    ]
}
