//! Decode plus encode of an `OrderPlaced` event with 10 line items, in both wire
//! formats, beside serde_json on the same struct.

use criterion::{Criterion, criterion_group, criterion_main};
use futures::FutureExt;
use orderflow_events::registry::RegistrySettings;
use orderflow_events::registry_double::RegistryDouble;
use orderflow_events::{Codec, CodecSettings, OrderEvent, WireFormat, sample};

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
                let bytes = codec
                    .encode_with(header, std::hint::black_box(&event))
                    .unwrap();
                // Cached schemas: the future completes on its first poll, no executor needed.
                let decoded = codec
                    .decode::<OrderEvent>(&bytes)
                    .now_or_never()
                    .unwrap()
                    .unwrap();
                std::hint::black_box(decoded);
            })
        });
    }
    group.bench_function("serde_json", |b| {
        b.iter(|| {
            let bytes = serde_json::to_vec(std::hint::black_box(&event)).unwrap();
            let decoded: OrderEvent = serde_json::from_slice(&bytes).unwrap();
            std::hint::black_box(decoded);
        })
    });
    group.finish();
}

criterion_group!(benches, codec_round_trip);
criterion_main!(benches);
