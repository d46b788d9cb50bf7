//! The Rust codec against Python's Avro stack (fastavro and confluent-kafka's
//! serializers), both directions, through files instead of Kafka, and through a real
//! schema registry for Confluent framing.
//!
//! Values cross the language boundary as JSON in one plain shape (see
//! `tests/python/avro_wire.py`): records are objects, a union branch that is a record is
//! `{"ShortName": {...}}`, enums are their symbol, timestamps are epoch milliseconds.
//! Every Rust value is mapped into that shape field by field here, so a field lost or
//! garbled on either side shows up by its path.

use std::path::{Path, PathBuf};

use orderflow_events::contract::Record;
use orderflow_events::fingerprint::{canonical_form, fingerprint};
use orderflow_events::registry::RegistrySettings;
use orderflow_events::{
    Address, Codec, CodecSettings, LineItem, NotificationChannel, NotificationRequested,
    OrderCancelled, OrderCommand, OrderDelivered, OrderEvent, OrderPlaced, OrderRejected,
    OrderRiskAssessed, OrderShipped, OrderStatus, OrderStatusChanged, OrderValidated,
    OrderValidation, Payload, PaymentAuthorized, PaymentFailed, RejectionReason, RiskDecision,
    RiskSignal, SalesChannel, SchemaRef, ValidationResult, WireFormat, sample,
};
use orderflow_tests::cluster::repo_root;
use orderflow_tests::{python, registry_url, unique};
use serde_json::{Value as Json, json};

#[orderflow_tests::test(timeout = 300)]
async fn rust_decodes_every_order_event_python_writes_in_both_wire_formats() {
    let registry = registry_url();
    let file = std::env::temp_dir().join(format!("{}.jsonl", unique("interop-python")));
    let topic = unique("interop-python");
    let out = interop_py(&[
        "write",
        "--out",
        &file.display().to_string(),
        "--registry",
        &registry,
        "--topic",
        &topic,
    ])
    .await;
    println!("{out}");
    let text = std::fs::read_to_string(&file).expect("records written by interop.py");
    let _ = std::fs::remove_file(&file);

    let codec = Codec::new(CodecSettings {
        registry: Some(RegistrySettings::new(&registry)),
        ..CodecSettings::default()
    })
    .expect("codec");
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    // Every case of interop.py, in both formats.
    assert!(
        lines.len() >= 30,
        "too few records from interop.py:\n{text}"
    );
    let mut failures = Vec::new();
    for line in &lines {
        let record = serde_json::from_str::<Json>(line).expect("a JSON line");
        let case = field(&record, "case");
        let bytes = hex_decode(field(&record, "hex"));
        let decoded = match codec.decode::<OrderEvent>(&bytes).await {
            Ok(decoded) => decoded,
            Err(error) => {
                failures.push(format!("{case}: not decoded: {error}"));
                continue;
            }
        };
        match (field(&record, "format"), decoded.schema) {
            ("single-object", SchemaRef::Fingerprint(fp)) => {
                let header = hex_encode(&fp.to_le_bytes());
                if header != field(&record, "fingerprint") {
                    failures.push(format!(
                        "{case}: fingerprint {header}, fastavro wrote {}",
                        field(&record, "fingerprint")
                    ));
                }
            }
            ("confluent", SchemaRef::RegistryId(_)) => {}
            (format, schema) => failures.push(format!("{case}: {format} read as {schema}")),
        }
        let mut found = Vec::new();
        differences(
            "",
            &record["expected"],
            &decoded.value.to_json(),
            &mut found,
        );
        if !found.is_empty() {
            failures.push(format!(
                "{case} (writer {}):\n    {}",
                field(&record, "writer"),
                found.join("\n    ")
            ));
        }
    }
    println!(
        "{} Python-written records decoded by the Rust codec, {} read differently",
        lines.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "the Rust codec read {} of {} Python-written records differently:\n{}",
        failures.len(),
        lines.len(),
        failures.join("\n")
    );
}

/// Issue 15: a writer schema registered with Confluent schema references (each payload
/// record in a subject of its own), by confluent_kafka's client and AvroSerializer.
#[orderflow_tests::test(timeout = 180)]
async fn rust_decodes_what_python_writes_with_a_schema_registered_with_references() {
    let registry = registry_url();
    let file = std::env::temp_dir().join(format!("{}.jsonl", unique("interop-references")));
    let topic = unique("interop-references");
    let out = interop_py(&[
        "references",
        "--out",
        &file.display().to_string(),
        "--registry",
        &registry,
        "--topic",
        &topic,
    ])
    .await;
    println!("{out}");
    let text = std::fs::read_to_string(&file).expect("records written by interop.py");
    let _ = std::fs::remove_file(&file);
    let codec = Codec::new(CodecSettings {
        registry: Some(RegistrySettings::new(&registry)),
        ..CodecSettings::default()
    })
    .expect("codec");
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 5, "too few records from interop.py:\n{text}");
    let mut failures = Vec::new();
    for line in &lines {
        let record = serde_json::from_str::<Json>(line).expect("a JSON line");
        let case = field(&record, "case");
        match codec
            .decode::<OrderEvent>(&hex_decode(field(&record, "hex")))
            .await
        {
            Ok(decoded) => {
                let mut found = Vec::new();
                differences(
                    "",
                    &record["expected"],
                    &decoded.value.to_json(),
                    &mut found,
                );
                if !found.is_empty() {
                    failures.push(format!("{case}:\n    {}", found.join("\n    ")));
                }
            }
            Err(error) => failures.push(format!(
                "{case}: not decoded ({}/{}): {error}",
                error.class().as_str(),
                error.kind()
            )),
        }
    }
    println!(
        "{} records written with a referencing schema decoded, {} failed",
        lines.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[orderflow_tests::test(timeout = 300)]
async fn python_decodes_every_event_rust_writes_in_both_wire_formats() {
    let registry = registry_url();
    let single_object = Codec::new(CodecSettings::default()).expect("codec");
    let confluent = Codec::new(CodecSettings {
        output_format: WireFormat::Confluent,
        registry: Some(RegistrySettings::new(&registry)),
        ..CodecSettings::default()
    })
    .expect("codec");
    let run = unique("interop-rust");
    let mut written = Vec::new();
    for codec in [&single_object, &confluent] {
        for (case, value) in order_events() {
            written.push(write(codec, &run, &case, &value).await);
        }
        for (case, value) in validations() {
            written.push(write(codec, &run, &case, &value).await);
        }
        for (case, value) in status_changes() {
            written.push(write(codec, &run, &case, &value).await);
        }
        for (case, value) in notifications() {
            written.push(write(codec, &run, &case, &value).await);
        }
        for (case, value) in risk_assessments() {
            written.push(write(codec, &run, &case, &value).await);
        }
    }
    let file = std::env::temp_dir().join(format!("{run}.txt"));
    let lines: Vec<String> = written
        .iter()
        .map(|w| {
            format!(
                "{} {} {} {}",
                w.case,
                w.format,
                w.topic,
                hex_encode(&w.bytes)
            )
        })
        .collect();
    std::fs::write(&file, lines.join("\n")).expect("write records for Python");
    let out = interop_py(&[
        "decode",
        "--in",
        &file.display().to_string(),
        "--registry",
        &registry,
    ])
    .await;
    let _ = std::fs::remove_file(&file);

    let decoded: Vec<Json> = out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Json>(l).expect("a JSON line from interop.py"))
        .collect();
    assert_eq!(
        decoded.len(),
        written.len(),
        "one answer per record:\n{out}"
    );
    let mut failures = Vec::new();
    for (expected, answer) in written.iter().zip(&decoded) {
        let case = format!("{}/{}", expected.case, expected.format);
        assert_eq!(field(answer, "case"), expected.case, "answers in order");
        if let Some(error) = answer.get("error") {
            failures.push(format!("{case}: Python could not decode it: {error}"));
            continue;
        }
        // Single-object: the schema file the fingerprint matched; Confluent: the full
        // name of the schema registered under the id.
        let schema = field(answer, "schema");
        let named = match expected.format {
            "single-object" => schema.starts_with(&format!("{}/v", expected.schema)),
            _ => schema == format!("io.orderflow.events.{}", expected.schema),
        };
        if !named {
            failures.push(format!(
                "{case}: Python found schema {schema}, not {}",
                expected.schema
            ));
        }
        let mut found = Vec::new();
        differences("", &expected.json, &answer["value"], &mut found);
        if !found.is_empty() {
            failures.push(format!("{case}:\n    {}", found.join("\n    ")));
        }
    }
    println!(
        "{} Rust-written records decoded by fastavro and AvroDeserializer",
        written.len()
    );
    assert!(
        failures.is_empty(),
        "Python read the Rust codec's records differently:\n{}",
        failures.join("\n")
    );
}

#[orderflow_tests::test(timeout = 300)]
async fn fastavro_and_the_rust_codec_agree_on_every_schema_fingerprint() {
    let out = interop_py(&["fingerprints"]).await;
    let python = serde_json::from_str::<Json>(&out).expect("JSON from interop.py fingerprints");
    let schemas = schema_files(&repo_root().join("schemas"));
    assert!(
        schemas.len() >= 6,
        "schemas/ holds every version: {schemas:?}"
    );
    let mut failures = Vec::new();
    for path in &schemas {
        let name = path
            .strip_prefix(repo_root().join("schemas"))
            .unwrap()
            .display()
            .to_string();
        let text = std::fs::read_to_string(path).unwrap();
        let rust_fp = hex_encode(&fingerprint(&text).unwrap().to_le_bytes());
        let rust_form = canonical_form(&text).unwrap();
        let Some(theirs) = python.get(&name) else {
            failures.push(format!("{name}: fastavro did not see it"));
            continue;
        };
        println!("{name}: {rust_fp}");
        if field(theirs, "fingerprint") != rust_fp {
            failures.push(format!(
                "{name}: fastavro {}, Rust {rust_fp}",
                field(theirs, "fingerprint")
            ));
        }
        if field(theirs, "canonical_form") != rust_form {
            failures.push(format!(
                "{name}: canonical forms differ:\n  fastavro {}\n  Rust     {rust_form}",
                field(theirs, "canonical_form")
            ));
        }
    }
    // The codec's own single-object headers use the newest version of each schema.
    for (name, fp) in [
        ("OrderEvent", OrderEvent::contract().fingerprint),
        ("OrderValidation", OrderValidation::contract().fingerprint),
        (
            "OrderStatusChanged",
            OrderStatusChanged::contract().fingerprint,
        ),
        (
            "NotificationRequested",
            NotificationRequested::contract().fingerprint,
        ),
        (
            "OrderRiskAssessed",
            OrderRiskAssessed::contract().fingerprint,
        ),
        ("OrderCommand", OrderCommand::contract().fingerprint),
    ] {
        let newest = python
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(file, _)| file.starts_with(&format!("{name}/v")))
            .max_by_key(|(file, _)| version_of(file))
            .map(|(_, entry)| field(entry, "fingerprint").to_owned());
        if newest.as_deref() != Some(hex_encode(&fp.to_le_bytes()).as_str()) {
            failures.push(format!(
                "{name}: the codec writes {:016x}, fastavro's newest is {newest:?}",
                fp
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// One record written by the Rust codec, and what Python must read from it.
struct Written {
    case: String,
    format: &'static str,
    topic: String,
    /// The schema folder (record name) it was written with.
    schema: &'static str,
    bytes: Vec<u8>,
    json: Json,
}

async fn write<T: Record + ToJson>(codec: &Codec, run: &str, case: &str, value: &T) -> Written {
    // One topic per record type, so each Confluent subject holds one schema.
    let topic = format!("{run}-{}", T::SCHEMA);
    let bytes = codec
        .encode(&topic, value)
        .await
        .unwrap_or_else(|e| panic!("{case}: encode: {e}"));
    Written {
        case: case.to_owned(),
        format: codec.settings().output_format.as_str(),
        topic,
        schema: T::SCHEMA,
        bytes,
        json: value.to_json(),
    }
}

async fn interop_py(args: &[&str]) -> String {
    let script = repo_root().join("tests").join("python").join("interop.py");
    let output = tokio::process::Command::new(python())
        .kill_on_drop(true)
        .arg(script)
        .args(args)
        .output()
        .await
        .unwrap_or_else(|e| panic!("running {} interop.py: {e}", python().display()));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "interop.py {args:?} failed ({}):\n{stderr}",
        output.status
    );
    String::from_utf8(output.stdout).expect("UTF-8 from interop.py")
}

fn schema_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for folder in std::fs::read_dir(dir).expect("schemas/") {
        let folder = folder.unwrap().path();
        if !folder.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&folder).unwrap() {
            let file = file.unwrap().path();
            if file.extension().is_some_and(|e| e == "avsc") {
                files.push(file);
            }
        }
    }
    files.sort();
    files
}

fn version_of(file: &str) -> u32 {
    file.rsplit("/v")
        .next()
        .and_then(|v| v.strip_suffix(".avsc"))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

// ---- the values the Rust side writes ----------------------------------------------------

fn order_events() -> Vec<(String, OrderEvent)> {
    let placed = sample::order_placed(2);
    let Payload::OrderPlaced(order) = &placed.payload else {
        unreachable!("sample::order_placed is an OrderPlaced")
    };
    let unicode = OrderPlaced {
        line_items: vec![
            LineItem {
                sku: "茶-12".into(),
                quantity: 3,
                unit_price: 0,
            },
            LineItem {
                sku: "茶-12".into(),
                quantity: i32::MAX,
                unit_price: i64::MAX,
            },
        ],
        currency: "JPY".into(),
        shipping_address: Address {
            recipient: "山田 太郎 🚀".into(),
            line1: "1-1 丸の内".into(),
            line2: Some("部屋 301".into()),
            city: "東京".into(),
            postal_code: "100-0001".into(),
            region: Some("東京都".into()),
            country: "JP".into(),
        },
        customer_email: "用户@例子.广告".into(),
        new_customer: true,
        sales_channel: SalesChannel::MobileApp,
        ..order.clone()
    };
    let event = |id: &str, payload: Payload| OrderEvent {
        event_id: format!("rust-{id}"),
        order_id: "ord-ünïcödé-42".into(),
        customer_id: "cus-Łukasz".into(),
        ..sample::with_payload(&placed, payload)
    };
    let mut events = vec![
        ("order_event_placed_sample".into(), placed.clone()),
        (
            "order_event_placed_unicode".into(),
            event("1", Payload::OrderPlaced(unicode)),
        ),
    ];
    for (i, channel) in [
        SalesChannel::Web,
        SalesChannel::Marketplace,
        SalesChannel::Pos,
        SalesChannel::Phone,
        SalesChannel::Unknown,
    ]
    .into_iter()
    .enumerate()
    {
        let order = OrderPlaced {
            sales_channel: channel,
            line_items: Vec::new(),
            ..order.clone()
        };
        events.push((
            format!("order_event_placed_channel_{i}"),
            event(&format!("c{i}"), Payload::OrderPlaced(order)),
        ));
    }
    let payloads = [
        Payload::PaymentAuthorized(PaymentAuthorized {
            payment_id: "pay_ÆØÅ".into(),
            amount: i64::MIN,
            currency: "EUR".into(),
            method: "apple_pay".into(),
        }),
        Payload::PaymentFailed(PaymentFailed {
            payment_id: "pay_2".into(),
            reason_code: "insufficient_funds".into(),
        }),
        Payload::OrderShipped(OrderShipped {
            carrier: "ヤマト運輸".into(),
            tracking_number: "🚚-1Z999".into(),
        }),
        Payload::OrderDelivered(OrderDelivered {
            signed_by: Some("Søren".into()),
        }),
        Payload::OrderDelivered(OrderDelivered { signed_by: None }),
        Payload::OrderCancelled(OrderCancelled {
            reason: "customer_request — «changed mind»".into(),
            refund_amount: 12_144,
        }),
    ];
    for (i, payload) in payloads.into_iter().enumerate() {
        let name = format!("order_event_{}_{i}", payload.type_name());
        events.push((name, event(&format!("p{i}"), payload)));
    }
    events
}

/// Lineage fields shared by the derived samples.
const EVENT_ID: &str = "5f0c8e1b-3a8e-5c4b-9e5e-2b6f1d0c9a77";
const CAUSATION_ID: &str = "4b2f6d1e-8a3c-4f7e-9b1d-2c5e8f0a7b3d";

fn validations() -> Vec<(String, OrderValidation)> {
    let base = |result| OrderValidation {
        event_id: EVENT_ID.into(),
        causation_id: CAUSATION_ID.into(),
        order_id: "ord-ünïcödé-42".into(),
        produced_at: 1_767_225_600_123,
        worker: "order-validator".into(),
        worker_version: "0.1.0".into(),
        customer_id: "cus-山田".into(),
        result,
    };
    vec![
        (
            "validation_validated".into(),
            base(ValidationResult::OrderValidated(OrderValidated {
                total: 12_144,
                currency: "EUR".into(),
                line_count: 3,
            })),
        ),
        (
            "validation_rejected".into(),
            base(ValidationResult::OrderRejected(OrderRejected {
                reasons: vec![
                    RejectionReason {
                        code: "INVALID_QUANTITY".into(),
                        field: "line_items[2].quantity".into(),
                        message: "quantity 0 is not between 1 and 1000".into(),
                    },
                    RejectionReason {
                        code: "EMPTY_ADDRESS".into(),
                        field: "shipping_address.city".into(),
                        message: "«Besançon» — 東京 \"quoted\" \\ \u{1}".into(),
                    },
                ],
            })),
        ),
    ]
}

fn status_changes() -> Vec<(String, OrderStatusChanged)> {
    [
        OrderStatus::Placed,
        OrderStatus::PaymentAuthorized,
        OrderStatus::PaymentFailed,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
        OrderStatus::Unknown,
    ]
    .into_iter()
    .map(|status| {
        (
            format!("status_{}", status_symbol(status).to_lowercase()),
            OrderStatusChanged {
                event_id: EVENT_ID.into(),
                causation_id: CAUSATION_ID.into(),
                order_id: "ord-1".into(),
                produced_at: 1_767_225_600_123,
                worker: "order-status".into(),
                worker_version: "0.1.0".into(),
                customer_id: "cus-1".into(),
                status,
                occurred_at: 1_767_225_500_000,
            },
        )
    })
    .collect()
}

fn notifications() -> Vec<(String, NotificationRequested)> {
    let base =
        |channel, recipient: Option<&str>, parameters: &[(&str, &str)]| NotificationRequested {
            event_id: EVENT_ID.into(),
            causation_id: CAUSATION_ID.into(),
            order_id: "ord-ünïcödé-42".into(),
            produced_at: 1_767_225_600_123,
            worker: "notifier".into(),
            worker_version: "0.1.0".into(),
            customer_id: "cus-山田".into(),
            channel,
            recipient: recipient.map(str::to_owned),
            template: "order_confirmation".into(),
            parameters: parameters
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
    vec![
        (
            "notification_email".into(),
            base(
                NotificationChannel::Email,
                Some("zoë@bücher.de"),
                &[
                    ("order_id", "ord-ünïcödé-42"),
                    ("total", "12144"),
                    ("currency", "EUR"),
                    ("line_count", "3"),
                    ("städt", "Zürich 🏔"),
                ],
            ),
        ),
        (
            "notification_looked_up".into(),
            base(NotificationChannel::Sms, None, &[]),
        ),
        (
            "notification_push".into(),
            base(NotificationChannel::Push, Some(""), &[("signed_by", "")]),
        ),
        (
            "notification_unknown".into(),
            base(NotificationChannel::Unknown, None, &[("k", "v")]),
        ),
    ]
}

fn risk_assessments() -> Vec<(String, OrderRiskAssessed)> {
    let base = |score, decision, signals: Vec<RiskSignal>| OrderRiskAssessed {
        event_id: EVENT_ID.into(),
        causation_id: CAUSATION_ID.into(),
        order_id: "ord-1".into(),
        produced_at: 1_767_225_600_123,
        worker: "risk-scorer".into(),
        worker_version: "0.1.0".into(),
        customer_id: "cus-1".into(),
        score,
        decision,
        signals,
    };
    let signal = |code: &str, weight, detail: &str| RiskSignal {
        code: code.into(),
        weight,
        detail: detail.into(),
    };
    vec![
        (
            "risk_approve".into(),
            base(0, RiskDecision::Approve, Vec::new()),
        ),
        (
            "risk_review".into(),
            base(
                55,
                RiskDecision::Review,
                vec![
                    signal("HIGH_AMOUNT", 40, "total 150000 JPY ≥ 150000"),
                    signal("COUNTRY_MISMATCH", 25, "ships to JP but bills to DE"),
                ],
            ),
        ),
        (
            "risk_decline".into(),
            base(
                100,
                RiskDecision::Decline,
                vec![signal("DISPOSABLE_EMAIL", 30, "\"mailinator.com\"")],
            ),
        ),
        (
            "risk_unknown".into(),
            base(-1, RiskDecision::Unknown, Vec::new()),
        ),
    ]
}

// ---- every value in the shared JSON shape, field by field ------------------------------

trait ToJson {
    fn to_json(&self) -> Json;
}

impl ToJson for OrderEvent {
    fn to_json(&self) -> Json {
        let payload = match &self.payload {
            Payload::OrderPlaced(p) => p.to_json(),
            Payload::PaymentAuthorized(p) => json!({
                "payment_id": p.payment_id,
                "amount": p.amount,
                "currency": p.currency,
                "method": p.method,
            }),
            Payload::PaymentFailed(p) => json!({
                "payment_id": p.payment_id,
                "reason_code": p.reason_code,
            }),
            Payload::OrderShipped(p) => json!({
                "carrier": p.carrier,
                "tracking_number": p.tracking_number,
            }),
            Payload::OrderDelivered(p) => json!({ "signed_by": p.signed_by }),
            Payload::OrderCancelled(p) => json!({
                "reason": p.reason,
                "refund_amount": p.refund_amount,
            }),
        };
        json!({
            "event_id": self.event_id,
            "order_id": self.order_id,
            "customer_id": self.customer_id,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "payload": { self.payload.type_name(): payload },
        })
    }
}

impl ToJson for OrderPlaced {
    fn to_json(&self) -> Json {
        let lines: Vec<Json> = self
            .line_items
            .iter()
            .map(|l| json!({ "sku": l.sku, "quantity": l.quantity, "unit_price": l.unit_price }))
            .collect();
        let a = &self.shipping_address;
        let channel = match self.sales_channel {
            SalesChannel::Web => "WEB",
            SalesChannel::MobileApp => "MOBILE_APP",
            SalesChannel::Marketplace => "MARKETPLACE",
            SalesChannel::Pos => "POS",
            SalesChannel::Phone => "PHONE",
            SalesChannel::Unknown => "UNKNOWN",
        };
        json!({
            "line_items": lines,
            "currency": self.currency,
            "shipping": self.shipping,
            "tax": self.tax,
            "discount": self.discount,
            "total": self.total,
            "shipping_address": {
                "recipient": a.recipient,
                "line1": a.line1,
                "line2": a.line2,
                "city": a.city,
                "postal_code": a.postal_code,
                "region": a.region,
                "country": a.country,
            },
            "billing_country": self.billing_country,
            "customer_email": self.customer_email,
            "new_customer": self.new_customer,
            "sales_channel": channel,
        })
    }
}

/// The lineage fields every derived event starts with, then `fields`.
macro_rules! derived_json {
    ($event:expr, { $($key:literal : $value:expr),* $(,)? }) => {{
        let e = $event;
        json!({
            "event_id": e.event_id,
            "causation_id": e.causation_id,
            "order_id": e.order_id,
            "produced_at": e.produced_at,
            "worker": e.worker,
            "worker_version": e.worker_version,
            "customer_id": e.customer_id,
            $($key: $value),*
        })
    }};
}

impl ToJson for OrderValidation {
    fn to_json(&self) -> Json {
        let result = match &self.result {
            ValidationResult::OrderValidated(v) => json!({ "OrderValidated": {
                "total": v.total,
                "currency": v.currency,
                "line_count": v.line_count,
            }}),
            ValidationResult::OrderRejected(r) => {
                let reasons: Vec<Json> = r
                    .reasons
                    .iter()
                    .map(|r| json!({ "code": r.code, "field": r.field, "message": r.message }))
                    .collect();
                json!({ "OrderRejected": { "reasons": reasons } })
            }
        };
        derived_json!(self, { "result": result })
    }
}

fn status_symbol(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::Placed => "PLACED",
        OrderStatus::PaymentAuthorized => "PAYMENT_AUTHORIZED",
        OrderStatus::PaymentFailed => "PAYMENT_FAILED",
        OrderStatus::Shipped => "SHIPPED",
        OrderStatus::Delivered => "DELIVERED",
        OrderStatus::Cancelled => "CANCELLED",
        OrderStatus::Unknown => "UNKNOWN",
    }
}

impl ToJson for OrderStatusChanged {
    fn to_json(&self) -> Json {
        derived_json!(self, {
            "status": status_symbol(self.status),
            "occurred_at": self.occurred_at,
        })
    }
}

impl ToJson for NotificationRequested {
    fn to_json(&self) -> Json {
        let channel = match self.channel {
            NotificationChannel::Email => "EMAIL",
            NotificationChannel::Sms => "SMS",
            NotificationChannel::Push => "PUSH",
            NotificationChannel::Unknown => "UNKNOWN",
        };
        derived_json!(self, {
            "channel": channel,
            "recipient": self.recipient,
            "template": self.template,
            "parameters": self.parameters,
        })
    }
}

impl ToJson for OrderRiskAssessed {
    fn to_json(&self) -> Json {
        let decision = match self.decision {
            RiskDecision::Approve => "APPROVE",
            RiskDecision::Review => "REVIEW",
            RiskDecision::Decline => "DECLINE",
            RiskDecision::Unknown => "UNKNOWN",
        };
        let signals: Vec<Json> = self
            .signals
            .iter()
            .map(|s| json!({ "code": s.code, "weight": s.weight, "detail": s.detail }))
            .collect();
        derived_json!(self, {
            "score": self.score,
            "decision": decision,
            "signals": signals,
        })
    }
}

/// Every difference between `expected` and `actual`, by path.
fn differences(path: &str, expected: &Json, actual: &Json, out: &mut Vec<String>) {
    match (expected, actual) {
        (Json::Object(want), Json::Object(got)) => {
            for (key, value) in want {
                let at = format!("{path}.{key}");
                match got.get(key) {
                    Some(other) => differences(&at, value, other, out),
                    None => out.push(format!("{at}: missing, expected {value}")),
                }
            }
            for key in got.keys().filter(|k| !want.contains_key(*k)) {
                out.push(format!("{path}.{key}: unexpected {}", got[key]));
            }
        }
        (Json::Array(want), Json::Array(got)) if want.len() == got.len() => {
            for (i, (w, g)) in want.iter().zip(got).enumerate() {
                differences(&format!("{path}[{i}]"), w, g, out);
            }
        }
        _ if expected == actual => {}
        _ => out.push(format!("{path}: expected {expected}, got {actual}")),
    }
}

/// The string `key` of a JSON object ("" when absent).
fn field<'a>(value: &'a Json, key: &str) -> &'a str {
    value[key].as_str().unwrap_or_default()
}
