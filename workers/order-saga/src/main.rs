use std::process::ExitCode;

fn main() -> ExitCode {
    orderflow_runtime::worker_main::<order_saga::OrderSaga>(
        "Issues an OrderCommand (CancelOrder, RefundPayment, CloseOrder) for every order outcome that needs one.",
    )
}
