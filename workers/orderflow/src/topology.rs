//! The topics of an orderflow deployment: the order lifecycle and the user-account
//! events, and per worker an output and a dead-letter topic (the notifier has a second
//! output, for the user notices).

use order_status::OrderStatusWorker;
use order_validator::OrderValidator;
use orderflow_runtime::Processor;

/// The order-lifecycle topic every worker reads.
pub const INPUT_TOPIC: &str = "orders.lifecycle";

/// The user-account topic the notifier also reads.
pub const USERS_TOPIC: &str = notifier::UserNotifier::INPUT_TOPIC;

/// Where the notifier writes the notices it derives from [`USERS_TOPIC`].
pub const USER_NOTIFICATIONS_TOPIC: &str = notifier::UserNotifier::OUTPUT_TOPIC;

/// One worker's topics.
#[derive(Debug, Clone, Copy)]
pub struct WorkerTopics {
    /// The worker's name.
    pub worker: &'static str,
    /// Its output topic.
    pub output: &'static str,
}

impl WorkerTopics {
    /// Its dead-letter topic.
    pub fn dlq(&self) -> String {
        format!("{}.dlq", self.worker)
    }
}

/// Every worker, in pipeline order.
pub const WORKERS: [WorkerTopics; 5] = [
    WorkerTopics {
        worker: OrderValidator::NAME,
        output: OrderValidator::OUTPUT_TOPIC,
    },
    WorkerTopics {
        worker: OrderStatusWorker::NAME,
        output: OrderStatusWorker::OUTPUT_TOPIC,
    },
    WorkerTopics {
        worker: notifier::Notifier::NAME,
        output: notifier::Notifier::OUTPUT_TOPIC,
    },
    WorkerTopics {
        worker: risk_scorer::RiskScorer::NAME,
        output: risk_scorer::RiskScorer::OUTPUT_TOPIC,
    },
    WorkerTopics {
        worker: order_saga::OrderSaga::NAME,
        output: order_saga::OrderSaga::OUTPUT_TOPIC,
    },
];

/// Every topic: the inputs, then each worker's output and dead-letter topic, then the
/// user notices.
pub fn all_topics() -> Vec<String> {
    let mut topics = vec![INPUT_TOPIC.to_owned(), USERS_TOPIC.to_owned()];
    for worker in WORKERS {
        topics.push(worker.output.to_owned());
        topics.push(worker.dlq());
    }
    topics.push(USER_NOTIFICATIONS_TOPIC.to_owned());
    topics
}

/// The schema folder of the records on `topic`, for topics of the default topology.
pub fn schema_of(topic: &str) -> Option<&'static str> {
    match topic {
        INPUT_TOPIC => Some("OrderEvent"),
        "orders.validation" => Some("OrderValidation"),
        "orders.status" => Some("OrderStatusChanged"),
        "notifications.requested" => Some("NotificationRequested"),
        "orders.risk" => Some("OrderRiskAssessed"),
        "orders.commands" => Some("OrderCommand"),
        USERS_TOPIC => Some("UserEvent"),
        USER_NOTIFICATIONS_TOPIC => Some("UserNotificationRequested"),
        _ => None,
    }
}
