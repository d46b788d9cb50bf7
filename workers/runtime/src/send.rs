//! Sending a set of records outside a worker (the CLI's `produce`, `dlq replay`): an
//! idempotent producer, every record sent, every acknowledgement waited for.
//!
//! The result is per record, in the order given, so the caller can say which were not
//! written; a record the client refuses at once (too large, queue full) stops the send
//! before anything later is queued.

use std::time::Duration;

use rdkafka::error::KafkaError;
use rdkafka::message::ToBytes;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};

use crate::error::RuntimeError;
use crate::kafka::{KafkaSettings, Role, Watched};

/// How long the final flush waits for acknowledgements still outstanding.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// An idempotent producer: acknowledged by every in-sync replica (`acks=all`), no
/// duplicate on the client's own retries. Watched for a client left without brokers
/// (see [`Watched`]).
pub fn idempotent_producer(
    settings: &KafkaSettings,
) -> Result<Watched<FutureProducer>, RuntimeError> {
    let producer: FutureProducer = settings
        .config_for(
            Role::Producer,
            &[
                ("enable.idempotence", "true"),
                ("acks", "all"),
                ("linger.ms", "5"),
            ],
        )
        .create()
        .map_err(|e| RuntimeError::kafka("creating the producer", e))?;
    Ok(Watched::new(settings, "producer", producer, |p| p.client()))
}

/// Why one record was not written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotWritten {
    /// The broker (or the client's timeout) refused it.
    #[error("{0}")]
    Refused(KafkaError),
    /// The producer was dropped before it reported.
    #[error("the producer went away")]
    Dropped,
}

/// Sends every record of `records` and waits for each acknowledgement, then for the
/// producer's queue to empty. Returns one result per record, in order; an error when
/// a record could not even be queued or the final flush ran out of time.
pub async fn send_all<'a, K, P>(
    producer: &FutureProducer,
    records: impl IntoIterator<Item = FutureRecord<'a, K, P>>,
) -> Result<Vec<Result<(), NotWritten>>, RuntimeError>
where
    K: ToBytes + ?Sized + 'a,
    P: ToBytes + ?Sized + 'a,
{
    let mut deliveries = Vec::new();
    for record in records {
        let delivery = producer
            .send_result(record)
            .map_err(|(error, _)| RuntimeError::kafka("producing", error))?;
        deliveries.push(delivery);
    }
    let mut outcomes = Vec::with_capacity(deliveries.len());
    for delivery in deliveries {
        outcomes.push(match delivery.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err((error, _))) => Err(NotWritten::Refused(error)),
            Err(_) => Err(NotWritten::Dropped),
        });
    }
    // Every record is acknowledged by now: the flush has nothing left to wait for.
    producer
        .flush(FLUSH_TIMEOUT)
        .map_err(|e| RuntimeError::kafka("waiting for acknowledgements", e))?;
    Ok(outcomes)
}
