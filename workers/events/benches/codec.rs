//! The codec, side by side with other Avro crates in one run:
//!
//! - `decode_order_event_10_items`: one `OrderPlaced` datum with 10 line items read
//!   into the Rust type, by ours ([`orderflow_events::datum`] through the contract),
//!   apache-avro's serde reader and its `Value` tree then `from_value`, and
//!   serde_avro_fast.
//! - `encode_<event>`: each derived event written into a reused buffer, by ours,
//!   apache-avro's serde writer and serde_avro_fast (apache-avro's `to_value` cannot
//!   represent a union of records, so it has no `Value` path here).
//!
//! The allocator is the workers' (mimalloc), for every crate alike.
//! - `order_placed_10_items_decode_plus_encode`: the whole codec (framing, schema
//!   lookup, size checks) in both wire formats, beside serde_json on the same struct.

use std::collections::HashMap;
use std::hint::black_box;

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::writer::datum::GenericDatumWriter;
use criterion::{Criterion, criterion_group, criterion_main};
use futures::FutureExt;
use orderflow_events::registry::RegistrySettings;
use orderflow_events::registry_double::RegistryDouble;
use orderflow_events::*;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn apache_reader<T: Record>() -> GenericDatumReader<'static> {
    GenericDatumReader::builder(T::contract().schema())
        .human_readable(false)
        .build()
        .unwrap()
}

fn apache_writer<T: Record>() -> GenericDatumWriter<'static> {
    GenericDatumWriter::builder(T::contract().schema())
        .validate(false)
        .human_readable(false)
        .build()
        .unwrap()
}

fn fast_schema<T: Record>() -> serde_avro_fast::Schema {
    T::contract().avsc.parse().unwrap()
}

/// `OrderEvent` as serde_avro_fast reads it: that crate names a union's branch by its
/// full name, where our `Payload` names it by its short name and index. Same fields,
/// same allocations.
#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)]
struct FastOrderEvent {
    event_id: String,
    order_id: String,
    customer_id: String,
    occurred_at: i64,
    source: String,
    payload: FastPayload,
}

#[derive(Debug, serde::Deserialize)]
#[allow(dead_code, clippy::large_enum_variant)]
enum FastPayload {
    #[serde(rename = "io.orderflow.events.OrderPlaced")]
    OrderPlaced(OrderPlaced),
    #[serde(rename = "io.orderflow.events.PaymentAuthorized")]
    PaymentAuthorized(PaymentAuthorized),
    #[serde(rename = "io.orderflow.events.PaymentFailed")]
    PaymentFailed(PaymentFailed),
    #[serde(rename = "io.orderflow.events.OrderShipped")]
    OrderShipped(OrderShipped),
    #[serde(rename = "io.orderflow.events.OrderDelivered")]
    OrderDelivered(OrderDelivered),
    #[serde(rename = "io.orderflow.events.OrderCancelled")]
    OrderCancelled(OrderCancelled),
}

fn decode(c: &mut Criterion) {
    let event = sample::order_placed(10);
    let contract = OrderEvent::contract();
    let mut datum = Vec::new();
    contract.encode(&event, &mut datum).unwrap();
    let reader = apache_reader::<OrderEvent>();
    let fast = fast_schema::<OrderEvent>();
    // Every reader gets the same event back.
    assert_eq!(contract.decode_own::<OrderEvent>(&datum).unwrap(), event);
    assert_eq!(
        reader.read_deser::<OrderEvent>(&mut &datum[..]).unwrap(),
        event
    );
    let theirs = serde_avro_fast::from_datum_slice::<FastOrderEvent>(&datum, &fast).unwrap();
    let FastPayload::OrderPlaced(placed) = theirs.payload else {
        panic!("serde_avro_fast read {theirs:?}");
    };
    assert_eq!(Payload::OrderPlaced(placed), event.payload);

    let mut group = c.benchmark_group("decode_order_event_10_items");
    group.bench_function("orderflow", |b| {
        b.iter(|| {
            black_box(
                contract
                    .decode_own::<OrderEvent>(black_box(&datum))
                    .unwrap(),
            )
        })
    });
    group.bench_function("apache-avro serde", |b| {
        b.iter(|| {
            black_box(
                reader
                    .read_deser::<OrderEvent>(&mut black_box(&datum[..]))
                    .unwrap(),
            )
        })
    });
    group.bench_function("apache-avro Value", |b| {
        b.iter(|| {
            let value = reader.read_value(&mut black_box(&datum[..])).unwrap();
            black_box(apache_avro::from_value::<OrderEvent>(&value).unwrap())
        })
    });
    group.bench_function("serde_avro_fast", |b| {
        b.iter(|| {
            black_box(
                serde_avro_fast::from_datum_slice::<FastOrderEvent>(black_box(&datum), &fast)
                    .unwrap(),
            )
        })
    });
    group.finish();
}

fn encode_one<T: Record + PartialEq + std::fmt::Debug>(c: &mut Criterion, name: &str, value: T) {
    let contract = T::contract();
    let writer = apache_writer::<T>();
    let fast = fast_schema::<T>();
    let mut fast_config = serde_avro_fast::ser::SerializerConfig::new(&fast);
    // Every writer writes the same bytes.
    let mut expected = Vec::new();
    contract.encode(&value, &mut expected).unwrap();
    let mut theirs = Vec::new();
    writer.write_ser(&mut theirs, &value).unwrap();
    assert_eq!(theirs, expected, "apache-avro, {name}");
    let theirs = serde_avro_fast::to_datum_vec(&value, &mut fast_config).unwrap();
    assert_eq!(theirs, expected, "serde_avro_fast, {name}");

    let mut group = c.benchmark_group(format!("encode_{name}"));
    let mut out = Vec::with_capacity(1024);
    group.bench_function("orderflow", |b| {
        b.iter(|| {
            out.clear();
            contract.encode(black_box(&value), &mut out).unwrap();
            black_box(&out);
        })
    });
    group.bench_function("apache-avro serde", |b| {
        b.iter(|| {
            out.clear();
            writer.write_ser(&mut out, black_box(&value)).unwrap();
            black_box(&out);
        })
    });
    group.bench_function("serde_avro_fast", |b| {
        b.iter(|| {
            out.clear();
            serde_avro_fast::to_datum(black_box(&value), &mut out, &mut fast_config).unwrap();
            black_box(&out);
        })
    });
    group.finish();
}

/// Each derived event as the workers make it from the sample order.
fn encode(c: &mut Criterion) {
    let source = sample::order_placed(10);
    let lineage = |worker: &str| Lineage::of(worker, "0.1.0", &source, 0, 1_795_436_221_000);
    encode_one(
        c,
        "order_validation",
        derived_event!(OrderValidation, lineage("order-validator"), {
            customer_id: source.customer_id.clone(),
            result: ValidationResult::OrderValidated(OrderValidated {
                total: 40_979,
                currency: "EUR".into(),
                line_count: 10,
            }),
        }),
    );
    encode_one(
        c,
        "order_status_changed",
        derived_event!(OrderStatusChanged, lineage("order-status"), {
            customer_id: source.customer_id.clone(),
            status: OrderStatus::Placed,
            occurred_at: source.occurred_at,
        }),
    );
    encode_one(
        c,
        "notification_requested",
        derived_event!(NotificationRequested, lineage("notifier"), {
            customer_id: source.customer_id.clone(),
            channel: NotificationChannel::Email,
            recipient: Some("ada@example.com".into()),
            template: "order-confirmation".into(),
            parameters: HashMap::from([
                ("order_id".into(), source.order_id.clone()),
                ("total".into(), "409.79".into()),
                ("currency".into(), "EUR".into()),
            ]),
        }),
    );
    encode_one(
        c,
        "order_risk_assessed",
        derived_event!(OrderRiskAssessed, lineage("risk-scorer"), {
            customer_id: source.customer_id.clone(),
            score: 35,
            decision: RiskDecision::Approve,
            signals: vec![
                RiskSignal {
                    code: "NEW_CUSTOMER".into(),
                    weight: 20,
                    detail: "first order of this customer".into(),
                },
                RiskSignal {
                    code: "HIGH_VALUE".into(),
                    weight: 15,
                    detail: "total 409.79 EUR above 300.00".into(),
                },
            ],
        }),
    );
}

fn codec_round_trip(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let registry = rt.block_on(RegistryDouble::start());
    let event = sample::order_placed(10);
    let single_object = Codec::new(CodecSettings::default()).unwrap();
    let confluent = Codec::new(CodecSettings {
        output_format: WireFormat::Confluent,
        registry: Some(RegistrySettings::new(&registry.url)),
        ..CodecSettings::default()
    })
    .unwrap();

    let mut group = c.benchmark_group("order_placed_10_items_decode_plus_encode");
    for (name, codec) in [("single-object", &single_object), ("confluent", &confluent)] {
        // First use registers and fetches the schema; the loop measures the cached path.
        let header = rt
            .block_on(codec.header_for::<OrderEvent>("orders.lifecycle"))
            .unwrap();
        let warm = codec.encode_with(header, &event).unwrap();
        rt.block_on(codec.decode::<OrderEvent>(&warm)).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| {
                let bytes = codec.encode_with(header, black_box(&event)).unwrap();
                // Cached schemas: the future completes on its first poll, no executor needed.
                let decoded = codec
                    .decode::<OrderEvent>(&bytes)
                    .now_or_never()
                    .unwrap()
                    .unwrap();
                black_box(decoded);
            })
        });
    }
    group.bench_function("serde_json", |b| {
        b.iter(|| {
            let bytes = serde_json::to_vec(black_box(&event)).unwrap();
            let decoded: OrderEvent = serde_json::from_slice(&bytes).unwrap();
            black_box(decoded);
        })
    });
    group.finish();
}

criterion_group!(benches, decode, encode, codec_round_trip);
criterion_main!(benches);
