use std::collections::HashMap;
use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::arbitrary::arb_event;
use crate::contract::{CATALOGUE, readable_as};
use crate::corpus;
use crate::error::{CodecError, ErrorClass};
use crate::model::*;
use crate::registry::RegistrySettings;
use crate::registry_double::RegistryDouble;
use crate::sample;

fn single_object() -> Codec {
    Codec::new(CodecSettings::default()).unwrap()
}

/// Decodes `message`, which must be a valid single-object `OrderEvent`.
async fn decode_single_object(message: &[u8]) -> OrderEvent {
    single_object()
        .decode::<OrderEvent>(message)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .value
}

/// The `OrderPlaced` payload of `event`.
fn order_placed(event: OrderEvent) -> OrderPlaced {
    let Payload::OrderPlaced(placed) = event.payload else {
        panic!("not OrderPlaced: {:?}", event.payload)
    };
    placed
}

/// The start of a hand-written `OrderEvent` datum: the fields of event `n` before its
/// payload, then the payload union's branch index; the payload's fields follow.
fn envelope(n: u32, branch: i64) -> corpus::AvroBytes {
    let mut w = corpus::AvroBytes::default();
    w.string(&format!("e-{n}"))
        .string(&format!("o-{n}"))
        .string(&format!("c-{n}"))
        .long(1_000)
        .string("shop")
        .long(branch);
    w
}

/// The field `name` of a record schema in JSON form.
fn field_mut<'a>(record: &'a mut serde_json::Value, name: &str) -> &'a mut serde_json::Value {
    record["fields"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no field {name}"))
}

/// Encodes the sample `OrderPlaced` event for `orders.lifecycle`.
async fn encode_order_placed(codec: &Codec) -> Result<Vec<u8>, CodecError> {
    codec
        .encode("orders.lifecycle", &sample::order_placed(1))
        .await
}

fn confluent(url: &str, strategy: SubjectStrategy) -> Codec {
    let mut registry = RegistrySettings::new(url);
    registry.attempts = 2;
    registry.request_timeout = std::time::Duration::from_secs(2);
    Codec::new(CodecSettings {
        output_format: WireFormat::Confluent,
        subject_strategy: strategy,
        registry: Some(registry),
        ..CodecSettings::default()
    })
    .unwrap()
}

fn lineage() -> Lineage {
    Lineage::new(
        "order-validator",
        "0.1.0",
        "4b2f6d1e",
        "ord-1",
        0,
        1_795_436_220_317,
    )
}

fn validation(result: ValidationResult) -> OrderValidation {
    crate::derived_event!(OrderValidation, lineage(), {
        customer_id: "cus-1".into(),
        result,
    })
}

async fn round_trip<T: Record + PartialEq + std::fmt::Debug>(codec: &Codec, value: &T) {
    // One topic per type, as a registry allows one schema lineage per subject.
    let bytes = codec.encode(T::SCHEMA, value).await.unwrap();
    let decoded = codec.decode::<T>(&bytes).await.unwrap();
    assert_eq!(&decoded.value, value);
}

#[tokio::test]
async fn every_event_type_round_trips_in_both_wire_formats() {
    let registry = RegistryDouble::start().await;
    let l = lineage();
    let status = OrderStatusChanged {
        event_id: l.event_id.clone(),
        causation_id: l.causation_id.clone(),
        order_id: l.order_id.clone(),
        produced_at: l.produced_at,
        worker: "order-status".into(),
        worker_version: "0.1.0".into(),
        customer_id: "cus-1".into(),
        status: OrderStatus::PaymentFailed,
        occurred_at: 7,
    };
    let notification = NotificationRequested {
        event_id: l.event_id.clone(),
        causation_id: l.causation_id.clone(),
        order_id: l.order_id.clone(),
        produced_at: l.produced_at,
        worker: "notifier".into(),
        worker_version: "0.1.0".into(),
        customer_id: "cus-1".into(),
        channel: NotificationChannel::Email,
        recipient: Some("ädä@exämple.com".into()),
        template: "order_shipped".into(),
        parameters: HashMap::from([
            ("carrier".into(), "DHL".into()),
            ("tracking".into(), "1Z".into()),
        ]),
    };
    let risk = OrderRiskAssessed {
        event_id: l.event_id.clone(),
        causation_id: l.causation_id.clone(),
        order_id: l.order_id.clone(),
        produced_at: l.produced_at,
        worker: "risk-scorer".into(),
        worker_version: "0.1.0".into(),
        customer_id: "cus-1".into(),
        score: 85,
        decision: RiskDecision::Decline,
        signals: vec![RiskSignal {
            code: "HIGH_AMOUNT".into(),
            weight: 40,
            detail: "x".into(),
        }],
    };
    let valid = validation(ValidationResult::OrderValidated(OrderValidated {
        total: 1,
        currency: "EUR".into(),
        line_count: 1,
    }));
    let rejected = validation(ValidationResult::OrderRejected(OrderRejected {
        reasons: vec![RejectionReason {
            code: "NO_LINE_ITEMS".into(),
            field: "line_items".into(),
            message: "none".into(),
        }],
    }));
    let placed = sample::order_placed(3);
    let others = [
        Payload::PaymentAuthorized(PaymentAuthorized {
            payment_id: "p".into(),
            amount: 5,
            currency: "EUR".into(),
            method: "card".into(),
        }),
        Payload::PaymentFailed(PaymentFailed {
            payment_id: "p".into(),
            reason_code: "card_expired".into(),
        }),
        Payload::OrderShipped(OrderShipped {
            carrier: "DHL".into(),
            tracking_number: "1Z".into(),
        }),
        Payload::OrderDelivered(OrderDelivered { signed_by: None }),
        Payload::OrderCancelled(OrderCancelled {
            reason: "fraud".into(),
            refund_amount: 10,
        }),
    ];
    for codec in [
        single_object(),
        confluent(&registry.url, SubjectStrategy::TopicName),
        confluent(&registry.url, SubjectStrategy::RecordName),
    ] {
        round_trip(&codec, &placed).await;
        for payload in &others {
            round_trip(&codec, &sample::with_payload(&placed, payload.clone())).await;
        }
        round_trip(&codec, &valid).await;
        round_trip(&codec, &rejected).await;
        round_trip(&codec, &status).await;
        round_trip(&codec, &notification).await;
        round_trip(&codec, &risk).await;
    }
}

#[tokio::test]
async fn single_object_messages_carry_the_newest_schema_fingerprint() {
    let bytes = single_object()
        .encode("t", &sample::order_placed(1))
        .await
        .unwrap();
    assert_eq!(bytes[..2], [0xC3, 0x01]);
    let fp = u64::from_le_bytes(bytes[2..10].try_into().unwrap());
    let newest = crate::contract::newest("OrderEvent").unwrap();
    assert_eq!(fp, crate::fingerprint::fingerprint(newest.text).unwrap());
}

#[tokio::test]
async fn confluent_output_registers_under_the_configured_subject_strategy() {
    let registry = RegistryDouble::start().await;
    let by_topic = confluent(&registry.url, SubjectStrategy::TopicName);
    let bytes = encode_order_placed(&by_topic).await.unwrap();
    assert_eq!(bytes[0], 0x00);
    let id = u32::from_be_bytes(bytes[1..5].try_into().unwrap());
    assert_eq!(id, registry.register(OrderEvent::contract().avsc));
    // Registered once, then served from the cache.
    let before = registry.requests();
    for _ in 0..10 {
        encode_order_placed(&by_topic).await.unwrap();
    }
    assert_eq!(registry.requests(), before);
}

#[tokio::test]
async fn a_v1_event_decodes_into_todays_type_with_the_new_field_defaulted() {
    let placed = order_placed(decode_single_object(&corpus::valid_message_v1()).await);
    assert_eq!(placed.sales_channel, SalesChannel::Unknown);
    assert_eq!(placed.line_items.len(), 2);
    assert_eq!(placed.total, 5697);
}

#[tokio::test]
async fn the_sample_message_written_by_hand_decodes() {
    let event = decode_single_object(&corpus::valid_message()).await;
    assert_eq!(event.order_id, "ord-000123");
    let placed = order_placed(event);
    assert_eq!(placed.sales_channel, SalesChannel::Web);
}

#[test]
fn every_schema_version_reads_and_is_read_by_the_newest() {
    for entry in CATALOGUE {
        let newest = crate::contract::newest(entry.name).unwrap();
        let old = apache_avro::Schema::parse_str(entry.text).unwrap();
        let new = apache_avro::Schema::parse_str(newest.text).unwrap();
        readable_as(&old, &new)
            .unwrap_or_else(|e| panic!("{} v{} -> newest: {e}", entry.name, entry.version));
        readable_as(&new, &old)
            .unwrap_or_else(|e| panic!("newest -> {} v{}: {e}", entry.name, entry.version));
    }
}

#[tokio::test]
async fn every_malformed_case_fails_with_its_class_and_kind() {
    let codec = single_object();
    let cases = corpus::malformed_cases(codec.settings().max_payload_bytes);
    let named = cases
        .iter()
        .filter(|c| !c.name.starts_with("truncated at datum byte"))
        .count();
    assert!(named >= 25, "only {named} named cases");
    for case in &cases {
        match codec.decode::<OrderEvent>(&case.bytes).await {
            Ok(value) => panic!("{}: decoded {value:?}", case.name),
            Err(error) => {
                assert_eq!(
                    (error.class(), error.kind()),
                    (case.class, case.kind),
                    "{}: {error}",
                    case.name
                );
            }
        }
    }
    println!(
        "{} malformed cases ({named} named) rejected with the expected class",
        cases.len()
    );
}

#[tokio::test]
async fn an_unknown_registry_id_is_a_schema_error_and_is_not_asked_twice() {
    let registry = RegistryDouble::start().await;
    let codec = confluent(&registry.url, SubjectStrategy::TopicName);
    let message = [
        &[0x00, 0, 0, 0x10, 0x00][..],
        &corpus::valid_message()[10..],
    ]
    .concat();
    for _ in 0..5 {
        let error = codec.decode::<OrderEvent>(&message).await.unwrap_err();
        assert_eq!(
            (error.class(), error.kind()),
            (ErrorClass::Schema, "unknown-schema-id"),
            "{error}"
        );
    }
    assert_eq!(registry.requests(), 1, "unknown ids are cached for a while");
}

#[tokio::test]
async fn a_registry_that_is_down_is_a_transient_error() {
    let registry = RegistryDouble::start().await;
    let id = registry.register(OrderEvent::contract().avsc);
    let codec = confluent(&registry.url, SubjectStrategy::TopicName);
    registry.set_failing(true);
    let message = [
        &[0x00][..],
        &id.to_be_bytes(),
        &corpus::valid_message()[10..],
    ]
    .concat();
    let error = codec.decode::<OrderEvent>(&message).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Transient, "{error}");
    assert_eq!(registry.requests(), 2, "two attempts were configured");
    registry.set_failing(false);
    codec
        .decode::<OrderEvent>(&message)
        .await
        .expect("decodes once the registry is back");
}

#[tokio::test]
async fn an_unreachable_registry_is_a_transient_error() {
    let codec = confluent("http://127.0.0.1:9", SubjectStrategy::TopicName);
    let message = [&[0x00, 0, 0, 0, 1][..], &corpus::valid_message()[10..]].concat();
    let error = codec.decode::<OrderEvent>(&message).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Transient, "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_lookups_of_one_new_id_make_one_request() {
    let registry = RegistryDouble::start().await;
    let id = registry.register(OrderEvent::contract().avsc);
    let codec = Arc::new(confluent(&registry.url, SubjectStrategy::TopicName));
    let message: Arc<[u8]> = [
        &[0x00][..],
        &id.to_be_bytes(),
        &corpus::valid_message()[10..],
    ]
    .concat()
    .into();
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (codec, message) = (codec.clone(), message.clone());
            tokio::spawn(
                async move { codec.decode::<OrderEvent>(&message).await.map(|d| d.schema) },
            )
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), SchemaRef::RegistryId(id));
    }
    assert_eq!(registry.requests(), 1);
}

#[tokio::test]
async fn decode_json_shows_any_known_event() {
    let codec = single_object();
    let bytes = codec.encode("t", &sample::order_placed(2)).await.unwrap();
    let (json, writer) = codec.decode_json(&bytes).await.unwrap();
    assert_eq!(writer.full_name, "io.orderflow.events.OrderEvent");
    assert_eq!(json["order_id"], "ord-000123");
    assert_eq!(
        json["payload"]["OrderPlaced"]["line_items"][1]["sku"],
        "SKU-00001"
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_events_round_trip_in_both_formats(event in arb_event()) {
        let rt = runtime();
        rt.block_on(async {
            let registry = RegistryDouble::start().await;
            for codec in [single_object(), confluent(&registry.url, SubjectStrategy::TopicName)] {
                let bytes = codec.encode("orders.lifecycle", &event).await.unwrap();
                let back = codec.decode::<OrderEvent>(&bytes).await.unwrap();
                assert_eq!(back.value, event.clone());
            }
        });
    }

    #[test]
    fn arbitrary_bytes_after_a_valid_header_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..512)) {
        let rt = runtime();
        let codec = single_object();
        let mut message = corpus::valid_message()[..10].to_vec();
        message.extend_from_slice(&tail);
        let _ = rt.block_on(codec.decode::<OrderEvent>(&message));
    }

    #[test]
    fn single_byte_corruptions_of_a_valid_event_never_panic(at in 0usize..200, byte in any::<u8>()) {
        let rt = runtime();
        let codec = single_object();
        let mut message = corpus::valid_message();
        let at = at % message.len();
        message[at] = byte;
        let _ = rt.block_on(codec.decode::<OrderEvent>(&message));
    }
}

#[tokio::test]
async fn equal_notifications_encode_to_identical_bytes() {
    let codec = single_object();
    let make = |pairs: &[(&str, &str)]| NotificationRequested {
        event_id: "e".into(),
        causation_id: "c".into(),
        order_id: "o".into(),
        produced_at: 1,
        worker: "notifier".into(),
        worker_version: "0.1.0".into(),
        customer_id: "cus".into(),
        channel: NotificationChannel::Email,
        recipient: None,
        template: "order_shipped".into(),
        parameters: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    let pairs: Vec<(String, String)> = (0..32)
        .map(|i| (format!("k{i}"), format!("v{i}")))
        .collect();
    let forward: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let backward: Vec<(&str, &str)> = forward.iter().rev().copied().collect();
    let a = codec.encode("t", &make(&forward)).await.unwrap();
    let b = codec.encode("t", &make(&backward)).await.unwrap();
    assert_eq!(a, b);
}

/// A regression test: apache-avro's resolver would read this as `OrderDelivered`
/// (the first branch the record fits), not `OrderCancelled`.
#[tokio::test]
async fn a_v1_cancellation_stays_a_cancellation() {
    let v1 = CATALOGUE
        .iter()
        .find(|e| e.name == "OrderEvent" && e.version == 1)
        .unwrap();
    let mut w = envelope(1, 5);
    w.string("customer_request").long(12_144);
    let message = corpus::framed(crate::fingerprint::fingerprint(v1.text).unwrap(), &w.0);
    assert_eq!(
        decode_single_object(&message).await.payload,
        Payload::OrderCancelled(OrderCancelled {
            reason: "customer_request".into(),
            refund_amount: 12_144
        })
    );
}

/// Issue 15: an event from a newer writer whose payload union has a branch this reader
/// lacks is a schema error that names the branch (so `dlq replay --class schema` finds
/// it after the upgrade that adds the branch), not malformed data.
#[tokio::test]
async fn a_payload_type_of_a_newer_writer_is_an_unknown_union_branch() {
    let registry = RegistryDouble::start().await;
    let mut newer: serde_json::Value = serde_json::from_str(OrderEvent::contract().avsc).unwrap();
    let payload = field_mut(&mut newer, "payload");
    let branches = payload["type"].as_array_mut().unwrap();
    let returned = branches.len() as i64;
    branches.push(serde_json::json!({
        "type": "record",
        "name": "OrderReturned",
        "fields": [{"name": "reason", "type": "string"}]
    }));
    let id = registry.register(&newer.to_string());
    let mut w = envelope(1, returned);
    w.string("damaged");
    let message = [&[0x00][..], &id.to_be_bytes(), &w.0].concat();
    let codec = confluent(&registry.url, SubjectStrategy::TopicName);
    let error = codec.decode::<OrderEvent>(&message).await.unwrap_err();
    assert_eq!(
        (error.class(), error.kind()),
        (ErrorClass::Schema, "unknown-union-branch"),
        "{error}"
    );
    assert!(error.to_string().contains("OrderReturned"), "{error}");
    // Events of the payload types both schemas share still decode.
    let mut w = envelope(2, 5);
    w.string("fraud").long(7);
    let message = [&[0x00][..], &id.to_be_bytes(), &w.0].concat();
    let decoded = codec.decode::<OrderEvent>(&message).await.unwrap();
    assert_eq!(
        decoded.value.payload,
        Payload::OrderCancelled(OrderCancelled {
            reason: "fraud".into(),
            refund_amount: 7
        })
    );
}

/// Issue 15: read-only registry credentials. The output schema is looked up under its
/// subject first, and registered only when missing.
#[tokio::test]
async fn an_output_schema_registered_already_is_looked_up_without_writing() {
    let registry = RegistryDouble::start().await;
    let id = registry.register_under("orders.lifecycle-value", OrderEvent::contract().avsc);
    registry.set_read_only(true);
    let codec = confluent(&registry.url, SubjectStrategy::TopicName);
    let bytes = encode_order_placed(&codec)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(bytes[1..5], id.to_be_bytes());
    assert_eq!(registry.registrations(), 0, "nothing was registered");
}

#[tokio::test]
async fn a_missing_output_schema_that_may_not_be_registered_names_the_subject() {
    let registry = RegistryDouble::start().await;
    registry.set_read_only(true);
    let codec = confluent(&registry.url, SubjectStrategy::TopicName);
    let error = encode_order_placed(&codec).await.unwrap_err();
    assert_eq!(
        (error.class(), error.kind()),
        (ErrorClass::Schema, "schema-not-registered"),
        "{error}"
    );
    let text = error.to_string();
    assert!(text.contains("orders.lifecycle-value"), "{text}");
    assert!(text.contains("40301"), "{text}");
    assert!(text.contains("register"), "{text}");
}

/// The newest OrderEvent schema split as a Confluent producer with schema references
/// registers it: `Address` in a subject of its own, each payload record in its own
/// subject (OrderPlaced referencing Address), and OrderEvent referencing the payloads.
/// Returns the id of OrderEvent and the number of referenced subjects.
fn register_with_references(registry: &RegistryDouble) -> (u32, usize) {
    let mut event: serde_json::Value = serde_json::from_str(OrderEvent::contract().avsc).unwrap();
    let namespace = event["namespace"].as_str().unwrap().to_owned();
    let full = |name: &str| format!("{namespace}.{name}");
    let payload = field_mut(&mut event, "payload");
    let mut subjects = 0;
    let mut references = Vec::new();
    for branch in payload["type"].as_array_mut().unwrap() {
        let mut record = branch.take();
        record["namespace"] = namespace.clone().into();
        let name = record["name"].as_str().unwrap().to_owned();
        *branch = full(&name).into();
        let mut needs = Vec::new();
        if name == "OrderPlaced" {
            let address = field_mut(&mut record, "shipping_address");
            let mut definition = address["type"].take();
            definition["namespace"] = namespace.clone().into();
            address["type"] = full("Address").into();
            registry.register_under(&full("Address"), &definition.to_string());
            subjects += 1;
            needs.push((full("Address"), full("Address"), 1));
        }
        let needs: Vec<(&str, &str, i64)> = needs
            .iter()
            .map(|(n, s, v)| (n.as_str(), s.as_str(), *v))
            .collect();
        registry.register_with_references(&full(&name), &record.to_string(), &needs);
        subjects += 1;
        references.push(full(&name));
    }
    let references: Vec<(&str, &str, i64)> = references
        .iter()
        .map(|name| (name.as_str(), name.as_str(), 1))
        .collect();
    let id = registry.register_with_references(
        "orders.lifecycle-value",
        &event.to_string(),
        &references,
    );
    (id, subjects)
}

/// Issue 15: a writer schema registered with Confluent schema references decodes: the
/// referenced subjects and versions are fetched (recursively, once each).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_schema_with_references_decodes_after_fetching_them_once() {
    let registry = RegistryDouble::start().await;
    let (id, subjects) = register_with_references(&registry);
    let codec = Arc::new(confluent(&registry.url, SubjectStrategy::TopicName));
    let events = [
        sample::order_placed(2),
        sample::with_payload(
            &sample::order_placed(1),
            Payload::OrderCancelled(OrderCancelled {
                reason: "fraud".into(),
                refund_amount: 3,
            }),
        ),
    ];
    let mut tasks = Vec::new();
    for round in 0..16 {
        let event = events[round % 2].clone();
        let single = single_object().encode("t", &event).await.unwrap();
        let message = [&[0x00][..], &id.to_be_bytes(), &single[10..]].concat();
        let codec = codec.clone();
        tasks.push(tokio::spawn(async move {
            let decoded = codec.decode::<OrderEvent>(&message).await;
            (event, decoded)
        }));
    }
    for task in tasks {
        let (event, decoded) = task.await.unwrap();
        let decoded = decoded.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(decoded.value, event);
        assert_eq!(decoded.schema, SchemaRef::RegistryId(id));
    }
    assert_eq!(
        registry.requests(),
        1 + subjects,
        "one request for the id and one per referenced subject version"
    );
}

fn confluent_with(url: &str, registration: SchemaRegistration) -> Codec {
    let mut registry = RegistrySettings::new(url);
    registry.attempts = 2;
    Codec::new(CodecSettings {
        output_format: WireFormat::Confluent,
        registry: Some(registry),
        registration,
        ..CodecSettings::default()
    })
    .unwrap()
}

#[tokio::test]
async fn use_latest_version_takes_the_subjects_latest_version_when_it_is_the_same_schema() {
    let registry = RegistryDouble::start().await;
    // The same schema in another layout: the lookup (by text) misses it.
    let relaid: serde_json::Value = serde_json::from_str(OrderEvent::contract().avsc).unwrap();
    let id = registry.register_under(
        "orders.lifecycle-value",
        &serde_json::to_string_pretty(&relaid).unwrap(),
    );
    registry.set_read_only(true);
    let codec = confluent_with(
        &registry.url,
        SchemaRegistration {
            auto_register: false,
            use_latest_version: true,
        },
    );
    let bytes = encode_order_placed(&codec)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(bytes[1..5], id.to_be_bytes());
    assert_eq!(registry.registrations(), 0);

    // Another schema as the subject's latest version is refused, naming the subject.
    registry.register_under("orders.validation-value", OrderEvent::contract().avsc);
    let validated = validation(ValidationResult::OrderValidated(OrderValidated {
        total: 1,
        currency: "EUR".into(),
        line_count: 1,
    }));
    let error = codec
        .encode("orders.validation", &validated)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), "schema-not-registered", "{error}");
    let text = error.to_string();
    assert!(text.contains("orders.validation-value"), "{text}");
    assert!(text.contains("another schema"), "{text}");
    assert_eq!(registry.registrations(), 0);
}

#[tokio::test]
async fn without_auto_registration_a_missing_output_schema_is_not_registered() {
    let registry = RegistryDouble::start().await;
    let codec = confluent_with(
        &registry.url,
        SchemaRegistration {
            auto_register: false,
            use_latest_version: false,
        },
    );
    let error = encode_order_placed(&codec).await.unwrap_err();
    assert_eq!(error.kind(), "schema-not-registered", "{error}");
    assert!(
        error.to_string().contains("--auto-register-schemas"),
        "{error}"
    );
    assert_eq!(registry.registrations(), 0);
}
