//! `orderflow gateway` against the real broker: events posted over HTTP are in the
//! topic exactly once, at the partition and offset the 202 answer gives; refused
//! requests write nothing; an unreachable broker is a 503 with Retry-After.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use orderflow_events::{Codec, CodecSettings, OrderEvent, sample};
use orderflow_tests::process::Process;
use orderflow_tests::{free_port, http_get, kafka, payload, unique};
use rdkafka::Message;
use serde_json::{Value as Json, json};

/// A gateway child process (killed on drop) and its base URL.
struct Gateway {
    process: Process,
    url: String,
}

impl Gateway {
    fn start(bootstrap_servers: &str, topic: &str, extra: &[&str]) -> Gateway {
        let port = free_port();
        let mut args: Vec<String> = [
            "gateway",
            "-b",
            bootstrap_servers,
            "--topic",
            &format!("orders={topic}"),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        Gateway {
            process: Process::start("orderflow", &args, &[]),
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Waits until `/readyz` answers `status`.
    async fn wait_readyz(&self, status: u16) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some((code, _)) = http_get(&format!("{}/readyz", self.url)).await
                && code == status
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "/readyz did not answer {status} within 30 s:\n{}",
                self.process.log_tail(30)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// POSTs `body` to the orders endpoint: status, headers, JSON body.
    async fn post(
        &self,
        body: String,
        content_type: &str,
        token: Option<&str>,
    ) -> (u16, reqwest::header::HeaderMap, Json) {
        let mut request = reqwest::Client::new()
            .post(format!("{}/v1/orders/events", self.url))
            .header("content-type", content_type)
            .timeout(Duration::from_secs(30))
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("the gateway answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.json().await.unwrap_or(Json::Null);
        (status, headers, body)
    }
}

fn order(i: usize) -> Json {
    let mut event = sample::order_placed(i);
    event.order_id = format!("gw-{i}");
    event.event_id = uuid::Uuid::new_v4().to_string();
    serde_json::to_value(event).unwrap()
}

/// (event_id, partition, offset) of every event of a 202 answer.
fn acknowledged(body: &Json) -> Vec<(String, i32, i64)> {
    body["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["event_id"].as_str().unwrap().to_owned(),
                e["partition"].as_i64().unwrap() as i32,
                e["offset"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[orderflow_tests::test(timeout = 120)]
async fn posted_events_are_in_the_topic_exactly_once_at_the_offsets_returned() {
    let kafka = kafka().await;
    let topic = unique("gateway-orders");
    kafka.create_topic(&topic, 3, 1).await;
    let mut gateway = Gateway::start(kafka.bootstrap_servers(), &topic, &[]);
    gateway.wait_readyz(200).await;

    let mut single = order(0);
    single.as_object_mut().unwrap().remove("event_id");
    let (status, _, body) = gateway
        .post(single.to_string(), "application/json", None)
        .await;
    assert_eq!(status, 202, "{body}");
    let mut written = acknowledged(&body);
    let generated = uuid::Uuid::parse_str(&written[0].0).expect("a generated UUID");
    assert_eq!(generated.get_version_num(), 4);

    let array: Vec<Json> = (1..=6).map(order).collect();
    let (status, _, body) = gateway
        .post(
            Json::Array(array.clone()).to_string(),
            "application/json",
            None,
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let batch = acknowledged(&body);
    for (event, (id, _, _)) in array.iter().zip(&batch) {
        assert_eq!(event["event_id"], id.as_str());
    }
    written.extend(batch);

    let records = kafka
        .consume(&topic, written.len(), Duration::from_secs(30))
        .await;
    // Anything written twice would show up within a short extra read.
    let extra = kafka
        .consume(&topic, written.len() + 1, Duration::from_secs(3))
        .await;
    assert_eq!(extra.len(), written.len(), "more records than events");
    let codec = Codec::new(CodecSettings::default()).unwrap();
    let mut found: HashMap<String, Vec<(i32, i64, Vec<u8>)>> = HashMap::new();
    for record in &records {
        let event = codec
            .decode::<OrderEvent>(payload(record))
            .await
            .expect("Avro OrderEvent")
            .value;
        found.entry(event.event_id).or_default().push((
            record.partition(),
            record.offset(),
            record.key().unwrap_or_default().to_vec(),
        ));
    }
    for (id, partition, offset) in &written {
        let places = found.get(id).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(
            places.len(),
            1,
            "{id} is in the topic {} times",
            places.len()
        );
        assert_eq!((places[0].0, places[0].1), (*partition, *offset), "{id}");
    }
    let keys: Vec<&[u8]> = found.values().map(|p| p[0].2.as_slice()).collect();
    assert!(
        keys.contains(&&b"gw-3"[..]),
        "records are keyed by order_id"
    );

    gateway.process.terminate();
    let exit = gateway.process.wait(Duration::from_secs(30)).await;
    assert!(
        exit.is_some_and(|s| s.success()),
        "no clean exit on SIGTERM: {exit:?}\n{}",
        gateway.process.log_tail(30)
    );
}

#[orderflow_tests::test(timeout = 120)]
async fn refused_requests_write_nothing_and_say_why() {
    let kafka = kafka().await;
    let topic = unique("gateway-refusals");
    kafka.create_topic(&topic, 1, 1).await;
    let token_file = std::env::temp_dir().join(unique("gateway-token"));
    std::fs::write(&token_file, "t0ken-for-tests\n").unwrap();
    let gateway = Gateway::start(
        kafka.bootstrap_servers(),
        &topic,
        &[
            "--auth-token-file",
            token_file.to_str().unwrap(),
            "--max-body-bytes",
            "4096",
        ],
    );
    gateway.wait_readyz(200).await;
    let token = Some("t0ken-for-tests");
    let json = "application/json";

    let (status, headers, _) = gateway.post(order(1).to_string(), json, None).await;
    assert_eq!(status, 401);
    assert_eq!(headers["www-authenticate"], "Bearer");
    let (status, _, _) = gateway
        .post(order(1).to_string(), json, Some("wrong"))
        .await;
    assert_eq!(status, 401);

    let (status, _, _) = gateway
        .post(order(1).to_string(), "text/plain", token)
        .await;
    assert_eq!(status, 415);

    let many = Json::Array((0..20).map(order).collect()).to_string();
    assert!(many.len() > 4096);
    let (status, _, body) = gateway.post(many, json, token).await;
    assert_eq!(status, 413, "{body}");

    let mut bad = order(2);
    bad["occurred_at"] = json!("yesterday");
    let (status, _, body) = gateway
        .post(json!([order(1), bad]).to_string(), json, token)
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["index"], 1, "{body}");
    assert_eq!(body["errors"][0]["path"], "occurred_at", "{body}");

    let (status, _, body) = gateway.post(order(3).to_string(), json, token).await;
    assert_eq!(status, 202, "{body}");
    let records = kafka.consume(&topic, 2, Duration::from_secs(5)).await;
    assert_eq!(records.len(), 1, "only the accepted request wrote anything");
    assert!(
        !gateway.process.log().contains("t0ken-for-tests"),
        "the token is never logged"
    );
    let _ = std::fs::remove_file(&token_file);
}

#[orderflow_tests::test(timeout = 90)]
async fn an_unreachable_broker_is_503_with_retry_after() {
    // A port nothing listens on.
    let closed = format!("127.0.0.1:{}", free_port());
    let mut gateway = Gateway::start(&closed, "orders.lifecycle", &["--delivery-timeout", "2s"]);
    gateway.wait_readyz(503).await;
    let (status, headers, body) = gateway
        .post(order(1).to_string(), "application/json", None)
        .await;
    assert_eq!(status, 503, "{body}");
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after >= 1);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("nothing was written"),
        "{body}"
    );
    // Shutdown is bounded even without a broker.
    gateway.process.terminate();
    let exit = gateway.process.wait(Duration::from_secs(30)).await;
    assert!(
        exit.is_some(),
        "no exit on SIGTERM without a broker:\n{}",
        gateway.process.log_tail(30)
    );
}
