//! Exactly-once: outputs, dead letters and input offsets in one Kafka transaction.
//!
//! The committer opens a transaction at the first record after a commit, writes every
//! record into it, and commits with the consumer's group metadata (so a zombie that
//! lost its partitions is fenced by the group generation, KIP-447). Transaction calls
//! block, so they run on the blocking pool, never on the executor threads.
//!
//! Errors, as librdkafka sorts them: a retriable error repeats the call; an abortable
//! one aborts the transaction and rewinds every partition to its last committed offset
//! (the aborted records were never visible to `read_committed` readers); a fatal one
//! (fenced, not authorized) stops the worker.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::producer::Producer;

use crate::committer::Committer;
use crate::consumer::{ConsumerCallbacks, offsets_list, request_rewind};
use crate::error::RuntimeError;
use crate::message::{OutputRecord, Prepared};
use crate::partition::dead_letter_instead;
use crate::producer::{Tag, WorkerProducer, is_fatal, is_permanent, send};
use crate::shared::Shared;
use crate::topics::RecordLimits;

/// Aborts in a row, without a commit in between, that stop the worker.
const MAX_CONSECUTIVE_ABORTS: u32 = 10;
/// Attempts of a transaction call that fails with a retriable error.
const CALL_ATTEMPTS: u32 = 12;

/// The exactly-once committer.
pub(crate) struct TransactionalCommitter {
    producer: Arc<WorkerProducer>,
    consumer: Arc<BaseConsumer<ConsumerCallbacks>>,
    shared: Arc<Shared>,
    limits: RecordLimits,
    /// Number of the open (or last) transaction.
    transaction: u64,
    open: bool,
    /// Next offset to commit, by partition.
    offsets: HashMap<i32, i64>,
    messages: usize,
    records: u64,
    timestamps: Vec<i64>,
    consecutive_aborts: u32,
}

impl TransactionalCommitter {
    pub fn new(
        producer: Arc<WorkerProducer>,
        consumer: Arc<BaseConsumer<ConsumerCallbacks>>,
        shared: Arc<Shared>,
        limits: RecordLimits,
    ) -> Self {
        TransactionalCommitter {
            producer,
            consumer,
            shared,
            limits,
            transaction: 0,
            open: false,
            offsets: HashMap::new(),
            messages: 0,
            records: 0,
            timestamps: Vec::new(),
            consecutive_aborts: 0,
        }
    }

    fn begin(&mut self) -> Result<(), RuntimeError> {
        self.transaction += 1;
        self.producer.context().begin_transaction(self.transaction);
        self.producer
            .begin_transaction()
            .map_err(|e| RuntimeError::Fatal(format!("cannot begin a transaction: {e}")))?;
        self.open = true;
        Ok(())
    }

    fn reset(&mut self) {
        self.open = false;
        self.offsets.clear();
        self.messages = 0;
        self.records = 0;
        self.timestamps.clear();
    }

    /// Aborts the open transaction and rewinds every partition to its committed offset.
    async fn abort_and_rewind(&mut self, reason: String) -> Result<(), RuntimeError> {
        self.consecutive_aborts += 1;
        if self.consecutive_aborts > MAX_CONSECUTIVE_ABORTS {
            return Err(RuntimeError::Fatal(format!(
                "{MAX_CONSECUTIVE_ABORTS} transactions in a row aborted; last reason: {reason}"
            )));
        }
        self.shared.metrics.transaction_aborted(&reason);
        tracing::debug!(
            worker = self.shared.config.identity.name,
            transaction = self.transaction,
            discarded = ?self.offsets,
            "aborting"
        );
        if self.open {
            let producer = self.producer.clone();
            let timeout = self.shared.config.transaction_timeout;
            blocking_call("aborting the transaction", move || {
                producer.abort_transaction(timeout)
            })
            .await
            .map_err(|e| match e {
                CallError::Abortable(message) | CallError::Fatal(message) => {
                    RuntimeError::Fatal(message)
                }
            })?;
        }
        self.reset();
        let (shared, consumer) = (self.shared.clone(), self.consumer.clone());
        tokio::task::spawn_blocking(move || request_rewind(&shared, &consumer))
            .await
            .map_err(|e| RuntimeError::Fatal(format!("rewind task failed: {e}")))?
            .map_err(|e| RuntimeError::Fatal(format!("cannot rewind after an abort: {e}")))
    }

    /// The records to write for `item`: its own, or a dead letter when one of them is
    /// larger than its topic accepts (the broker would refuse it and doom the
    /// transaction).
    fn records_within_limits(
        &self,
        item: &Prepared,
        records: Vec<OutputRecord>,
    ) -> Vec<OutputRecord> {
        match records.iter().find(|r| r.size() > self.limits.of(&r.topic)) {
            None => records,
            Some(too_large) => {
                let reason = format!(
                    "an output of {} bytes exceeds the {}-byte limit of topic {}",
                    too_large.size(),
                    self.limits.of(&too_large.topic),
                    too_large.topic
                );
                let mut letter = dead_letter_instead(&self.shared, &item.input, reason);
                self.limits.fit(&mut letter);
                vec![letter]
            }
        }
    }
}

impl Committer for TransactionalCommitter {
    async fn accept(&mut self, mut item: Prepared) -> Result<(), RuntimeError> {
        if item.generation != self.shared.generation() {
            return Ok(());
        }
        if !self.open {
            self.begin()?;
        }
        let records = std::mem::take(&mut item.records);
        let records = self.records_within_limits(&item, records);
        for record in &records {
            let tag = Box::new(Tag::Transaction {
                transaction: self.transaction,
                partition: item.partition,
                offset: item.offset,
            });
            if let Err((error, _)) = send(&self.producer, record, tag).await {
                if is_fatal(&error) {
                    return Err(RuntimeError::Fatal(format!("producing failed: {error}")));
                }
                if is_permanent(&error) {
                    self.shared.poison(
                        item.partition,
                        item.offset,
                        format!("the client refused an output: {error}"),
                    );
                }
                return self
                    .abort_and_rewind(format!("producing failed: {error}"))
                    .await;
            }
        }
        self.offsets.insert(item.partition, item.offset + 1);
        self.messages += 1;
        self.records += records.len() as u64;
        if let Some(timestamp) = item.timestamp {
            self.timestamps.push(timestamp);
        }
        Ok(())
    }

    fn due(&self) -> bool {
        self.messages >= self.shared.config.commit_max_messages
    }

    async fn commit(&mut self) -> Result<(), RuntimeError> {
        if !self.open {
            return Ok(());
        }
        if let Some(failure) = self.producer.context().take_transaction_failure() {
            return self.abort_and_rewind(failure).await;
        }
        let Some(metadata) = self.consumer.group_metadata() else {
            return self
                .abort_and_rewind("the consumer has no group metadata".into())
                .await;
        };
        let offsets = offsets_list(&self.shared.input_topic, &self.offsets);
        let producer = self.producer.clone();
        let timeout = self.shared.config.transaction_timeout;
        let sent = blocking_call("sending offsets to the transaction", {
            let producer = producer.clone();
            move || producer.send_offsets_to_transaction(&offsets, &metadata, timeout)
        })
        .await;
        let committed = match sent {
            Ok(()) => {
                blocking_call("committing the transaction", move || {
                    await_deliveries(&producer, timeout);
                    producer.commit_transaction(timeout)
                })
                .await
            }
            Err(error) => Err(error),
        };
        match committed {
            Ok(()) => {
                tracing::debug!(
                    worker = self.shared.config.identity.name,
                    transaction = self.transaction,
                    messages = self.messages,
                    offsets = ?self.offsets,
                    "transaction committed"
                );
                self.shared.metrics.transaction_committed();
                self.shared
                    .metrics
                    .delivered(self.records, &self.timestamps);
                self.consecutive_aborts = 0;
                self.reset();
                Ok(())
            }
            Err(CallError::Abortable(reason)) => {
                let reason = self
                    .producer
                    .context()
                    .take_transaction_failure()
                    .unwrap_or(reason);
                self.abort_and_rewind(reason).await
            }
            Err(CallError::Fatal(reason)) => Err(RuntimeError::Fatal(reason)),
        }
    }

    async fn revoke(&mut self, _partitions: &[i32], lost: bool) -> Result<(), RuntimeError> {
        if lost {
            // The partitions belong to another member now: nothing of this transaction
            // may commit (the broker would fence it anyway).
            if self.open {
                return self.abort_and_rewind("partitions lost".into()).await;
            }
            return Ok(());
        }
        self.commit().await
    }

    async fn close(&mut self) -> Result<(), RuntimeError> {
        self.commit().await
    }
}

/// Waits (bounded by `timeout`) until every record sent is acknowledged. The client's
/// own commit flushes first, but with the delivery reports served by another thread it
/// waits in steps of 100 ms; arriving with nothing outstanding skips that wait. A
/// zero-timeout flush also sends lingering batches at once.
fn await_deliveries(producer: &WorkerProducer, timeout: Duration) {
    let until = std::time::Instant::now() + timeout;
    while producer.flush(Duration::ZERO).is_err() && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// How a transaction call failed.
pub(crate) enum CallError {
    /// Abort the transaction and rewind.
    Abortable(String),
    /// Stop the worker.
    Fatal(String),
}

/// Runs a blocking transaction call on the blocking pool, repeating it while it fails
/// with a retriable error.
pub(crate) async fn blocking_call(
    what: &'static str,
    call: impl Fn() -> KafkaResult<()> + Send + Sync + 'static,
) -> Result<(), CallError> {
    let call = Arc::new(call);
    let mut attempt = 1;
    loop {
        let run = call.clone();
        let result = tokio::task::spawn_blocking(move || run())
            .await
            .map_err(|e| CallError::Fatal(format!("{what}: the call panicked: {e}")))?;
        let error = match result {
            Ok(()) => return Ok(()),
            Err(error) => error,
        };
        match &error {
            KafkaError::Transaction(inner) if inner.is_fatal() => {
                return Err(CallError::Fatal(format!("{what}: {error}")));
            }
            KafkaError::Transaction(inner) if inner.txn_requires_abort() => {
                return Err(CallError::Abortable(format!("{what}: {error}")));
            }
            KafkaError::Transaction(inner) if inner.is_retriable() && attempt < CALL_ATTEMPTS => {
                tracing::warn!(what, attempt, %error, "transaction call failed; retrying");
                tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                attempt += 1;
            }
            _ if is_fatal(&error) => return Err(CallError::Fatal(format!("{what}: {error}"))),
            _ => return Err(CallError::Abortable(format!("{what}: {error}"))),
        }
    }
}
