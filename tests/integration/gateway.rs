//! `orderflow gateway` against the real broker: events posted over HTTP are in the
//! topic exactly once, at the partition and offset the 202 answer gives, order and user
//! events alike; refused requests write nothing; an unreachable broker is a 503 with
//! Retry-After; under overload and through a broker restart every acknowledged event is
//! in the topic exactly once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use orderflow_events::{Codec, CodecSettings, OrderEvent, UserEvent, sample};
use orderflow_tests::process::Process;
use orderflow_tests::{Kafka, free_port, http_get, kafka, payload, unique};
use rdkafka::Message;
use serde_json::{Value as Json, json};

/// A gateway child process (killed on drop) and its base URL; the end-to-end test
/// runs one too.
pub struct Gateway {
    pub process: Process,
    pub url: String,
}

/// The topics of a gateway's routes.
pub struct Routes {
    pub orders: String,
    pub users: String,
}

impl Routes {
    async fn create(kafka: &Kafka, partitions: i32) -> Routes {
        let routes = Routes {
            orders: unique("gateway-orders"),
            users: unique("gateway-users"),
        };
        for topic in [&routes.orders, &routes.users] {
            kafka.create_topic(topic, partitions, 1).await;
        }
        routes
    }
}

impl Gateway {
    pub fn start(bootstrap_servers: &str, routes: &Routes, extra: &[&str]) -> Gateway {
        let port = free_port();
        let mut args: Vec<String> = [
            "gateway",
            "-b",
            bootstrap_servers,
            "--topic",
            &format!("orders={}", routes.orders),
            "--topic",
            &format!("users={}", routes.users),
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

    /// Waits until `/readyz` answers `status` (30 s at most).
    async fn wait_readyz(&self, status: u16) {
        self.wait_readyz_within(status, Duration::from_secs(30))
            .await
    }

    /// Waits until `/readyz` answers `status`, `within` at most.
    pub async fn wait_readyz_within(&self, status: u16, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if let Some((code, _)) = http_get(&format!("{}/readyz", self.url)).await
                && code == status
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "/readyz did not answer {status} within {within:?}:\n{}",
                self.process.log_tail(30)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends SIGTERM and asserts that the gateway exits with status 0 within 30 s.
    pub async fn stop_cleanly(&mut self) {
        self.process.terminate();
        let exit = self.process.wait(Duration::from_secs(30)).await;
        assert!(
            exit.is_some_and(|s| s.success()),
            "no clean exit on SIGTERM: {exit:?}\n{}",
            self.process.log_tail(30)
        );
    }

    /// POSTs `body` to the orders endpoint: status, headers, JSON body.
    async fn post(
        &self,
        body: String,
        content_type: &str,
        token: Option<&str>,
    ) -> (u16, reqwest::header::HeaderMap, Json) {
        self.post_to("orders", body, content_type, token).await
    }

    /// POSTs `body` to the endpoint of `route`: status, headers, JSON body.
    async fn post_to(
        &self,
        route: &str,
        body: String,
        content_type: &str,
        token: Option<&str>,
    ) -> (u16, reqwest::header::HeaderMap, Json) {
        let mut request = reqwest::Client::new()
            .post(format!("{}/v1/{route}/events", self.url))
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
    let routes = Routes::create(kafka, 3).await;
    let topic = &routes.orders;
    let mut gateway = Gateway::start(kafka.bootstrap_servers(), &routes, &[]);
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
        .consume(topic, written.len(), Duration::from_secs(30))
        .await;
    // Anything written twice would show up within a short extra read.
    let extra = kafka
        .consume(topic, written.len() + 1, Duration::from_secs(3))
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

    // User events go to their own topic, keyed by user_id.
    let users: Vec<Json> = sample::user_payloads()
        .into_iter()
        .enumerate()
        .map(|(i, payload)| {
            let mut event = sample::user_event(payload);
            event.user_id = format!("gw-user-{i}");
            event.event_id = uuid::Uuid::new_v4().to_string();
            serde_json::to_value(event).unwrap()
        })
        .collect();
    let (status, _, body) = gateway
        .post_to(
            "users",
            Json::Array(users.clone()).to_string(),
            "application/json",
            None,
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["topic"], routes.users.as_str());
    let records = kafka
        .consume(&routes.users, users.len() + 1, Duration::from_secs(10))
        .await;
    assert_eq!(records.len(), users.len(), "each user event once");
    let acks = acknowledged(&body);
    for record in &records {
        let event = codec
            .decode::<UserEvent>(payload(record))
            .await
            .expect("Avro UserEvent")
            .value;
        let ack = acks.iter().find(|(id, _, _)| *id == event.event_id);
        assert_eq!(
            ack.map(|(_, partition, offset)| (*partition, *offset)),
            Some((record.partition(), record.offset())),
            "{} at the partition and offset of its 202",
            event.event_id
        );
        assert_eq!(record.key(), Some(event.user_id.as_bytes()));
        let sent = users
            .iter()
            .find(|u| u["event_id"] == event.event_id.as_str());
        assert_eq!(Some(&serde_json::to_value(&event).unwrap()), sent);
    }

    gateway.stop_cleanly().await;
}

#[orderflow_tests::test(timeout = 120)]
async fn refused_requests_write_nothing_and_say_why() {
    let kafka = kafka().await;
    let routes = Routes::create(kafka, 1).await;
    let topic = &routes.orders;
    let token_file = std::env::temp_dir().join(unique("gateway-token"));
    std::fs::write(&token_file, "t0ken-for-tests\n").unwrap();
    let gateway = Gateway::start(
        kafka.bootstrap_servers(),
        &routes,
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
    let records = kafka.consume(topic, 2, Duration::from_secs(5)).await;
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
    let routes = Routes {
        orders: "orders.lifecycle".into(),
        users: "users.lifecycle".into(),
    };
    let mut gateway = Gateway::start(&closed, &routes, &["--delivery-timeout", "2s"]);
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

/// What the clients of the overload test saw: per event id, the status of the request
/// that carried it and whether the answer listed it as written.
#[derive(Default)]
struct Answers {
    /// Events of 202 answers: acknowledged.
    accepted: Vec<String>,
    /// Events of answers that say nothing was written (too many requests in flight,
    /// Kafka known to be unreachable).
    not_written: Vec<String>,
    /// Events of other 503 answers that the answer does not list as written: a delivery
    /// that failed or timed out, which may or may not have reached the broker.
    unknown: Vec<String>,
    /// Status codes seen, with their counts.
    statuses: HashMap<u16, usize>,
}

/// Posts batches of `per_request` order events from `clients` concurrent clients until
/// `stop` is set, each client waiting for an answer before its next request.
async fn overload(
    url: String,
    clients: usize,
    per_request: usize,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Answers {
    use std::sync::atomic::Ordering;
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let (url, stop) = (url.clone(), stop.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut answers = Answers::default();
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    let batch: Vec<Json> = (0..per_request)
                        .map(|i| {
                            let mut event = order(i + 1);
                            event["order_id"] = json!(format!("load-{client}-{n}"));
                            event
                        })
                        .collect();
                    n += 1;
                    let ids: Vec<String> = batch
                        .iter()
                        .map(|e| e["event_id"].as_str().unwrap().to_owned())
                        .collect();
                    let response = http
                        .post(format!("{url}/v1/orders/events"))
                        .json(&batch)
                        .timeout(Duration::from_secs(60))
                        .send()
                        .await;
                    let Ok(response) = response else {
                        // No answer: the request's fate is unknown to the client.
                        answers.unknown.extend(ids);
                        continue;
                    };
                    let status = response.status().as_u16();
                    *answers.statuses.entry(status).or_default() += 1;
                    let retry_after = response.headers().contains_key("retry-after");
                    let body: Json = response.json().await.unwrap_or(Json::Null);
                    match status {
                        202 => answers.accepted.extend(ids),
                        503 if retry_after => {
                            let listed = body["events"].as_array().cloned().unwrap_or_default();
                            if listed.is_empty() {
                                assert!(
                                    body["error"]
                                        .as_str()
                                        .unwrap_or("")
                                        .contains("nothing was written"),
                                    "{body}"
                                );
                                answers.not_written.extend(ids);
                            }
                            for entry in listed {
                                let id = entry["event_id"].as_str().unwrap().to_owned();
                                if entry.get("partition").is_some() {
                                    answers.accepted.push(id);
                                } else {
                                    answers.unknown.push(id);
                                }
                            }
                        }
                        other => panic!("unexpected answer {other}: {body}"),
                    }
                    if status == 503 {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                answers
            })
        })
        .collect();
    let mut all = Answers::default();
    for task in tasks {
        let answers = task.await.expect("client task");
        all.accepted.extend(answers.accepted);
        all.not_written.extend(answers.not_written);
        all.unknown.extend(answers.unknown);
        for (status, count) in answers.statuses {
            *all.statuses.entry(status).or_default() += count;
        }
    }
    all
}

/// How many times each event id is in `topic`.
async fn event_counts(kafka: &Kafka, topic: &str) -> HashMap<String, usize> {
    let codec = Codec::new(CodecSettings::default()).unwrap();
    let mut counts = HashMap::new();
    for record in kafka.consume_all(topic, Duration::from_secs(5)).await {
        let event = codec
            .decode::<OrderEvent>(payload(&record))
            .await
            .expect("Avro OrderEvent")
            .value;
        *counts.entry(event.event_id).or_default() += 1;
    }
    counts
}

/// Every acknowledged event exactly once; none of those said not written; the rest at
/// most once.
fn check_answers(answers: &Answers, counts: &HashMap<String, usize>) {
    for id in &answers.accepted {
        assert_eq!(
            counts.get(id),
            Some(&1),
            "acknowledged {id} is not in the topic once"
        );
    }
    for id in &answers.not_written {
        assert_eq!(
            counts.get(id),
            None,
            "{id} was answered 'nothing was written'"
        );
    }
    for id in &answers.unknown {
        assert!(counts.get(id).is_none_or(|n| *n == 1), "{id} written twice");
    }
    let posted = answers.accepted.len() + answers.not_written.len() + answers.unknown.len();
    assert!(
        counts.len() <= posted,
        "{} events in the topic, {posted} posted",
        counts.len()
    );
}

#[orderflow_tests::test(timeout = 300)]
async fn every_acknowledged_event_is_in_the_topic_exactly_once_under_overload_and_a_broker_restart()
{
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let cluster = orderflow_tests::cluster::LocalCluster::start(1).await;
    let kafka: &'static Kafka = Box::leak(Box::new(Kafka::at(cluster.bootstrap_servers())));
    let routes = Routes::create(kafka, 3).await;
    // Few requests at once for many clients: the rest are turned away with 503.
    let mut gateway = Gateway::start(
        cluster.bootstrap_servers(),
        &routes,
        &["--max-in-flight", "2", "--delivery-timeout", "8s"],
    );
    gateway.wait_readyz(200).await;

    // Overload: 12 clients against 2 slots.
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(overload(gateway.url.clone(), 12, 5, stop.clone()));
    tokio::time::sleep(Duration::from_secs(4)).await;
    // A broker restart under the same load: requests in flight fail or wait, the
    // idempotent producer resends what it had sent, and nothing is written twice.
    cluster.stop_broker(1).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    cluster.start_broker(1).await;
    gateway.wait_readyz(200).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.store(true, Ordering::SeqCst);
    let answers = load.await.expect("load");

    println!(
        "answers by status {:?}: {} events acknowledged, {} not written, {} unknown",
        answers.statuses,
        answers.accepted.len(),
        answers.not_written.len(),
        answers.unknown.len()
    );
    assert!(
        answers.statuses.get(&503).is_some_and(|n| *n > 0),
        "the overload turned nobody away: {:?}",
        answers.statuses
    );
    assert!(
        answers.accepted.len() >= 50,
        "too little was acknowledged to judge: {}",
        answers.accepted.len()
    );
    let counts = event_counts(kafka, &routes.orders).await;
    check_answers(&answers, &counts);

    gateway.stop_cleanly().await;
}

/// The small version of `make bench-gateway`: hey against a gateway for two seconds,
/// normal and overloaded; the topic must hold exactly the events of the 202 answers.
#[orderflow_tests::test(timeout = 180)]
async fn the_load_test_finds_exactly_the_acknowledged_events_in_the_topic() {
    let kafka = kafka().await;
    let script = orderflow_tests::cluster::repo_root().join("bench/gateway.py");
    let output = tokio::process::Command::new(orderflow_tests::python())
        .arg(script)
        .args(["--bootstrap", kafka.bootstrap_servers(), "--orderflow"])
        .arg(orderflow_tests::process::binary("orderflow"))
        .args(["--seconds", "2", "--scenarios", "single-c16,overload"])
        .kill_on_drop(true)
        .output()
        .await
        .expect("running bench/gateway.py");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "bench/gateway.py failed:\n{stderr}"
    );
    let report: Json = serde_json::from_slice(&output.stdout).expect("a JSON report");
    let results = report["results"].as_array().expect("results");
    assert_eq!(results.len(), 2, "{report}");
    for result in results {
        assert!(result["acknowledged_events"].as_u64() > Some(0), "{result}");
        assert_eq!(
            result["events_in_topic"], result["acknowledged_events"],
            "{result}"
        );
        assert!(result["latency_ms"]["p99"].as_f64().is_some(), "{result}");
    }
    assert!(
        results[1]["statuses"]["503"].as_u64() > Some(0),
        "the overload turned nobody away: {}",
        results[1]
    );
}
