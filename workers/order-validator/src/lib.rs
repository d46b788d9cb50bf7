//! order-validator: checks every `OrderPlaced` against the business rules and emits
//! one `OrderValidation` per order: `OrderValidated` when every rule passes, else
//! `OrderRejected` listing every broken rule. Other payloads are skipped.
//!
//! Rules, in the order their reasons are listed (per-line rules report line by line):
//!
//! | code | field | broken when |
//! | --- | --- | --- |
//! | NO_LINE_ITEMS | `line_items` | the order has no line |
//! | TOO_MANY_LINE_ITEMS | `line_items` | more lines than `max_line_items` |
//! | INVALID_QUANTITY | `line_items[i].quantity` | quantity <= 0 or > `max_quantity` |
//! | NEGATIVE_PRICE | `line_items[i].unit_price` | unit_price < 0 (0 is a free item) |
//! | INVALID_SKU | `line_items[i].sku` | empty or only whitespace |
//! | DUPLICATE_SKU | `line_items[i].sku` | with `reject_duplicate_skus`: sku on an earlier line |
//! | AMOUNT_OVERFLOW | `line_items[i]`, `line_items`, `total` | quantity × unit_price, the sum of the lines, or lines + shipping + tax - discount does not fit in 64 bits |
//! | NEGATIVE_AMOUNT | `shipping`, `tax`, `discount`, `total` | below zero |
//! | TOTAL_MISMATCH | `total` | total != lines + shipping + tax - discount (not checked after an overflow) |
//! | UNKNOWN_CURRENCY | `currency` | not an active ISO 4217 code, upper case |
//! | CURRENCY_NOT_ALLOWED | `currency` | an ISO code that `allowed_currencies` (when set) does not list |
//! | INVALID_COUNTRY | `shipping_address.country` | not an ISO 3166-1 alpha-2 code, upper case |
//! | INVALID_BILLING_COUNTRY | `billing_country` | not an ISO 3166-1 alpha-2 code, upper case |
//! | INVALID_EMAIL | `customer_email` | not well formed ([`email`]) |
//! | FUTURE_TIMESTAMP | `occurred_at` | later than now + `max_clock_skew_ms` |
//! | EMPTY_ADDRESS | `shipping_address.recipient`, `.line1`, `.city`, `.postal_code` | empty or only whitespace, one reason per field |
//!
//! A rejection is an output, never an error: the processor never fails and never
//! panics. Money is summed in 128 bits, where no product or sum of 64-bit inputs can
//! overflow, and a result that does not fit back in 64 bits is AMOUNT_OVERFLOW.
//!
//! The size of a rejection is bounded: per-line rules look at the first
//! `max_line_items` lines only (an order with more is rejected anyway), so a huge
//! order of broken lines cannot blow up into a still larger output record.

pub mod email;
pub mod iso;
pub mod rules;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use orderflow_events::{
    Lineage, OrderEvent, OrderPlaced, OrderRejected, OrderValidated, OrderValidation, Payload,
    RejectionReason, ValidationResult, derived_event,
};
use orderflow_runtime::{Input, Outcome, Output, ProcessError, Processor};

pub use rules::ValidationRules;

/// The stable reason codes, in rule order.
pub mod code {
    /// The order has no line item.
    pub const NO_LINE_ITEMS: &str = "NO_LINE_ITEMS";
    /// More line items than `max_line_items`.
    pub const TOO_MANY_LINE_ITEMS: &str = "TOO_MANY_LINE_ITEMS";
    /// A quantity at or below zero or above `max_quantity`.
    pub const INVALID_QUANTITY: &str = "INVALID_QUANTITY";
    /// A unit price below zero.
    pub const NEGATIVE_PRICE: &str = "NEGATIVE_PRICE";
    /// An empty or blank sku.
    pub const INVALID_SKU: &str = "INVALID_SKU";
    /// A sku already on an earlier line (only with `reject_duplicate_skus`).
    pub const DUPLICATE_SKU: &str = "DUPLICATE_SKU";
    /// An amount does not fit in 64 bits.
    pub const AMOUNT_OVERFLOW: &str = "AMOUNT_OVERFLOW";
    /// Shipping, tax, discount or total below zero.
    pub const NEGATIVE_AMOUNT: &str = "NEGATIVE_AMOUNT";
    /// The total is not lines + shipping + tax - discount.
    pub const TOTAL_MISMATCH: &str = "TOTAL_MISMATCH";
    /// Not an active ISO 4217 code.
    pub const UNKNOWN_CURRENCY: &str = "UNKNOWN_CURRENCY";
    /// An ISO currency that `allowed_currencies` does not list.
    pub const CURRENCY_NOT_ALLOWED: &str = "CURRENCY_NOT_ALLOWED";
    /// Shipping country not an ISO 3166-1 alpha-2 code.
    pub const INVALID_COUNTRY: &str = "INVALID_COUNTRY";
    /// Billing country not an ISO 3166-1 alpha-2 code.
    pub const INVALID_BILLING_COUNTRY: &str = "INVALID_BILLING_COUNTRY";
    /// Customer email not well formed.
    pub const INVALID_EMAIL: &str = "INVALID_EMAIL";
    /// `occurred_at` too far ahead of the worker's clock.
    pub const FUTURE_TIMESTAMP: &str = "FUTURE_TIMESTAMP";
    /// A required shipping-address field is empty.
    pub const EMPTY_ADDRESS: &str = "EMPTY_ADDRESS";
}

/// Longest piece of an event quoted in a message, in characters.
const QUOTE_CHARS: usize = 64;

/// The order-validator worker.
#[derive(Debug)]
pub struct OrderValidator {
    rules: ValidationRules,
}

impl OrderValidator {
    /// The verdict on `order`, which happened at `occurred_at`, judged at `now` (both
    /// epoch milliseconds).
    pub fn validate(&self, order: &OrderPlaced, occurred_at: i64, now: i64) -> ValidationResult {
        let mut reasons = Reasons::default();
        self.check_lines(order, &mut reasons);
        check_amounts(order, self.examined_lines(order), &mut reasons);
        self.check_currency(&order.currency, &mut reasons);
        check_country(
            code::INVALID_COUNTRY,
            "shipping_address.country",
            &order.shipping_address.country,
            &mut reasons,
        );
        check_country(
            code::INVALID_BILLING_COUNTRY,
            "billing_country",
            &order.billing_country,
            &mut reasons,
        );
        if let Some(problem) = email::email_problem(&order.customer_email) {
            reasons.add(
                code::INVALID_EMAIL,
                "customer_email",
                format!("{} {problem}", quote(&order.customer_email)),
            );
        }
        let latest = now.saturating_add(self.rules.max_clock_skew_ms);
        if occurred_at > latest {
            reasons.add(
                code::FUTURE_TIMESTAMP,
                "occurred_at",
                format!(
                    "occurred_at {occurred_at} is {} ms ahead of now ({now}); at most {} ms \
                     of clock skew is allowed",
                    i128::from(occurred_at) - i128::from(now),
                    self.rules.max_clock_skew_ms
                ),
            );
        }
        self.check_address(order, &mut reasons);

        if reasons.0.is_empty() {
            ValidationResult::OrderValidated(OrderValidated {
                total: order.total,
                currency: order.currency.clone(),
                line_count: i32::try_from(order.line_items.len()).unwrap_or(i32::MAX),
            })
        } else {
            ValidationResult::OrderRejected(OrderRejected { reasons: reasons.0 })
        }
    }

    /// `max_line_items` as a length (it is at least 1, checked by `new`).
    fn max_lines(&self) -> usize {
        usize::try_from(self.rules.max_line_items).unwrap_or(usize::MAX)
    }

    /// How many lines the per-line rules look at.
    fn examined_lines(&self, order: &OrderPlaced) -> usize {
        order.line_items.len().min(self.max_lines())
    }

    fn check_lines(&self, order: &OrderPlaced, reasons: &mut Reasons) {
        let lines = &order.line_items[..self.examined_lines(order)];
        if order.line_items.is_empty() {
            reasons.add(
                code::NO_LINE_ITEMS,
                "line_items",
                "the order has no line items",
            );
        }
        if order.line_items.len() > self.max_lines() {
            reasons.add(
                code::TOO_MANY_LINE_ITEMS,
                "line_items",
                format!(
                    "the order has {} line items, at most {} are allowed",
                    order.line_items.len(),
                    self.rules.max_line_items
                ),
            );
        }
        for (i, line) in lines.iter().enumerate() {
            let quantity = i64::from(line.quantity);
            if quantity <= 0 || quantity > self.rules.max_quantity {
                reasons.add(
                    code::INVALID_QUANTITY,
                    format!("line_items[{i}].quantity"),
                    format!(
                        "quantity {quantity} is not between 1 and {}",
                        self.rules.max_quantity
                    ),
                );
            }
        }
        for (i, line) in lines.iter().enumerate() {
            if line.unit_price < 0 {
                reasons.add(
                    code::NEGATIVE_PRICE,
                    format!("line_items[{i}].unit_price"),
                    format!("unit_price {} is negative", line.unit_price),
                );
            }
        }
        for (i, line) in lines.iter().enumerate() {
            if line.sku.trim().is_empty() {
                reasons.add(
                    code::INVALID_SKU,
                    format!("line_items[{i}].sku"),
                    "sku is empty",
                );
            }
        }
        if self.rules.reject_duplicate_skus {
            let mut first_line: HashMap<&str, usize> = HashMap::new();
            for (i, line) in lines.iter().enumerate() {
                if line.sku.trim().is_empty() {
                    continue;
                }
                if let Some(first) = first_line.get(line.sku.as_str()) {
                    reasons.add(
                        code::DUPLICATE_SKU,
                        format!("line_items[{i}].sku"),
                        format!("sku {} is already on line_items[{first}]", quote(&line.sku)),
                    );
                } else {
                    first_line.insert(&line.sku, i);
                }
            }
        }
    }

    fn check_currency(&self, currency: &str, reasons: &mut Reasons) {
        if !iso::is_currency(currency) {
            let upper = currency.to_ascii_uppercase();
            let message = if upper != currency && iso::is_currency(&upper) {
                format!(
                    "{} is not an ISO 4217 currency code: codes are upper case ({upper})",
                    quote(currency)
                )
            } else {
                format!(
                    "{} is not an active ISO 4217 currency code",
                    quote(currency)
                )
            };
            reasons.add(code::UNKNOWN_CURRENCY, "currency", message);
        } else if !self.rules.allowed_currencies.is_empty()
            && !self.rules.allowed_currencies.iter().any(|c| c == currency)
        {
            reasons.add(
                code::CURRENCY_NOT_ALLOWED,
                "currency",
                format!(
                    "{currency} is not accepted; allowed: {}",
                    self.rules.allowed_currencies.join(", ")
                ),
            );
        }
    }

    fn check_address(&self, order: &OrderPlaced, reasons: &mut Reasons) {
        let address = &order.shipping_address;
        let postal_code_optional = self
            .rules
            .postal_code_optional_countries
            .contains(&address.country);
        let fields = [
            ("recipient", &address.recipient, true),
            ("line1", &address.line1, true),
            ("city", &address.city, true),
            ("postal_code", &address.postal_code, !postal_code_optional),
        ];
        for (name, value, required) in fields {
            if required && value.trim().is_empty() {
                reasons.add(
                    code::EMPTY_ADDRESS,
                    format!("shipping_address.{name}"),
                    format!("shipping address {name} is empty"),
                );
            }
        }
    }
}

/// AMOUNT_OVERFLOW, NEGATIVE_AMOUNT and TOTAL_MISMATCH.
///
/// A line amount (i32 × i64) is below 2^94 in magnitude, so the products and sums
/// are exact in 128 bits; checked additions keep even absurd line counts from
/// wrapping. Only the first `examined` lines get a per-line overflow reason; the sum
/// covers every line.
fn check_amounts(order: &OrderPlaced, examined: usize, reasons: &mut Reasons) {
    let mut overflowed = false;
    let mut lines: Option<i128> = Some(0);
    for (i, line) in order.line_items.iter().enumerate() {
        let amount = i128::from(line.quantity) * i128::from(line.unit_price);
        if i < examined && i64::try_from(amount).is_err() {
            overflowed = true;
            reasons.add(
                code::AMOUNT_OVERFLOW,
                format!("line_items[{i}]"),
                format!(
                    "quantity {} × unit_price {} does not fit in 64 bits",
                    line.quantity, line.unit_price
                ),
            );
        }
        lines = lines.and_then(|sum| sum.checked_add(amount));
    }
    let lines = lines.and_then(|sum| i64::try_from(sum).ok());
    if lines.is_none() && !overflowed {
        overflowed = true;
        reasons.add(
            code::AMOUNT_OVERFLOW,
            "line_items",
            "the sum of the line amounts does not fit in 64 bits",
        );
    }
    let expected = lines.and_then(|lines| {
        let sum = i128::from(lines) + i128::from(order.shipping) + i128::from(order.tax)
            - i128::from(order.discount);
        i64::try_from(sum).ok().map(|expected| (lines, expected))
    });
    if expected.is_none() && !overflowed {
        overflowed = true;
        reasons.add(
            code::AMOUNT_OVERFLOW,
            "total",
            "lines + shipping + tax - discount does not fit in 64 bits",
        );
    }

    for (field, amount) in [
        ("shipping", order.shipping),
        ("tax", order.tax),
        ("discount", order.discount),
        ("total", order.total),
    ] {
        if amount < 0 {
            reasons.add(
                code::NEGATIVE_AMOUNT,
                field,
                format!("{field} {amount} is negative"),
            );
        }
    }

    if let (false, Some((lines, expected))) = (overflowed, expected)
        && expected != order.total
    {
        reasons.add(
            code::TOTAL_MISMATCH,
            "total",
            format!(
                "expected {expected} (lines {lines} + shipping {} + tax {} - discount {}), \
                 got {}",
                order.shipping, order.tax, order.discount, order.total
            ),
        );
    }
}

fn check_country(code: &str, field: &str, country: &str, reasons: &mut Reasons) {
    if iso::is_country(country) {
        return;
    }
    let upper = country.to_ascii_uppercase();
    let message = if upper != country && iso::is_country(&upper) {
        format!(
            "{} is not an ISO 3166-1 alpha-2 country code: codes are upper case ({upper})",
            quote(country)
        )
    } else {
        format!(
            "{} is not an ISO 3166-1 alpha-2 country code",
            quote(country)
        )
    };
    reasons.add(code, field, message);
}

/// `value` in quotes for a message, cut to [`QUOTE_CHARS`] characters.
fn quote(value: &str) -> String {
    match value.char_indices().nth(QUOTE_CHARS) {
        Some((end, _)) => format!("{:?}…", &value[..end]),
        None => format!("{value:?}"),
    }
}

/// The reasons collected so far, in rule order.
#[derive(Default)]
struct Reasons(Vec<RejectionReason>);

impl Reasons {
    fn add(&mut self, code: &str, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(RejectionReason {
            code: code.to_owned(),
            field: field.into(),
            message: message.into(),
        });
    }
}

impl Processor for OrderValidator {
    type Input = OrderEvent;
    type Output = OrderValidation;
    type Rules = ValidationRules;

    const NAME: &'static str = "order-validator";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const OUTPUT_TOPIC: &'static str = "orders.validation";

    fn new(rules: ValidationRules) -> Result<Self, String> {
        rules.check()?;
        Ok(OrderValidator { rules })
    }

    fn process(
        &self,
        input: &Input<'_, OrderEvent>,
    ) -> Result<Outcome<OrderValidation>, ProcessError> {
        let event = input.event;
        let Payload::OrderPlaced(order) = &event.payload else {
            return Ok(Outcome::Skip(event.payload.type_name()));
        };
        let result = self.validate(order, event.occurred_at, input.now);
        let lineage = Lineage::of(Self::NAME, Self::VERSION, event, 0, input.now);
        Ok(Outcome::Emit(vec![Output {
            key: event.order_id.clone(),
            value: derived_event!(OrderValidation, lineage, {
                customer_id: event.customer_id.clone(),
                result,
            }),
        }]))
    }
}
