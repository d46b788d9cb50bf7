//! The order-saga's rules file (`--rules`, TOML). Every key is optional; a missing key
//! keeps its default, an unknown key is an error.
//!
//! ```toml
//! cancel_order = true                           # PaymentFailed → CancelOrder
//! refund_payment = true                         # OrderCancelled with a refund → RefundPayment
//! close_order = true                            # OrderDelivered → CloseOrder
//! cancel_reason = "payment_failed:{reason_code}"
//! min_refund_amount = 1
//! ```

use serde::Deserialize;

use crate::template::ReasonTemplate;

/// Which commands are issued, and how.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SagaRules {
    /// Issue `CancelOrder` for every `PaymentFailed`. Default true.
    pub cancel_order: bool,
    /// Issue `RefundPayment` for every `OrderCancelled` whose refund amount is at
    /// least `min_refund_amount`. Default true.
    pub refund_payment: bool,
    /// Issue `CloseOrder` for every `OrderDelivered`. Default true.
    pub close_order: bool,
    /// The `reason` of a `CancelOrder`: text with the placeholders `{reason_code}`
    /// (the failure's reason code) and `{payment_id}`; `{{` and `}}` are literal
    /// braces. Not empty. Default `payment_failed:{reason_code}`.
    pub cancel_reason: String,
    /// Smallest refund, in minor units, that issues a `RefundPayment`; smaller ones
    /// are skipped. At least 1: a refund of zero or less is never issued. Default 1.
    pub min_refund_amount: i64,
}

/// The default `cancel_reason`.
pub const DEFAULT_CANCEL_REASON: &str = "payment_failed:{reason_code}";

impl Default for SagaRules {
    fn default() -> Self {
        SagaRules {
            cancel_order: true,
            refund_payment: true,
            close_order: true,
            cancel_reason: DEFAULT_CANCEL_REASON.to_owned(),
            min_refund_amount: 1,
        }
    }
}

impl SagaRules {
    /// Checks every rule and parses the template; the error names the invalid key.
    pub fn check(&self) -> Result<ReasonTemplate, String> {
        if self.min_refund_amount < 1 {
            return Err(format!(
                "min_refund_amount must be at least 1, got {}",
                self.min_refund_amount
            ));
        }
        ReasonTemplate::parse(&self.cancel_reason).map_err(|e| format!("cancel_reason: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_documented() {
        let rules = SagaRules::default();
        assert!(rules.check().is_ok());
        assert!(rules.cancel_order && rules.refund_payment && rules.close_order);
        assert_eq!(rules.cancel_reason, "payment_failed:{reason_code}");
        assert_eq!(rules.min_refund_amount, 1);
    }

    #[test]
    fn an_empty_file_gives_the_defaults() {
        let rules: SagaRules = toml::from_str("").unwrap();
        assert!(rules.cancel_order && rules.refund_payment && rules.close_order);
        assert_eq!(rules.cancel_reason, DEFAULT_CANCEL_REASON);
        assert_eq!(rules.min_refund_amount, 1);
    }

    #[test]
    fn parses_a_toml_example() {
        let rules: SagaRules = toml::from_str(
            r#"
            cancel_order = false
            close_order = false
            cancel_reason = "payment {payment_id} failed: {reason_code}"
            min_refund_amount = 500
            "#,
        )
        .unwrap();
        assert!(rules.check().is_ok());
        assert!(!rules.cancel_order && rules.refund_payment && !rules.close_order);
        assert_eq!(
            rules.cancel_reason,
            "payment {payment_id} failed: {reason_code}"
        );
        assert_eq!(rules.min_refund_amount, 500);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        for key in ["cancel", "refund_order", "min_refund"] {
            let error = toml::from_str::<SagaRules>(&format!("{key} = 1"))
                .unwrap_err()
                .to_string();
            assert!(error.contains(key), "{key}: {error}");
        }
    }

    /// Breaks one rule of the defaults.
    type Breakage = fn(&mut SagaRules);

    #[test]
    fn invalid_rules_name_their_key() {
        let cases: [(Breakage, &str); 5] = [
            (|r| r.min_refund_amount = 0, "min_refund_amount"),
            (|r| r.min_refund_amount = -10, "min_refund_amount"),
            (|r| r.cancel_reason = String::new(), "cancel_reason"),
            (|r| r.cancel_reason = "{reason}".into(), "cancel_reason"),
            (|r| r.cancel_reason = "x }".into(), "cancel_reason"),
        ];
        for (break_rule, key) in cases {
            let mut rules = SagaRules::default();
            break_rule(&mut rules);
            let error = rules.check().unwrap_err();
            assert!(error.starts_with(key), "{key}: {error}");
        }
    }
}
