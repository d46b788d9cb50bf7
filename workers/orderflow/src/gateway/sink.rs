//! Where accepted events go: the Kafka producer (idempotent, `acks=all`), behind a
//! trait so the HTTP layer is tested without a broker.
//!
//! A request's records are queued in order and each acknowledgement is awaited; the
//! answer per record is its partition and offset, or why it was not written, sorted by
//! what the client should do: retry later (queue full, broker unreachable) or not.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use orderflow_runtime::kafka::{KafkaSettings, Watched};
use orderflow_runtime::send::idempotent_producer;
use orderflow_runtime::topics::describe_topic;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, Producer};

use crate::produce::Encoded;

/// Where one record was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
}

/// Why one record was not written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotWritten {
    /// The producer's queue is full: the client should retry later.
    QueueFull,
    /// The broker did not acknowledge in time or cannot be reached: retry later.
    Unavailable(String),
    /// The broker refused it for good (too large, not authorized, ...).
    Refused(String),
    /// Not sent: an earlier record of the request could not be queued.
    NotSent,
}

impl NotWritten {
    /// What to tell the client.
    pub fn message(&self) -> String {
        match self {
            NotWritten::QueueFull => "the producer queue is full".into(),
            NotWritten::Unavailable(error) => format!("Kafka is unavailable: {error}"),
            NotWritten::Refused(error) => format!("Kafka refused the event: {error}"),
            NotWritten::NotSent => "not sent: an earlier event of the request failed".into(),
        }
    }

    /// Whether the same request may succeed later.
    pub fn is_retriable(&self) -> bool {
        !matches!(self, NotWritten::Refused(_))
    }

    fn of(error: &KafkaError) -> NotWritten {
        use RDKafkaErrorCode as Code;
        match error.rdkafka_error_code() {
            Some(Code::QueueFull) => NotWritten::QueueFull,
            Some(
                Code::MessageTimedOut
                | Code::AllBrokersDown
                | Code::BrokerTransportFailure
                | Code::NotEnoughReplicas
                | Code::NotEnoughReplicasAfterAppend
                | Code::LeaderNotAvailable
                | Code::NotLeaderForPartition
                | Code::RequestTimedOut
                | Code::UnknownTopicOrPartition
                | Code::NetworkException,
            ) => NotWritten::Unavailable(error.to_string()),
            _ => NotWritten::Refused(error.to_string()),
        }
    }
}

/// The destination of accepted events.
pub trait EventSink: Send + Sync + 'static {
    /// Queues `records` for `topic` in order now and resolves, once each is acknowledged
    /// or failed, to one answer per record, in order.
    fn send(
        &self,
        topic: &str,
        records: &[Encoded],
    ) -> BoxFuture<'static, Vec<Result<Written, NotWritten>>>;

    /// `Ok` when every topic of the gateway is known to the producer's cluster; why not
    /// otherwise.
    fn ready(&self) -> Result<(), String>;

    /// Waits (at most `timeout`) for every queued record.
    fn flush(&self, timeout: Duration) -> Result<(), String>;
}

/// How often readiness reads the topics' metadata.
const METADATA_INTERVAL: Duration = Duration::from_secs(5);

/// The Kafka producer, and a task that keeps reading the topics' metadata.
pub struct KafkaSink {
    producer: Watched<FutureProducer>,
    readiness: Arc<Mutex<Result<(), String>>>,
    watch: tokio::task::JoinHandle<()>,
}

impl KafkaSink {
    /// An idempotent producer for `settings`, whose acknowledgements (or failures) come
    /// within `delivery_timeout` unless the user's `message.timeout.ms` says otherwise.
    pub fn start(
        settings: &KafkaSettings,
        delivery_timeout: Duration,
        topics: Vec<&'static str>,
    ) -> anyhow::Result<KafkaSink> {
        let mut settings = settings.clone();
        // First, so a --kafka-config or --command-config value applied later wins.
        settings.passthrough.insert(
            0,
            (
                "message.timeout.ms".into(),
                delivery_timeout.as_millis().max(1).to_string(),
            ),
        );
        let producer = idempotent_producer(&settings)?;
        let readiness = Arc::new(Mutex::new(Err("no metadata read yet".to_owned())));
        let watch = tokio::spawn(watch_metadata(
            (*producer).clone(),
            topics,
            readiness.clone(),
        ));
        Ok(KafkaSink {
            producer,
            readiness,
            watch,
        })
    }
}

impl Drop for KafkaSink {
    fn drop(&mut self) {
        self.watch.abort();
    }
}

/// Reads the metadata of `topics` every few seconds: ready while all are there.
async fn watch_metadata(
    producer: FutureProducer,
    topics: Vec<&'static str>,
    readiness: Arc<Mutex<Result<(), String>>>,
) {
    loop {
        let client = producer.clone();
        let topics = topics.clone();
        let found = tokio::task::spawn_blocking(move || {
            for topic in topics {
                match describe_topic(client.client(), topic, METADATA_INTERVAL) {
                    Ok(Some(_)) => {}
                    Ok(None) => return Err(format!("topic {topic} does not exist")),
                    Err(error) => return Err(format!("no metadata: {error}")),
                }
            }
            Ok(())
        })
        .await
        .unwrap_or_else(|e| Err(format!("metadata task failed: {e}")));
        if let Err(reason) = &found {
            tracing::warn!(reason, "gateway not ready");
        }
        *readiness.lock().expect("readiness") = found;
        tokio::time::sleep(METADATA_INTERVAL).await;
    }
}

impl EventSink for KafkaSink {
    fn send(
        &self,
        topic: &str,
        records: &[Encoded],
    ) -> BoxFuture<'static, Vec<Result<Written, NotWritten>>> {
        let mut deliveries = Vec::with_capacity(records.len());
        let mut refused = None;
        for record in records {
            match self.producer.send_result(record.to(topic)) {
                Ok(delivery) => deliveries.push(delivery),
                Err((error, _)) => {
                    // Nothing after it is queued: a later event of the same key must not
                    // overtake this one.
                    refused = Some(NotWritten::of(&error));
                    break;
                }
            }
        }
        let total = records.len();
        Box::pin(async move {
            let mut answers = Vec::with_capacity(total);
            for delivery in deliveries {
                answers.push(match delivery.await {
                    Ok(Ok(delivery)) => Ok(Written {
                        partition: delivery.partition,
                        offset: delivery.offset,
                    }),
                    Ok(Err((error, _))) => Err(NotWritten::of(&error)),
                    Err(_) => Err(NotWritten::Unavailable("the producer went away".into())),
                });
            }
            if let Some(refused) = refused {
                answers.push(Err(refused));
                answers.resize(total, Err(NotWritten::NotSent));
            }
            answers
        })
    }

    fn ready(&self) -> Result<(), String> {
        self.readiness.lock().expect("readiness").clone()
    }

    fn flush(&self, timeout: Duration) -> Result<(), String> {
        self.producer.flush(timeout).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_errors_are_sorted_by_what_the_client_should_do() {
        let produce = |code| NotWritten::of(&KafkaError::MessageProduction(code));
        assert_eq!(produce(RDKafkaErrorCode::QueueFull), NotWritten::QueueFull);
        for retriable in [
            RDKafkaErrorCode::MessageTimedOut,
            RDKafkaErrorCode::AllBrokersDown,
            RDKafkaErrorCode::NotEnoughReplicas,
            RDKafkaErrorCode::UnknownTopicOrPartition,
        ] {
            let sorted = produce(retriable);
            assert!(
                matches!(sorted, NotWritten::Unavailable(_)),
                "{retriable:?}"
            );
            assert!(sorted.is_retriable());
        }
        for permanent in [
            RDKafkaErrorCode::MessageSizeTooLarge,
            RDKafkaErrorCode::TopicAuthorizationFailed,
        ] {
            let sorted = produce(permanent);
            assert!(matches!(sorted, NotWritten::Refused(_)), "{permanent:?}");
            assert!(!sorted.is_retriable());
        }
    }
}
