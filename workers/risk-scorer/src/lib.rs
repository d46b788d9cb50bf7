//! risk-scorer: scores the fraud risk of every `OrderPlaced` and emits one
//! `OrderRiskAssessed` per order. Other payloads are skipped.
//!
//! Signals, in the order they are listed (weights are the defaults):
//!
//! | code | weight | fires when |
//! | --- | --- | --- |
//! | HIGH_AMOUNT | 40 | total ≥ the currency's `high_amount` (else `default_high_amount`) |
//! | NEW_CUSTOMER_HIGH_AMOUNT | 30 | a first order with total ≥ `new_customer_factor` × that threshold |
//! | COUNTRY_MISMATCH | 25 | shipping country ≠ billing country, ignoring case |
//! | UNUSUAL_QUANTITY | 20 | one sku's quantity, summed over its lines, ≥ `unusual_quantity` |
//! | DISPOSABLE_EMAIL | 30 | the email domain is in `disposable_domains` or a subdomain of one |
//!
//! The score is the sum of the fired weights, clamped to 0..=100. The decision is
//! DECLINE from `decline_at` (80), REVIEW from `review_at` (40), else APPROVE.
//!
//! The scorer judges risk, not validity (that is order-validator's job): it scores
//! malformed orders too, reading currency codes without regard to case, and never
//! fails or panics; sums saturate.

pub mod rules;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use orderflow_events::{
    Lineage, OrderEvent, OrderPlaced, OrderRiskAssessed, Payload, RiskDecision, RiskSignal,
    derived_event,
};
use orderflow_runtime::{Input, Outcome, Output, ProcessError, Processor};

pub use rules::RiskRules;

use crate::rules::MAX_SCORE;

/// The stable signal codes, in rule order.
pub mod signal {
    /// The total is high for its currency.
    pub const HIGH_AMOUNT: &str = "HIGH_AMOUNT";
    /// A new customer's first order is fairly high.
    pub const NEW_CUSTOMER_HIGH_AMOUNT: &str = "NEW_CUSTOMER_HIGH_AMOUNT";
    /// Shipping and billing countries differ.
    pub const COUNTRY_MISMATCH: &str = "COUNTRY_MISMATCH";
    /// Many units of one sku.
    pub const UNUSUAL_QUANTITY: &str = "UNUSUAL_QUANTITY";
    /// The email address is at a disposable-address provider.
    pub const DISPOSABLE_EMAIL: &str = "DISPOSABLE_EMAIL";
}

/// Longest piece of an event quoted in a signal's detail, in characters.
const QUOTE_CHARS: usize = 64;

/// The risk-scorer worker.
#[derive(Debug)]
pub struct RiskScorer {
    rules: RiskRules,
}

/// The scorer's verdict on one order.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// Sum of the fired weights, 0 to 100.
    pub score: i32,
    /// What to do with the order.
    pub decision: RiskDecision,
    /// The signals that fired, in rule order.
    pub signals: Vec<RiskSignal>,
}

impl RiskScorer {
    /// Scores `order`.
    pub fn assess(&self, order: &OrderPlaced) -> Assessment {
        let rules = &self.rules;
        let weights = &rules.weights;
        let mut signals = Vec::new();
        let mut fire = |code: &str, weight: i64, detail: String| {
            signals.push(RiskSignal {
                code: code.to_owned(),
                // Weights are 0..=100, checked by `new`.
                weight: i32::try_from(weight).unwrap_or(i32::MAX),
                detail,
            });
        };

        let currency = order.currency.to_ascii_uppercase();
        let threshold = self.high_amount(&currency);
        if order.total >= threshold {
            fire(
                signal::HIGH_AMOUNT,
                weights.high_amount,
                format!(
                    "total {} {} is at or above the high-amount threshold {threshold}",
                    order.total,
                    cut(&currency)
                ),
            );
        }
        let new_customer_threshold = scale(threshold, rules.new_customer_factor);
        if order.new_customer && order.total >= new_customer_threshold {
            fire(
                signal::NEW_CUSTOMER_HIGH_AMOUNT,
                weights.new_customer_high_amount,
                format!(
                    "first order with total {} {} is at or above {new_customer_threshold} \
                     ({} × {threshold})",
                    order.total,
                    cut(&currency),
                    rules.new_customer_factor
                ),
            );
        }
        let shipping_country = &order.shipping_address.country;
        if !shipping_country.eq_ignore_ascii_case(&order.billing_country) {
            fire(
                signal::COUNTRY_MISMATCH,
                weights.country_mismatch,
                format!(
                    "ships to {} but bills to {}",
                    cut(shipping_country),
                    cut(&order.billing_country)
                ),
            );
        }
        if let Some(detail) = self.unusual_quantity(order) {
            fire(signal::UNUSUAL_QUANTITY, weights.unusual_quantity, detail);
        }
        if let Some(detail) = self.disposable_email(&order.customer_email) {
            fire(signal::DISPOSABLE_EMAIL, weights.disposable_email, detail);
        }

        let sum = signals
            .iter()
            .fold(0_i64, |sum, s| sum.saturating_add(i64::from(s.weight)));
        let score = sum.clamp(0, MAX_SCORE);
        let decision = if score >= rules.decline_at {
            RiskDecision::Decline
        } else if score >= rules.review_at {
            RiskDecision::Review
        } else {
            RiskDecision::Approve
        };
        Assessment {
            score: i32::try_from(score).unwrap_or(i32::MAX),
            decision,
            signals,
        }
    }

    /// High-amount threshold of an upper-cased currency code.
    fn high_amount(&self, currency: &str) -> i64 {
        self.rules
            .high_amount
            .get(currency)
            .copied()
            .unwrap_or(self.rules.default_high_amount)
    }

    /// Detail of UNUSUAL_QUANTITY when it fires: the sku with the most units (the
    /// first one on a tie), and how many skus reached the threshold.
    fn unusual_quantity(&self, order: &OrderPlaced) -> Option<String> {
        let mut position: HashMap<&str, usize> = HashMap::new();
        let mut totals: Vec<(&str, i64)> = Vec::new();
        for line in &order.line_items {
            let quantity = i64::from(line.quantity);
            match position.get(line.sku.as_str()) {
                Some(&at) => totals[at].1 = totals[at].1.saturating_add(quantity),
                None => {
                    position.insert(&line.sku, totals.len());
                    totals.push((&line.sku, quantity));
                }
            }
        }
        let limit = self.rules.unusual_quantity;
        let unusual: Vec<(&str, i64)> = totals.into_iter().filter(|&(_, q)| q >= limit).collect();
        let (sku, units) = unusual
            .iter()
            .copied()
            .reduce(|top, next| if next.1 > top.1 { next } else { top })?;
        let others = match unusual.len() {
            1 => String::new(),
            n => format!("; {n} skus reach it"),
        };
        Some(format!(
            "{units} units of sku {} (threshold {limit}){others}",
            quote(sku)
        ))
    }

    /// Detail of DISPOSABLE_EMAIL when it fires.
    fn disposable_email(&self, email: &str) -> Option<String> {
        let (_, domain) = email.rsplit_once('@')?;
        let domain = domain.trim().trim_end_matches('.').to_lowercase();
        let provider = self.rules.disposable_domains.iter().find(|provider| {
            domain == **provider
                || domain
                    .strip_suffix(provider.as_str())
                    .is_some_and(|sub| sub.ends_with('.'))
        })?;
        Some(if domain == *provider {
            format!("email domain {provider} is a disposable-address provider")
        } else {
            format!(
                "email domain {} is a subdomain of the disposable-address provider {provider}",
                quote(&domain)
            )
        })
    }
}

/// `threshold × factor`, rounded up, so that `total >= result` exactly when
/// `total >= threshold × factor`. A float-to-int `as` saturates, so this cannot wrap.
fn scale(threshold: i64, factor: f64) -> i64 {
    (threshold as f64 * factor).ceil() as i64
}

/// `value` cut to [`QUOTE_CHARS`] characters, for a detail.
fn cut(value: &str) -> String {
    match value.char_indices().nth(QUOTE_CHARS) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_owned(),
    }
}

/// `value` in quotes (control characters escaped), cut to [`QUOTE_CHARS`] characters.
fn quote(value: &str) -> String {
    format!("{:?}", cut(value))
}

impl Processor for RiskScorer {
    type Input = OrderEvent;
    type Output = OrderRiskAssessed;
    type Rules = RiskRules;

    const NAME: &'static str = "risk-scorer";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const OUTPUT_TOPIC: &'static str = "orders.risk";

    fn new(rules: RiskRules) -> Result<Self, String> {
        rules.check()?;
        Ok(RiskScorer { rules })
    }

    fn process(
        &self,
        input: &Input<'_, OrderEvent>,
    ) -> Result<Outcome<OrderRiskAssessed>, ProcessError> {
        let event = input.event;
        let Payload::OrderPlaced(order) = &event.payload else {
            return Ok(Outcome::Skip(event.payload.type_name()));
        };
        let assessment = self.assess(order);
        let lineage = Lineage::of(Self::NAME, Self::VERSION, event, 0, input.now);
        Ok(Outcome::Emit(vec![Output {
            key: event.order_id.clone(),
            value: derived_event!(OrderRiskAssessed, lineage, {
                customer_id: event.customer_id.clone(),
                score: assessment.score,
                decision: assessment.decision,
                signals: assessment.signals,
            }),
        }]))
    }
}
