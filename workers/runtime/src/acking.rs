//! At-least-once: an input's offset is stored only when every record of that input and
//! of every earlier input of its partition is acknowledged (see [`crate::offsets`]);
//! librdkafka commits stored offsets every commit interval, and the committer commits
//! synchronously on revoke and at shutdown.
//!
//! A record the broker refuses for good becomes a dead letter of its input; one that
//! failed for a retriable reason (after librdkafka's own retries) is sent again, a
//! bounded number of times, then the worker stops: its offset was never committed, so
//! nothing is lost.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use tokio::sync::Notify;

use crate::client_call::{CallError, blocking_call};
use crate::committer::{Committer, Pending, StartCounts, records_within_limits};
use crate::consumer::ConsumerCallbacks;
use crate::error::RuntimeError;
use crate::kafka_errors::{Next, Stage, classify};
use crate::message::Prepared;
use crate::metrics::WorkerMetrics;
use crate::offsets::{PartitionOffsets, offsets_list, offsets_list_counting};
use crate::producer::{AckSink, FailedDelivery, PendingInput, Tag, WorkerProducer, send};
use crate::shared::Shared;
use crate::topics::RecordLimits;

/// Times one input's records are sent again before the worker gives up.
const MAX_REDELIVERIES: u32 = 5;
/// How long a revoke or shutdown waits for acknowledgements.
const ACK_WAIT: Duration = Duration::from_secs(30);
/// How long a commit refused for a passing state of the group is made again.
const COMMIT_RETRY: Duration = Duration::from_secs(10);

/// Acknowledgement state shared with the producer's delivery callbacks.
pub(crate) struct Acks {
    partitions: Mutex<HashMap<i32, PartitionOffsets>>,
    failures: Mutex<Vec<FailedDelivery>>,
    changed: Notify,
    shared: Arc<Shared>,
}

impl Acks {
    pub fn new(shared: Arc<Shared>) -> Arc<Acks> {
        Arc::new(Acks {
            partitions: Mutex::new(HashMap::new()),
            failures: Mutex::new(Vec::new()),
            changed: Notify::new(),
            shared,
        })
    }

    fn metrics(&self) -> &WorkerMetrics {
        &self.shared.metrics
    }

    fn in_flight(&self, partitions: Option<&[i32]>) -> usize {
        let tracked = self.partitions.lock().expect("acks");
        tracked
            .iter()
            .filter(|(p, _)| partitions.is_none_or(|list| list.contains(p)))
            .map(|(_, offsets)| offsets.in_flight())
            .sum()
    }
}

impl AckSink for Acks {
    fn completed(&self, pending: &PendingInput) {
        let input = &pending.input;
        if let Some(offsets) = self
            .partitions
            .lock()
            .expect("acks")
            .get_mut(&input.partition)
        {
            offsets.complete(input.offset);
        }
        self.metrics()
            .delivered(pending.records, pending.bytes, input.timestamp.as_slice());
        self.changed.notify_waiters();
    }

    fn failed(&self, failure: FailedDelivery) {
        self.failures.lock().expect("acks").push(failure);
        self.changed.notify_waiters();
    }
}

/// The at-least-once committer.
pub(crate) struct AckingCommitter {
    producer: Arc<WorkerProducer>,
    consumer: Arc<BaseConsumer<ConsumerCallbacks>>,
    shared: Arc<Shared>,
    acks: Arc<Acks>,
    limits: RecordLimits,
    /// Offsets stored with the consumer, by partition.
    stored: HashMap<i32, i64>,
    since_store: usize,
    /// Checkpoints waiting for their commit, and counts of starts to clear.
    counts: StartCounts,
}

impl AckingCommitter {
    pub fn new(
        producer: Arc<WorkerProducer>,
        consumer: Arc<BaseConsumer<ConsumerCallbacks>>,
        shared: Arc<Shared>,
        acks: Arc<Acks>,
        limits: RecordLimits,
    ) -> Self {
        AckingCommitter {
            producer,
            consumer,
            shared,
            acks,
            limits,
            stored: HashMap::new(),
            since_store: 0,
            counts: StartCounts::default(),
        }
    }

    /// Sends failed records again, or their inputs' dead letters.
    async fn handle_failures(&mut self) -> Result<(), RuntimeError> {
        let failures = std::mem::take(&mut *self.acks.failures.lock().expect("acks"));
        for failure in failures {
            let input = &failure.pending.input;
            let attempts = failure.pending.redeliveries.fetch_add(1, Ordering::SeqCst) + 1;
            if attempts > MAX_REDELIVERIES {
                return Err(RuntimeError::Delivery {
                    partition: input.partition,
                    offset: input.offset,
                    attempts,
                    reason: failure.error,
                });
            }
            // The replacement takes the failed record's place among the input's
            // outstanding records: its acknowledgement completes the input.
            let record = if failure.permanent {
                let mut letter = self.shared.dead_letters.replacing_outputs(
                    &self.shared.metrics,
                    input,
                    failure.error,
                );
                self.limits.fit(&mut letter);
                letter
            } else {
                failure.record
            };
            let tag = Box::new(Tag::Tracked(failure.pending.clone()));
            if let Err((error, _)) = send(&self.producer, &record, tag).await {
                return Err(RuntimeError::kafka("producing", error));
            }
        }
        Ok(())
    }

    /// Stores the watermark of every partition that advanced.
    fn store(&mut self, only: Option<&[i32]>) -> HashMap<i32, i64> {
        let mut advanced = HashMap::new();
        for (partition, offsets) in self.acks.partitions.lock().expect("acks").iter() {
            if only.is_some_and(|list| !list.contains(partition)) {
                continue;
            }
            if let Some(watermark) = offsets.watermark()
                && self.stored.get(partition) != Some(&watermark)
            {
                advanced.insert(*partition, watermark);
            }
        }
        if !advanced.is_empty() {
            let list = offsets_list(&self.shared.input_topic, &advanced);
            if let Err(error) = self.consumer.store_offsets(&list) {
                // A partition revoked meanwhile refuses the store: its next owner
                // processes the unstored messages again, as at-least-once allows.
                tracing::debug!(%error, "storing offsets");
            }
            self.stored.extend(advanced.iter().map(|(p, o)| (*p, *o)));
        }
        self.since_store = 0;
        advanced
    }

    /// Waits until the records of `partitions` (all when `None`) are acknowledged.
    async fn settle(&mut self, partitions: Option<&[i32]>) -> Result<(), RuntimeError> {
        let deadline = tokio::time::Instant::now() + ACK_WAIT;
        loop {
            self.handle_failures().await?;
            if self.acks.in_flight(partitions) == 0 {
                return Ok(());
            }
            let changed = self.acks.changed.notified();
            if tokio::time::timeout_at(deadline, changed).await.is_err()
                && self.acks.in_flight(partitions) > 0
            {
                tracing::warn!(
                    worker = self.shared.config.identity.name,
                    in_flight = self.acks.in_flight(partitions),
                    "records still unacknowledged; their inputs will be processed again"
                );
                return Ok(());
            }
        }
    }

    async fn commit_sync(&mut self, offsets: &HashMap<i32, i64>) -> bool {
        self.commit_counting(offsets, &HashMap::new()).await
    }

    /// Commits `offsets` now, recording counts of starts for the partitions in
    /// `starts`; the others' counts are cleared. A commit refused while the group is
    /// between two generations (a member joining or leaving: the broker answers
    /// REBALANCE_IN_PROGRESS until every member has synced, and ILLEGAL_GENERATION to
    /// a member that has not yet learned the new one) or while its coordinator moves is
    /// made again ([`blocking_call`]), for up to [`COMMIT_RETRY`] and while the
    /// assignment is not lost: a stop or revoke that gave up instead would leave its
    /// acknowledged work to be processed again by the next owner.
    async fn commit_counting(
        &mut self,
        offsets: &HashMap<i32, i64>,
        starts: &HashMap<i32, u32>,
    ) -> bool {
        if offsets.is_empty() {
            return true;
        }
        let list = offsets_list_counting(&self.shared.input_topic, offsets, starts);
        let consumer = self.consumer.clone();
        let started = Instant::now();
        let committed = blocking_call(
            "committing offsets",
            Stage::Commit,
            Some(COMMIT_RETRY),
            move || {
                // Once the assignment is lost, no retry can commit.
                if consumer.assignment_lost() {
                    return Err(KafkaError::ConsumerCommit(RDKafkaErrorCode::AssignmentLost));
                }
                consumer.commit(&list, CommitMode::Sync)
            },
        )
        .await;
        self.shared.metrics.offset_commit_took(started.elapsed());
        let ok = match committed {
            Ok(()) => true,
            Err(CallError::Abortable(reason) | CallError::Fatal(reason)) => {
                tracing::warn!(
                    worker = self.shared.config.identity.name,
                    %reason,
                    "offsets not committed; the next owner of their partitions processes \
                     the messages after the last committed offset again"
                );
                false
            }
        };
        self.shared.metrics.offsets_committed(ok);
        if ok {
            self.counts.committed(offsets, starts);
        }
        ok
    }

    /// Commits each checkpoint's partition once its records are acknowledged, with its
    /// count of starts, and answers whoever waits.
    async fn checkpoint(&mut self) -> Result<(), RuntimeError> {
        for (partition, checkpoint) in self.counts.take_checkpoints() {
            self.settle(Some(&[partition])).await?;
            self.store(Some(&[partition]));
            let Some(offset) = self.stored.get(&partition).copied() else {
                continue;
            };
            let offsets = HashMap::from([(partition, offset)]);
            if self
                .commit_counting(&offsets, &HashMap::from([(partition, checkpoint.starts)]))
                .await
            {
                let _ = checkpoint.done.send(());
            }
        }
        Ok(())
    }
}

impl Committer for AckingCommitter {
    async fn accept(&mut self, mut item: Prepared) -> Result<(), RuntimeError> {
        if !self.shared.assignment().contains_key(&item.partition) {
            // The partition was lost; its new owner processes the message again.
            return Ok(());
        }
        let records = records_within_limits(&mut item, &self.limits, &self.shared);
        self.acks
            .partitions
            .lock()
            .expect("acks")
            .entry(item.partition)
            .or_default()
            .track(item.offset);
        let pending = Arc::new(PendingInput {
            input: item.input.clone(),
            remaining: AtomicUsize::new(records.len()),
            records: records.len() as u64,
            bytes: records.iter().map(|r| r.size() as u64).sum(),
            redeliveries: AtomicU32::new(0),
        });
        if records.is_empty() {
            self.acks.completed(&pending);
        }
        for record in &records {
            if let Err((error, _)) = send(
                &self.producer,
                record,
                Box::new(Tag::Tracked(pending.clone())),
            )
            .await
            {
                // No transaction to abort and no producer to replace: the inputs are read
                // again after the restart.
                if classify(&error, Stage::Send) != Next::DeadLetter {
                    return Err(RuntimeError::kafka("producing", error));
                }
                self.acks.failed(FailedDelivery {
                    pending: pending.clone(),
                    record: record.clone(),
                    permanent: true,
                    error: format!("the client refused an output: {error}"),
                });
            }
        }
        self.counts.keep_checkpoint(&mut item);
        self.since_store += 1;
        Ok(())
    }

    fn pending(&self) -> Pending {
        Pending {
            messages: self.since_store,
            checkpoints: self.counts.checkpoints(),
        }
    }

    async fn commit(&mut self) -> Result<(), RuntimeError> {
        self.handle_failures().await?;
        self.checkpoint().await?;
        self.store(None);
        Ok(())
    }

    async fn revoke(&mut self, partitions: &[i32], lost: bool) -> Result<(), RuntimeError> {
        if !lost {
            self.settle(Some(partitions)).await?;
            let stored = self.store(Some(partitions));
            let mut finals: HashMap<i32, i64> = partitions
                .iter()
                .filter_map(|p| self.stored.get(p).map(|o| (*p, *o)))
                .collect();
            finals.extend(stored);
            let counted = self.counts.to_clear(Some(partitions), &finals);
            finals.extend(counted);
            self.commit_sync(&finals).await;
        }
        self.counts.forget(partitions);
        let mut tracked = self.acks.partitions.lock().expect("acks");
        for partition in partitions {
            tracked.remove(partition);
            self.stored.remove(partition);
        }
        Ok(())
    }

    async fn close(&mut self) -> Result<(), RuntimeError> {
        let producer = self.producer.clone();
        let _ = tokio::task::spawn_blocking(move || {
            use rdkafka::producer::Producer;
            producer.flush(ACK_WAIT)
        })
        .await;
        self.settle(None).await?;
        self.checkpoint().await?;
        self.store(None);
        let mut finals = self.stored.clone();
        let counted = self.counts.to_clear(None, &finals);
        finals.extend(counted);
        self.commit_sync(&finals).await;
        Ok(())
    }
}
