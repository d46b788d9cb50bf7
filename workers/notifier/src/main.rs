use std::process::ExitCode;

fn main() -> ExitCode {
    orderflow_runtime::worker_main::<notifier::Notifier>(
        "Publishes a NotificationRequested event for every order step the customer hears about.",
    )
}
