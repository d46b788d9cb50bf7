//! Input events for runtime tests: `orders` orders, each with a numbered sequence of
//! lifecycle events, interleaved, so that per-order order can be checked downstream.

use orderflow_events::{
    Codec, CodecSettings, OrderCancelled, OrderDelivered, OrderEvent, OrderShipped, Payload,
    PaymentAuthorized, sample,
};

/// One input record.
#[derive(Debug, Clone)]
pub struct TestEvent {
    /// Order id (the key).
    pub order_id: String,
    /// Position of the event in its order's sequence.
    pub sequence: usize,
    /// The event id (`<run>-<order>-<sequence>`).
    pub event_id: String,
    /// The encoded value.
    pub bytes: Vec<u8>,
}

/// `total` events over `orders` orders, round-robin, encoded in single-object format.
pub async fn events(run: &str, orders: usize, total: usize) -> Vec<TestEvent> {
    let codec = Codec::new(CodecSettings::default()).expect("codec");
    let template = sample::order_placed(3);
    let mut out = Vec::with_capacity(total);
    for i in 0..total {
        let order = i % orders;
        let sequence = i / orders;
        let order_id = format!("{run}-order-{order}");
        let event_id = format!("{run}-{order}-{sequence}");
        let payload = match sequence % 5 {
            0 => template.payload.clone(),
            1 => Payload::PaymentAuthorized(PaymentAuthorized {
                payment_id: format!("pay-{order}"),
                amount: 1,
                currency: "EUR".into(),
                method: "card".into(),
            }),
            2 => Payload::OrderShipped(OrderShipped {
                carrier: "DHL".into(),
                tracking_number: format!("1Z{i}"),
            }),
            3 => Payload::OrderDelivered(OrderDelivered { signed_by: None }),
            _ => Payload::OrderCancelled(OrderCancelled {
                reason: "customer_request".into(),
                refund_amount: 0,
            }),
        };
        let event = OrderEvent {
            event_id: event_id.clone(),
            order_id: order_id.clone(),
            customer_id: format!("cus-{order}"),
            occurred_at: 1_795_436_220_317 + i as i64,
            source: "test".into(),
            payload,
        };
        let bytes = codec
            .encode("orders.lifecycle", &event)
            .await
            .expect("encode");
        out.push(TestEvent {
            order_id,
            sequence,
            event_id,
            bytes,
        });
    }
    out
}

/// The sequence number in an event id made by [`events`].
pub fn sequence_of(event_id: &str) -> Option<usize> {
    event_id.rsplit('-').next()?.parse().ok()
}
