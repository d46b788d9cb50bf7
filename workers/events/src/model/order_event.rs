//! `OrderEvent`, the input of every worker (`schemas/OrderEvent`).

use apache_avro::AvroSchema;
use serde::{Deserialize, Serialize};

/// One step in the lifecycle of an order, keyed by `order_id` on `orders.lifecycle`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "io.orderflow.events")]
pub struct OrderEvent {
    /// Unique id of this event (a UUID); the idempotency key.
    pub event_id: String,
    /// The order; also the record key.
    pub order_id: String,
    /// The customer who owns the order.
    pub customer_id: String,
    /// When it happened at the source, milliseconds since the Unix epoch (UTC).
    pub occurred_at: i64,
    /// Name of the producing service.
    pub source: String,
    /// What happened.
    pub payload: Payload,
}

/// What happened to the order: the `payload` union.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(repr = "bare_union")]
// OrderPlaced dominates the traffic; boxing it would add an allocation per message.
#[allow(clippy::large_enum_variant)]
pub enum Payload {
    /// A customer placed an order.
    OrderPlaced(OrderPlaced),
    /// The payment provider authorised the payment.
    PaymentAuthorized(PaymentAuthorized),
    /// The payment was declined or failed.
    PaymentFailed(PaymentFailed),
    /// The order left the warehouse.
    OrderShipped(OrderShipped),
    /// The carrier delivered the order.
    OrderDelivered(OrderDelivered),
    /// The order was cancelled.
    OrderCancelled(OrderCancelled),
}

impl Payload {
    /// The payload's record name, for logs and metric labels.
    pub fn type_name(&self) -> &'static str {
        match self {
            Payload::OrderPlaced(_) => "OrderPlaced",
            Payload::PaymentAuthorized(_) => "PaymentAuthorized",
            Payload::PaymentFailed(_) => "PaymentFailed",
            Payload::OrderShipped(_) => "OrderShipped",
            Payload::OrderDelivered(_) => "OrderDelivered",
            Payload::OrderCancelled(_) => "OrderCancelled",
        }
    }
}

/// A customer placed an order. Money is in minor units of `currency`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "io.orderflow.events")]
pub struct OrderPlaced {
    /// The ordered lines; at least one.
    pub line_items: Vec<LineItem>,
    /// ISO 4217 currency code of every amount in this order, upper case.
    pub currency: String,
    /// Shipping charge in minor units.
    pub shipping: i64,
    /// Tax in minor units.
    pub tax: i64,
    /// Discount in minor units, subtracted from the total.
    pub discount: i64,
    /// Amount charged: sum of lines + shipping + tax - discount.
    pub total: i64,
    /// Where the order is shipped.
    pub shipping_address: Address,
    /// ISO 3166-1 alpha-2 country of the billing address.
    pub billing_country: String,
    /// Email address of the customer.
    pub customer_email: String,
    /// True when this is the customer's first order.
    pub new_customer: bool,
    /// Where the order was placed; `Unknown` for producers older than this field.
    pub sales_channel: SalesChannel,
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "io.orderflow.events")]
pub struct LineItem {
    /// Stock-keeping unit of the product.
    pub sku: String,
    /// Units ordered; positive.
    pub quantity: i32,
    /// Price of one unit in minor units; non-negative.
    pub unit_price: i64,
}

/// A postal address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "io.orderflow.events")]
pub struct Address {
    /// Name of the person receiving the parcel.
    pub recipient: String,
    /// Street and number.
    pub line1: String,
    /// Apartment, suite or building.
    pub line2: Option<String>,
    /// City or town.
    pub city: String,
    /// Postal or ZIP code.
    pub postal_code: String,
    /// State, province or county.
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2 country code, upper case.
    pub country: String,
}

/// Where an order was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "io.orderflow.events")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SalesChannel {
    // The web shop.
    Web,
    // The mobile app.
    MobileApp,
    // A third-party marketplace.
    Marketplace,
    // A point of sale in a store.
    Pos,
    // A phone order.
    Phone,
    // Not recorded by the producer.
    Unknown,
}

/// The payment provider authorised the payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "io.orderflow.events")]
pub struct PaymentAuthorized {
    /// Payment provider's id of the payment.
    pub payment_id: String,
    /// Authorised amount in minor units.
    pub amount: i64,
    /// ISO 4217 currency code of the amount.
    pub currency: String,
    /// Payment method (card, paypal, invoice, ...).
    pub method: String,
}

/// The payment was declined or failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "io.orderflow.events")]
pub struct PaymentFailed {
    /// Payment provider's id of the payment.
    pub payment_id: String,
    /// Provider's reason code.
    pub reason_code: String,
}

/// The order left the warehouse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "io.orderflow.events")]
pub struct OrderShipped {
    /// Carrier name.
    pub carrier: String,
    /// Carrier's tracking number.
    pub tracking_number: String,
}

/// The carrier delivered the order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "io.orderflow.events")]
pub struct OrderDelivered {
    /// Who signed for the parcel, when recorded.
    pub signed_by: Option<String>,
}

/// The order was cancelled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, AvroSchema)]
#[avro(namespace = "io.orderflow.events")]
pub struct OrderCancelled {
    /// Why it was cancelled.
    pub reason: String,
    /// Amount refunded in minor units of the order currency.
    pub refund_amount: i64,
}
