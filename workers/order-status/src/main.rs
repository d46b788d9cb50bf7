use std::process::ExitCode;

fn main() -> ExitCode {
    orderflow_runtime::worker_main::<order_status::OrderStatusWorker>(
        "Publishes an OrderStatusChanged event for every order-lifecycle event.",
    )
}
