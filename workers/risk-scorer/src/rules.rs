//! The risk-scorer's rules file (`--rules`, TOML). Every key is optional; a missing
//! key keeps its default, an unknown key is an error.
//!
//! ```toml
//! review_at = 40
//! decline_at = 80
//! default_high_amount = 100000
//! new_customer_factor = 0.5
//! unusual_quantity = 50
//! disposable_domains = ["mailinator.com", "yopmail.com"]
//!
//! [weights]
//! HIGH_AMOUNT = 40
//! NEW_CUSTOMER_HIGH_AMOUNT = 30
//! COUNTRY_MISMATCH = 25
//! UNUSUAL_QUANTITY = 20
//! DISPOSABLE_EMAIL = 30
//!
//! [high_amount]   # replaces the built-in table as a whole
//! EUR = 100000
//! USD = 100000
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

/// Highest possible score.
pub const MAX_SCORE: i64 = 100;

/// Thresholds, weights and lists of the risk signals.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskRules {
    /// Score from which the decision is REVIEW (0 to 100, at most `decline_at`).
    /// Default 40.
    pub review_at: i64,
    /// Score from which the decision is DECLINE (0 to 100). Default 80.
    pub decline_at: i64,
    /// Points each signal adds to the score when it fires, 0 to 100. A weight of 0
    /// keeps a signal visible in the output without moving the score. Defaults:
    /// HIGH_AMOUNT 40, NEW_CUSTOMER_HIGH_AMOUNT 30, COUNTRY_MISMATCH 25,
    /// UNUSUAL_QUANTITY 20, DISPOSABLE_EMAIL 30.
    pub weights: SignalWeights,
    /// Total, in minor units, from which an order in that currency (upper-case ISO
    /// 4217 key) is a high amount (HIGH_AMOUNT). Positive. Setting this table
    /// replaces the built-in one as a whole. Default: EUR 100000 (1000.00), USD
    /// 100000, GBP 90000, CHF 100000, JPY 150000 (yen have no minor unit).
    pub high_amount: BTreeMap<String, i64>,
    /// High-amount threshold, in minor units, of a currency `high_amount` does not
    /// list. Positive. Default 100000.
    pub default_high_amount: i64,
    /// Share of the currency's high-amount threshold from which a new customer's
    /// order fires NEW_CUSTOMER_HIGH_AMOUNT, 0.0 to 1.0. Default 0.5.
    pub new_customer_factor: f64,
    /// Units of one sku, summed over the order's lines, from which UNUSUAL_QUANTITY
    /// fires. At least 1. Default 50.
    pub unusual_quantity: i64,
    /// Email domains of disposable-address providers (lower case); an email at one of
    /// them, or at a subdomain of one, fires DISPOSABLE_EMAIL. May be empty.
    /// Default: 15 well-known providers, see [`DEFAULT_DISPOSABLE_DOMAINS`].
    pub disposable_domains: Vec<String>,
}

/// Points per signal, keyed by signal code in the rules file.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignalWeights {
    /// HIGH_AMOUNT. Default 40.
    #[serde(rename = "HIGH_AMOUNT")]
    pub high_amount: i64,
    /// NEW_CUSTOMER_HIGH_AMOUNT. Default 30.
    #[serde(rename = "NEW_CUSTOMER_HIGH_AMOUNT")]
    pub new_customer_high_amount: i64,
    /// COUNTRY_MISMATCH. Default 25.
    #[serde(rename = "COUNTRY_MISMATCH")]
    pub country_mismatch: i64,
    /// UNUSUAL_QUANTITY. Default 20.
    #[serde(rename = "UNUSUAL_QUANTITY")]
    pub unusual_quantity: i64,
    /// DISPOSABLE_EMAIL. Default 30.
    #[serde(rename = "DISPOSABLE_EMAIL")]
    pub disposable_email: i64,
}

impl Default for SignalWeights {
    fn default() -> Self {
        SignalWeights {
            high_amount: 40,
            new_customer_high_amount: 30,
            country_mismatch: 25,
            unusual_quantity: 20,
            disposable_email: 30,
        }
    }
}

/// The built-in disposable-email domains.
pub const DEFAULT_DISPOSABLE_DOMAINS: [&str; 15] = [
    "mailinator.com",
    "guerrillamail.com",
    "10minutemail.com",
    "temp-mail.org",
    "yopmail.com",
    "trashmail.com",
    "sharklasers.com",
    "getnada.com",
    "dispostable.com",
    "maildrop.cc",
    "throwawaymail.com",
    "fakeinbox.com",
    "mintemail.com",
    "tempmail.net",
    "emailondeck.com",
];

impl Default for RiskRules {
    fn default() -> Self {
        RiskRules {
            review_at: 40,
            decline_at: 80,
            weights: SignalWeights::default(),
            high_amount: [
                ("CHF", 100_000),
                ("EUR", 100_000),
                ("GBP", 90_000),
                ("JPY", 150_000),
                ("USD", 100_000),
            ]
            .into_iter()
            .map(|(code, amount)| (code.to_owned(), amount))
            .collect(),
            default_high_amount: 100_000,
            new_customer_factor: 0.5,
            unusual_quantity: 50,
            disposable_domains: DEFAULT_DISPOSABLE_DOMAINS.map(str::to_owned).to_vec(),
        }
    }
}

impl RiskRules {
    /// Checks every rule; the error names the first invalid key.
    pub fn check(&self) -> Result<(), String> {
        for (key, value) in [
            ("review_at", self.review_at),
            ("decline_at", self.decline_at),
        ] {
            if !(0..=MAX_SCORE).contains(&value) {
                return Err(format!("{key} must be between 0 and 100, got {value}"));
            }
        }
        if self.review_at > self.decline_at {
            return Err(format!(
                "review_at ({}) must not be above decline_at ({})",
                self.review_at, self.decline_at
            ));
        }
        let weights = &self.weights;
        for (code, weight) in [
            ("HIGH_AMOUNT", weights.high_amount),
            ("NEW_CUSTOMER_HIGH_AMOUNT", weights.new_customer_high_amount),
            ("COUNTRY_MISMATCH", weights.country_mismatch),
            ("UNUSUAL_QUANTITY", weights.unusual_quantity),
            ("DISPOSABLE_EMAIL", weights.disposable_email),
        ] {
            if !(0..=MAX_SCORE).contains(&weight) {
                return Err(format!(
                    "weights.{code} must be between 0 and 100, got {weight}"
                ));
            }
        }
        for (currency, amount) in &self.high_amount {
            if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(format!(
                    "high_amount.{currency}: keys are upper-case ISO 4217 codes (EUR)"
                ));
            }
            if *amount < 1 {
                return Err(format!(
                    "high_amount.{currency} must be positive, got {amount}"
                ));
            }
        }
        if self.default_high_amount < 1 {
            return Err(format!(
                "default_high_amount must be positive, got {}",
                self.default_high_amount
            ));
        }
        if !(0.0..=1.0).contains(&self.new_customer_factor) {
            return Err(format!(
                "new_customer_factor must be between 0.0 and 1.0, got {}",
                self.new_customer_factor
            ));
        }
        if self.unusual_quantity < 1 {
            return Err(format!(
                "unusual_quantity must be at least 1, got {}",
                self.unusual_quantity
            ));
        }
        for (i, domain) in self.disposable_domains.iter().enumerate() {
            let well_formed = !domain.is_empty()
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && domain
                    .chars()
                    .all(|c| !(c == '@' || c.is_whitespace() || c.is_uppercase()));
            if !well_formed {
                return Err(format!(
                    "disposable_domains[{i}]: {domain:?} is not a lower-case domain name \
                     (like mailinator.com)"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_documented() {
        let rules = RiskRules::default();
        assert_eq!(rules.check(), Ok(()));
        assert_eq!((rules.review_at, rules.decline_at), (40, 80));
        let w = &rules.weights;
        assert_eq!(
            [
                w.high_amount,
                w.new_customer_high_amount,
                w.country_mismatch,
                w.unusual_quantity,
                w.disposable_email
            ],
            [40, 30, 25, 20, 30]
        );
        assert_eq!(rules.high_amount["EUR"], 100_000);
        assert_eq!(rules.high_amount["JPY"], 150_000);
        assert_eq!(rules.default_high_amount, 100_000);
        assert_eq!(rules.new_customer_factor, 0.5);
        assert_eq!(rules.unusual_quantity, 50);
        assert_eq!(rules.disposable_domains.len(), 15);
    }

    #[test]
    fn parses_a_toml_example() {
        let rules: RiskRules = toml::from_str(
            r#"
            review_at = 30
            decline_at = 70
            default_high_amount = 50_000
            new_customer_factor = 0.25
            unusual_quantity = 10
            disposable_domains = ["mailinator.com", "example.test"]

            [weights]
            HIGH_AMOUNT = 50
            DISPOSABLE_EMAIL = 0

            [high_amount]
            SEK = 1_000_000
            "#,
        )
        .unwrap();
        assert_eq!(rules.check(), Ok(()));
        assert_eq!((rules.review_at, rules.decline_at), (30, 70));
        assert_eq!(rules.default_high_amount, 50_000);
        assert_eq!(rules.new_customer_factor, 0.25);
        assert_eq!(rules.unusual_quantity, 10);
        assert_eq!(rules.disposable_domains, ["mailinator.com", "example.test"]);
        assert_eq!(rules.weights.high_amount, 50);
        assert_eq!(rules.weights.disposable_email, 0);
        // Weights not set keep their defaults.
        assert_eq!(rules.weights.country_mismatch, 25);
        // A high_amount table replaces the built-in one.
        assert_eq!(rules.high_amount.len(), 1);
        assert_eq!(rules.high_amount["SEK"], 1_000_000);
    }

    #[test]
    fn an_empty_file_gives_the_defaults() {
        let rules: RiskRules = toml::from_str("").unwrap();
        assert_eq!(rules.decline_at, 80);
        assert_eq!(rules.high_amount.len(), 5);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        for (text, key) in [
            ("review_at_score = 10", "review_at_score"),
            ("[weights]\nVELOCITY = 10", "VELOCITY"),
            ("[weights]\nhigh_amount = 10", "high_amount"),
        ] {
            let error = toml::from_str::<RiskRules>(text).unwrap_err().to_string();
            assert!(error.contains(key), "{key}: {error}");
        }
    }

    /// Breaks one rule of the defaults.
    type Breakage = fn(&mut RiskRules);

    #[test]
    fn invalid_rules_name_their_key() {
        let cases: [(Breakage, &str); 14] = [
            (|r| r.review_at = -1, "review_at"),
            (|r| r.review_at = 101, "review_at"),
            (|r| r.decline_at = 101, "decline_at"),
            (|r| (r.review_at, r.decline_at) = (60, 50), "review_at"),
            (|r| r.weights.high_amount = -1, "weights.HIGH_AMOUNT"),
            (
                |r| r.weights.disposable_email = 101,
                "weights.DISPOSABLE_EMAIL",
            ),
            (
                |r| r.weights.unusual_quantity = -5,
                "weights.UNUSUAL_QUANTITY",
            ),
            (
                |r| _ = r.high_amount.insert("eur".into(), 1),
                "high_amount.eur",
            ),
            (
                |r| _ = r.high_amount.insert("SEK".into(), 0),
                "high_amount.SEK",
            ),
            (|r| r.default_high_amount = -1, "default_high_amount"),
            (|r| r.new_customer_factor = 1.5, "new_customer_factor"),
            (|r| r.new_customer_factor = f64::NAN, "new_customer_factor"),
            (|r| r.unusual_quantity = 0, "unusual_quantity"),
            (
                |r| r.disposable_domains.push("Mailinator.COM".into()),
                "disposable_domains[15]",
            ),
        ];
        for (break_rule, key) in cases {
            let mut rules = RiskRules::default();
            break_rule(&mut rules);
            let error = rules.check().unwrap_err();
            assert!(error.starts_with(key), "{key}: {error}");
        }
    }

    #[test]
    fn equal_thresholds_are_allowed() {
        let rules = RiskRules {
            review_at: 50,
            decline_at: 50,
            ..RiskRules::default()
        };
        assert_eq!(rules.check(), Ok(()));
    }
}
