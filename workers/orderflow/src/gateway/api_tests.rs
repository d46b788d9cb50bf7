//! The router without Kafka: a recording sink stands in for the producer.

use std::sync::Mutex;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use futures::future::BoxFuture;
use http_body_util::BodyExt;
use orderflow_events::{CodecSettings, OrderEvent, sample};
use tower::ServiceExt;

use super::*;
use crate::gateway::routes::ROUTES;
use crate::gateway::sink::Written;

/// Records what it is given; answers with `answer`, or offsets counted from 0.
#[derive(Default)]
struct RecordingSink {
    sent: Mutex<Vec<(String, Encoded)>>,
    answer: Mutex<Option<NotWritten>>,
    unready: Mutex<Option<String>>,
}

impl EventSink for RecordingSink {
    fn send(
        &self,
        topic: &str,
        records: &[Encoded],
    ) -> BoxFuture<'static, Vec<Result<Written, NotWritten>>> {
        let mut sent = self.sent.lock().unwrap();
        let failure = self.answer.lock().unwrap().clone();
        let answers = records
            .iter()
            .map(|record| {
                sent.push((topic.to_owned(), record.clone()));
                match &failure {
                    Some(error) => Err(error.clone()),
                    None => Ok(Written {
                        partition: 0,
                        offset: sent.len() as i64 - 1,
                    }),
                }
            })
            .collect();
        Box::pin(async move { answers })
    }

    fn ready(&self) -> Result<(), String> {
        self.unready.lock().unwrap().clone().map_or(Ok(()), Err)
    }

    fn flush(&self, _: Duration) -> Result<(), String> {
        Ok(())
    }
}

struct Harness {
    router: Router,
    sink: Arc<RecordingSink>,
    codec: Arc<Codec>,
    gateway: Arc<Gateway>,
}

async fn harness(token: Option<&str>, max_body_bytes: usize) -> Harness {
    let codec = Arc::new(Codec::new(CodecSettings::default()).unwrap());
    let sink = Arc::new(RecordingSink::default());
    let gateway = Arc::new(Gateway {
        endpoints: crate::gateway::endpoints(&codec, ROUTES).await.unwrap(),
        codec: codec.clone(),
        sink: sink.clone(),
        token: token.map(|t| BearerToken::new(t).unwrap()),
        max_body_bytes,
        in_flight: Arc::new(Semaphore::new(4)),
        prometheus: orderflow_runtime::metrics::prometheus(),
        stopping: AtomicBool::new(false),
    });
    Harness {
        router: router(gateway.clone()),
        sink,
        codec,
        gateway,
    }
}

fn order(id: &str) -> Json {
    let mut event = sample::order_placed(1);
    event.order_id = id.into();
    serde_json::to_value(event).unwrap()
}

async fn call(router: &Router, request: Request<Body>) -> (StatusCode, HeaderMap, Json) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Json::from(String::from_utf8_lossy(&bytes).into_owned()));
    (status, headers, body)
}

fn post() -> axum::http::request::Builder {
    Request::post("/v1/orders/events").header(CONTENT_TYPE, "application/json")
}

async fn post_json(router: &Router, body: &Json) -> (StatusCode, HeaderMap, Json) {
    call(router, post().body(Body::from(body.to_string())).unwrap()).await
}

#[tokio::test]
async fn a_single_event_is_written_keyed_by_order_id_and_answered_with_its_offset() {
    let h = harness(None, 1 << 20).await;
    let event = order("ord-1");
    let (status, _, body) = post_json(&h.router, &event).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["topic"], "orders.lifecycle");
    assert_eq!(
        body["events"],
        json!([{"index": 0, "event_id": event["event_id"], "partition": 0, "offset": 0}])
    );
    let sent = h.sink.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "orders.lifecycle");
    assert_eq!(sent[0].1.key.as_deref(), Some(&b"ord-1"[..]));
    let decoded = h
        .codec
        .decode::<OrderEvent>(sent[0].1.value.as_deref().unwrap())
        .await
        .unwrap()
        .value;
    assert_eq!(serde_json::to_value(decoded).unwrap(), event);
}

#[tokio::test]
async fn an_event_without_an_id_gets_a_new_uuid_v4_which_is_returned_and_written() {
    let h = harness(None, 1 << 20).await;
    let mut absent = order("a");
    absent.as_object_mut().unwrap().remove("event_id");
    let mut nulled = order("b");
    nulled["event_id"] = Json::Null;
    let given = order("c");
    let events = Json::Array(vec![absent, nulled, given.clone()]);
    let (status, _, body) = post_json(&h.router, &events).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let ids: Vec<&str> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap())
        .collect();
    for id in &ids[..2] {
        let uuid = uuid::Uuid::parse_str(id).unwrap();
        assert_eq!(uuid.get_version_num(), 4);
    }
    assert_ne!(ids[0], ids[1]);
    assert_eq!(ids[2], given["event_id"]);
    let sent = h.sink.sent.lock().unwrap().clone();
    for ((_, record), id) in sent.iter().zip(&ids) {
        let event = h
            .codec
            .decode::<OrderEvent>(record.value.as_deref().unwrap())
            .await
            .unwrap()
            .value;
        assert_eq!(event.event_id, *id);
    }
}

#[tokio::test]
async fn one_invalid_event_refuses_the_whole_array_listing_index_and_field_path() {
    let h = harness(None, 1 << 20).await;
    let mut wrong = order("b");
    wrong["payload"]["OrderPlaced"]["line_items"][0]["quantity"] = Json::from("two");
    let mut missing = order("c");
    missing.as_object_mut().unwrap().remove("customer_id");
    let (status, _, body) =
        post_json(&h.router, &json!([order("a"), wrong, missing, "text"])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["error"],
        "3 of 4 events are invalid; nothing was written"
    );
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(
        errors[0],
        json!({"index": 1, "path": "payload.OrderPlaced.line_items[0].quantity",
               "message": "expected int, found string \"two\""})
    );
    assert_eq!(errors[1]["index"], 2);
    assert!(
        errors[1]["message"]
            .as_str()
            .unwrap()
            .contains("customer_id"),
        "{body}"
    );
    assert_eq!(errors[2]["index"], 3);
    assert!(h.sink.sent.lock().unwrap().is_empty());
}

#[tokio::test]
async fn broken_json_and_an_empty_array_are_400_without_an_index() {
    let h = harness(None, 1 << 20).await;
    for text in ["{\"order_id\": ", "[]"] {
        let (status, _, body) = call(&h.router, post().body(Body::from(text)).unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["errors"][0]["index"], Json::Null, "{body}");
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .starts_with("the body is not an event"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn only_application_json_is_accepted() {
    let h = harness(None, 1 << 20).await;
    let body = order("a").to_string();
    let with = |content_type: Option<&str>| {
        let mut request = Request::post("/v1/orders/events");
        if let Some(value) = content_type {
            request = request.header(CONTENT_TYPE, value);
        }
        request.body(Body::from(body.clone())).unwrap()
    };
    for refused in [None, Some("text/plain"), Some("application/x-ndjson")] {
        let (status, _, answer) = call(&h.router, with(refused)).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{refused:?}");
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .contains("application/json")
        );
    }
    let (status, _, _) = call(&h.router, with(Some("application/json; charset=utf-8"))).await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_and_nothing_is_written() {
    let h = harness(None, 2048).await;
    let events = Json::Array((0..20).map(|i| order(&format!("o{i}"))).collect());
    let (status, _, body) = post_json(&h.router, &events).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("2048 bytes"),
        "{body}"
    );
    assert!(h.sink.sent.lock().unwrap().is_empty());
    assert_eq!(
        post_json(&h.router, &order("a")).await.0,
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn with_a_token_the_event_endpoints_need_it_and_health_does_not() {
    let h = harness(Some("s3cret"), 1 << 20).await;
    let body = order("a").to_string();
    let with = |authorization: Option<&str>| {
        let mut request = post();
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request.body(Body::from(body.clone())).unwrap()
    };
    for refused in [None, Some("Bearer wrong"), Some("s3cret")] {
        let (status, headers, _) = call(&h.router, with(refused)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{refused:?}");
        assert_eq!(headers[WWW_AUTHENTICATE], "Bearer");
    }
    assert_eq!(
        call(&h.router, with(Some("Bearer s3cret"))).await.0,
        StatusCode::ACCEPTED
    );
    let health = Request::get("/healthz").body(Body::empty()).unwrap();
    assert_eq!(call(&h.router, health).await.0, StatusCode::OK);
    let (_, _, document) = call(
        &h.router,
        Request::get("/openapi.json").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(
        document["paths"]["/v1/orders/events"]["post"]["security"],
        json!([{"bearer": []}])
    );
}

#[tokio::test]
async fn kafka_unavailable_or_a_full_queue_is_503_with_retry_after() {
    let h = harness(None, 1 << 20).await;
    *h.sink.unready.lock().unwrap() = Some("no metadata".into());
    let (status, headers, body) = post_json(&h.router, &order("a")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(headers[RETRY_AFTER], RETRY_LATER.to_string().as_str());
    let ready = Request::get("/readyz").body(Body::empty()).unwrap();
    assert_eq!(
        call(&h.router, ready).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert!(h.sink.sent.lock().unwrap().is_empty());

    *h.sink.unready.lock().unwrap() = None;
    *h.sink.answer.lock().unwrap() = Some(NotWritten::QueueFull);
    let (status, headers, body) = post_json(&h.router, &json!([order("a"), order("b")])).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(headers[RETRY_AFTER], RETRY_SOON.to_string().as_str());
    assert_eq!(body["events"][1]["error"], "the producer queue is full");

    *h.sink.answer.lock().unwrap() = None;
    let permits: Vec<_> = (0..4)
        .map(|_| h.gateway.in_flight.clone().try_acquire_owned().unwrap())
        .collect();
    let (status, headers, body) = post_json(&h.router, &order("a")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(headers.contains_key(RETRY_AFTER));
    drop(permits);
    assert_eq!(
        post_json(&h.router, &order("a")).await.0,
        StatusCode::ACCEPTED
    );

    h.gateway.stopping.store(true, Ordering::Relaxed);
    assert_eq!(
        post_json(&h.router, &order("a")).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn the_openapi_document_describes_every_route_and_response_from_the_schema() {
    let h = harness(None, 1 << 20).await;
    let (status, _, document) = call(
        &h.router,
        Request::get("/openapi.json").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(document["openapi"], "3.1.0");
    let post = &document["paths"]["/v1/orders/events"]["post"];
    let responses: Vec<&String> = post["responses"].as_object().unwrap().keys().collect();
    assert_eq!(responses, ["202", "400", "401", "413", "415", "500", "503"]);
    assert!(post.get("security").is_none());
    let body = &post["requestBody"]["content"]["application/json"]["schema"]["oneOf"];
    assert_eq!(
        body[0]["$ref"],
        "#/components/schemas/io.orderflow.events.OrderEvent"
    );
    assert_eq!(body[1]["type"], "array");
    let schemas = &document["components"]["schemas"];
    assert!(schemas["io.orderflow.events.OrderPlaced"].is_object());
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        assert!(document["paths"][path]["get"].is_object(), "{path}");
    }
    let users = &document["paths"]["/v1/users/events"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"]["oneOf"];
    assert_eq!(
        users[0]["$ref"],
        "#/components/schemas/io.orderflow.events.UserEvent"
    );
    assert!(schemas["io.orderflow.events.UserEmailChanged"].is_object());
}

#[tokio::test]
async fn requests_are_counted_by_route_and_status() {
    let h = harness(None, 1 << 20).await;
    metrics::describe();
    post_json(&h.router, &order("a")).await;
    post_json(&h.router, &json!({"order_id": 1})).await;
    let (status, _, text) = call(
        &h.router,
        Request::get("/metrics").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let text = text.as_str().unwrap();
    assert!(
        text.contains(
            "orderflow_gateway_requests_total{route=\"/v1/orders/events\",status=\"202\"}"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "orderflow_gateway_requests_total{route=\"/v1/orders/events\",status=\"400\"}"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "orderflow_gateway_request_duration_seconds_bucket{route=\"/v1/orders/events\""
        ),
        "{text}"
    );
}

#[tokio::test]
async fn an_unknown_path_is_404() {
    let h = harness(None, 1 << 20).await;
    let request = Request::post("/v1/carts/events")
        .header(CONTENT_TYPE, "application/json")
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(call(&h.router, request).await.0, StatusCode::NOT_FOUND);
}
