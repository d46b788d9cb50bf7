//! The derived events the workers produce, and the fields every one of them carries.

use std::collections::HashMap;

use apache_avro::AvroSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Namespace of derived event ids (UUIDv5).
const DERIVED_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6f72_6465_7266_6c6f_7700_4445_5249_5645);

/// Declares a struct whose first fields are the lineage fields every derived event
/// carries (`event_id`, `causation_id`, `order_id`, `produced_at`, `worker`,
/// `worker_version`, in the order of every derived `.avsc`), then its own fields: the
/// [`Lineage`] itself, and each derived event. The Avro records are flat, so the lineage
/// cannot be a nested field without changing every schema; declared here once, the
/// fields stay in step with [`derived_event!`], which moves them from the lineage into
/// the event.
macro_rules! with_lineage_fields {
    // Token trees, not `ty` or `meta` fragments: the `AvroSchema` derive does not read
    // a type wrapped as a macro fragment.
    (
        $(#[$($attribute:tt)*])*
        pub struct $name:ident {
            $($fields:tt)*
        }
    ) => {
        $(#[$($attribute)*])*
        pub struct $name {
            /// Deterministic id of the derived event.
            pub event_id: String,
            /// `event_id` of the source event.
            pub causation_id: String,
            /// The order.
            pub order_id: String,
            /// When the worker produced the event, epoch milliseconds.
            pub produced_at: i64,
            /// Producing worker's name.
            pub worker: String,
            /// Producing worker's version.
            pub worker_version: String,
            $($fields)*
        }
    };
}

with_lineage_fields! {
    /// The fields every derived event carries, computed from the source event.
    ///
    /// `event_id` is a UUIDv5 of the worker name, the source event id and the output's
    /// index, so a retried or replayed input yields byte-identical ids.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Lineage {}
}

impl Lineage {
    /// Lineage of output number `index` derived from `source_event_id` by `worker`.
    pub fn new(
        worker: &str,
        worker_version: &str,
        source_event_id: &str,
        order_id: &str,
        index: usize,
        produced_at: i64,
    ) -> Lineage {
        Lineage {
            event_id: event_id_text(derived_event_id(worker, source_event_id, index)),
            causation_id: source_event_id.to_owned(),
            order_id: order_id.to_owned(),
            produced_at,
            worker: worker.to_owned(),
            worker_version: worker_version.to_owned(),
        }
    }

    /// Lineage of output number `index` derived from the order event `source` by
    /// `worker`.
    pub fn of(
        worker: &str,
        worker_version: &str,
        source: &crate::OrderEvent,
        index: usize,
        produced_at: i64,
    ) -> Lineage {
        Lineage::new(
            worker,
            worker_version,
            &source.event_id,
            &source.order_id,
            index,
            produced_at,
        )
    }
}

/// A derived event of type `$event` with the lineage fields (`event_id`,
/// `causation_id`, `order_id`, `produced_at`, `worker`, `worker_version`) taken from
/// the [`Lineage`] `$lineage`, and the event's own fields as in a struct expression:
///
/// ```
/// use orderflow_events::{Lineage, OrderStatus, OrderStatusChanged, derived_event, sample};
///
/// let source = sample::order_placed(1);
/// let lineage = Lineage::of("order-status", "1.0.0", &source, 0, 1_700_000_000_000);
/// let changed = derived_event!(OrderStatusChanged, lineage, {
///     customer_id: source.customer_id.clone(),
///     status: OrderStatus::Placed,
///     occurred_at: source.occurred_at,
/// });
/// assert_eq!(changed.causation_id, source.event_id);
/// ```
#[macro_export]
macro_rules! derived_event {
    ($event:ident, $lineage:expr, { $($field:ident $(: $value:expr)?),* $(,)? }) => {{
        let lineage: $crate::Lineage = $lineage;
        $event {
            event_id: lineage.event_id,
            causation_id: lineage.causation_id,
            order_id: lineage.order_id,
            produced_at: lineage.produced_at,
            worker: lineage.worker,
            worker_version: lineage.worker_version,
            $($field $(: $value)?),*
        }
    }};
}

/// The deterministic id of output `index` of `worker` for `source_event_id`: the UUID
/// version 5 (RFC 9562) of the name `worker`, `source_event_id` and `index` (decimal),
/// separated by U+001F, in [`DERIVED_ID_NAMESPACE`].
///
/// Hashed here rather than by `Uuid::new_v5` (same result, tested): that one builds
/// the name first and uses a portable SHA-1, which cost more per output than encoding
/// the event; `sha1` uses the CPU's SHA instructions where it has them.
pub fn derived_event_id(worker: &str, source_event_id: &str, index: usize) -> Uuid {
    use sha1::Digest;
    use std::io::Write;
    let mut hasher = sha1::Sha1::new();
    hasher.update(DERIVED_ID_NAMESPACE.as_bytes());
    hasher.update(worker.as_bytes());
    hasher.update([0x1f]);
    hasher.update(source_event_id.as_bytes());
    hasher.update([0x1f]);
    // The index's decimal digits, written straight into the hash (nothing allocated).
    write!(hasher, "{index}").expect("hashing cannot fail");
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes).into_uuid()
}

/// `id` in its hyphenated lower-case text form, without the formatting machinery.
pub fn event_id_text(id: Uuid) -> String {
    id.hyphenated()
        .encode_lower(&mut Uuid::encode_buffer())
        .to_owned()
}

with_lineage_fields! {
    /// Outcome of validating an `OrderPlaced` event (`orders.validation`).
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
    #[avro(namespace = "io.orderflow.events")]
    pub struct OrderValidation {
        /// The customer who owns the order.
        pub customer_id: String,
        /// Validated or rejected.
        pub result: ValidationResult,
    }
}

/// `OrderValidated` or `OrderRejected`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(repr = "bare_union")]
pub enum ValidationResult {
    /// The order passed every rule.
    OrderValidated(OrderValidated),
    /// The order broke one or more rules.
    OrderRejected(OrderRejected),
}

/// The order passed every rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "io.orderflow.events")]
pub struct OrderValidated {
    /// Validated total in minor units.
    pub total: i64,
    /// ISO 4217 currency code of the total.
    pub currency: String,
    /// Number of line items.
    pub line_count: i32,
}

/// The order broke one or more rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "io.orderflow.events")]
pub struct OrderRejected {
    /// Every broken rule, in rule order.
    pub reasons: Vec<RejectionReason>,
}

/// One broken validation rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "io.orderflow.events")]
pub struct RejectionReason {
    /// Stable reason code.
    pub code: String,
    /// Path of the offending field.
    pub field: String,
    /// Human-readable explanation.
    pub message: String,
}

with_lineage_fields! {
    /// The order moved to a new lifecycle status (`orders.status`).
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
    #[avro(namespace = "io.orderflow.events")]
    pub struct OrderStatusChanged {
        /// The customer who owns the order.
        pub customer_id: String,
        /// The status the order moved to.
        pub status: OrderStatus,
        /// When the source event happened, epoch milliseconds.
        pub occurred_at: i64,
    }
}

/// Lifecycle status of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "io.orderflow.events")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    // Placed by the customer.
    Placed,
    // Payment authorised.
    PaymentAuthorized,
    // Payment failed.
    PaymentFailed,
    // Left the warehouse.
    Shipped,
    // Delivered.
    Delivered,
    // Cancelled.
    Cancelled,
    // A status this reader does not know (written by a newer producer).
    Unknown,
}

with_lineage_fields! {
    /// A message should be sent to the customer (`notifications.requested`).
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
    #[avro(namespace = "io.orderflow.events")]
    pub struct NotificationRequested {
        /// The customer to notify.
        pub customer_id: String,
        /// Delivery channel.
        pub channel: NotificationChannel,
        /// Address for the channel, when known.
        pub recipient: Option<String>,
        /// Template name.
        pub template: String,
        /// Template parameters.
        #[serde(serialize_with = "sorted")]
        pub parameters: HashMap<String, String>,
    }
}

/// How to reach the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "io.orderflow.events")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationChannel {
    // Email.
    Email,
    // Text message.
    Sms,
    // Mobile push.
    Push,
    // A channel this reader does not know.
    Unknown,
}

with_lineage_fields! {
    /// Fraud-risk assessment of an `OrderPlaced` event (`orders.risk`).
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
    #[avro(namespace = "io.orderflow.events")]
    pub struct OrderRiskAssessed {
        /// The customer who owns the order.
        pub customer_id: String,
        /// Risk score from 0 to 100.
        pub score: i32,
        /// What to do with the order.
        pub decision: RiskDecision,
        /// Signals that fired, in rule order.
        pub signals: Vec<RiskSignal>,
    }
}

/// What to do with an order, by risk score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "io.orderflow.events")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RiskDecision {
    // Low risk.
    Approve,
    // A human should look.
    Review,
    // Too risky.
    Decline,
    // A decision this reader does not know.
    Unknown,
}

/// One risk indicator that fired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "io.orderflow.events")]
pub struct RiskSignal {
    /// Stable signal code.
    pub code: String,
    /// Points this signal added to the score.
    pub weight: i32,
    /// Human-readable detail.
    pub detail: String,
}

/// Writes a map in key order, so that equal events encode to identical bytes (a
/// `HashMap` iterates in a random order per process).
pub(crate) fn sorted<S: serde::Serializer>(
    map: &HashMap<String, String>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let ordered: std::collections::BTreeMap<_, _> = map.iter().collect();
    Serialize::serialize(&ordered, serializer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_the_uuid_v5_of_the_name() {
        for (worker, source, index) in [
            ("order-status", "6d1b2a34-0000-4000-8000-000000000001", 0),
            ("notifier", "an event id that is not a UUID", 7),
            ("risk-scorer", "", 10),
            ("order-validator", "ünïcødé ✓", usize::MAX),
        ] {
            let name = format!("{worker}\u{1f}{source}\u{1f}{index}");
            let expected = Uuid::new_v5(&DERIVED_ID_NAMESPACE, name.as_bytes());
            let id = derived_event_id(worker, source, index);
            assert_eq!(id, expected, "{name:?}");
            assert_eq!(event_id_text(id), expected.to_string());
        }
    }
}
