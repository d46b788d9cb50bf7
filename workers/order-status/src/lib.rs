//! order-status: every lifecycle event moves its order to a status.
//!
//! | payload | status |
//! | --- | --- |
//! | OrderPlaced | PLACED |
//! | PaymentAuthorized | PAYMENT_AUTHORIZED |
//! | PaymentFailed | PAYMENT_FAILED |
//! | OrderShipped | SHIPPED |
//! | OrderDelivered | DELIVERED |
//! | OrderCancelled | CANCELLED |
//!
//! The worker is stateless: it reports each step as it happens and does not judge
//! whether the transition is allowed (a status service downstream owns that).

use orderflow_events::{
    Lineage, OrderEvent, OrderStatus, OrderStatusChanged, Payload, derived_event,
};
use orderflow_runtime::{Input, Outcome, Output, ProcessError, Processor};
use serde::Deserialize;

/// The order-status worker.
#[derive(Debug, Default)]
pub struct OrderStatusWorker;

/// order-status has no rules; an empty rules file is accepted.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusRules {}

/// The status an event moves its order to.
pub fn status_of(payload: &Payload) -> OrderStatus {
    match payload {
        Payload::OrderPlaced(_) => OrderStatus::Placed,
        Payload::PaymentAuthorized(_) => OrderStatus::PaymentAuthorized,
        Payload::PaymentFailed(_) => OrderStatus::PaymentFailed,
        Payload::OrderShipped(_) => OrderStatus::Shipped,
        Payload::OrderDelivered(_) => OrderStatus::Delivered,
        Payload::OrderCancelled(_) => OrderStatus::Cancelled,
    }
}

impl Processor for OrderStatusWorker {
    type Input = OrderEvent;
    type Output = OrderStatusChanged;
    type Rules = StatusRules;

    const NAME: &'static str = "order-status";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const OUTPUT_TOPIC: &'static str = "orders.status";

    fn new(_rules: StatusRules) -> Result<Self, String> {
        Ok(OrderStatusWorker)
    }

    fn process(
        &self,
        input: &Input<'_, OrderEvent>,
    ) -> Result<Outcome<OrderStatusChanged>, ProcessError> {
        let event = input.event;
        let lineage = Lineage::of(Self::NAME, Self::VERSION, event, 0, input.now);
        Ok(Outcome::Emit(vec![Output {
            key: event.order_id.clone(),
            value: derived_event!(OrderStatusChanged, lineage, {
                customer_id: event.customer_id.clone(),
                status: status_of(&event.payload),
                occurred_at: event.occurred_at,
            }),
        }]))
    }
}

#[cfg(test)]
mod tests {
    use orderflow_events::sample;
    use orderflow_events::*;

    use super::*;

    fn process(event: &OrderEvent) -> Vec<Output<OrderStatusChanged>> {
        let input = Input {
            event,
            topic: "orders.lifecycle",
            partition: 0,
            offset: 7,
            timestamp: None,
            key: None,
            headers: &[],
            now: 1_000,
        };
        match OrderStatusWorker.process(&input).unwrap() {
            Outcome::Emit(outputs) => outputs,
            Outcome::Skip(reason) => panic!("skipped: {reason}"),
        }
    }

    #[test]
    fn every_payload_maps_to_its_status() {
        let placed = sample::order_placed(1);
        let cases = [
            (placed.payload.clone(), OrderStatus::Placed),
            (
                Payload::PaymentAuthorized(PaymentAuthorized {
                    payment_id: "p".into(),
                    amount: 1,
                    currency: "EUR".into(),
                    method: "card".into(),
                }),
                OrderStatus::PaymentAuthorized,
            ),
            (
                Payload::PaymentFailed(PaymentFailed {
                    payment_id: "p".into(),
                    reason_code: "declined".into(),
                }),
                OrderStatus::PaymentFailed,
            ),
            (
                Payload::OrderShipped(OrderShipped {
                    carrier: "DHL".into(),
                    tracking_number: "1".into(),
                }),
                OrderStatus::Shipped,
            ),
            (
                Payload::OrderDelivered(OrderDelivered { signed_by: None }),
                OrderStatus::Delivered,
            ),
            (
                Payload::OrderCancelled(OrderCancelled {
                    reason: "customer_request".into(),
                    refund_amount: 0,
                }),
                OrderStatus::Cancelled,
            ),
        ];
        for (payload, status) in cases {
            let outputs = process(&sample::with_payload(&placed, payload));
            assert_eq!(outputs.len(), 1);
            assert_eq!(outputs[0].value.status, status);
        }
    }

    #[test]
    fn outputs_carry_lineage_and_are_keyed_by_order() {
        let event = sample::order_placed(1);
        let out = &process(&event)[0];
        assert_eq!(out.key, event.order_id);
        assert_eq!(out.value.causation_id, event.event_id);
        assert_eq!(out.value.occurred_at, event.occurred_at);
        assert_eq!(out.value.produced_at, 1_000);
        assert_eq!(out.value.worker, "order-status");
        assert_eq!(
            out.value.event_id,
            derived_event_id("order-status", &event.event_id, 0).to_string()
        );
        // Deterministic: the same input gives the same id.
        assert_eq!(process(&event)[0].value.event_id, out.value.event_id);
    }
}
