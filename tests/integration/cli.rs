//! The `orderflow` command-line tool against a real broker: tail, produce, topics
//! ensure and describe, dead-letter inspection and replay.

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use orderflow::dlq::InspectReport;
use orderflow::record::JsonRecord;
use orderflow_events::registry_double::RegistryDouble;
use orderflow_events::{Codec, CodecSettings, OrderEvent, OrderStatusChanged, Record, sample};
use orderflow_runtime::dead_letter::header::{
    REPLAY_AT, REPLAY_DLQ_OFFSET, REPLAY_DLQ_PARTITION, REPLAY_DLQ_TOPIC,
};
use orderflow_tests::process::{Process, binary};
use orderflow_tests::{Kafka, kafka, payload, unique};
use rdkafka::Message;
use rdkafka::admin::{AdminOptions, ResourceSpecifier};
use rdkafka::message::{Header, Headers, OwnedHeaders, OwnedMessage};
use tokio::io::AsyncWriteExt;

use crate::runtime::{topics, worker_args};

/// What one run of the `orderflow` binary did.
pub(crate) struct Run {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    pub(crate) fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

/// Runs `orderflow args...` to completion (60 s at most), feeding `stdin` when given.
pub(crate) async fn orderflow(args: &[&str], stdin: Option<&str>) -> Run {
    let mut child = tokio::process::Command::new(binary("orderflow"))
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("starting orderflow");
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).await.expect("stdin");
    }
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("orderflow {args:?} did not finish within 60 s"))
        .expect("orderflow ran");
    let run = Run {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    println!(
        "$ orderflow {}\n{}{}(exit {})",
        args.join(" "),
        run.stdout,
        run.stderr,
        run.status
    );
    run
}

/// An `OrderEvent` as a user writes it for `orderflow produce` (serde's JSON form).
fn order_json(order_id: &str, event_id: &str, quantity: &str) -> String {
    format!(
        r#"{{"event_id":"{event_id}","order_id":"{order_id}","customer_id":"cus-1","occurred_at":1795436220317,"source":"cli-test","payload":{{"OrderPlaced":{{"line_items":[{{"sku":"SKU-1","quantity":{quantity},"unit_price":1999}}],"currency":"EUR","shipping":499,"tax":700,"discount":0,"total":5197,"shipping_address":{{"recipient":"Ada Lovelace","line1":"1 Main St","line2":null,"city":"Berlin","postal_code":"10115","region":null,"country":"DE"}},"billing_country":"DE","customer_email":"ada@example.com","new_customer":true,"sales_channel":"WEB"}}}}}}"#
    )
}

fn header_of(message: &OwnedMessage, name: &str) -> Option<String> {
    message.headers().and_then(|h| {
        h.iter()
            .find(|h| h.key == name)
            .and_then(|h| h.value.map(|v| String::from_utf8_lossy(v).into_owned()))
    })
}

/// The last value of header `name` of a record as `tail` prints it.
fn header_value<'a>(record: &'a JsonRecord, name: &str) -> Option<&'a str> {
    record
        .headers
        .iter()
        .rev()
        .find(|h| h.key.as_deref() == Some(name))
        .and_then(|h| h.value.as_ref()?.as_deref())
}

fn event(order_id: &str, event_id: &str) -> OrderEvent {
    let mut event = sample::order_placed(2);
    event.order_id = order_id.to_owned();
    event.event_id = event_id.to_owned();
    event
}

/// `count` single-object encoded events of orders `ord-0`, `ord-1`, ... keyed by order.
async fn encoded_events(count: usize) -> Vec<(String, Vec<u8>)> {
    let codec = Codec::new(CodecSettings::default()).unwrap();
    let mut records = Vec::new();
    for i in 0..count {
        let bytes = codec
            .encode(
                "orders.lifecycle",
                &event(&format!("ord-{i}"), &format!("evt-{i}")),
            )
            .await
            .unwrap();
        records.push((format!("ord-{i}"), bytes));
    }
    records
}

#[orderflow_tests::test(timeout = 300)]
async fn tail_prints_decoded_events_and_garbage_as_json_lines() {
    let kafka = kafka().await;
    let topic = unique("tail");
    kafka.create_topic(&topic, 1, 1).await;
    let mut records: Vec<_> = encoded_events(3)
        .await
        .into_iter()
        .map(|(key, bytes)| (key, bytes, None))
        .collect();
    let headers = OwnedHeaders::new().insert(Header {
        key: "orderflow.dlq.error-class",
        value: Some("decode"),
    });
    records.push((
        "garbage".to_owned(),
        b"definitely not avro".to_vec(),
        Some(headers),
    ));
    kafka.produce_with_headers(&topic, records).await;

    let servers = kafka.bootstrap_servers();
    let run = orderflow(
        &[
            "tail",
            &topic,
            "--count",
            "4",
            "--bootstrap-servers",
            servers,
        ],
        None,
    )
    .await;
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(
        run.stderr, "",
        "reaching the end of a partition is no error"
    );
    let lines: Vec<JsonRecord> = run.lines().iter().map(|l| l.parse().unwrap()).collect();
    assert_eq!(lines.len(), 4);
    for (i, line) in lines[..3].iter().enumerate() {
        assert_eq!(
            (line.topic.as_deref(), line.partition),
            (Some(topic.as_str()), Some(0))
        );
        assert_eq!(line.offset, Some(i as i64));
        assert_eq!(line.key, Some(Some(format!("ord-{i}"))));
        assert!(line.timestamp.is_some());
        let value = line.value.as_ref().expect("decoded value");
        assert_eq!(value["order_id"], format!("ord-{i}").as_str());
        assert_eq!(value["event_id"], format!("evt-{i}").as_str());
        assert_eq!(
            value["payload"]["OrderPlaced"]["line_items"][1]["quantity"],
            2
        );
        assert_eq!(
            line.schema,
            Some(format!(
                "fingerprint:{:#018x}",
                OrderEvent::contract().fingerprint
            ))
        );
        assert!(line.error.is_none());
    }
    let garbage = &lines[3];
    assert_eq!(garbage.value, None);
    assert!(
        garbage
            .error
            .as_deref()
            .is_some_and(|e| e.contains("unknown wire format")),
        "{garbage:?}"
    );
    assert_eq!(
        garbage.value_base64.as_deref(),
        Some("ZGVmaW5pdGVseSBub3QgYXZybw==")
    );
    assert_eq!(
        header_value(garbage, "orderflow.dlq.error-class"),
        Some("decode")
    );

    // Without --count it stops when caught up; from the end there is nothing to show.
    let all = orderflow(&["tail", &topic, "--bootstrap-servers", servers], None).await;
    assert!(all.status.success(), "{}", all.stderr);
    assert_eq!(all.lines().len(), 4);
    let end = orderflow(
        &["tail", &topic, "--from-end", "--bootstrap-servers", servers],
        None,
    )
    .await;
    assert!(end.status.success(), "{}", end.stderr);
    assert_eq!(end.stdout, "");
    let missing = orderflow(
        &["tail", &unique("nope"), "--bootstrap-servers", servers],
        None,
    )
    .await;
    assert!(!missing.status.success());
    assert!(
        missing.stderr.contains("does not exist"),
        "{}",
        missing.stderr
    );
}

/// `tail --offset` starts where kcat's `-o` does (beginning, end, N, -N) and
/// `--from-datetime` at the first record at or after a time, in RFC 3339 or in Kafka's
/// tools' zone-less form read in the local time zone.
#[orderflow_tests::test(timeout = 300)]
async fn tail_starts_at_an_offset_a_count_before_the_end_or_a_time() {
    let kafka = kafka().await;
    let servers = kafka.bootstrap_servers();
    let topic = unique("tail-start");
    kafka.create_topic(&topic, 1, 1).await;
    let batch = encoded_events(5).await;
    kafka.produce(&topic, &batch[..3]).await;
    // Create times are the producer's clock in milliseconds: a gap on each side of the
    // chosen instant keeps the first three before it and the last two after it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let between = jiff::Timestamp::now();
    tokio::time::sleep(Duration::from_millis(200)).await;
    kafka.produce(&topic, &batch[3..]).await;

    let offsets = |run: &Run| -> Vec<i64> {
        assert!(run.status.success(), "{}", run.stderr);
        run.lines()
            .iter()
            .map(|line| line.parse::<JsonRecord>().unwrap().offset.unwrap())
            .collect()
    };
    let tail = |extra: Vec<String>| {
        let mut args = vec![
            "tail".to_owned(),
            topic.clone(),
            "-b".into(),
            servers.into(),
        ];
        args.extend(extra);
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            orderflow(&args, None).await
        }
    };
    let at = |flag: &str, value: &str| vec![flag.to_owned(), value.to_owned()];
    assert_eq!(
        offsets(&tail(at("--offset", "beginning")).await),
        [0, 1, 2, 3, 4]
    );
    assert_eq!(offsets(&tail(at("--offset", "2")).await), [2, 3, 4]);
    assert_eq!(offsets(&tail(at("--offset", "-2")).await), [3, 4]);
    assert_eq!(offsets(&tail(at("--offset", "-9")).await), [0, 1, 2, 3, 4]);
    assert_eq!(
        offsets(&tail(at("--offset", "end")).await),
        Vec::<i64>::new()
    );
    let rfc3339 = between.to_string();
    assert_eq!(
        offsets(&tail(at("--from-datetime", &rfc3339)).await),
        [3, 4]
    );
    let local = jiff::tz::TimeZone::system()
        .to_datetime(between)
        .strftime("%Y-%m-%dT%H:%M:%S%.3f")
        .to_string();
    assert_eq!(offsets(&tail(at("--from-datetime", &local)).await), [3, 4]);
    let later = (between + jiff::SignedDuration::from_hours(1)).to_string();
    assert_eq!(
        offsets(&tail(at("--from-datetime", &later)).await),
        Vec::<i64>::new(),
        "no record that late: nothing to show"
    );
    let bad = tail(at("--offset", "stored")).await;
    assert!(!bad.status.success());
    assert!(bad.stderr.contains("-N"), "{}", bad.stderr);
}

#[orderflow_tests::test(timeout = 300)]
async fn produce_writes_valid_events_and_refuses_a_file_with_a_bad_field_entirely() {
    let kafka = kafka().await;
    let servers = kafka.bootstrap_servers();
    let topic = unique("produce");
    kafka.create_topic(&topic, 1, 1).await;
    let dir = std::env::temp_dir().join(unique("orderflow-produce"));
    std::fs::create_dir_all(&dir).unwrap();

    let good = dir.join("good.jsonl");
    let text: String = (0..3)
        .map(|i| order_json(&format!("ord-{i}"), &format!("evt-{i}"), "2") + "\n")
        .collect();
    std::fs::write(&good, text).unwrap();
    let run = orderflow(
        &[
            "produce",
            &topic,
            "--schema",
            "OrderEvent",
            "--file",
            good.to_str().unwrap(),
            "--bootstrap-servers",
            servers,
        ],
        None,
    )
    .await;
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(run.stdout.trim(), format!("produced 3 events to {topic}"));
    let codec = Codec::new(CodecSettings::default()).unwrap();
    let written = kafka.consume(&topic, 3, Duration::from_secs(30)).await;
    assert_eq!(written.len(), 3);
    for (i, message) in written.iter().enumerate() {
        let decoded = codec.decode::<OrderEvent>(payload(message)).await.unwrap();
        let mut expected = event(&format!("ord-{i}"), &format!("evt-{i}"));
        expected.customer_id = "cus-1".into();
        expected.source = "cli-test".into();
        assert_eq!(decoded.value.event_id, expected.event_id);
        assert_eq!(decoded.value.order_id, expected.order_id);
        assert_eq!(message.key(), Some(format!("ord-{i}").as_bytes()));
        let orderflow_events::Payload::OrderPlaced(placed) = &decoded.value.payload else {
            panic!("not an OrderPlaced: {:?}", decoded.value.payload);
        };
        assert_eq!(placed.line_items[0].quantity, 2);
        assert_eq!(placed.total, 5197);
    }

    // One document on stdin: an array of events.
    let other = unique("produce-stdin");
    kafka.create_topic(&other, 1, 1).await;
    let array = format!("[{}]", order_json("ord-9", "evt-9", "1"));
    let run = orderflow(
        &[
            "produce",
            &other,
            "--schema",
            "OrderEvent",
            "--bootstrap-servers",
            servers,
        ],
        Some(&array),
    )
    .await;
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(run.stdout.trim(), format!("produced 1 events to {other}"));

    // A bad field in the second of three events: nothing at all is produced.
    let empty = unique("produce-bad");
    kafka.create_topic(&empty, 1, 1).await;
    let bad = dir.join("bad.jsonl");
    let text = [
        order_json("ord-a", "evt-a", "2"),
        order_json("ord-b", "evt-b", r#""two""#),
        order_json("ord-c", "evt-c", "2"),
    ]
    .join("\n");
    std::fs::write(&bad, text).unwrap();
    let run = orderflow(
        &[
            "produce",
            &empty,
            "--schema",
            "OrderEvent",
            "--file",
            bad.to_str().unwrap(),
            "--bootstrap-servers",
            servers,
        ],
        None,
    )
    .await;
    assert!(!run.status.success());
    assert!(
        run.stderr.contains(
            r#"event 2: payload.OrderPlaced.line_items[0].quantity: expected int, found string "two""#
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("nothing was produced"),
        "{}",
        run.stderr
    );
    let written = kafka.consume_all(&empty, Duration::from_secs(3)).await;
    assert!(written.is_empty(), "{} records written", written.len());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `orderflow tail A | orderflow produce B` writes every record of A to B with the same
/// payload bytes, key and headers: events of the newest schema and of an older one, one
/// in Confluent framing, a tombstone, a key and header names and values that are not
/// UTF-8, a repeated header name; and `dlq inspect --json` shows records in that form.
#[orderflow_tests::test(timeout = 300)]
async fn tail_piped_into_produce_writes_the_same_records_byte_for_byte() {
    use orderflow::produce::Encoded;
    use orderflow_events::SchemaRef;
    use orderflow_events::contract::{CATALOGUE, WriterSchema};
    use orderflow_kafka_bytes::headers::{RecordHeader, read};

    let kafka = kafka().await;
    let servers = kafka.bootstrap_servers();
    let double = RegistryDouble::start().await;
    let (source, copy) = (unique("json-form-source"), unique("json-form-copy"));
    kafka.create_topic(&source, 1, 1).await;
    kafka.create_topic(&copy, 1, 1).await;

    let newest = encoded_events(2).await;
    let first = CATALOGUE
        .iter()
        .find(|entry| entry.name == "OrderEvent" && entry.version == 1)
        .expect("OrderEvent v1");
    let first = WriterSchema::parse(first.text).expect("v1");
    let single = Codec::new(CodecSettings::default()).expect("codec");
    let mut old_event = serde_json::to_value(event("ord-old", "evt-old")).unwrap();
    old_event["payload"]["OrderPlaced"]
        .as_object_mut()
        .unwrap()
        .remove("sales_channel");
    let old = single
        .encode_json(
            SchemaRef::Fingerprint(first.fingerprint),
            &first,
            &old_event,
        )
        .expect("a v1 event");
    // Confluent framing: the id the registry gave the schema, then the same datum.
    let id = double.register(OrderEvent::contract().avsc);
    let single_object = single
        .encode(&source, &event("ord-framed", "evt-framed"))
        .await
        .expect("an event");
    let mut framed = vec![0];
    framed.extend(id.to_be_bytes());
    framed.extend(&single_object[10..]);
    let odd_headers = vec![
        RecordHeader::new(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ),
        RecordHeader::new("h", "1"),
        RecordHeader {
            name: b"h".to_vec(),
            value: None,
        },
        RecordHeader {
            name: vec![0xff, b'n'],
            value: Some(vec![0, 0xfe]),
        },
        RecordHeader::new("h", ""),
    ];
    let record = |key: Option<&[u8]>, value: Option<&[u8]>, headers: Vec<RecordHeader>| Encoded {
        key: key.map(<[u8]>::to_vec),
        value: value.map(<[u8]>::to_vec),
        headers,
    };
    let records = [
        record(Some(newest[0].0.as_bytes()), Some(&newest[0].1), vec![]),
        record(Some(&[0xff, 0]), Some(&newest[1].1), odd_headers),
        record(Some(b"ord-old"), Some(&old), vec![]),
        record(Some(b"ord-framed"), Some(&framed), vec![]),
        record(Some(b"gone"), None, vec![]),
        record(None, Some(&newest[0].1), vec![]),
    ];
    let producer = kafka.producer();
    for record in &records {
        producer
            .send(record.to(&source), Duration::from_secs(30))
            .await
            .expect("acknowledged");
    }

    let registry = ["--schema-registry-url", double.url.as_str(), "-b", servers];
    let tailed = orderflow(&[&["tail", source.as_str()][..], &registry].concat(), None).await;
    assert!(tailed.status.success(), "{}", tailed.stderr);
    assert_eq!(tailed.lines().len(), records.len(), "{}", tailed.stdout);
    let produced = orderflow(
        &[&["produce", copy.as_str()][..], &registry].concat(),
        Some(&tailed.stdout),
    )
    .await;
    assert!(produced.status.success(), "{}", produced.stderr);

    let original = kafka
        .consume(&source, records.len(), Duration::from_secs(30))
        .await;
    let copied = kafka
        .consume(&copy, records.len(), Duration::from_secs(30))
        .await;
    assert_eq!(copied.len(), records.len());
    for (number, (a, b)) in original.iter().zip(&copied).enumerate() {
        assert_eq!(a.key(), b.key(), "the key of record {number}");
        assert_eq!(a.payload(), b.payload(), "the payload of record {number}");
        assert_eq!(read(a), read(b), "the headers of record {number}");
    }
    assert_eq!(
        read(&copied[1]).len(),
        5,
        "every header, repeated names kept"
    );

    // The dead-letter view shows the same form: its example reads back as the record.
    let inspected = orderflow(
        &[
            &[
                "dlq",
                "inspect",
                source.as_str(),
                "--json",
                "--samples",
                "9",
            ][..],
            &registry,
        ]
        .concat(),
        None,
    )
    .await;
    assert!(inspected.status.success(), "{}", inspected.stderr);
    let report: InspectReport = inspected.stdout.parse().unwrap();
    let examples = &report.groups[0].examples;
    assert_eq!(examples.len(), records.len(), "{}", inspected.stdout);
    let tailed: Vec<JsonRecord> = tailed.lines().iter().map(|l| l.parse().unwrap()).collect();
    for example in examples {
        let offset = example.offset.expect("an offset");
        assert_eq!(
            Some(example),
            tailed.iter().find(|t| t.offset == Some(offset))
        );
    }
}

/// A worker of your own: the example worker on schemas of its own (not in the
/// built-in catalogue), fed and read with the command-line tool given the same folder;
/// without the folder, the worker stops at start saying what to give.
#[orderflow_tests::test(timeout = 240)]
async fn a_worker_of_your_own_runs_on_a_folder_of_its_own_schemas() {
    let kafka = kafka().await;
    let servers = kafka.bootstrap_servers();
    let topics = topics(kafka, 2).await;
    let schemas = orderflow_tests::cluster::repo_root().join("examples/temperature-alerts/schemas");
    let schemas = schemas.to_str().expect("a UTF-8 path");
    let readings = [
        r#"{"reading_id": "r-1", "sensor_id": "s-1", "celsius": 21.5, "taken_at": 1700000000000}"#,
        r#"{"reading_id": "r-2", "sensor_id": "s-2", "celsius": 35.25, "taken_at": 1700000001000}"#,
        r#"{"reading_id": "r-3", "sensor_id": "s-1", "celsius": 30.5, "taken_at": 1700000002000}"#,
    ]
    .join("\n");
    let produce = [
        "produce",
        topics.input.as_str(),
        "--schema",
        "Reading",
        "--key-field",
        "sensor_id",
        "-b",
        servers,
    ];
    let unknown = orderflow(&produce, Some(&readings)).await;
    assert!(!unknown.status.success());
    assert!(
        unknown.stderr.contains("unknown schema 'Reading'"),
        "{}",
        unknown.stderr
    );
    let produced = orderflow(
        &[&produce[..], &["--schemas-dir", schemas]].concat(),
        Some(&readings),
    )
    .await;
    assert!(produced.status.success(), "{}", produced.stderr);
    kafka
        .produce(&topics.input, &[("s-9".to_owned(), b"not avro".to_vec())])
        .await;

    let args = worker_args(kafka, &topics, "exactly-once", &["--schemas-dir", schemas]);
    let mut worker = Process::start("temperature-alerts", &args, &[]);
    let tailed = orderflow(
        &[
            "tail",
            &topics.output,
            "--count",
            "2",
            "--follow",
            "--schemas-dir",
            schemas,
            "-b",
            servers,
        ],
        None,
    )
    .await;
    assert!(
        tailed.status.success(),
        "{}\n{}",
        tailed.stderr,
        worker.log_tail(30)
    );
    let mut alerts: Vec<JsonRecord> = tailed.lines().iter().map(|l| l.parse().unwrap()).collect();
    alerts.sort_by_key(|a| a.value.as_ref().unwrap()["reading_id"].to_string());
    let seen: Vec<_> = alerts
        .iter()
        .map(|a| {
            let value = a.value.as_ref().unwrap();
            (
                a.key.clone().flatten().unwrap(),
                value["reading_id"].clone(),
                value["celsius"].clone(),
                value["limit_celsius"].clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("s-2".to_owned(), "r-2".into(), 35.25.into(), 30.0.into()),
            ("s-1".to_owned(), "r-3".into(), 30.5.into(), 30.0.into()),
        ]
    );
    let letters = kafka.consume(&topics.dlq, 1, Duration::from_secs(30)).await;
    assert_eq!(
        letters.len(),
        1,
        "the record that is not Avro is dead-lettered"
    );
    assert_eq!(
        header_of(&letters[0], "orderflow.dlq.error-class").as_deref(),
        Some("decode")
    );
    worker.terminate();
    let status = worker.wait(Duration::from_secs(25)).await;
    assert!(
        status.is_some_and(|s| s.success()),
        "{}",
        worker.log_tail(30)
    );

    let without = worker_args(kafka, &topics, "exactly-once", &[]);
    let mut bare = Process::start("temperature-alerts", &without, &[]);
    let status = bare.wait(Duration::from_secs(20)).await;
    assert_eq!(status.and_then(|s| s.code()), Some(2), "{}", bare.log());
    assert!(bare.log().contains("--schemas-dir"), "{}", bare.log());
}

async fn partitions_of(kafka: &Kafka, topic: &str) -> usize {
    let metadata = kafka
        .admin()
        .inner()
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    metadata.topics()[0].partitions().len()
}

#[orderflow_tests::test(timeout = 300)]
async fn topics_ensure_creates_the_pipeline_topics_once_with_their_configs() {
    // The topic names are fixed: a private broker keeps them away from parallel tests.
    let cluster = orderflow_tests::cluster::LocalCluster::start(1).await;
    let kafka = Kafka::at(cluster.bootstrap_servers());
    let servers = cluster.bootstrap_servers();
    let ensure = |partitions: &'static str| {
        let servers = servers.to_owned();
        async move {
            orderflow(
                &[
                    "topics",
                    "ensure",
                    "--partitions",
                    partitions,
                    "--replication-factor",
                    "1",
                    "--config",
                    "retention.ms=3600000",
                    "--bootstrap-servers",
                    &servers,
                ],
                None,
            )
            .await
        }
    };
    let topics = orderflow::topology::all_topics();

    let first = ensure("3").await;
    assert!(first.status.success(), "{}", first.stderr);
    let expected: Vec<String> = topics
        .iter()
        .map(|t| format!("created {t} (3 partitions, replication 1)"))
        .collect();
    assert_eq!(first.lines(), expected);

    let second = ensure("3").await;
    assert!(second.status.success(), "{}", second.stderr);
    let expected: Vec<String> = topics
        .iter()
        .map(|t| format!("exists {t} (3 partitions, replication 1)"))
        .collect();
    assert_eq!(second.lines(), expected);

    // Asking for more partitions never changes an existing topic.
    let more = ensure("6").await;
    assert!(more.status.success(), "{}", more.stderr);
    assert!(
        more.lines().iter().all(|l| l.starts_with("exists ")
            && l.ends_with(": fewer than the 6 partitions asked, left unchanged")),
        "{}",
        more.stdout
    );
    for topic in &topics {
        assert_eq!(partitions_of(&kafka, topic).await, 3, "{topic}");
    }

    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));
    let answer = kafka
        .admin()
        .describe_configs(&[ResourceSpecifier::Topic("orders.lifecycle")], &options)
        .await
        .expect("describe configs");
    let resource = answer.into_iter().next().unwrap().expect("topic configs");
    let retention = resource.get("retention.ms").and_then(|e| e.value.clone());
    assert_eq!(retention.as_deref(), Some("3600000"));

    let described = orderflow(
        &["topics", "describe", "--bootstrap-servers", servers],
        None,
    )
    .await;
    assert!(described.status.success(), "{}", described.stderr);
    for topic in &topics {
        assert!(
            described
                .stdout
                .contains(&format!("{topic}: 3 partitions, replication 1\n")),
            "{}",
            described.stdout
        );
    }
    let retention_lines = described
        .stdout
        .lines()
        .filter(|l| {
            l.split_whitespace().collect::<Vec<_>>() == ["retention.ms", "=", "3600000", "(topic)"]
        })
        .count();
    assert_eq!(retention_lines, topics.len(), "{}", described.stdout);
    let missing = orderflow(
        &[
            "topics",
            "describe",
            "orders.lifecycle",
            "no.such.topic",
            "--bootstrap-servers",
            servers,
        ],
        None,
    )
    .await;
    assert!(!missing.status.success());
    assert!(missing.stdout.contains("no.such.topic: missing"));
    assert!(
        missing
            .stderr
            .contains("1 of 2 topics missing: no.such.topic")
    );
}

#[orderflow_tests::test(timeout = 300)]
async fn a_poison_event_fixed_and_replayed_is_processed_exactly_once() {
    let kafka = kafka().await;
    let servers = kafka.bootstrap_servers();
    let topics = topics(kafka, 1).await;
    let double = RegistryDouble::start().await;
    let id = double.register(OrderEvent::contract().avsc);
    let codec = Codec::new(CodecSettings::default()).unwrap();
    let run_id = unique("replay");
    let source = event(&format!("{run_id}-order"), &format!("{run_id}-event"));
    let single_object = codec.encode("orders.lifecycle", &source).await.unwrap();
    let framed = [&[0u8][..], &id.to_be_bytes(), &single_object[10..]].concat();
    let traceparent = OwnedHeaders::new().insert(Header {
        key: "traceparent",
        value: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
    });
    kafka
        .produce_with_headers(
            &topics.input,
            [(source.order_id.clone(), framed.clone(), Some(traceparent))],
        )
        .await;

    let worker_flags = |registry: &str| {
        let extra = [
            "--schema-registry-url",
            registry,
            "--output-format",
            "single-object",
            "--retry-max-attempts",
            "2",
            "--retry-initial-ms",
            "50",
            "--on-retries-exhausted",
            "dead-letter",
        ];
        worker_args(kafka, &topics, "exactly-once", &extra)
    };
    // The registry is unreachable: the event is retried, then dead-lettered.
    let unreachable = format!("http://127.0.0.1:{}", orderflow_tests::free_port());
    let mut worker = Process::start("order-status", &worker_flags(&unreachable), &[]);
    let letters = kafka.consume(&topics.dlq, 1, Duration::from_secs(45)).await;
    assert_eq!(letters.len(), 1, "the event was dead-lettered");
    worker.terminate();
    assert!(worker.wait(Duration::from_secs(25)).await.is_some());

    // The fix: the registry is reachable now.
    let mut worker = Process::start("order-status", &worker_flags(&double.url), &[]);

    let inspected = orderflow(
        &[
            "dlq",
            "inspect",
            &topics.dlq,
            "--json",
            "--bootstrap-servers",
            servers,
        ],
        None,
    )
    .await;
    assert!(inspected.status.success(), "{}", inspected.stderr);
    let report: InspectReport = inspected.stdout.parse().unwrap();
    assert_eq!(report.total, 1);
    assert_eq!(report.groups.len(), 1);
    let group = &report.groups[0];
    assert_eq!((group.class.as_str(), group.count), ("transient", 1));
    let first = group.first.as_ref().expect("original position");
    assert_eq!(
        (first.topic.as_str(), first.partition, first.offset),
        (topics.input.as_str(), 0, 0)
    );
    assert_eq!(group.samples.len(), 1);
    let text = orderflow(
        &[
            "dlq",
            "inspect",
            &topics.dlq,
            "--bootstrap-servers",
            servers,
        ],
        None,
    )
    .await;
    assert!(
        text.stdout
            .contains(&format!("transient / {}: 1\n", group.kind)),
        "{}",
        text.stdout
    );
    assert!(text.stdout.ends_with("total: 1 dead letters\n"));

    // tail shows the provenance and, with the registry, the original event.
    let tailed = orderflow(
        &[
            "tail",
            &topics.dlq,
            "--schema-registry-url",
            &double.url,
            "--bootstrap-servers",
            servers,
        ],
        None,
    )
    .await;
    let line: JsonRecord = tailed.stdout.trim().parse().unwrap();
    assert_eq!(
        header_value(&line, "orderflow.dlq.error-class"),
        Some("transient")
    );
    assert_eq!(line.schema.as_deref(), Some(format!("id:{id}").as_str()));
    assert_eq!(
        line.value.as_ref().unwrap()["event_id"],
        source.event_id.as_str()
    );

    let refused = orderflow(
        &["dlq", "replay", &topics.dlq, "--bootstrap-servers", servers],
        None,
    )
    .await;
    assert!(!refused.status.success());
    assert!(refused.stderr.contains("--all"), "{}", refused.stderr);

    let replayed = orderflow(
        &[
            "dlq",
            "replay",
            &topics.dlq,
            "--class",
            "transient",
            "--bootstrap-servers",
            servers,
        ],
        None,
    )
    .await;
    assert!(replayed.status.success(), "{}", replayed.stderr);
    assert_eq!(replayed.stdout.trim(), "replayed 1 dead letters");

    let outputs = kafka
        .consume(&topics.output, 1, Duration::from_secs(45))
        .await;
    assert_eq!(outputs.len(), 1, "the replayed event was processed");
    let outputs = kafka
        .consume_all(&topics.output, Duration::from_secs(3))
        .await;
    assert_eq!(outputs.len(), 1, "exactly once");
    let status = codec
        .decode::<OrderStatusChanged>(payload(&outputs[0]))
        .await
        .unwrap()
        .value;
    assert_eq!(status.causation_id, source.event_id);

    let inputs = kafka
        .consume_all(&topics.input, Duration::from_secs(2))
        .await;
    assert_eq!(inputs.len(), 2, "the original and its replay");
    let replay = &inputs[1];
    assert_eq!(replay.key(), Some(source.order_id.as_bytes()));
    assert_eq!(payload(replay), framed.as_slice());
    assert_eq!(
        header_of(replay, REPLAY_DLQ_TOPIC).as_deref(),
        Some(topics.dlq.as_str())
    );
    assert_eq!(
        header_of(replay, REPLAY_DLQ_PARTITION).as_deref(),
        Some("0")
    );
    assert_eq!(header_of(replay, REPLAY_DLQ_OFFSET).as_deref(), Some("0"));
    assert!(header_of(replay, REPLAY_AT).is_some_and(|at| at.parse::<i64>().is_ok()));
    assert!(header_of(replay, "traceparent").is_some());
    let provenance: Vec<String> = replay
        .headers()
        .map(|h| {
            h.iter()
                .filter(|h| h.key.starts_with("orderflow.dlq."))
                .map(|h| h.key.to_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(provenance.is_empty(), "provenance kept: {provenance:?}");

    let dry = orderflow(
        &[
            "dlq",
            "replay",
            &topics.dlq,
            "--class",
            "transient",
            "--dry-run",
            "--bootstrap-servers",
            servers,
        ],
        None,
    )
    .await;
    assert!(dry.status.success(), "{}", dry.stderr);
    let listed: Vec<&str> = dry
        .lines()
        .into_iter()
        .filter(|l| l.starts_with(&format!("would replay {}/", topics.dlq)))
        .collect();
    assert_eq!(listed.len(), 1, "{}", dry.stdout);
    assert!(
        dry.stdout
            .contains("would replay 1 dead letters (dry run: nothing written)")
    );
    let inputs = kafka
        .consume_all(&topics.input, Duration::from_secs(2))
        .await;
    assert_eq!(inputs.len(), 2, "the dry run wrote nothing");

    worker.terminate();
    let status = worker.wait(Duration::from_secs(25)).await;
    assert!(status.is_some_and(|s| s.success()), "exit {status:?}");
}

/// `--command-config` takes the `client.properties` file Kafka's own tools take. One
/// Java-form file (SCRAM through `sasl.jaas.config`, a PEM trust store, the servers)
/// lets `kafka-topics` create the topics on the SASL_SSL listener, `orderflow produce`
/// (with `-b`) write events, a worker (no servers flag: the file's) process them, and
/// `orderflow tail` (with `--bootstrap-server`) read the outputs. With a wrong password
/// or another CA in the file a command stops at once with the reason, and the secret
/// appears nowhere.
#[orderflow_tests::test(timeout = 400)]
async fn a_kafka_tools_client_properties_file_reaches_a_sasl_ssl_listener() {
    use orderflow_tests::cluster::{LocalCluster, SCRAM_PASSWORD};
    let cluster = LocalCluster::start_secure().await;
    let secure = cluster.secure_servers();
    let dir = std::env::temp_dir().join(unique("command-config"));
    std::fs::create_dir_all(&dir).unwrap();
    let properties = |name: &str, password: &str, ca: &str| {
        let path = dir.join(name);
        let text = format!(
            "# as kafka-topics.sh --command-config takes it\n\
             bootstrap.servers={secure}\n\
             security.protocol=SASL_SSL\n\
             sasl.mechanism=SCRAM-SHA-256\n\
             sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \
             username=\"orderflow\" password=\"{password}\";\n\
             ssl.truststore.type=PEM\n\
             ssl.truststore.location={}\n",
            cluster.tls_file(ca).display()
        );
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let good = properties("client.properties", SCRAM_PASSWORD, "ca.crt");
    let wrong_password = format!("not-the-{SCRAM_PASSWORD}");
    let wrong = properties("wrong.properties", &wrong_password, "ca.crt");
    let other_ca = properties("other-ca.properties", SCRAM_PASSWORD, "other-ca.crt");

    let (input, output, dlq) = (unique("cc-in"), unique("cc-out"), unique("cc-dlq"));
    for topic in [&input, &output, &dlq] {
        let created = cluster
            .tool(
                "org.apache.kafka.tools.TopicCommand",
                &[
                    "--bootstrap-server",
                    &secure,
                    "--command-config",
                    &good,
                    "--create",
                    "--topic",
                    topic,
                    "--partitions",
                    "2",
                    "--replication-factor",
                    "1",
                ],
            )
            .await;
        assert!(created.is_ok(), "kafka-topics with the file: {created:?}");
    }

    let events = dir.join("events.jsonl");
    let text: String = (0..5)
        .map(|i| order_json(&format!("ord-{i}"), &format!("evt-{i}"), "2") + "\n")
        .collect();
    std::fs::write(&events, text).unwrap();
    let produced = orderflow(
        &[
            "produce",
            &input,
            "--schema",
            "OrderEvent",
            "--file",
            events.to_str().unwrap(),
            "-b",
            &secure,
            "--command-config",
            &good,
        ],
        None,
    )
    .await;
    assert!(produced.status.success(), "{}", produced.stderr);

    let worker_args: Vec<String> = [
        "--command-config",
        &good,
        "--group-id",
        &unique("cc-group"),
        "--input-topic",
        &input,
        "--output-topic",
        &output,
        "--dlq-topic",
        &dlq,
        "--http-addr",
        "127.0.0.1:0",
    ]
    .map(String::from)
    .to_vec();
    let mut worker = Process::start("order-status", &worker_args, &[]);
    let tailed = orderflow(
        &[
            "tail",
            &output,
            "--count",
            "5",
            "--follow",
            "--bootstrap-server",
            &secure,
            "--command-config",
            &good,
        ],
        None,
    )
    .await;
    worker.terminate();
    let status = worker.wait(Duration::from_secs(25)).await;
    let log = worker.log();
    assert!(tailed.status.success(), "{}\n{log}", tailed.stderr);
    let lines: Vec<JsonRecord> = tailed.lines().iter().map(|l| l.parse().unwrap()).collect();
    let mut orders: Vec<String> = lines
        .iter()
        .map(|line| line.value.as_ref().expect("decoded")["order_id"].to_string())
        .collect();
    orders.sort();
    assert_eq!(
        orders,
        (0..5).map(|i| format!("\"ord-{i}\"")).collect::<Vec<_>>(),
        "one status change per event, read back over SASL_SSL"
    );
    assert!(status.is_some_and(|s| s.success()), "{log}");
    assert!(!log.contains(SCRAM_PASSWORD), "the password was logged");

    let refused = orderflow(
        &["tail", &output, "--count", "1", "--command-config", &wrong],
        None,
    )
    .await;
    assert!(!refused.status.success());
    // The reason is the command's own error, not only a log line of the client.
    let reason = refused.stderr.lines().last().unwrap_or_default();
    assert!(
        reason.starts_with("orderflow:") && reason.to_lowercase().contains("authentication"),
        "{}",
        refused.stderr
    );
    let untrusted = orderflow(
        &[
            "tail",
            &output,
            "--count",
            "1",
            "--command-config",
            &other_ca,
        ],
        None,
    )
    .await;
    assert!(!untrusted.status.success());
    let reason = untrusted.stderr.lines().last().unwrap_or_default();
    assert!(
        reason.starts_with("orderflow:") && reason.to_lowercase().contains("ssl"),
        "{}",
        untrusted.stderr
    );
    for text in [
        &untrusted.stderr,
        &refused.stdout,
        &refused.stderr,
        &produced.stderr,
        &tailed.stderr,
    ] {
        assert!(!text.contains(SCRAM_PASSWORD) && !text.contains(&wrong_password));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
