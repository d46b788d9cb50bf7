//! The gateway's metrics: names and the one place they are recorded. Labels come from
//! fixed sets: a path the gateway serves (never the URL as sent) and the status code.

use std::time::Duration;

use metrics::{counter, describe_counter, describe_histogram, histogram};

/// HTTP requests answered, by `route` and `status`.
pub const REQUESTS: &str = "orderflow_gateway_requests_total";
/// Time from request to response, by `route`.
pub const REQUEST_DURATION: &str = "orderflow_gateway_request_duration_seconds";
/// Events in requests, by `route` and `outcome` (acknowledged, invalid, failed).
pub const EVENTS: &str = "orderflow_gateway_events_total";

/// Describes the metrics (once; the recorder keeps the first description).
pub fn describe() {
    describe_counter!(REQUESTS, "HTTP requests answered, by route and status.");
    describe_histogram!(
        REQUEST_DURATION,
        metrics::Unit::Seconds,
        "Time from request to response, by route."
    );
    describe_counter!(
        EVENTS,
        "Events received, by route and outcome (acknowledged, invalid, failed)."
    );
}

/// One answered request.
pub fn request(route: &'static str, status: u16, took: Duration) {
    counter!(REQUESTS, "route" => route, "status" => status.to_string()).increment(1);
    histogram!(REQUEST_DURATION, "route" => route).record(took.as_secs_f64());
}

/// `count` events of `route` that ended as `outcome`.
pub fn events(route: &'static str, outcome: &'static str, count: usize) {
    counter!(EVENTS, "route" => route, "outcome" => outcome).increment(count as u64);
}
