//! Workers against a real schema registry (Apicurio's Confluent-compatible API) with
//! read-only credentials: the output schema registered ahead is looked up, never
//! registered; a missing one stops the worker at start, naming the subject.
//!
//! Apicurio's ccompat API has no per-user read-only role, so a proxy in front of it
//! forwards every request but registrations, which it answers as a registry answers
//! credentials that may not write: HTTP 403, error code 40301.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use orderflow_events::{OrderStatusChanged, Record};
use orderflow_tests::orders::events;
use orderflow_tests::process::Process;
use orderflow_tests::{kafka, payload, registry_url, unique};

use crate::runtime::{produce, topics, worker_args};

/// A registry proxy that refuses registrations with 403/40301.
struct ReadOnlyProxy {
    /// The proxy's base URL (same path as the upstream's).
    url: String,
    refused: Arc<AtomicUsize>,
    server: tokio::task::JoinHandle<()>,
}

impl ReadOnlyProxy {
    async fn start(upstream: &str) -> ReadOnlyProxy {
        let parsed = reqwest::Url::parse(upstream).expect("registry URL");
        let origin = parsed.origin().ascii_serialization();
        let refused = Arc::new(AtomicUsize::new(0));
        let counter = refused.clone();
        let http = reqwest::Client::new();
        let app = Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let (origin, counter, http) = (origin.clone(), counter.clone(), http.clone());
                async move {
                    // POST /subjects/{subject}/versions registers; POST /subjects/{subject}
                    // (the lookup) only reads.
                    if method == Method::POST && uri.path().ends_with("/versions") {
                        counter.fetch_add(1, Ordering::SeqCst);
                        return (
                            StatusCode::FORBIDDEN,
                            [("content-type", "application/vnd.schemaregistry.v1+json")],
                            r#"{"error_code":40301,"message":"User is denied operation Write on Subject"}"#,
                        )
                            .into_response();
                    }
                    forward(&http, &origin, method, &uri, &headers, body).await
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!(
            "http://{}{}",
            listener.local_addr().expect("address"),
            parsed.path().trim_end_matches('/')
        );
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ReadOnlyProxy {
            url,
            refused,
            server,
        }
    }

    fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }
}

impl Drop for ReadOnlyProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn forward(
    http: &reqwest::Client,
    origin: &str,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let target = format!(
        "{origin}{}",
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    );
    let mut request = http.request(method, target).body(body);
    for name in ["content-type", "accept", "authorization"] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(answer) => {
            let status = answer.status();
            let content_type = answer
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/json")
                .to_owned();
            let body = answer.bytes().await.unwrap_or_default();
            (status, [("content-type", content_type)], body).into_response()
        }
        Err(error) => (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    }
}

/// Registers `schema` under `subject` directly (credentials that may write).
async fn register(registry: &str, subject: &str, schema: &str) -> u32 {
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{registry}/subjects/{subject}/versions"))
        .header("content-type", "application/vnd.schemaregistry.v1+json")
        .json(&serde_json::json!({ "schema": schema }))
        .send()
        .await
        .expect("registry")
        .error_for_status()
        .expect("registered")
        .json()
        .await
        .expect("JSON");
    answer["id"].as_u64().expect("id") as u32
}

/// Issue 15: read-only registry credentials with the output schema registered ahead.
#[orderflow_tests::test(timeout = 240)]
async fn read_only_registry_credentials_use_the_output_schema_registered_ahead() {
    let kafka = kafka().await;
    let upstream = registry_url();
    let proxy = ReadOnlyProxy::start(&upstream).await;

    let registered = topics(kafka, 1).await;
    let subject = format!("{}-value", registered.output);
    let id = register(&upstream, &subject, OrderStatusChanged::contract().avsc).await;
    let inputs = events(&unique("read-only"), 3, 6).await;
    produce(kafka, &registered.input, &inputs).await;
    let flags = worker_args(
        kafka,
        &registered,
        "exactly-once",
        &["--schema-registry-url", &proxy.url],
    );
    let mut worker = Process::start("order-status", &flags, &[]);
    let outputs = kafka
        .consume(&registered.output, inputs.len(), Duration::from_secs(90))
        .await;
    assert_eq!(
        outputs.len(),
        inputs.len(),
        "every event processed with read-only credentials:\n{}",
        worker.log()
    );
    for output in &outputs {
        assert_eq!(payload(output)[..5], [&[0][..], &id.to_be_bytes()].concat());
    }
    assert_eq!(proxy.refused(), 0, "nothing was registered");
    worker.terminate();
    let status = worker.wait(Duration::from_secs(25)).await;
    assert!(status.is_some_and(|s| s.success()), "exit: {status:?}");

    // A subject without the schema: the worker stops at start with exit code 2 and a
    // message that names the subject and says what to do.
    let missing = topics(kafka, 1).await;
    let subject = format!("{}-value", missing.output);
    let flags = worker_args(
        kafka,
        &missing,
        "exactly-once",
        &["--schema-registry-url", &proxy.url],
    );
    let mut worker = Process::start("order-status", &flags, &[]);
    let status = worker
        .wait(Duration::from_secs(60))
        .await
        .expect("the worker stops at start");
    let log = worker.log();
    println!("{log}");
    assert_eq!(status.code(), Some(2), "{log}");
    assert!(log.contains(&subject), "names the subject:\n{log}");
    assert!(log.contains("40301"), "says what the registry said:\n{log}");
    assert!(
        log.contains("register it under the subject"),
        "says what to do:\n{log}"
    );
    assert_eq!(proxy.refused(), 1, "one registration attempt");
}
