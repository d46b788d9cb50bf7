//! order-saga: the payment-failure saga. Turns order outcomes into commands on
//! `orders.commands`, one `OrderCommand` per handled event, keyed by order id.
//!
//! | payload | command | when |
//! | --- | --- | --- |
//! | PaymentFailed | CancelOrder (payment id, reason code, reason from `cancel_reason`) | `cancel_order` |
//! | OrderCancelled | RefundPayment (amount, currency null, cancellation reason) | `refund_payment` and refund ≥ `min_refund_amount` |
//! | OrderDelivered | CloseOrder (delivered at the event's `occurred_at`, signed by) | `close_order` |
//!
//! Every other payload, a switched-off command and a refund below the minimum (zero
//! and negative refunds included) issue nothing and are skipped with the payload's
//! type name.
//!
//! `OrderCancelled` carries no currency, and a stateless worker cannot look the
//! order's up, so `RefundPayment.currency` is null: the payment service refunds in
//! the currency of the payment it holds for the order. The field is in the schema,
//! optional, so a source that knows the currency can fill it in later without a new
//! schema version.
//!
//! The `command_id` is the derived-event id (UUIDv5 of the worker name, the source
//! event id and the output index 0), so a replayed input issues the same command id
//! and the executing service deduplicates on it.

pub mod rules;
pub mod template;

#[cfg(test)]
mod tests;

use orderflow_events::{
    CancelOrder, CloseOrder, Command, Lineage, OrderCommand, OrderEvent, Payload, RefundPayment,
};
use orderflow_runtime::{Input, Outcome, Output, ProcessError, Processor};

pub use rules::SagaRules;

use crate::template::ReasonTemplate;

/// The order-saga worker.
#[derive(Debug)]
pub struct OrderSaga {
    rules: SagaRules,
    cancel_reason: ReasonTemplate,
}

impl OrderSaga {
    /// The command `event` calls for under the rules, if any.
    pub fn command_for(&self, event: &OrderEvent) -> Option<Command> {
        let rules = &self.rules;
        match &event.payload {
            Payload::PaymentFailed(failed) if rules.cancel_order => {
                Some(Command::CancelOrder(CancelOrder {
                    payment_id: failed.payment_id.clone(),
                    reason_code: failed.reason_code.clone(),
                    reason: self
                        .cancel_reason
                        .render(&failed.reason_code, &failed.payment_id),
                }))
            }
            Payload::OrderCancelled(cancelled)
                if rules.refund_payment && cancelled.refund_amount >= rules.min_refund_amount =>
            {
                Some(Command::RefundPayment(RefundPayment {
                    amount: cancelled.refund_amount,
                    currency: None,
                    reason: cancelled.reason.clone(),
                }))
            }
            Payload::OrderDelivered(delivered) if rules.close_order => {
                Some(Command::CloseOrder(CloseOrder {
                    delivered_at: event.occurred_at,
                    signed_by: delivered.signed_by.clone(),
                }))
            }
            _ => None,
        }
    }
}

impl Processor for OrderSaga {
    type Input = OrderEvent;
    type Output = OrderCommand;
    type Rules = SagaRules;

    const NAME: &'static str = "order-saga";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const OUTPUT_TOPIC: &'static str = "orders.commands";

    fn new(rules: SagaRules) -> Result<Self, String> {
        let cancel_reason = rules.check()?;
        Ok(OrderSaga {
            rules,
            cancel_reason,
        })
    }

    fn process(
        &self,
        input: &Input<'_, OrderEvent>,
    ) -> Result<Outcome<OrderCommand>, ProcessError> {
        let event = input.event;
        let Some(command) = self.command_for(event) else {
            return Ok(Outcome::Skip(event.payload.type_name()));
        };
        let lineage = Lineage::of(Self::NAME, Self::VERSION, event, 0, input.now);
        Ok(Outcome::Emit(vec![Output {
            key: event.order_id.clone(),
            value: OrderCommand::issued(lineage, command),
        }]))
    }
}
