//! No legal record stops a worker, and every dead letter tells the truth: records that
//! other Kafka processors' users reported as incidents, replayed against the workers on
//! the real broker, written by outside clients (kcat, confluent-kafka) where ours could
//! not write them.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

use orderflow_events::{Codec, CodecSettings, OrderEvent, sample};
use orderflow_kafka_bytes::headers::{self, RecordHeader};
use orderflow_runtime::dead_letter::header;
use orderflow_tests::orders::events;
use orderflow_tests::process::Process;
use orderflow_tests::{Kafka, free_port, http_get, kafka, python, unique};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRng, TestRunner};
use rdkafka::Message;
use rdkafka::message::OwnedMessage;
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::runtime::{Topics, topics};

/// A worker binary on `topics` with its HTTP endpoints on a port of its own.
struct Worker {
    process: Process,
    base: String,
}

impl Worker {
    fn start(
        binary: &str,
        kafka: &Kafka,
        topics: &Topics,
        guarantee: &str,
        extra: &[&str],
    ) -> Worker {
        Worker::start_with_env(binary, kafka, topics, guarantee, extra, &[])
    }

    fn start_with_env(
        binary: &str,
        kafka: &Kafka,
        topics: &Topics,
        guarantee: &str,
        extra: &[&str],
        env: &[(&str, String)],
    ) -> Worker {
        let port = free_port();
        let mut args: Vec<String> = [
            "--bootstrap-servers",
            kafka.bootstrap_servers(),
            "--group-id",
            &topics.group,
            "--input-topic",
            &topics.input,
            "--output-topic",
            &topics.output,
            "--dlq-topic",
            &topics.dlq,
            "--guarantee",
            guarantee,
            "--http-addr",
            &format!("127.0.0.1:{port}"),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        Worker {
            process: Process::start(binary, &args, env),
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// The metrics text, once the endpoint answers.
    async fn metrics(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some((200, text)) = http_get(&format!("{}/metrics", self.base)).await {
                return text;
            }
            assert!(Instant::now() < deadline, "no /metrics from the worker");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The sum of metric `name` over the samples whose labels include `labels`.
    async fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        sum(&self.metrics().await, name, labels)
    }
}

fn sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")))
        .filter(|line| {
            labels
                .iter()
                .all(|(k, v)| line.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// An OrderEvent whose `source` is `source`, encoded as the workers read it.
async fn event_from(source: &str, id: &str) -> (String, Vec<u8>) {
    // Writers have no size limit of ours: oversized events are written too.
    let codec = Codec::new(CodecSettings {
        max_payload_bytes: 64 * 1024 * 1024,
        ..CodecSettings::default()
    })
    .expect("codec");
    let mut event: OrderEvent = sample::order_placed(2);
    event.event_id = id.to_owned();
    event.order_id = format!("ord-{id}");
    event.source = source.to_owned();
    let bytes = codec
        .encode("orders.lifecycle", &event)
        .await
        .expect("encode");
    (event.order_id, bytes)
}

/// Every record of `topic`, read_committed.
async fn read(kafka: &Kafka, topic: &str) -> Vec<OwnedMessage> {
    orderflow::verify::read_all(&kafka.settings(), topic, true)
        .await
        .expect("read")
}

/// Waits until `topic` holds at least `count` committed records.
async fn wait_for_records(
    kafka: &Kafka,
    topic: &str,
    count: usize,
    timeout: Duration,
) -> Vec<OwnedMessage> {
    let deadline = Instant::now() + timeout;
    loop {
        let records = read(kafka, topic).await;
        if records.len() >= count || Instant::now() >= deadline {
            return records;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn header_of(record: &[RecordHeader], name: &str) -> Option<String> {
    headers::find(record, name)
        .flatten()
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// The headers a record carried in, as they must travel on: without the trace context
/// (continued with a new span) and without dead-letter provenance.
fn carried(headers: &[RecordHeader]) -> Vec<RecordHeader> {
    headers
        .iter()
        .filter(|h| !h.is("traceparent") && !h.name.starts_with(b"orderflow.dlq."))
        .cloned()
        .collect()
}

/// Random keys, header names and header values (bytes that are not UTF-8, empty and
/// null among them) on valid events, garbage values and tombstones, written by a real
/// producer: each record is processed or dead-lettered exactly once, the worker stays
/// up, and each output and dead letter carries its input's headers byte for byte.
#[orderflow_tests::test(timeout = 300)]
async fn any_bytes_in_keys_and_headers_are_processed_or_dead_lettered_exactly_once() {
    let kafka = kafka().await;
    let topics = topics(kafka, 3).await;
    let valid = events(&topics.input, 20, 240).await;
    let seed: [u8; 32] = rand::random();
    println!("proptest seed {seed:?}");
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(proptest::test_runner::RngAlgorithm::ChaCha, &seed),
    );
    let key = proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40));
    let header = (
        proptest::collection::vec(1u8..=255, 0..16),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..32)),
    )
        .prop_map(|(name, value)| RecordHeader { name, value });
    let headers = proptest::collection::vec(header, 0..6);
    let record = (key, headers, 0u8..10);
    let producer: FutureProducer = kafka
        .settings()
        .create(&[("enable.idempotence", "true")])
        .expect("producer");
    let mut sent: HashMap<String, Vec<RecordHeader>> = HashMap::new();
    let mut garbage = 0u64;
    let mut deliveries = Vec::new();
    for (i, event) in valid.iter().enumerate() {
        let (key, list, kind) = record.new_tree(&mut runner).expect("case").current();
        // One record in ten is garbage and one in twenty a tombstone, beside each event.
        let value: Option<Vec<u8>> = match kind {
            0 => Some(key.clone().unwrap_or_default()),
            1 if i % 2 == 0 => None,
            _ => Some(event.bytes.clone()),
        };
        if value.as_deref() == Some(event.bytes.as_slice()) {
            sent.insert(event.event_id.clone(), list.clone());
        } else {
            garbage += 1;
        }
        let mut out =
            FutureRecord::<[u8], [u8]>::to(&topics.input).headers(headers::to_kafka(&list));
        if let Some(key) = &key {
            out = out.key(key.as_slice());
        }
        if let Some(value) = &value {
            out = out.payload(value.as_slice());
        }
        deliveries.push(
            producer
                .send_result(out)
                .map_err(|(error, _)| error)
                .expect("enqueued"),
        );
    }
    for delivery in deliveries {
        delivery.await.expect("delivery").expect("acknowledged");
    }
    // kcat, an outside client, writes header names that no UTF-8 string holds.
    let (order, bytes) = event_from("kcat", &unique("kcat")).await;
    kcat_produce(
        kafka,
        &topics.input,
        &order,
        &bytes,
        &[
            OsStr::new("-H"),
            OsStr::from_bytes(b"\xff\xfebinary name=value"),
            OsStr::new("-H"),
            OsStr::from_bytes(b"ok=\xc3\x28"),
        ],
    );

    let mut worker = Worker::start("order-status", kafka, &topics, "exactly-once", &[]);
    let codec = Codec::new(CodecSettings::default()).expect("codec");
    let report = orderflow::verify::verify(
        &kafka.settings(),
        &codec,
        "order-status",
        &topics.input,
        &topics.output,
        &topics.dlq,
        Duration::from_secs(90),
    )
    .await
    .expect("verify");
    println!("{report:?}");
    assert!(worker.process.try_wait().is_none(), "the worker stopped");
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.expected_dead_letters, garbage);
    assert_eq!(report.inputs, valid.len() as u64 + 1);

    // Headers byte for byte: outputs by their input's event id, dead letters by offset.
    let inputs = read(kafka, &topics.input).await;
    let by_offset: HashMap<(i32, i64), Vec<RecordHeader>> = inputs
        .iter()
        .map(|m| ((m.partition(), m.offset()), headers::read(m)))
        .collect();
    let kcat_input = inputs
        .iter()
        .find(|m| m.key() == Some(order.as_bytes()))
        .expect("kcat's record");
    let kcat_headers = headers::read(kcat_input);
    assert_eq!(kcat_headers[0].name, b"\xff\xfebinary name");
    for output in read(kafka, &topics.output).await {
        let (json, _) = codec.decode_json(output.payload().unwrap()).await.unwrap();
        let cause = json["causation_id"].as_str().unwrap().to_owned();
        let expected = sent
            .get(&cause)
            .cloned()
            .unwrap_or_else(|| kcat_headers.clone());
        assert_eq!(
            carried(&headers::read(&output)),
            expected,
            "headers of the output of {cause}"
        );
    }
    for letter in read(kafka, &topics.dlq).await {
        let list = headers::read(&letter);
        let at = (
            header_of(&list, header::PARTITION)
                .unwrap()
                .parse()
                .unwrap(),
            header_of(&list, header::OFFSET).unwrap().parse().unwrap(),
        );
        assert_eq!(
            carried(&list),
            by_offset[&at],
            "headers of the dead letter of {at:?}"
        );
    }
    worker.process.terminate();
    assert!(
        worker
            .process
            .wait(Duration::from_secs(25))
            .await
            .is_some_and(|s| s.success())
    );
}

/// One valid event and one garbage value, each with headers `n` = null, `e` = "" and
/// `x` = "1", written by confluent-kafka: the output and the dead letter carry `n` null,
/// `e` empty and `x` "1".
#[orderflow_tests::test(timeout = 300)]
async fn null_header_values_stay_null_on_outputs_and_dead_letters() {
    let kafka = kafka().await;
    let topics = topics(kafka, 1).await;
    let (order, bytes) = event_from("python", &unique("null-headers")).await;
    let script = r#"
import sys
from confluent_kafka import Producer
servers, topic, key, value = sys.argv[1], sys.argv[2], sys.argv[3], bytes.fromhex(sys.argv[4])
producer = Producer({"bootstrap.servers": servers, "enable.idempotence": True})
headers = [("n", None), ("e", b""), ("x", b"1")]
producer.produce(topic, key=key, value=value, headers=headers)
producer.produce(topic, key="garbage", value=b"not avro", headers=headers)
assert producer.flush(30) == 0
"#;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let output = tokio::process::Command::new(python())
        .kill_on_drop(true)
        .args([
            "-c",
            script,
            kafka.bootstrap_servers(),
            &topics.input,
            &order,
            &hex,
        ])
        .output()
        .await
        .expect("python");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let worker = Worker::start("order-status", kafka, &topics, "exactly-once", &[]);
    let outputs = wait_for_records(kafka, &topics.output, 1, Duration::from_secs(60)).await;
    let letters = wait_for_records(kafka, &topics.dlq, 1, Duration::from_secs(60)).await;
    drop(worker);
    let expected = vec![
        RecordHeader {
            name: b"n".to_vec(),
            value: None,
        },
        RecordHeader::new("e", ""),
        RecordHeader::new("x", "1"),
    ];
    assert_eq!(outputs.len(), 1);
    assert_eq!(carried(&headers::read(&outputs[0])), expected);
    assert_eq!(letters.len(), 1);
    assert_eq!(carried(&headers::read(&letters[0])), expected);
}

/// A panic while handling a record (a bug in a library or a processor) dead-letters
/// that record with class `panic` and the panic's message; the partition goes on.
#[orderflow_tests::test(timeout = 300)]
async fn a_panic_while_handling_a_record_dead_letters_it_with_class_panic() {
    let kafka = kafka().await;
    let topics = topics(kafka, 1).await;
    let mut records = Vec::new();
    for i in 0..10 {
        let source = if i == 4 { "panic-here" } else { "test" };
        records.push(event_from(source, &format!("{}-{i}", topics.input)).await);
    }
    kafka.produce(&topics.input, &records).await;
    let mut worker = Worker::start("marked-record-worker", kafka, &topics, "exactly-once", &[]);
    let outputs = wait_for_records(kafka, &topics.output, 9, Duration::from_secs(60)).await;
    let letters = wait_for_records(kafka, &topics.dlq, 1, Duration::from_secs(60)).await;
    assert!(worker.process.try_wait().is_none(), "the worker stopped");
    assert_eq!(outputs.len(), 9);
    assert_eq!(letters.len(), 1);
    let list = headers::read(&letters[0]);
    assert_eq!(
        header_of(&list, header::ERROR_CLASS).as_deref(),
        Some("panic")
    );
    assert_eq!(header_of(&list, header::OFFSET).as_deref(), Some("4"));
    let message = header_of(&list, header::ERROR_MESSAGE).unwrap_or_default();
    assert!(message.contains("marked record at offset 4"), "{message}");
    assert_eq!(
        worker
            .metric("orderflow_dead_letters_total", &[("class", "panic")])
            .await,
        1.0
    );
}

/// A record retried for as long as its failure lasts holds its partition only: the
/// other partitions go on, the held one is paused once its queue is full (its backlog
/// stays in the broker, not in memory), and once the failure ends, it resumes and
/// every record is processed exactly once.
#[orderflow_tests::test(timeout = 300)]
async fn a_partition_held_by_retries_is_paused_and_does_not_hold_the_others() {
    let kafka = kafka().await;
    let topics = topics(kafka, 4).await;
    // The held record first, then 60 more of its order (its partition, more than its
    // queue holds) and 120 of other orders (all partitions).
    let mut records = vec![event_from("held-here", &format!("{}-held", topics.input)).await];
    let held_key = records[0].0.clone();
    for i in 0..180 {
        let (key, bytes) = event_from("test", &format!("{}-{i}", topics.input)).await;
        let key = if i < 60 { held_key.clone() } else { key };
        records.push((key, bytes));
    }
    kafka.produce(&topics.input, &records).await;
    let inputs = read(kafka, &topics.input).await;
    let held = inputs
        .iter()
        .find(|m| m.key() == Some(held_key.as_bytes()))
        .expect("the held record")
        .partition();
    let others = |inputs: &[OwnedMessage]| inputs.iter().filter(|m| m.partition() != held).count();
    let release = std::env::temp_dir().join(unique("release"));
    let mut worker = Worker::start_with_env(
        "marked-record-worker",
        kafka,
        &topics,
        "exactly-once",
        &[
            "--partition-queue",
            "4",
            "--retry-max-attempts",
            "100000",
            "--retry-initial-ms",
            "20",
            "--retry-max-ms",
            "50",
        ],
        &[("ORDERFLOW_TEST_RELEASE", release.display().to_string())],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while worker
        .metric("orderflow_backpressure_pauses_total", &[])
        .await
        < 1.0
    {
        assert!(
            Instant::now() < deadline,
            "the held partition was not paused"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Records that arrive while the partition is paused and held: the others' still
    // come out.
    let mut more = Vec::new();
    for i in 0..60 {
        more.push(event_from("test", &format!("{}-more-{i}", topics.input)).await);
    }
    kafka.produce(&topics.input, &more).await;
    let inputs = read(kafka, &topics.input).await;
    let outputs = wait_for_records(
        kafka,
        &topics.output,
        others(&inputs),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(
        outputs.len(),
        others(&inputs),
        "the other partitions' records, each once, and none of the held one's"
    );
    assert!(
        worker.metric("orderflow_retries_total", &[]).await >= 1.0,
        "the held record is being retried"
    );
    std::fs::write(&release, b"").expect("release file");
    let outputs =
        wait_for_records(kafka, &topics.output, inputs.len(), Duration::from_secs(60)).await;
    let _ = std::fs::remove_file(&release);
    assert!(worker.process.try_wait().is_none(), "the worker stopped");
    let codec = Codec::new(CodecSettings::default()).expect("codec");
    let mut causes = Vec::new();
    for output in &outputs {
        let (json, _) = codec.decode_json(output.payload().unwrap()).await.unwrap();
        causes.push(json["causation_id"].as_str().unwrap().to_owned());
    }
    causes.sort();
    let mut expected = Vec::new();
    for input in &inputs {
        let (json, _) = codec.decode_json(input.payload().unwrap()).await.unwrap();
        expected.push(json["event_id"].as_str().unwrap().to_owned());
    }
    expected.sort();
    assert_eq!(causes, expected, "every record exactly once");
    assert!(
        read(kafka, &topics.dlq).await.is_empty(),
        "nothing dead-lettered"
    );
}

/// A record whose handling kills the process (here an abort) three starts in a row is
/// set aside on the next start: dead-lettered with class `crash-loop`, without being
/// handled, and every other record is processed exactly once.
#[orderflow_tests::test(timeout = 600)]
async fn a_record_that_kills_the_process_three_starts_in_a_row_is_set_aside() {
    for guarantee in ["exactly-once", "at-least-once"] {
        let kafka = kafka().await;
        let topics = topics(kafka, 1).await;
        let mut records = Vec::new();
        let mut ids = Vec::new();
        for i in 0..40 {
            let id = format!("{}-{i}", topics.input);
            let source = if i == 25 { "abort-here" } else { "test" };
            records.push(event_from(source, &id).await);
            if i != 25 {
                ids.push(id);
            }
        }
        kafka.produce(&topics.input, &records).await;
        let mut deaths = 0;
        // Quick rejoins after each death, and in exactly-once a stable transactional id
        // so that a new start fences its dead predecessor's open transaction at once.
        let transactional_id = format!("{}-w", topics.group);
        let mut flags = vec![
            "--kafka-config",
            "consumer.session.timeout.ms=6000;consumer.heartbeat.interval.ms=1000",
        ];
        if guarantee == "exactly-once" {
            flags.extend(["--transactional-id", transactional_id.as_str()]);
        }
        let mut worker = Worker::start("marked-record-worker", kafka, &topics, guarantee, &flags);
        let letters = loop {
            let letters = read(kafka, &topics.dlq).await;
            if !letters.is_empty() {
                break letters;
            }
            if worker.process.try_wait().is_some() {
                deaths += 1;
                assert!(
                    deaths <= 12,
                    "{guarantee}: still dying after {deaths} starts"
                );
                worker = Worker::start("marked-record-worker", kafka, &topics, guarantee, &flags);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        let outputs =
            wait_for_records(kafka, &topics.output, ids.len(), Duration::from_secs(60)).await;
        println!("{guarantee}: set aside after {deaths} deaths");
        assert!(
            deaths >= 3,
            "{guarantee}: set aside after only {deaths} deaths"
        );
        assert!(worker.process.try_wait().is_none(), "the worker stopped");
        assert_eq!(letters.len(), 1);
        let list = headers::read(&letters[0]);
        assert_eq!(
            header_of(&list, header::ERROR_CLASS).as_deref(),
            Some("crash-loop")
        );
        assert_eq!(header_of(&list, header::OFFSET).as_deref(), Some("25"));
        let codec = Codec::new(CodecSettings::default()).expect("codec");
        let mut causes = Vec::new();
        for output in &outputs {
            let (json, _) = codec.decode_json(output.payload().unwrap()).await.unwrap();
            causes.push(json["causation_id"].as_str().unwrap().to_owned());
        }
        causes.sort();
        let mut expected = ids.clone();
        expected.sort();
        if guarantee == "exactly-once" {
            assert_eq!(causes, expected, "every other record exactly once");
        } else {
            causes.dedup();
            assert_eq!(causes, expected, "every other record at least once");
        }
        worker.process.terminate();
        assert!(
            worker
                .process
                .wait(Duration::from_secs(25))
                .await
                .is_some_and(|s| s.success())
        );
    }
}

/// Writes one record, `key` and `value`, to `topic` with kcat (an outside client), with
/// kcat options `extra` (headers, properties).
fn kcat_produce(kafka: &Kafka, topic: &str, key: &str, value: &[u8], extra: &[&OsStr]) {
    let file = std::env::temp_dir().join(unique("kcat-record"));
    std::fs::write(&file, value).expect("record file");
    let status = std::process::Command::new("kcat")
        .args([
            "-P",
            "-b",
            kafka.bootstrap_servers(),
            "-t",
            topic,
            "-k",
            key,
        ])
        .args(extra)
        .arg(&file)
        .status()
        .expect("kcat runs");
    let _ = std::fs::remove_file(&file);
    assert!(status.success(), "kcat failed: {status}");
}

/// Writes an event of about `size` bytes (a long `source`) to `topic`, which must allow
/// 8 MiB records, with kcat and a header `x: 1`; returns its bytes.
async fn produce_large_event(kafka: &Kafka, topic: &str, size: usize) -> Vec<u8> {
    let (order, bytes) = event_from(&"x".repeat(size), &unique("big")).await;
    let extra = ["-X", "message.max.bytes=8388608", "-H", "x=1"].map(OsStr::new);
    kcat_produce(kafka, topic, &order, &bytes, &extra);
    bytes
}

/// A dead letter as large as the output limits allow is written whole: the producer's
/// queue holds any record the limits let through (a record larger than the whole queue
/// is refused as "queue full" for ever, and would stall the worker).
#[orderflow_tests::test(timeout = 300)]
async fn a_dead_letter_as_large_as_the_limits_allow_is_written_whole() {
    large_dead_letter_written_whole("message.max.bytes=8388608").await;
}

/// The same with the limit raised for the producer alone (`producer.` prefix): the
/// output limits follow the producer's own `message.max.bytes`.
#[orderflow_tests::test(timeout = 300)]
async fn a_producer_only_message_limit_raises_the_output_limits() {
    large_dead_letter_written_whole("producer.message.max.bytes=8388608").await;
}

/// A 6 MiB event refused as too large for the worker is dead-lettered whole into an 8
/// MiB dead-letter topic, with `client_limit` as the worker's `--kafka-config`.
async fn large_dead_letter_written_whole(client_limit: &str) {
    let kafka = kafka().await;
    let topics = Topics {
        input: unique("big-in"),
        output: unique("big-out"),
        dlq: unique("big-dlq"),
        group: unique("big-group"),
    };
    for topic in [&topics.input, &topics.dlq] {
        kafka
            .create_topic_with(topic, 1, 1, &[("max.message.bytes", "8388608")])
            .await;
    }
    kafka.create_topic(&topics.output, 1, 1).await;
    let bytes = produce_large_event(kafka, &topics.input, 6 * 1024 * 1024).await;
    let _worker = Worker::start(
        "order-status",
        kafka,
        &topics,
        "exactly-once",
        &["--kafka-config", client_limit],
    );
    let letters = wait_for_records(kafka, &topics.dlq, 1, Duration::from_secs(60)).await;
    assert_eq!(letters.len(), 1, "one dead letter");
    let list = headers::read(&letters[0]);
    assert_eq!(
        header_of(&list, header::ERROR_KIND).as_deref(),
        Some("payload-too-large")
    );
    assert_eq!(header_of(&list, "orderflow.dlq.truncated-from"), None);
    assert_eq!(letters[0].payload(), Some(&bytes[..]), "the event whole");
}
/// A well-formed event of 2 MiB on a topic that takes 8 MiB records, written by kcat,
/// over the default --max-payload-bytes: one dead letter, class `decode`, kind
/// `payload-too-large`, with its schema and original headers, cut to fit the
/// dead-letter topic with the cut marked, and counted once.
#[orderflow_tests::test(timeout = 300)]
async fn an_oversized_event_is_one_dead_letter_of_class_decode_cut_to_fit() {
    let kafka = kafka().await;
    let topics = Topics {
        input: unique("big-in"),
        output: unique("big-out"),
        dlq: unique("big-dlq"),
        group: unique("big-group"),
    };
    kafka
        .create_topic_with(&topics.input, 1, 1, &[("max.message.bytes", "8388608")])
        .await;
    kafka.create_topic(&topics.output, 1, 1).await;
    kafka.create_topic(&topics.dlq, 1, 1).await;
    let bytes = produce_large_event(kafka, &topics.input, 2 * 1024 * 1024).await;
    let worker = Worker::start("order-status", kafka, &topics, "exactly-once", &[]);
    let letters = wait_for_records(kafka, &topics.dlq, 1, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let metrics = worker.metrics().await;
    assert_eq!(letters.len(), 1, "one dead letter");
    let list = headers::read(&letters[0]);
    assert_eq!(
        header_of(&list, header::ERROR_CLASS).as_deref(),
        Some("decode")
    );
    assert_eq!(
        header_of(&list, header::ERROR_KIND).as_deref(),
        Some("payload-too-large")
    );
    assert!(
        header_of(&list, header::SCHEMA).is_some_and(|s| s.starts_with("fingerprint:")),
        "{list:?}"
    );
    assert_eq!(header_of(&list, "x").as_deref(), Some("1"));
    assert_eq!(
        header_of(&list, "orderflow.dlq.truncated-from"),
        Some(bytes.len().to_string())
    );
    assert!(letters[0].payload().unwrap().len() < 1_000_000);
    assert_eq!(
        sum(
            &metrics,
            "orderflow_dead_letters_total",
            &[("class", "decode")]
        ),
        1.0
    );
    assert_eq!(
        sum(
            &metrics,
            "orderflow_dead_letters_total",
            &[("class", "poison")]
        ),
        0.0
    );
}

/// Inputs from a transactional upstream (commit markers, an aborted transaction): once
/// every readable record is processed, the group's committed offset is the partition's
/// end offset, as `kafka-consumer-groups` reads it, and the worker's lag metric agrees,
/// in both guarantees.
#[orderflow_tests::test(timeout = 300)]
async fn committed_offsets_reach_the_end_past_transaction_markers_in_both_guarantees() {
    for guarantee in ["exactly-once", "at-least-once"] {
        let kafka = kafka().await;
        let topics = topics(kafka, 2).await;
        let mut hexes = Vec::new();
        for i in 0..12 {
            let (order, bytes) = event_from("outbox", &format!("{}-{i}", topics.input)).await;
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            hexes.push(format!("{order}:{hex}"));
        }
        // An outbox relay: a committed transaction, an aborted one, a committed one.
        let script = r#"
import sys, uuid
from confluent_kafka import Producer
servers, topic = sys.argv[1], sys.argv[2]
events = [e.split(":") for e in sys.argv[3:]]
producer = Producer({"bootstrap.servers": servers, "transactional.id": "outbox-" + uuid.uuid4().hex})
producer.init_transactions(30)
for chunk, outcome in ((events[:6], "commit"), (events[:3], "abort"), (events[6:], "commit")):
    producer.begin_transaction()
    for key, value in chunk:
        producer.produce(topic, key=key, value=bytes.fromhex(value))
    producer.flush(30)
    if outcome == "commit":
        producer.commit_transaction(30)
    else:
        producer.abort_transaction(30)
"#;
        let mut args = vec![
            "-c".to_owned(),
            script.to_owned(),
            kafka.bootstrap_servers().to_owned(),
            topics.input.clone(),
        ];
        args.extend(hexes);
        let output = tokio::process::Command::new(python())
            .kill_on_drop(true)
            .args(&args)
            .output()
            .await
            .expect("python");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let worker = Worker::start("order-status", kafka, &topics, guarantee, &[]);
        let outputs = wait_for_records(kafka, &topics.output, 12, Duration::from_secs(60)).await;
        assert_eq!(outputs.len(), 12, "{guarantee}: every committed event once");
        // The outside view: kafka-consumer-groups --describe.
        let deadline = Instant::now() + Duration::from_secs(60);
        let lags = loop {
            let lags = group_lag(kafka, &topics.group).await;
            if lags.len() == 2 && lags.iter().all(|(_, lag)| *lag == 0) || Instant::now() > deadline
            {
                break lags;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        };
        assert_eq!(
            lags,
            [(0, 0), (1, 0)],
            "{guarantee}: kafka-consumer-groups lag per partition"
        );
        // The worker's own view, from its client's statistics (every 5 s).
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let metrics = worker.metrics().await;
            let samples: Vec<&str> = metrics
                .lines()
                .filter(|l| l.starts_with("orderflow_consumer_lag{"))
                .collect();
            if samples.len() == 2 && samples.iter().all(|l| l.ends_with(" 0")) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{guarantee}: lag metric {samples:?}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// (partition, lag) of `group` as Kafka's own `kafka-consumer-groups --describe` shows it.
async fn group_lag(kafka: &Kafka, group: &str) -> Vec<(i32, i64)> {
    let output = tokio::process::Command::new("bash")
        .kill_on_drop(true)
        .arg(orderflow_tests::cluster::repo_root().join("scripts/kafka.sh"))
        .args([
            "tool",
            "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
            "--bootstrap-server",
            kafka.bootstrap_servers(),
            "--describe",
            "--group",
            group,
        ])
        .env(
            "KAFKA_STATE_DIR",
            std::env::temp_dir().join("orderflow-kafka-tools"),
        )
        .output()
        .await
        .expect("kafka-consumer-groups");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lags: Vec<(i32, i64)> = text
        .lines()
        .filter_map(|line| {
            let columns: Vec<&str> = line.split_whitespace().collect();
            // GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG ...
            Some((columns.get(2)?.parse().ok()?, columns.get(5)?.parse().ok()?))
        })
        .collect();
    lags.sort();
    lags
}

/// After a rebalance, a worker's lag metric names only the partitions it still has:
/// summed over the fleet, a revoked partition would count twice.
#[orderflow_tests::test(timeout = 300)]
async fn revoked_partitions_leave_the_lag_metric() {
    let kafka = kafka().await;
    let topics = topics(kafka, 4).await;
    // Records in every partition, so that each has a known position and a lag.
    let garbage: Vec<(String, Vec<u8>)> = (0..40)
        .map(|i| (format!("key-{i}"), b"not avro".to_vec()))
        .collect();
    kafka.produce(&topics.input, &garbage).await;
    let first = Worker::start("order-status", kafka, &topics, "exactly-once", &[]);
    let partitions = |text: &str| {
        text.lines()
            .filter(|l| l.starts_with("orderflow_consumer_lag{"))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while partitions(&first.metrics().await) != 4 {
        assert!(
            Instant::now() < deadline,
            "the first worker never showed 4 partitions"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let second = Worker::start("order-status", kafka, &topics, "exactly-once", &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (one, two) = (first.metrics().await, second.metrics().await);
        let assigned = sum(&one, "orderflow_assigned_partitions", &[]);
        if assigned == 2.0 && partitions(&one) == 2 && partitions(&two) == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "lag series: first {}, second {}, first assigned {assigned}",
            partitions(&one),
            partitions(&two)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Security settings that cannot work stop the worker at start, exit code 2, naming
/// what to set; none falls back to an unauthenticated or plaintext connection.
#[orderflow_tests::test(timeout = 120)]
async fn security_settings_that_cannot_work_stop_the_worker_at_start() {
    let kafka = kafka().await;
    let topics = topics(kafka, 1).await;
    let cases: [(&[&str], &[&str]); 3] = [
        (
            &["--sasl-username", "orders", "--sasl-password", "secret"],
            &["security.protocol", "sasl.mechanism"],
        ),
        (
            &["--kafka-config", "ssl.ca.location=/etc/ssl/ca.crt"],
            &["security.protocol=SSL"],
        ),
        (
            &[
                "--kafka-config",
                "security.protocol=SASL_SSL;sasl.mechanism=SCRAM-SHA-512",
            ],
            &["--sasl-username"],
        ),
    ];
    for (flags, words) in cases {
        let mut worker = Worker::start("order-status", kafka, &topics, "exactly-once", flags);
        let status = worker.process.wait(Duration::from_secs(20)).await;
        let log = worker.process.log();
        assert_eq!(
            status.and_then(|s| s.code()),
            Some(2),
            "{flags:?}: {status:?}\n{log}"
        );
        for word in words {
            assert!(log.contains(word), "{flags:?} should name {word}:\n{log}");
        }
    }
}
