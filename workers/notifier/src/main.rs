use std::process::ExitCode;

fn main() -> ExitCode {
    orderflow_runtime::worker_main_with_routes::<notifier::Notifier>(
        "Publishes a NotificationRequested event for every order step the customer hears \
         about, and a UserNotificationRequested event for every account event the user \
         hears about (--users-input-topic).",
        &[orderflow_runtime::route::<notifier::UserNotifier>("users")],
    )
}
