//! A test-only worker: order-status, except for marked records. A record whose `source`
//! is `panic-here` panics in the processor; one whose source is `abort-here` aborts the
//! process, as an out-of-memory kill or a panic on a thread that cannot be caught
//! would. The integration tests use it to prove that neither stops a partition. One
//! whose source is `held-here` fails as transient (retried) until the file named by
//! `ORDERFLOW_TEST_RELEASE` exists: a partition held as long as a test wants.

use std::process::ExitCode;

use order_status::{OrderStatusWorker, StatusRules};
use orderflow_events::{OrderEvent, OrderStatusChanged};
use orderflow_runtime::{Input, Outcome, ProcessError, Processor};

struct MarkedRecordWorker(OrderStatusWorker);

impl Processor for MarkedRecordWorker {
    type Input = OrderEvent;
    type Output = OrderStatusChanged;
    type Rules = StatusRules;

    const NAME: &'static str = "marked-record-worker";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const OUTPUT_TOPIC: &'static str = "orders.status";

    fn new(rules: StatusRules) -> Result<Self, String> {
        OrderStatusWorker::new(rules).map(MarkedRecordWorker)
    }

    fn process(
        &self,
        input: &Input<'_, OrderEvent>,
    ) -> Result<Outcome<OrderStatusChanged>, ProcessError> {
        match input.event.source.as_str() {
            "panic-here" => panic!("marked record at offset {}", input.offset),
            "abort-here" => std::process::abort(),
            "held-here" if !released() => Err(ProcessError::Transient(format!(
                "held at offset {} until released",
                input.offset
            ))),
            _ => self.0.process(input),
        }
    }
}

/// Whether the test released held records.
fn released() -> bool {
    std::env::var_os("ORDERFLOW_TEST_RELEASE")
        .is_some_and(|path| std::path::Path::new(&path).exists())
}

fn main() -> ExitCode {
    orderflow_runtime::worker_main::<MarkedRecordWorker>(
        "Test-only: order-status that panics, aborts or waits on marked records.",
    )
}
