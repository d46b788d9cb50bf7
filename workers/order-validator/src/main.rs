use std::process::ExitCode;

fn main() -> ExitCode {
    orderflow_runtime::worker_main::<order_validator::OrderValidator>(
        "Validates every OrderPlaced and publishes OrderValidated or OrderRejected.",
    )
}
