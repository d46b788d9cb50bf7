//! The validator's rules file (`--rules`, TOML). Every key is optional; a missing key
//! keeps its default, an unknown key is an error.
//!
//! ```toml
//! max_line_items = 100
//! max_quantity = 1000
//! max_clock_skew_ms = 300000
//! allowed_currencies = []            # any ISO 4217 code
//! reject_duplicate_skus = false
//! postal_code_optional_countries = []
//! ```

use serde::Deserialize;

use crate::iso;

/// Thresholds and switches of the validation rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValidationRules {
    /// Most line items an order may have; more is TOO_MANY_LINE_ITEMS. At least 1.
    /// Default 100.
    pub max_line_items: i64,
    /// Largest quantity one line may order; above it (or at or below zero) is
    /// INVALID_QUANTITY. At least 1. Default 1000.
    pub max_quantity: i64,
    /// How far `occurred_at` may be ahead of the worker's clock, in milliseconds,
    /// before the order is FUTURE_TIMESTAMP. Not negative. Default 300000 (5 minutes).
    pub max_clock_skew_ms: i64,
    /// Currencies this shop accepts, as upper-case ISO 4217 codes; an ISO currency
    /// not listed is CURRENCY_NOT_ALLOWED. Default empty: any ISO 4217 currency.
    pub allowed_currencies: Vec<String>,
    /// When true, a sku already ordered on an earlier line is DUPLICATE_SKU. Default
    /// false: lines with the same sku are separate lines and valid.
    pub reject_duplicate_skus: bool,
    /// Countries (upper-case ISO 3166-1 alpha-2) whose addresses have no postal code
    /// (for example HK, AE): an empty `postal_code` there is not EMPTY_ADDRESS.
    /// Default empty: every country needs one.
    pub postal_code_optional_countries: Vec<String>,
}

impl Default for ValidationRules {
    fn default() -> Self {
        ValidationRules {
            max_line_items: 100,
            max_quantity: 1000,
            max_clock_skew_ms: 5 * 60 * 1000,
            allowed_currencies: Vec::new(),
            reject_duplicate_skus: false,
            postal_code_optional_countries: Vec::new(),
        }
    }
}

impl ValidationRules {
    /// Checks every rule; the error names the first invalid key.
    pub fn check(&self) -> Result<(), String> {
        if self.max_line_items < 1 {
            return Err(format!(
                "max_line_items must be at least 1, got {}",
                self.max_line_items
            ));
        }
        if self.max_quantity < 1 {
            return Err(format!(
                "max_quantity must be at least 1, got {}",
                self.max_quantity
            ));
        }
        if self.max_clock_skew_ms < 0 {
            return Err(format!(
                "max_clock_skew_ms must not be negative, got {}",
                self.max_clock_skew_ms
            ));
        }
        for (i, code) in self.allowed_currencies.iter().enumerate() {
            if !iso::is_currency(code) {
                return Err(format!(
                    "allowed_currencies[{i}]: {code:?} is not an active ISO 4217 currency \
                     code (upper case, like EUR)"
                ));
            }
        }
        for (i, code) in self.postal_code_optional_countries.iter().enumerate() {
            if !iso::is_country(code) {
                return Err(format!(
                    "postal_code_optional_countries[{i}]: {code:?} is not an ISO 3166-1 \
                     alpha-2 country code (upper case, like HK)"
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
        let rules = ValidationRules::default();
        assert_eq!(rules.check(), Ok(()));
        assert_eq!(rules.max_line_items, 100);
        assert_eq!(rules.max_quantity, 1000);
        assert_eq!(rules.max_clock_skew_ms, 300_000);
        assert!(rules.allowed_currencies.is_empty());
        assert!(!rules.reject_duplicate_skus);
        assert!(rules.postal_code_optional_countries.is_empty());
    }

    #[test]
    fn an_empty_file_gives_the_defaults() {
        let rules: ValidationRules = toml::from_str("").unwrap();
        assert_eq!(rules.max_line_items, 100);
        assert_eq!(rules.max_clock_skew_ms, 300_000);
    }

    #[test]
    fn parses_a_toml_example() {
        let rules: ValidationRules = toml::from_str(
            r#"
            max_line_items = 20
            max_quantity = 50
            max_clock_skew_ms = 60_000
            allowed_currencies = ["EUR", "CHF"]
            reject_duplicate_skus = true
            postal_code_optional_countries = ["HK", "AE"]
            "#,
        )
        .unwrap();
        assert_eq!(rules.check(), Ok(()));
        assert_eq!(rules.max_line_items, 20);
        assert_eq!(rules.max_quantity, 50);
        assert_eq!(rules.max_clock_skew_ms, 60_000);
        assert_eq!(rules.allowed_currencies, ["EUR", "CHF"]);
        assert!(rules.reject_duplicate_skus);
        assert_eq!(rules.postal_code_optional_countries, ["HK", "AE"]);
    }

    #[test]
    fn a_partial_file_keeps_the_other_defaults() {
        let rules: ValidationRules = toml::from_str("max_quantity = 5").unwrap();
        assert_eq!(rules.max_quantity, 5);
        assert_eq!(rules.max_line_items, 100);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let error = toml::from_str::<ValidationRules>("max_quantiy = 5")
            .unwrap_err()
            .to_string();
        assert!(error.contains("max_quantiy"), "{error}");
    }

    /// Breaks one rule of the defaults.
    type Breakage = fn(&mut ValidationRules);

    #[test]
    fn invalid_rules_name_their_key() {
        let cases: [(Breakage, &str); 8] = [
            (|r| r.max_line_items = 0, "max_line_items"),
            (|r| r.max_line_items = -1, "max_line_items"),
            (|r| r.max_quantity = 0, "max_quantity"),
            (|r| r.max_clock_skew_ms = -1, "max_clock_skew_ms"),
            (
                |r| r.allowed_currencies = vec!["EUR".into(), "eur".into()],
                "allowed_currencies[1]",
            ),
            (
                |r| r.allowed_currencies = vec!["XYZ".into()],
                "allowed_currencies[0]",
            ),
            (
                |r| r.postal_code_optional_countries = vec!["hk".into()],
                "postal_code_optional_countries[0]",
            ),
            (
                |r| r.postal_code_optional_countries = vec!["XX".into()],
                "postal_code_optional_countries[0]",
            ),
        ];
        for (break_rule, key) in cases {
            let mut rules = ValidationRules::default();
            break_rule(&mut rules);
            let error = rules.check().unwrap_err();
            assert!(error.starts_with(key), "{key}: {error}");
        }
    }
}
