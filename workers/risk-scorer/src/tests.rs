//! Table-driven tests of the risk signals, the score and the decision bands.

use orderflow_events::sample;
use orderflow_events::*;
use orderflow_runtime::{Input, Outcome, Output, Processor};

use crate::rules::SignalWeights;
use crate::signal::*;
use crate::{RiskRules, RiskScorer};

const NOW: i64 = 1_795_436_300_000;

fn scorer(rules: RiskRules) -> RiskScorer {
    RiskScorer::new(rules).expect("valid rules")
}

fn run(scorer: &RiskScorer, event: &OrderEvent) -> Outcome<OrderRiskAssessed> {
    let input = Input {
        event,
        topic: "orders.lifecycle",
        partition: 3,
        offset: 11,
        timestamp: None,
        key: None,
        headers: &[],
        now: NOW,
    };
    scorer.process(&input).expect("scoring never fails")
}

fn emitted(scorer: &RiskScorer, event: &OrderEvent) -> Output<OrderRiskAssessed> {
    match run(scorer, event) {
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

fn line(sku: &str, quantity: i32) -> LineItem {
    LineItem {
        sku: sku.into(),
        quantity,
        unit_price: 100,
    }
}

fn codes(out: &OrderRiskAssessed) -> Vec<&str> {
    out.signals.iter().map(|s| s.code.as_str()).collect()
}

/// The sample order (EUR 50.97, DE to DE, an existing customer, 2 units per sku, a
/// plain email) fires no signal.
fn quiet_order() -> OrderEvent {
    sample::order_placed(2)
}

/// A named change to the quiet order, and the signals it must fire.
type Case = (&'static str, fn(&mut OrderEvent), &'static [&'static str]);

/// A change to the quiet order's payload.
type OrderChange = fn(&mut OrderPlaced);

/// Runs each case with the default rules; the expected score is the sum of the
/// default weights of the expected signals.
fn check_cases(cases: &[Case]) {
    let scorer = scorer(RiskRules::default());
    let weights = SignalWeights::default();
    let weight = |code: &str| match code {
        HIGH_AMOUNT => weights.high_amount,
        NEW_CUSTOMER_HIGH_AMOUNT => weights.new_customer_high_amount,
        COUNTRY_MISMATCH => weights.country_mismatch,
        UNUSUAL_QUANTITY => weights.unusual_quantity,
        DISPOSABLE_EMAIL => weights.disposable_email,
        other => panic!("unknown signal {other}"),
    };
    for (name, change, expected) in cases {
        let mut event = quiet_order();
        change(&mut event);
        let out = emitted(&scorer, &event).value;
        assert_eq!(codes(&out), *expected, "case {name:?}: {out:?}");
        for s in &out.signals {
            assert_eq!(i64::from(s.weight), weight(&s.code), "case {name:?}");
            assert!(!s.detail.is_empty(), "case {name:?}");
        }
        let sum: i64 = expected.iter().map(|c| weight(c)).sum();
        assert_eq!(i64::from(out.score), sum.min(100), "case {name:?}");
    }
}

const NONE: &[&str] = &[];

#[test]
fn high_amount_per_currency() {
    check_cases(&[
        ("sample order", |_| {}, NONE),
        (
            "EUR at the threshold",
            |e| order(e).total = 100_000,
            &[HIGH_AMOUNT],
        ),
        ("EUR just below", |e| order(e).total = 99_999, NONE),
        (
            "GBP at its own threshold",
            |e| {
                order(e).currency = "GBP".into();
                order(e).total = 90_000;
            },
            &[HIGH_AMOUNT],
        ),
        (
            "GBP just below",
            |e| {
                order(e).currency = "GBP".into();
                order(e).total = 89_999;
            },
            NONE,
        ),
        (
            "JPY at its threshold (no minor unit)",
            |e| {
                order(e).currency = "JPY".into();
                order(e).total = 150_000;
            },
            &[HIGH_AMOUNT],
        ),
        (
            "JPY just below",
            |e| {
                order(e).currency = "JPY".into();
                order(e).total = 149_999;
            },
            NONE,
        ),
        (
            "a currency without its own threshold uses the default",
            |e| {
                order(e).currency = "SEK".into();
                order(e).total = 100_000;
            },
            &[HIGH_AMOUNT],
        ),
        (
            "lower-case currency finds its threshold",
            |e| {
                order(e).currency = "gbp".into();
                order(e).total = 95_000;
            },
            &[HIGH_AMOUNT],
        ),
        (
            "largest possible total",
            |e| order(e).total = i64::MAX,
            &[HIGH_AMOUNT],
        ),
        ("negative total", |e| order(e).total = i64::MIN, NONE),
        (
            "zero-amount order",
            |e| {
                let o = order(e);
                for l in &mut o.line_items {
                    l.unit_price = 0;
                }
                (o.shipping, o.tax, o.discount, o.total) = (0, 0, 0, 0);
            },
            NONE,
        ),
    ]);
}

#[test]
fn new_customer_high_amount() {
    check_cases(&[
        (
            "new customer at half the threshold",
            |e| {
                order(e).new_customer = true;
                order(e).total = 50_000;
            },
            &[NEW_CUSTOMER_HIGH_AMOUNT],
        ),
        (
            "new customer just below half",
            |e| {
                order(e).new_customer = true;
                order(e).total = 49_999;
            },
            NONE,
        ),
        (
            "existing customer at half the threshold",
            |e| order(e).total = 50_000,
            NONE,
        ),
        (
            "new customer above the full threshold fires both",
            |e| {
                order(e).new_customer = true;
                order(e).total = 100_000;
            },
            &[HIGH_AMOUNT, NEW_CUSTOMER_HIGH_AMOUNT],
        ),
        (
            "new customer, JPY at half its threshold",
            |e| {
                order(e).new_customer = true;
                order(e).currency = "JPY".into();
                order(e).total = 75_000;
            },
            &[NEW_CUSTOMER_HIGH_AMOUNT],
        ),
    ]);
}

#[test]
fn country_mismatch() {
    check_cases(&[
        (
            "ships abroad",
            |e| order(e).shipping_address.country = "US".into(),
            &[COUNTRY_MISMATCH],
        ),
        (
            "billed abroad",
            |e| order(e).billing_country = "AT".into(),
            &[COUNTRY_MISMATCH],
        ),
        (
            "same country, different case",
            |e| order(e).billing_country = "de".into(),
            NONE,
        ),
        (
            "both empty",
            |e| {
                order(e).shipping_address.country.clear();
                order(e).billing_country.clear();
            },
            NONE,
        ),
    ]);
}

#[test]
fn unusual_quantity_is_summed_per_sku() {
    check_cases(&[
        (
            "one line at the threshold",
            |e| order(e).line_items[0].quantity = 50,
            &[UNUSUAL_QUANTITY],
        ),
        (
            "one line just below",
            |e| order(e).line_items[0].quantity = 49,
            NONE,
        ),
        (
            "the same sku on two lines reaches it",
            |e| order(e).line_items = vec![line("A", 25), line("B", 1), line("A", 25)],
            &[UNUSUAL_QUANTITY],
        ),
        (
            "different skus do not add up",
            |e| order(e).line_items = vec![line("A", 25), line("B", 25), line("C", 25)],
            NONE,
        ),
        (
            "huge quantities saturate",
            |e| order(e).line_items = vec![line("A", i32::MAX); 8],
            &[UNUSUAL_QUANTITY],
        ),
        (
            "negative quantities do not fire",
            |e| order(e).line_items = vec![line("A", i32::MIN); 8],
            NONE,
        ),
        ("no line items", |e| order(e).line_items.clear(), NONE),
    ]);
}

#[test]
fn disposable_email() {
    check_cases(&[
        (
            "provider domain",
            |e| order(e).customer_email = "x@mailinator.com".into(),
            &[DISPOSABLE_EMAIL],
        ),
        (
            "provider domain in upper case",
            |e| order(e).customer_email = "x@MailInator.COM".into(),
            &[DISPOSABLE_EMAIL],
        ),
        (
            "subdomain of a provider",
            |e| order(e).customer_email = "x@eu.yopmail.com".into(),
            &[DISPOSABLE_EMAIL],
        ),
        (
            "another default provider",
            |e| order(e).customer_email = "x@maildrop.cc".into(),
            &[DISPOSABLE_EMAIL],
        ),
        (
            "a look-alike domain",
            |e| order(e).customer_email = "x@notmailinator.com".into(),
            NONE,
        ),
        (
            "a provider name further left",
            |e| order(e).customer_email = "x@mailinator.com.example.org".into(),
            NONE,
        ),
        (
            "the domain is after the last @",
            |e| order(e).customer_email = "mailinator.com@example.com".into(),
            NONE,
        ),
        (
            "no @ at all",
            |e| order(e).customer_email = "mailinator.com".into(),
            NONE,
        ),
        (
            "unicode address",
            |e| order(e).customer_email = "ädä@exämple.de".into(),
            NONE,
        ),
    ]);
}

#[test]
fn every_signal_at_once_clamps_at_100_and_declines() {
    let mut event = quiet_order();
    let o = order(&mut event);
    o.total = 1_000_000;
    o.new_customer = true;
    o.billing_country = "US".into();
    o.line_items[0].quantity = 60;
    o.customer_email = "x@guerrillamail.com".into();
    let out = emitted(&scorer(RiskRules::default()), &event).value;
    assert_eq!(
        codes(&out),
        [
            HIGH_AMOUNT,
            NEW_CUSTOMER_HIGH_AMOUNT,
            COUNTRY_MISMATCH,
            UNUSUAL_QUANTITY,
            DISPOSABLE_EMAIL
        ]
    );
    assert_eq!(out.signals.iter().map(|s| s.weight).sum::<i32>(), 145);
    assert_eq!(out.score, 100);
    assert_eq!(out.decision, RiskDecision::Decline);
}

#[test]
fn weights_add_up() {
    let mut event = quiet_order();
    order(&mut event).billing_country = "FR".into();
    order(&mut event).customer_email = "x@trashmail.com".into();
    let out = emitted(&scorer(RiskRules::default()), &event).value;
    assert_eq!(codes(&out), [COUNTRY_MISMATCH, DISPOSABLE_EMAIL]);
    assert_eq!(out.score, 25 + 30);
    assert_eq!(out.decision, RiskDecision::Review);
}

#[test]
fn configured_weights_are_used_and_zero_weights_stay_visible() {
    let rules = RiskRules {
        weights: SignalWeights {
            country_mismatch: 0,
            disposable_email: 100,
            ..SignalWeights::default()
        },
        ..RiskRules::default()
    };
    let mut event = quiet_order();
    order(&mut event).billing_country = "FR".into();
    order(&mut event).customer_email = "x@trashmail.com".into();
    let out = emitted(&scorer(rules), &event).value;
    let weights: Vec<(&str, i32)> = out
        .signals
        .iter()
        .map(|s| (s.code.as_str(), s.weight))
        .collect();
    assert_eq!(weights, [(COUNTRY_MISMATCH, 0), (DISPOSABLE_EMAIL, 100)]);
    assert_eq!(out.score, 100);
}

#[test]
fn decision_band_boundaries() {
    // COUNTRY_MISMATCH alone fires; its weight sets the score.
    let cases = [
        (0, RiskDecision::Approve),
        (39, RiskDecision::Approve),
        (40, RiskDecision::Review),
        (79, RiskDecision::Review),
        (80, RiskDecision::Decline),
        (100, RiskDecision::Decline),
    ];
    let mut event = quiet_order();
    order(&mut event).billing_country = "FR".into();
    for (weight, decision) in cases {
        let rules = RiskRules {
            weights: SignalWeights {
                country_mismatch: weight,
                ..SignalWeights::default()
            },
            ..RiskRules::default()
        };
        let out = emitted(&scorer(rules), &event).value;
        assert_eq!(i64::from(out.score), weight);
        assert_eq!(out.decision, decision, "score {weight}");
    }
}

#[test]
fn configured_thresholds_move_the_bands() {
    let cases = [
        (10, 20, 9, RiskDecision::Approve),
        (10, 20, 10, RiskDecision::Review),
        (10, 20, 20, RiskDecision::Decline),
        (50, 50, 49, RiskDecision::Approve),
        (50, 50, 50, RiskDecision::Decline),
        (0, 100, 0, RiskDecision::Review),
        (0, 0, 0, RiskDecision::Decline),
    ];
    let mut event = quiet_order();
    order(&mut event).billing_country = "FR".into();
    for (review_at, decline_at, weight, decision) in cases {
        let rules = RiskRules {
            review_at,
            decline_at,
            weights: SignalWeights {
                country_mismatch: weight,
                ..SignalWeights::default()
            },
            ..RiskRules::default()
        };
        let out = emitted(&scorer(rules), &event).value;
        assert_eq!(
            out.decision, decision,
            "{review_at}/{decline_at} at {weight}"
        );
    }
}

#[test]
fn configured_thresholds_and_lists() {
    let rules = RiskRules {
        high_amount: [("SEK".to_owned(), 1_000_000)].into_iter().collect(),
        default_high_amount: 10_000,
        new_customer_factor: 1.0,
        unusual_quantity: 3,
        disposable_domains: vec!["example.test".into()],
        ..RiskRules::default()
    };
    let scorer = scorer(rules);
    let cases: [(OrderChange, &[&str]); 7] = [
        (
            |o| {
                o.currency = "SEK".into();
                o.total = 999_999;
            },
            &[],
        ),
        (|o| o.total = 10_000, &[HIGH_AMOUNT]),
        (
            |o| {
                o.new_customer = true;
                o.total = 9_999;
            },
            &[],
        ),
        (
            |o| {
                o.new_customer = true;
                o.total = 10_000;
            },
            &[HIGH_AMOUNT, NEW_CUSTOMER_HIGH_AMOUNT],
        ),
        (|o| o.line_items[1].quantity = 3, &[UNUSUAL_QUANTITY]),
        (
            |o| o.customer_email = "a@example.test".into(),
            &[DISPOSABLE_EMAIL],
        ),
        (|o| o.customer_email = "a@mailinator.com".into(), &[]),
    ];
    for (change, expected) in cases {
        let mut event = quiet_order();
        change(order(&mut event));
        let out = emitted(&scorer, &event).value;
        assert_eq!(codes(&out), expected, "{out:?}");
    }
}

#[test]
fn details_say_why() {
    let mut event = quiet_order();
    let o = order(&mut event);
    o.total = 120_000;
    o.new_customer = true;
    o.shipping_address.country = "US".into();
    o.line_items = vec![line("A", 30), line("B", 70), line("A", 30)];
    o.customer_email = "x@eu.mailinator.com".into();
    let out = emitted(&scorer(RiskRules::default()), &event).value;
    let details: Vec<&str> = out.signals.iter().map(|s| s.detail.as_str()).collect();
    let expected: [&[&str]; 5] = [
        &["120000 EUR", "100000"],
        &["120000 EUR", "50000", "0.5"],
        &["US", "DE"],
        &["70 units", "\"B\"", "threshold 50", "2 skus"],
        &["eu.mailinator.com", "subdomain", "mailinator.com"],
    ];
    assert_eq!(details.len(), expected.len(), "{details:?}");
    for (detail, needles) in details.iter().zip(expected) {
        for needle in needles {
            assert!(detail.contains(needle), "{needle:?} in {detail:?}");
        }
    }
}

#[test]
fn extreme_values_never_panic() {
    let rules = RiskRules {
        high_amount: [("EUR".to_owned(), i64::MAX)].into_iter().collect(),
        default_high_amount: i64::MAX,
        new_customer_factor: 1.0,
        ..RiskRules::default()
    };
    for scorer in [scorer(RiskRules::default()), scorer(rules)] {
        for total in [i64::MIN, -1, 0, 1, i64::MAX] {
            for quantity in [i32::MIN, -1, 0, i32::MAX] {
                let mut event = quiet_order();
                let o = order(&mut event);
                o.total = total;
                o.new_customer = true;
                o.line_items = vec![line("A", quantity); 3];
                o.customer_email = "@@".into();
                let out = emitted(&scorer, &event).value;
                assert!((0..=100).contains(&out.score));
            }
        }
    }
}

#[test]
fn other_payloads_are_skipped() {
    let scorer = scorer(RiskRules::default());
    let placed = quiet_order();
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
            reason: "fraud".into(),
            refund_amount: 0,
        }),
    ];
    for payload in payloads {
        let name = payload.type_name();
        let event = sample::with_payload(&placed, payload);
        assert_eq!(run(&scorer, &event), Outcome::Skip(name));
    }
}

#[test]
fn outputs_carry_lineage_and_are_keyed_by_order() {
    let scorer = scorer(RiskRules::default());
    let mut risky = quiet_order();
    order(&mut risky).billing_country = "US".into();
    for event in [quiet_order(), risky] {
        let out = emitted(&scorer, &event);
        assert_eq!(out.key, event.order_id);
        assert_eq!(out.value.order_id, event.order_id);
        assert_eq!(out.value.customer_id, event.customer_id);
        assert_eq!(out.value.causation_id, event.event_id);
        assert_eq!(out.value.produced_at, NOW);
        assert_eq!(out.value.worker, "risk-scorer");
        assert_eq!(out.value.worker_version, env!("CARGO_PKG_VERSION"));
        assert_eq!(
            out.value.event_id,
            derived_event_id("risk-scorer", &event.event_id, 0).to_string()
        );
        // Deterministic: the same input gives the same output.
        assert_eq!(emitted(&scorer, &event), out);
    }
}

#[test]
fn invalid_rules_are_refused_by_new() {
    let error = RiskScorer::new(RiskRules {
        review_at: 90,
        ..RiskRules::default()
    })
    .unwrap_err();
    assert!(error.contains("review_at"), "{error}");
    assert!(error.contains("decline_at"), "{error}");
}
