//! `OrderCommand`, what the order-saga worker issues on `orders.commands`
//! (`schemas/OrderCommand`).
//!
//! A command is not a derived event: it asks a service to act, so its id is called
//! `command_id` and its time `issued_at`. Both come from the same [`Lineage`] as a
//! derived event's `event_id` and `produced_at`, so a replayed input issues a command
//! with the same id and the executing service can deduplicate on it.

use apache_avro::AvroSchema;
use serde::{Deserialize, Serialize};

use crate::Lineage;

/// A command to the service that owns an order or its payment, keyed by `order_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "io.orderflow.events")]
pub struct OrderCommand {
    /// Deterministic id of the command; the executor's deduplication key.
    pub command_id: String,
    /// `event_id` of the source event.
    pub causation_id: String,
    /// The order.
    pub order_id: String,
    /// When the worker issued the command, epoch milliseconds.
    pub issued_at: i64,
    /// Issuing worker's name.
    pub worker: String,
    /// Issuing worker's version.
    pub worker_version: String,
    /// What to do.
    pub command: Command,
}

impl OrderCommand {
    /// The command `command`, with its id, cause, order, time and worker from `lineage`.
    pub fn issued(lineage: Lineage, command: Command) -> OrderCommand {
        OrderCommand {
            command_id: lineage.event_id,
            causation_id: lineage.causation_id,
            order_id: lineage.order_id,
            issued_at: lineage.produced_at,
            worker: lineage.worker,
            worker_version: lineage.worker_version,
            command,
        }
    }
}

/// What to do: the `command` union.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(repr = "bare_union")]
pub enum Command {
    /// Cancel the order: its payment failed.
    CancelOrder(CancelOrder),
    /// Refund the order's payment: it was cancelled with a refund.
    RefundPayment(RefundPayment),
    /// Close the order: it was delivered.
    CloseOrder(CloseOrder),
}

impl Command {
    /// The command's record name, for logs and metric labels.
    pub fn type_name(&self) -> &'static str {
        match self {
            Command::CancelOrder(_) => "CancelOrder",
            Command::RefundPayment(_) => "RefundPayment",
            Command::CloseOrder(_) => "CloseOrder",
        }
    }
}

/// Cancel the order: its payment failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "io.orderflow.events")]
pub struct CancelOrder {
    /// Payment provider's id of the failed payment.
    pub payment_id: String,
    /// Provider's reason code of the failure, as received.
    pub reason_code: String,
    /// Cancellation reason, from the rules' template.
    pub reason: String,
}

/// Refund the order's payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "io.orderflow.events")]
pub struct RefundPayment {
    /// Amount in minor units; positive.
    pub amount: i64,
    /// ISO 4217 code of the amount; `None` when the source event does not carry it.
    pub currency: Option<String>,
    /// Why the order was cancelled.
    pub reason: String,
}

/// Close the order: it was delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "io.orderflow.events")]
pub struct CloseOrder {
    /// When the order was delivered, epoch milliseconds.
    pub delivered_at: i64,
    /// Who signed for the parcel, when recorded.
    pub signed_by: Option<String>,
}
