//! Each worker's pure function on a realistic event, without Kafka or the codec.

use criterion::{Criterion, criterion_group, criterion_main};
use orderflow_events::{OrderEvent, Payload, sample};
use orderflow_runtime::{Input, Processor};

fn input(event: &OrderEvent) -> Input<'_, OrderEvent> {
    Input {
        event,
        topic: "orders.lifecycle",
        partition: 0,
        offset: 42,
        timestamp: Some(event.occurred_at),
        key: Some(event.order_id.as_bytes()),
        headers: &[],
        now: event.occurred_at + 1_000,
    }
}

fn bench<P: Processor<Input = OrderEvent>>(c: &mut Criterion, event: &OrderEvent, what: &str) {
    let processor = P::new(Default::default()).expect("default rules");
    let input = input(event);
    c.bench_function(&format!("{}/{what}", P::NAME), |b| {
        b.iter(|| {
            std::hint::black_box(
                processor
                    .process(std::hint::black_box(&input))
                    .expect("processes"),
            )
        })
    });
}

fn workers(c: &mut Criterion) {
    let placed = sample::order_placed(10);
    let shipped = sample::with_payload(
        &placed,
        Payload::OrderShipped(orderflow_events::OrderShipped {
            carrier: "DHL".into(),
            tracking_number: "1Z999".into(),
        }),
    );
    bench::<order_validator::OrderValidator>(c, &placed, "order_placed_10_items");
    bench::<risk_scorer::RiskScorer>(c, &placed, "order_placed_10_items");
    bench::<notifier::Notifier>(c, &placed, "order_placed_10_items");
    bench::<notifier::Notifier>(c, &shipped, "order_shipped");
    bench::<order_status::OrderStatusWorker>(c, &shipped, "order_shipped");
    let failed = sample::with_payload(
        &placed,
        Payload::PaymentFailed(orderflow_events::PaymentFailed {
            payment_id: "pay-1".into(),
            reason_code: "card_declined".into(),
        }),
    );
    bench::<order_saga::OrderSaga>(c, &failed, "payment_failed");
}

criterion_group!(benches, workers);
criterion_main!(benches);
