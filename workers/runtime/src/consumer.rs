//! The consumer client's callbacks: lag from librdkafka's statistics, and the sort of
//! client-level errors. Rebalance callbacks are in `rebalance`, the poll thread in
//! `poll_loop`, the exactly-once rewind in `rewind`.

use std::sync::{Arc, Mutex};

use rdkafka::client::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::statistics::Statistics;

use crate::error::RuntimeError;
use crate::kafka_errors::{Next, Stage, classify};
use crate::lifecycle::Phase;
use crate::shared::Shared;

/// Consumer callbacks: rebalances, statistics (lag), errors.
pub(crate) struct ConsumerCallbacks {
    shared: Mutex<Option<Arc<Shared>>>,
    pub(crate) worker: &'static str,
}

impl ConsumerCallbacks {
    pub fn new(worker: &'static str) -> ConsumerCallbacks {
        ConsumerCallbacks {
            shared: Mutex::new(None),
            worker,
        }
    }

    /// Connects the callbacks to the worker's state (the consumer exists first).
    pub fn attach(&self, shared: Arc<Shared>) {
        *self.shared.lock().expect("callbacks") = Some(shared);
    }

    pub(crate) fn shared(&self) -> Option<Arc<Shared>> {
        self.shared.lock().expect("callbacks").clone()
    }
}

impl ClientContext for ConsumerCallbacks {
    fn stats(&self, statistics: Statistics) {
        let Some(shared) = self.shared() else { return };
        let mut total = 0;
        let mut known = false;
        let mut lags = Vec::new();
        let (mut fetch_queue_messages, mut fetch_queue_bytes) = (0u64, 0u64);
        if let Some(topic) = statistics.topics.get(shared.input_topic.as_ref()) {
            for (id, partition) in &topic.partitions {
                if *id >= 0 && partition.desired {
                    fetch_queue_messages += partition.fetchq_cnt.max(0) as u64;
                    fetch_queue_bytes += partition.fetchq_size;
                }
                // Lag: from the next message to read to the last stable offset (what a
                // read_committed consumer can reach). Partition -1 is internal; only
                // assigned partitions count.
                if *id < 0 || !partition.desired || partition.ls_offset < 0 {
                    continue;
                }
                let position = [partition.app_offset, partition.committed_offset]
                    .into_iter()
                    .find(|offset| *offset >= 0);
                let Some(position) = position else { continue };
                let lag = (partition.ls_offset - position).max(0);
                lags.push((*id, lag));
                total += lag;
                known = true;
            }
        }
        shared.metrics.assigned_lag(&shared.input_topic, &lags);
        shared
            .metrics
            .fetch_queue(fetch_queue_messages, fetch_queue_bytes);
        shared.metrics.total_lag(if known { total } else { -1 });
    }

    fn error(&self, error: KafkaError, reason: &str) {
        report_client_error(self.shared().as_deref(), self.worker, &error, reason);
    }
}

/// Reports a client-level error as [`classify`] sorts it: what no retry cures stops
/// the worker (before the client ever connected, a TLS failure too: a wrong CA or host
/// name); the rest is logged, and librdkafka reconnects by itself.
pub(crate) fn report_client_error(
    shared: Option<&Shared>,
    worker: &str,
    error: &KafkaError,
    reason: &str,
) {
    let stage = match shared {
        Some(shared) if !shared.lifecycle.reached(Phase::Running) => Stage::Connecting,
        _ => Stage::Client,
    };
    match classify(error, stage) {
        // Nothing replaces a client here (a transactional producer's fatal error goes
        // to the committer before this).
        Next::Stop | Next::ReplaceProducer => {
            if let Some(shared) = shared {
                shared.fail(RuntimeError::kafka(
                    format!("Kafka client error: {reason}"),
                    error.clone(),
                ));
            } else {
                tracing::error!(worker, error = %error, reason, "Kafka client error");
            }
        }
        _ => match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::AllBrokersDown) => {
                tracing::warn!(worker, reason, "all brokers are down; reconnecting");
            }
            Some(RDKafkaErrorCode::BrokerTransportFailure) => {
                // librdkafka logs the connection failure itself; it reconnects with backoff.
                tracing::debug!(worker, reason, "broker connection failed");
            }
            _ => tracing::warn!(worker, error = %error, reason, "Kafka client error"),
        },
    }
}
