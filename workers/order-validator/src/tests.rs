//! Table-driven tests of the validation rules, one row per passing or failing case.

use orderflow_events::sample;
use orderflow_events::*;
use orderflow_runtime::{Input, Outcome, Output, Processor};

use crate::code::*;
use crate::{OrderValidator, ValidationRules};

/// The sample order's `occurred_at` plus one second: the sample is valid at this time.
const NOW: i64 = 1_795_436_220_317 + 1_000;

fn validator(rules: ValidationRules) -> OrderValidator {
    OrderValidator::new(rules).expect("valid rules")
}

fn run(validator: &OrderValidator, event: &OrderEvent, now: i64) -> Outcome<OrderValidation> {
    let input = Input {
        event,
        topic: "orders.lifecycle",
        partition: 0,
        offset: 7,
        timestamp: None,
        key: None,
        headers: &[],
        now,
    };
    validator.process(&input).expect("validation never fails")
}

fn emitted(validator: &OrderValidator, event: &OrderEvent) -> Output<OrderValidation> {
    match run(validator, event, NOW) {
        Outcome::Emit(mut outputs) => {
            assert_eq!(outputs.len(), 1, "exactly one output per order");
            outputs.remove(0)
        }
        Outcome::Skip(reason) => panic!("skipped: {reason}"),
    }
}

fn order(event: &mut OrderEvent) -> &mut OrderPlaced {
    match &mut event.payload {
        Payload::OrderPlaced(order) => order,
        other => panic!("not an OrderPlaced: {}", other.type_name()),
    }
}

/// Makes the total consistent again after a change to the lines or charges.
fn retotal(order: &mut OrderPlaced) {
    let lines: i64 = order
        .line_items
        .iter()
        .map(|l| i64::from(l.quantity) * l.unit_price)
        .sum();
    order.total = lines + order.shipping + order.tax - order.discount;
}

fn line(sku: &str, quantity: i32, unit_price: i64) -> LineItem {
    LineItem {
        sku: sku.into(),
        quantity,
        unit_price,
    }
}

/// `(code, field)` of every reason; empty when the order is valid.
fn reasons(result: &ValidationResult) -> Vec<(String, String)> {
    match result {
        ValidationResult::OrderValidated(_) => Vec::new(),
        ValidationResult::OrderRejected(rejected) => {
            assert!(!rejected.reasons.is_empty(), "a rejection has reasons");
            rejected
                .reasons
                .iter()
                .map(|r| (r.code.clone(), r.field.clone()))
                .collect()
        }
    }
}

fn messages(result: &ValidationResult) -> Vec<String> {
    match result {
        ValidationResult::OrderValidated(_) => Vec::new(),
        ValidationResult::OrderRejected(rejected) => {
            rejected.reasons.iter().map(|r| r.message.clone()).collect()
        }
    }
}

/// Changes the sample order to break (or keep) a rule.
type Change = fn(&mut OrderEvent);

/// A named change, and the `(code, field)` of every reason it must produce.
type Case = (
    &'static str,
    Change,
    &'static [(&'static str, &'static str)],
);

/// Runs each case against the two-line sample order, with `rules`.
fn check_cases(rules: ValidationRules, cases: &[Case]) {
    let validator = validator(rules);
    for (name, change, expected) in cases {
        let mut event = sample::order_placed(2);
        change(&mut event);
        let result = emitted(&validator, &event).value.result;
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(code, field)| (code.to_string(), field.to_string()))
            .collect();
        assert_eq!(reasons(&result), expected, "case {name:?}: {result:?}");
    }
}

const VALID: &[(&str, &str)] = &[];

#[test]
fn line_item_rules() {
    let cases: &[Case] = &[
        ("sample order", |_| {}, VALID),
        (
            "no line items",
            |e| {
                order(e).line_items.clear();
                retotal(order(e));
            },
            &[(NO_LINE_ITEMS, "line_items")],
        ),
        (
            "one line item",
            |e| {
                order(e).line_items.truncate(1);
                retotal(order(e));
            },
            VALID,
        ),
        (
            "exactly max_line_items",
            |e| {
                order(e).line_items = (0..100).map(|i| line(&format!("S{i}"), 1, 10)).collect();
                retotal(order(e));
            },
            VALID,
        ),
        (
            "one more than max_line_items",
            |e| {
                order(e).line_items = (0..101).map(|i| line(&format!("S{i}"), 1, 10)).collect();
                retotal(order(e));
            },
            &[(TOO_MANY_LINE_ITEMS, "line_items")],
        ),
        (
            "quantity zero",
            |e| {
                order(e).line_items[1].quantity = 0;
                retotal(order(e));
            },
            &[(INVALID_QUANTITY, "line_items[1].quantity")],
        ),
        (
            "quantity negative",
            |e| {
                order(e).line_items[0].quantity = -1;
                retotal(order(e));
            },
            &[(INVALID_QUANTITY, "line_items[0].quantity")],
        ),
        (
            "quantity above max_quantity",
            |e| {
                order(e).line_items[0].quantity = 1001;
                retotal(order(e));
            },
            &[(INVALID_QUANTITY, "line_items[0].quantity")],
        ),
        (
            "quantity at max_quantity and 1",
            |e| {
                order(e).line_items[0].quantity = 1000;
                order(e).line_items[1].quantity = 1;
                retotal(order(e));
            },
            VALID,
        ),
        (
            "negative price",
            |e| {
                order(e).line_items[1].unit_price = -1;
                retotal(order(e));
            },
            &[(NEGATIVE_PRICE, "line_items[1].unit_price")],
        ),
        (
            "free item",
            |e| {
                order(e).line_items[1].unit_price = 0;
                retotal(order(e));
            },
            VALID,
        ),
        (
            "empty sku",
            |e| order(e).line_items[0].sku.clear(),
            &[(INVALID_SKU, "line_items[0].sku")],
        ),
        (
            "whitespace sku",
            |e| order(e).line_items[1].sku = " \t ".into(),
            &[(INVALID_SKU, "line_items[1].sku")],
        ),
        (
            "unicode sku",
            |e| order(e).line_items[1].sku = "TÖPFCHEN-ß-杯".into(),
            VALID,
        ),
        (
            "duplicate skus are separate lines by default",
            |e| order(e).line_items[1].sku = order(e).line_items[0].sku.clone(),
            VALID,
        ),
        (
            "every broken line rule, rule by rule then line by line",
            |e| {
                order(e).line_items =
                    vec![line("", 0, -5), line("A", 2000, -1), line(" ", 1, 5000)];
                retotal(order(e));
            },
            &[
                (INVALID_QUANTITY, "line_items[0].quantity"),
                (INVALID_QUANTITY, "line_items[1].quantity"),
                (NEGATIVE_PRICE, "line_items[0].unit_price"),
                (NEGATIVE_PRICE, "line_items[1].unit_price"),
                (INVALID_SKU, "line_items[0].sku"),
                (INVALID_SKU, "line_items[2].sku"),
            ],
        ),
    ];
    check_cases(ValidationRules::default(), cases);
}

#[test]
fn amount_rules() {
    let cases: &[Case] = &[
        (
            "line amount overflows 64 bits",
            |e| order(e).line_items[0] = line("BIG", 1000, i64::MAX),
            &[(AMOUNT_OVERFLOW, "line_items[0]")],
        ),
        (
            "negative line amount overflows 64 bits",
            |e| order(e).line_items[1] = line("BIG", 2, i64::MIN),
            &[
                (NEGATIVE_PRICE, "line_items[1].unit_price"),
                (AMOUNT_OVERFLOW, "line_items[1]"),
            ],
        ),
        (
            "sum of lines overflows 64 bits",
            |e| {
                order(e).line_items = vec![
                    line("A", 1, i64::MAX / 2 + 1),
                    line("B", 1, i64::MAX / 2 + 1),
                ];
            },
            &[(AMOUNT_OVERFLOW, "line_items")],
        ),
        (
            "lines plus charges overflow 64 bits",
            |e| {
                order(e).line_items = vec![line("A", 1, i64::MAX - 10)];
                order(e).shipping = 100;
                order(e).discount = 0;
            },
            &[(AMOUNT_OVERFLOW, "total")],
        ),
        (
            "a large total whose intermediate sum passes 64 bits is exact",
            |e| {
                order(e).line_items = vec![line("A", 1, i64::MAX - 10)];
                let o = order(e);
                (o.shipping, o.tax, o.discount) = (100, 0, 200);
                o.total = i64::MAX - 110;
            },
            VALID,
        ),
        (
            "negative shipping",
            |e| {
                order(e).shipping = -1;
                retotal(order(e));
            },
            &[(NEGATIVE_AMOUNT, "shipping")],
        ),
        (
            "negative tax",
            |e| {
                order(e).tax = -1;
                retotal(order(e));
            },
            &[(NEGATIVE_AMOUNT, "tax")],
        ),
        (
            "negative discount",
            |e| {
                order(e).discount = -1;
                retotal(order(e));
            },
            &[(NEGATIVE_AMOUNT, "discount")],
        ),
        (
            "discount larger than the order",
            |e| {
                order(e).discount = 1_000_000;
                retotal(order(e));
            },
            &[(NEGATIVE_AMOUNT, "total")],
        ),
        (
            "zero shipping, tax and discount",
            |e| {
                let o = order(e);
                (o.shipping, o.tax, o.discount) = (0, 0, 0);
                retotal(o);
            },
            VALID,
        ),
        (
            "total one cent too high",
            |e| order(e).total += 1,
            &[(TOTAL_MISMATCH, "total")],
        ),
        (
            "total ignores the discount",
            |e| order(e).total += order(e).discount,
            &[(TOTAL_MISMATCH, "total")],
        ),
        (
            "zero-amount order",
            |e| {
                let o = order(e);
                for l in &mut o.line_items {
                    l.unit_price = 0;
                }
                (o.shipping, o.tax, o.discount, o.total) = (0, 0, 0, 0);
            },
            VALID,
        ),
    ];
    check_cases(ValidationRules::default(), cases);
}

#[test]
fn currency_country_and_email_rules() {
    let cases: &[Case] = &[
        ("euro", |e| order(e).currency = "EUR".into(), VALID),
        ("yen", |e| order(e).currency = "JPY".into(), VALID),
        ("swiss franc", |e| order(e).currency = "CHF".into(), VALID),
        (
            "lower-case currency",
            |e| order(e).currency = "eur".into(),
            &[(UNKNOWN_CURRENCY, "currency")],
        ),
        (
            "unknown currency",
            |e| order(e).currency = "XYZ".into(),
            &[(UNKNOWN_CURRENCY, "currency")],
        ),
        (
            "empty currency",
            |e| order(e).currency.clear(),
            &[(UNKNOWN_CURRENCY, "currency")],
        ),
        (
            "withdrawn currency",
            |e| order(e).currency = "DEM".into(),
            &[(UNKNOWN_CURRENCY, "currency")],
        ),
        (
            "other valid countries",
            |e| {
                order(e).shipping_address.country = "JP".into();
                order(e).billing_country = "GB".into();
            },
            VALID,
        ),
        (
            "lower-case shipping country",
            |e| order(e).shipping_address.country = "de".into(),
            &[(INVALID_COUNTRY, "shipping_address.country")],
        ),
        (
            "unknown shipping country",
            |e| order(e).shipping_address.country = "XX".into(),
            &[(INVALID_COUNTRY, "shipping_address.country")],
        ),
        (
            "alpha-3 shipping country",
            |e| order(e).shipping_address.country = "DEU".into(),
            &[(INVALID_COUNTRY, "shipping_address.country")],
        ),
        (
            "lower-case billing country",
            |e| order(e).billing_country = "de".into(),
            &[(INVALID_BILLING_COUNTRY, "billing_country")],
        ),
        (
            "unknown billing country",
            |e| order(e).billing_country = "XX".into(),
            &[(INVALID_BILLING_COUNTRY, "billing_country")],
        ),
        (
            "unicode email",
            |e| order(e).customer_email = "ädä@exämple.de".into(),
            VALID,
        ),
        (
            "email without @",
            |e| order(e).customer_email = "ada.example.com".into(),
            &[(INVALID_EMAIL, "customer_email")],
        ),
        (
            "empty email",
            |e| order(e).customer_email.clear(),
            &[(INVALID_EMAIL, "customer_email")],
        ),
        (
            "email without a dot in the domain",
            |e| order(e).customer_email = "ada@localhost".into(),
            &[(INVALID_EMAIL, "customer_email")],
        ),
    ];
    check_cases(ValidationRules::default(), cases);
}

#[test]
fn timestamp_and_address_rules() {
    let cases: &[Case] = &[
        ("in the past", |e| e.occurred_at = NOW - 86_400_000, VALID),
        (
            "slightly ahead, within skew",
            |e| e.occurred_at = NOW + 1_000,
            VALID,
        ),
        (
            "exactly at the skew limit",
            |e| e.occurred_at = NOW + 300_000,
            VALID,
        ),
        (
            "one millisecond beyond skew",
            |e| e.occurred_at = NOW + 300_001,
            &[(FUTURE_TIMESTAMP, "occurred_at")],
        ),
        (
            "far in the future",
            |e| e.occurred_at = i64::MAX,
            &[(FUTURE_TIMESTAMP, "occurred_at")],
        ),
        (
            "at the beginning of time",
            |e| e.occurred_at = i64::MIN,
            VALID,
        ),
        (
            "unicode address",
            |e| {
                let a = &mut order(e).shipping_address;
                a.recipient = "Zoë Ægir-Østergård".into();
                a.line1 = "Königstraße 7".into();
                a.line2 = Some("3. OG, Hinterhaus".into());
                a.city = "München".into();
                a.region = Some("Bayern".into());
            },
            VALID,
        ),
        (
            "non-latin address",
            |e| {
                let a = &mut order(e).shipping_address;
                a.recipient = "山田太郎".into();
                a.line1 = "千代田区千代田1-1".into();
                a.city = "東京都".into();
                a.postal_code = "100-0001".into();
                a.country = "JP".into();
            },
            VALID,
        ),
        (
            "empty recipient",
            |e| order(e).shipping_address.recipient.clear(),
            &[(EMPTY_ADDRESS, "shipping_address.recipient")],
        ),
        (
            "blank city",
            |e| order(e).shipping_address.city = "  ".into(),
            &[(EMPTY_ADDRESS, "shipping_address.city")],
        ),
        (
            "empty line2 and region are fine",
            |e| {
                order(e).shipping_address.line2 = Some(String::new());
                order(e).shipping_address.region = None;
            },
            VALID,
        ),
        (
            "every required address field empty",
            |e| {
                let a = &mut order(e).shipping_address;
                a.recipient.clear();
                a.line1.clear();
                a.city.clear();
                a.postal_code.clear();
            },
            &[
                (EMPTY_ADDRESS, "shipping_address.recipient"),
                (EMPTY_ADDRESS, "shipping_address.line1"),
                (EMPTY_ADDRESS, "shipping_address.city"),
                (EMPTY_ADDRESS, "shipping_address.postal_code"),
            ],
        ),
    ];
    check_cases(ValidationRules::default(), cases);
}

#[test]
fn every_broken_rule_is_listed_in_rule_order() {
    let cases: &[Case] = &[(
        "one of each",
        |e| {
            e.occurred_at = NOW + 3_600_000;
            let o = order(e);
            o.line_items.clear();
            o.shipping = -1;
            o.total = 42;
            o.currency = "eur".into();
            o.shipping_address.country = "de".into();
            o.billing_country = "XX".into();
            o.customer_email = "nobody".into();
            o.shipping_address.postal_code.clear();
        },
        &[
            (NO_LINE_ITEMS, "line_items"),
            (NEGATIVE_AMOUNT, "shipping"),
            (TOTAL_MISMATCH, "total"),
            (UNKNOWN_CURRENCY, "currency"),
            (INVALID_COUNTRY, "shipping_address.country"),
            (INVALID_BILLING_COUNTRY, "billing_country"),
            (INVALID_EMAIL, "customer_email"),
            (FUTURE_TIMESTAMP, "occurred_at"),
            (EMPTY_ADDRESS, "shipping_address.postal_code"),
        ],
    )];
    check_cases(ValidationRules::default(), cases);
}

#[test]
fn configured_rules() {
    let strict = ValidationRules {
        max_line_items: 2,
        max_quantity: 3,
        max_clock_skew_ms: 0,
        allowed_currencies: vec!["EUR".into(), "CHF".into()],
        reject_duplicate_skus: true,
        postal_code_optional_countries: vec!["HK".into()],
    };
    let cases: &[Case] = &[
        ("sample order", |_| {}, VALID),
        (
            "three lines",
            |e| {
                order(e).line_items.push(line("X", 1, 1));
                retotal(order(e));
            },
            &[(TOO_MANY_LINE_ITEMS, "line_items")],
        ),
        (
            "quantity above max_quantity",
            |e| {
                order(e).line_items[0].quantity = 4;
                retotal(order(e));
            },
            &[(INVALID_QUANTITY, "line_items[0].quantity")],
        ),
        (
            "duplicate skus",
            |e| order(e).line_items[1].sku = order(e).line_items[0].sku.clone(),
            &[(DUPLICATE_SKU, "line_items[1].sku")],
        ),
        (
            "allowed currency",
            |e| order(e).currency = "CHF".into(),
            VALID,
        ),
        (
            "ISO currency not allowed",
            |e| order(e).currency = "USD".into(),
            &[(CURRENCY_NOT_ALLOWED, "currency")],
        ),
        (
            "unknown currency is not also reported as not allowed",
            |e| order(e).currency = "XYZ".into(),
            &[(UNKNOWN_CURRENCY, "currency")],
        ),
        ("no clock skew: now is fine", |e| e.occurred_at = NOW, VALID),
        (
            "no clock skew: one millisecond ahead",
            |e| e.occurred_at = NOW + 1,
            &[(FUTURE_TIMESTAMP, "occurred_at")],
        ),
        (
            "no postal code where none is needed",
            |e| {
                order(e).shipping_address.country = "HK".into();
                order(e).shipping_address.postal_code.clear();
            },
            VALID,
        ),
        (
            "no postal code where one is needed",
            |e| order(e).shipping_address.postal_code.clear(),
            &[(EMPTY_ADDRESS, "shipping_address.postal_code")],
        ),
    ];
    check_cases(strict, cases);
}

#[test]
fn duplicate_skus_are_reported_against_their_first_line() {
    let validator = validator(ValidationRules {
        reject_duplicate_skus: true,
        ..ValidationRules::default()
    });
    let mut event = sample::order_placed(1);
    order(&mut event).line_items = vec![
        line("A", 1, 100),
        line("B", 1, 100),
        line("A", 2, 100),
        line("", 1, 100),
        line("", 1, 100),
        line("A", 1, 100),
    ];
    retotal(order(&mut event));
    let result = emitted(&validator, &event).value.result;
    assert_eq!(
        reasons(&result),
        [
            (INVALID_SKU, "line_items[3].sku"),
            (INVALID_SKU, "line_items[4].sku"),
            (DUPLICATE_SKU, "line_items[2].sku"),
            (DUPLICATE_SKU, "line_items[5].sku"),
        ]
        .map(|(c, f)| (c.to_string(), f.to_string()))
    );
    let messages = messages(&result);
    assert!(messages[2].contains("line_items[0]"), "{}", messages[2]);
}

#[test]
fn messages_explain_the_problem() {
    let validator = validator(ValidationRules::default());
    let cases: [(Change, &[&str]); 6] = [
        (|e| order(e).currency = "eur".into(), &["upper case", "EUR"]),
        (
            |e| order(e).currency = "XYZ".into(),
            &["\"XYZ\"", "ISO 4217"],
        ),
        (
            |e| order(e).shipping_address.country = "de".into(),
            &["upper case", "DE"],
        ),
        (
            |e| order(e).total += 1,
            &["expected 5097", "got 5098", "discount 100"],
        ),
        (
            |e| order(e).customer_email = "ada@@example.com".into(),
            &["exactly one '@'"],
        ),
        (
            |e| e.occurred_at = NOW + 400_000,
            &["400000 ms ahead", "300000 ms"],
        ),
    ];
    for (change, needles) in cases {
        let mut event = sample::order_placed(1);
        change(&mut event);
        let messages = messages(&emitted(&validator, &event).value.result);
        assert_eq!(messages.len(), 1, "{messages:?}");
        for needle in needles {
            assert!(messages[0].contains(needle), "{needle:?} in {messages:?}");
        }
    }
}

#[test]
fn long_values_are_cut_in_messages() {
    let validator = validator(ValidationRules::default());
    let mut event = sample::order_placed(1);
    order(&mut event).currency = "ü".repeat(10_000);
    let messages = messages(&emitted(&validator, &event).value.result);
    assert!(messages[0].chars().count() < 200, "{}", messages[0]);
}

#[test]
fn a_valid_order_reports_total_currency_and_line_count() {
    let validator = validator(ValidationRules::default());
    let event = sample::order_placed(3);
    let Payload::OrderPlaced(placed) = &event.payload else {
        unreachable!()
    };
    let result = emitted(&validator, &event).value.result;
    assert_eq!(
        result,
        ValidationResult::OrderValidated(OrderValidated {
            total: placed.total,
            currency: "EUR".into(),
            line_count: 3,
        })
    );
}

#[test]
fn per_line_reasons_stop_at_max_line_items() {
    let validator = validator(ValidationRules::default());
    let mut event = sample::order_placed(1);
    order(&mut event).line_items = (0..5_000).map(|_| line("", 0, -1)).collect();
    retotal(order(&mut event));
    let result = emitted(&validator, &event).value.result;
    let reasons = reasons(&result);
    assert_eq!(reasons.len(), 1 + 3 * 100);
    assert_eq!(reasons[0].0, TOO_MANY_LINE_ITEMS);
    assert_eq!(reasons[100].1, "line_items[99].quantity");
}

#[test]
fn extreme_values_never_panic() {
    let validator = validator(ValidationRules::default());
    let longs = [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX];
    let ints = [i32::MIN, -1, 0, 1, i32::MAX];
    for &quantity in &ints {
        for &price in &longs {
            for &charge in &longs {
                let mut event = sample::order_placed(1);
                let o = order(&mut event);
                o.line_items = vec![line("A", quantity, price), line("B", quantity, price)];
                (o.shipping, o.tax, o.discount, o.total) = (charge, charge, charge, charge);
                event.occurred_at = charge;
                for now in [i64::MIN, 0, i64::MAX] {
                    let outcome = run(&validator, &event, now);
                    assert!(matches!(outcome, Outcome::Emit(ref o) if o.len() == 1));
                }
            }
        }
    }
}

#[test]
fn other_payloads_are_skipped() {
    let validator = validator(ValidationRules::default());
    let placed = sample::order_placed(1);
    let payloads = [
        Payload::PaymentAuthorized(PaymentAuthorized {
            payment_id: "p".into(),
            amount: 1,
            currency: "EUR".into(),
            method: "card".into(),
        }),
        Payload::PaymentFailed(PaymentFailed {
            payment_id: "p".into(),
            reason_code: "declined".into(),
        }),
        Payload::OrderShipped(OrderShipped {
            carrier: "DHL".into(),
            tracking_number: "1".into(),
        }),
        Payload::OrderDelivered(OrderDelivered { signed_by: None }),
        Payload::OrderCancelled(OrderCancelled {
            reason: "customer_request".into(),
            refund_amount: 0,
        }),
    ];
    for payload in payloads {
        let name = payload.type_name();
        let event = sample::with_payload(&placed, payload);
        assert_eq!(run(&validator, &event, NOW), Outcome::Skip(name));
    }
}

#[test]
fn outputs_carry_lineage_and_are_keyed_by_order() {
    let validator = validator(ValidationRules::default());
    let valid = sample::order_placed(2);
    let mut rejected = sample::order_placed(2);
    order(&mut rejected).line_items.clear();
    for event in [valid, rejected] {
        let out = emitted(&validator, &event);
        assert_eq!(out.key, event.order_id);
        assert_eq!(out.value.order_id, event.order_id);
        assert_eq!(out.value.customer_id, event.customer_id);
        assert_eq!(out.value.causation_id, event.event_id);
        assert_eq!(out.value.produced_at, NOW);
        assert_eq!(out.value.worker, "order-validator");
        assert_eq!(out.value.worker_version, env!("CARGO_PKG_VERSION"));
        assert_eq!(
            out.value.event_id,
            derived_event_id("order-validator", &event.event_id, 0).to_string()
        );
        // Deterministic: the same input gives the same output.
        assert_eq!(emitted(&validator, &event), out);
    }
}

#[test]
fn invalid_rules_are_refused_by_new() {
    let error = OrderValidator::new(ValidationRules {
        max_quantity: -5,
        ..ValidationRules::default()
    })
    .unwrap_err();
    assert!(error.contains("max_quantity"), "{error}");
}
