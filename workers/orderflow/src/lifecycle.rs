//! Realistic order lifecycles: placed, then paid or payment failed, shipped, delivered;
//! some cancelled, some invalid, some risky. Orders interleave: a fixed number are in
//! flight at once, and each step of an order follows the previous one. The same seed
//! gives the same events (apart from their timestamps, which are the caller's).

use std::collections::VecDeque;

use orderflow_events::{
    Address, LineItem, OrderCancelled, OrderDelivered, OrderEvent, OrderPlaced, OrderShipped,
    Payload, PaymentAuthorized, PaymentFailed, SalesChannel,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Shares of special orders.
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    /// Orders that break a validation rule.
    pub invalid: f64,
    /// Orders that look risky.
    pub risky: f64,
}

/// What kind of order an `OrderPlaced` is, for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An ordinary order.
    Normal,
    /// Breaks a validation rule.
    Invalid,
    /// Looks risky.
    Risky,
}

struct Market {
    currency: &'static str,
    country: &'static str,
    /// Minor units per major unit (JPY has none).
    scale: i64,
    tax_percent: i64,
}

const MARKETS: &[Market] = &[
    Market {
        currency: "EUR",
        country: "DE",
        scale: 100,
        tax_percent: 19,
    },
    Market {
        currency: "EUR",
        country: "FR",
        scale: 100,
        tax_percent: 20,
    },
    Market {
        currency: "EUR",
        country: "NL",
        scale: 100,
        tax_percent: 21,
    },
    Market {
        currency: "USD",
        country: "US",
        scale: 100,
        tax_percent: 8,
    },
    Market {
        currency: "GBP",
        country: "GB",
        scale: 100,
        tax_percent: 20,
    },
    Market {
        currency: "CHF",
        country: "CH",
        scale: 100,
        tax_percent: 8,
    },
    Market {
        currency: "SEK",
        country: "SE",
        scale: 100,
        tax_percent: 25,
    },
    Market {
        currency: "JPY",
        country: "JP",
        scale: 1,
        tax_percent: 10,
    },
];

const CITIES: &[(&str, &str)] = &[
    ("Berlin", "10115"),
    ("Paris", "75001"),
    ("Amsterdam", "1011"),
    ("New York", "10001"),
    ("London", "EC1A 1BB"),
    ("Zürich", "8001"),
    ("Stockholm", "111 22"),
    ("Tokyo", "100-0001"),
];
const NAMES: &[&str] = &[
    "Ada Lovelace",
    "Grace Hopper",
    "Alan Turing",
    "Edsger Dijkstra",
    "Barbara Liskov",
    "Donald Knuth",
    "Frances Allen",
    "Jürgen Schmidhuber",
    "Zoë Ramírez",
];
const CARRIERS: &[&str] = &["DHL", "UPS", "FedEx", "PostNL", "Royal Mail", "Yamato"];
const METHODS: &[&str] = &["card", "paypal", "invoice", "apple_pay", "klarna"];
const FAIL_REASONS: &[&str] = &[
    "insufficient_funds",
    "card_expired",
    "do_not_honor",
    "fraud_suspected",
];
const DOMAINS: &[&str] = &["example.com", "mail.example.org", "example.net"];
const DISPOSABLE: &[&str] = &["mailinator.com", "yopmail.com", "10minutemail.com"];

struct Order {
    id: String,
    customer: String,
    kind: Kind,
    steps: VecDeque<Payload>,
}

/// Generates interleaved order lifecycles.
pub struct Generator {
    rng: StdRng,
    in_flight: Vec<Order>,
    concurrent: usize,
    next_order: u64,
    mix: Mix,
    run: String,
}

impl Generator {
    /// A generator with `concurrent` orders in flight.
    pub fn new(seed: u64, concurrent: usize, mix: Mix) -> Generator {
        let mut rng = StdRng::seed_from_u64(seed);
        let run = format!("{:08x}", rng.random::<u32>());
        Generator {
            rng,
            in_flight: Vec::new(),
            concurrent: concurrent.max(1),
            next_order: 0,
            mix,
            run,
        }
    }

    /// The next event of some order in flight, happening at `now` (epoch millis), and
    /// the kind of order when the event is its `OrderPlaced`.
    pub fn next_event(&mut self, now: i64) -> (OrderEvent, Option<Kind>) {
        while self.in_flight.len() < self.concurrent {
            let order = self.new_order();
            self.in_flight.push(order);
        }
        let index = self.rng.random_range(0..self.in_flight.len());
        let event_id = self.uuid();
        let order = &mut self.in_flight[index];
        let payload = order
            .steps
            .pop_front()
            .expect("orders in flight have steps");
        let kind = matches!(payload, Payload::OrderPlaced(_)).then_some(order.kind);
        let event = OrderEvent {
            event_id,
            order_id: order.id.clone(),
            customer_id: order.customer.clone(),
            occurred_at: now,
            source: source_of(&payload).to_owned(),
            payload,
        };
        if self.in_flight[index].steps.is_empty() {
            self.in_flight.swap_remove(index);
        }
        (event, kind)
    }

    fn uuid(&mut self) -> String {
        uuid::Builder::from_random_bytes(self.rng.random())
            .into_uuid()
            .to_string()
    }

    fn new_order(&mut self) -> Order {
        self.next_order += 1;
        let id = format!("ord-{}-{:07}", self.run, self.next_order);
        let customer = format!("cus-{:05}", self.rng.random_range(0..20_000));
        let roll: f64 = self.rng.random();
        let kind = if roll < self.mix.invalid {
            Kind::Invalid
        } else if roll < self.mix.invalid + self.mix.risky {
            Kind::Risky
        } else {
            Kind::Normal
        };
        let mut placed = self.placed(&customer);
        match kind {
            Kind::Invalid => self.break_a_rule(&mut placed),
            Kind::Risky => self.make_risky(&mut placed),
            Kind::Normal => {}
        }
        let total = placed.total;
        let mut steps = VecDeque::from([Payload::OrderPlaced(placed)]);
        let payment_id = format!("pay-{}", self.rng.random::<u32>());
        let path: f64 = self.rng.random();
        if kind == Kind::Invalid {
            steps.push_back(cancelled("validation_failed", 0));
        } else if path < 0.08 {
            steps.push_back(Payload::PaymentFailed(PaymentFailed {
                payment_id,
                reason_code: pick(&mut self.rng, FAIL_REASONS).to_owned(),
            }));
            steps.push_back(cancelled("payment_failed", 0));
        } else {
            let currency = match &steps[0] {
                Payload::OrderPlaced(p) => p.currency.clone(),
                _ => unreachable!(),
            };
            steps.push_back(Payload::PaymentAuthorized(PaymentAuthorized {
                payment_id,
                amount: total,
                currency,
                method: pick(&mut self.rng, METHODS).to_owned(),
            }));
            if path < 0.15 {
                steps.push_back(cancelled("customer_request", total));
            } else {
                steps.push_back(Payload::OrderShipped(OrderShipped {
                    carrier: pick(&mut self.rng, CARRIERS).to_owned(),
                    tracking_number: format!("{:X}", self.rng.random::<u64>()),
                }));
                let signed = self
                    .rng
                    .random_bool(0.6)
                    .then(|| pick(&mut self.rng, NAMES).to_owned());
                steps.push_back(Payload::OrderDelivered(OrderDelivered {
                    signed_by: signed,
                }));
            }
        }
        Order {
            id,
            customer,
            kind,
            steps,
        }
    }

    fn placed(&mut self, customer: &str) -> OrderPlaced {
        let market = &MARKETS[self.rng.random_range(0..MARKETS.len())];
        let lines = self.rng.random_range(1..=4);
        let line_items: Vec<LineItem> = (0..lines)
            .map(|_| LineItem {
                sku: format!("SKU-{:05}", self.rng.random_range(0..5_000)),
                quantity: self.rng.random_range(1..=3),
                unit_price: self.rng.random_range(5..=120) * market.scale
                    + self.rng.random_range(0..market.scale),
            })
            .collect();
        let sum: i64 = line_items
            .iter()
            .map(|l| i64::from(l.quantity) * l.unit_price)
            .sum();
        let shipping = if sum > 50 * market.scale {
            0
        } else {
            5 * market.scale - 1
        };
        let tax = sum * market.tax_percent / 100;
        let discount = if self.rng.random_bool(0.15) {
            sum / 10
        } else {
            0
        };
        let (city, postal) = CITIES[self.rng.random_range(0..CITIES.len())];
        let name = pick(&mut self.rng, NAMES);
        let local: String = name.split(' ').next().unwrap_or("user").to_lowercase();
        OrderPlaced {
            line_items,
            currency: market.currency.to_owned(),
            shipping,
            tax,
            discount,
            total: sum + shipping + tax - discount,
            shipping_address: Address {
                recipient: name.to_owned(),
                line1: format!("{} Main Street", self.rng.random_range(1..300)),
                line2: self
                    .rng
                    .random_bool(0.2)
                    .then(|| format!("Apt {}", self.rng.random_range(1..50))),
                city: city.to_owned(),
                postal_code: postal.to_owned(),
                region: None,
                country: market.country.to_owned(),
            },
            billing_country: market.country.to_owned(),
            customer_email: format!(
                "{local}.{}@{}",
                &customer[4..],
                pick(&mut self.rng, DOMAINS)
            ),
            new_customer: self.rng.random_bool(0.2),
            sales_channel: match self.rng.random_range(0..4) {
                0 => SalesChannel::MobileApp,
                1 => SalesChannel::Marketplace,
                _ => SalesChannel::Web,
            },
        }
    }

    fn break_a_rule(&mut self, order: &mut OrderPlaced) {
        match self.rng.random_range(0..8) {
            0 => order.total += 1,
            1 => order.currency = order.currency.to_lowercase(),
            2 => order.currency = "XYZ".into(),
            3 => {
                order.line_items.clear();
                order.total = order.shipping + order.tax - order.discount;
            }
            4 => order.line_items[0].quantity = 0,
            5 => order.customer_email = "not-an-email".into(),
            6 => order.shipping_address.country = "XX".into(),
            _ => order.shipping_address.city = String::new(),
        }
    }

    fn make_risky(&mut self, order: &mut OrderPlaced) {
        match self.rng.random_range(0..5) {
            0 => scale_up(order, 40),
            1 => {
                order.new_customer = true;
                scale_up(order, 12);
            }
            2 => {
                order.billing_country = if order.billing_country == "US" {
                    "NG".into()
                } else {
                    "US".into()
                }
            }
            3 => {
                order.line_items[0].quantity = 60;
                recompute(order);
            }
            _ => {
                let domain = pick(&mut self.rng, DISPOSABLE);
                let local = order
                    .customer_email
                    .split('@')
                    .next()
                    .unwrap_or("x")
                    .to_owned();
                order.customer_email = format!("{local}@{domain}");
            }
        }
    }
}

fn scale_up(order: &mut OrderPlaced, factor: i32) {
    for line in &mut order.line_items {
        line.quantity = (line.quantity * factor).min(999);
    }
    recompute(order);
}

fn recompute(order: &mut OrderPlaced) {
    let sum: i64 = order
        .line_items
        .iter()
        .map(|l| i64::from(l.quantity) * l.unit_price)
        .sum();
    order.discount = order.discount.min(sum);
    order.total = sum + order.shipping + order.tax - order.discount;
}

fn cancelled(reason: &str, refund: i64) -> Payload {
    Payload::OrderCancelled(OrderCancelled {
        reason: reason.to_owned(),
        refund_amount: refund,
    })
}

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items[rng.random_range(0..items.len())]
}

fn source_of(payload: &Payload) -> &'static str {
    match payload {
        Payload::OrderPlaced(_) | Payload::OrderCancelled(_) => "shop-frontend",
        Payload::PaymentAuthorized(_) | Payload::PaymentFailed(_) => "payment-service",
        Payload::OrderShipped(_) | Payload::OrderDelivered(_) => "warehouse",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn run(seed: u64, events: usize) -> Vec<(OrderEvent, Option<Kind>)> {
        let mut generator = Generator::new(
            seed,
            50,
            Mix {
                invalid: 0.1,
                risky: 0.1,
            },
        );
        (0..events)
            .map(|i| generator.next_event(i as i64))
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_events() {
        let (a, b) = (run(7, 500), run(7, 500));
        assert!(a.iter().zip(&b).all(|(x, y)| x.0 == y.0));
        assert_ne!(run(8, 10)[0].0.order_id, a[0].0.order_id);
    }

    #[test]
    fn every_order_starts_placed_and_its_steps_follow_a_lifecycle() {
        let mut steps: HashMap<String, Vec<&'static str>> = HashMap::new();
        for (event, _) in run(1, 20_000) {
            steps
                .entry(event.order_id.clone())
                .or_default()
                .push(event.payload.type_name());
        }
        for (order, steps) in &steps {
            assert_eq!(steps[0], "OrderPlaced", "{order}: {steps:?}");
            for pair in steps.windows(2) {
                let allowed = match pair[0] {
                    "OrderPlaced" => {
                        ["PaymentAuthorized", "PaymentFailed", "OrderCancelled"].contains(&pair[1])
                    }
                    "PaymentAuthorized" => ["OrderShipped", "OrderCancelled"].contains(&pair[1]),
                    "PaymentFailed" => pair[1] == "OrderCancelled",
                    "OrderShipped" => pair[1] == "OrderDelivered",
                    _ => false,
                };
                assert!(allowed, "{order}: {steps:?}");
            }
        }
    }

    #[test]
    fn shares_of_invalid_and_risky_orders_follow_the_mix() {
        let placed: Vec<Kind> = run(3, 50_000)
            .into_iter()
            .filter_map(|(_, kind)| kind)
            .collect();
        let share =
            |k: Kind| placed.iter().filter(|x| **x == k).count() as f64 / placed.len() as f64;
        assert!(
            (share(Kind::Invalid) - 0.1).abs() < 0.02,
            "{}",
            share(Kind::Invalid)
        );
        assert!(
            (share(Kind::Risky) - 0.1).abs() < 0.02,
            "{}",
            share(Kind::Risky)
        );
    }

    #[test]
    fn normal_orders_add_up() {
        for (event, kind) in run(5, 5_000) {
            if let (Payload::OrderPlaced(p), Some(Kind::Normal)) = (&event.payload, kind) {
                let lines: i64 = p
                    .line_items
                    .iter()
                    .map(|l| i64::from(l.quantity) * l.unit_price)
                    .sum();
                assert_eq!(p.total, lines + p.shipping + p.tax - p.discount);
            }
        }
    }
}
