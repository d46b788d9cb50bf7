//! Exactly-once: outputs, dead letters and input offsets in one Kafka transaction.
//!
//! The committer opens a transaction at the first record after a commit, writes every
//! record into it, and commits with the consumer's group metadata (so a zombie that
//! lost its partitions is fenced by the group generation, KIP-447). Transaction calls
//! block, so they run on threads of their own (`client_call`), never on the executor
//! threads.
//!
//! Errors, as librdkafka sorts them: a retriable error repeats the call; an abortable
//! one aborts the transaction and rewinds every partition to its last committed offset
//! (the aborted records were never visible to `read_committed` readers); a fatal one
//! leaves the producer unusable. Most are cured by a new producer: fencing (the
//! coordinator bumped the epoch, as it does to a transaction that outlived
//! `transaction.timeout.ms` while a broker outage moved the coordinator), a
//! transaction the coordinator already ended (`INVALID_TXN_STATE` on the abort), and a
//! call left unanswered for the transaction timeout (the broker aborts the transaction
//! by then; the old producer may wait on a dead coordinator connection). Then
//! the committer replaces the producer in process: a new one, `init_transactions`
//! (which aborts whatever the old epoch left open), a rewind to the committed offsets,
//! and on. Correctness does not rest on the transactional id: the consumer group
//! generation fences zombies (KIP-447). Authorization failures stop the worker at once;
//! more than [`MAX_RENEWALS`] replacements in [`RENEWAL_WINDOW`] stop it too (another
//! live instance may be using the same transactional id).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::Producer;

use crate::client_call::{CallError, blocking_call};
use crate::committer::{Committer, Pending, StartCounts, records_within_limits};
use crate::consumer::ConsumerCallbacks;
use crate::error::RuntimeError;
use crate::kafka_errors::{Next, Stage, classify, classify_code};
use crate::message::Prepared;
use crate::offsets::offsets_list_counting;
use crate::producer::{Tag, WorkerProducer, send};
use crate::rewind::request_rewind;
use crate::shared::Shared;
use crate::topics::RecordLimits;

/// Aborts in a row, without a commit in between, that stop the worker.
const MAX_CONSECUTIVE_ABORTS: u32 = 10;
/// Fenced producers replaced within [`RENEWAL_WINDOW`] before the worker stops.
pub(crate) const MAX_RENEWALS: usize = 3;
/// See [`MAX_RENEWALS`].
pub(crate) const RENEWAL_WINDOW: Duration = Duration::from_secs(600);

/// Creates a producer attached to the worker (the first one, and each replacement).
pub(crate) type ProducerFactory =
    Arc<dyn Fn() -> Result<Arc<WorkerProducer>, RuntimeError> + Send + Sync>;

/// The exactly-once committer.
pub(crate) struct TransactionalCommitter {
    producer: Arc<WorkerProducer>,
    factory: ProducerFactory,
    /// The producer in use, where the engine finds it to release it at the end.
    current: Arc<Mutex<Arc<WorkerProducer>>>,
    /// When fenced producers were replaced, oldest first.
    renewals: VecDeque<Instant>,
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
    /// Bytes of those records.
    bytes: u64,
    timestamps: Vec<i64>,
    consecutive_aborts: u32,
    /// Checkpoints in the open transaction, and counts of starts to clear.
    counts: StartCounts,
}

impl TransactionalCommitter {
    pub fn new(
        producer: Arc<WorkerProducer>,
        factory: ProducerFactory,
        current: Arc<Mutex<Arc<WorkerProducer>>>,
        consumer: Arc<BaseConsumer<ConsumerCallbacks>>,
        shared: Arc<Shared>,
        limits: RecordLimits,
    ) -> Self {
        TransactionalCommitter {
            producer,
            factory,
            current,
            renewals: VecDeque::new(),
            consumer,
            shared,
            limits,
            transaction: 0,
            open: false,
            offsets: HashMap::new(),
            messages: 0,
            records: 0,
            bytes: 0,
            timestamps: Vec::new(),
            consecutive_aborts: 0,
            counts: StartCounts::default(),
        }
    }

    /// Opens a transaction; `Ok(false)` when the producer had to be replaced instead
    /// (everything read so far is stale after the rewind that goes with it).
    async fn begin(&mut self) -> Result<bool, RuntimeError> {
        self.transaction += 1;
        self.producer.context().begin_transaction(self.transaction);
        match self.producer.begin_transaction() {
            Ok(()) => {
                self.open = true;
                Ok(true)
            }
            Err(error) => {
                self.producer_failed(format!("cannot begin a transaction: {error}"))
                    .await?;
                Ok(false)
            }
        }
    }

    /// A call failed in a way an abort cannot cure: the producer failed fatally, a call
    /// went unanswered for the transaction timeout, or the abort itself failed (refused,
    /// or timed out while the coordinator moved). Its
    /// transaction's fate is then unknown here; a new producer with the same
    /// transactional id settles it (its init waits for the coordinator to complete or
    /// abort whatever the old epoch left) before the rewind reads the committed offsets.
    /// Only a fatal error that a new producer cannot cure (authorization, versions)
    /// stops the worker.
    async fn producer_failed(&mut self, reason: String) -> Result<(), RuntimeError> {
        match self.producer.client().fatal_error() {
            Some((code, cause)) if classify_code(code, Stage::TransactionCall) == Next::Stop => {
                Err(RuntimeError::ProducerFatal {
                    context: reason,
                    code,
                    cause,
                })
            }
            Some((_, cause)) => self.renew(format!("{reason} ({cause})")).await,
            None => self.renew(reason).await,
        }
    }

    /// Replaces the failed producer: a new one with the same transactional id and a
    /// new epoch, then the rewind an abort would do.
    async fn renew(&mut self, reason: String) -> Result<(), RuntimeError> {
        let now = Instant::now();
        while self
            .renewals
            .front()
            .is_some_and(|at| now.duration_since(*at) >= RENEWAL_WINDOW)
        {
            self.renewals.pop_front();
        }
        if self.renewals.len() >= MAX_RENEWALS {
            return Err(RuntimeError::ProducerRenewals {
                renewals: self.renewals.len() + 1,
                within: RENEWAL_WINDOW,
                last: reason,
            });
        }
        self.renewals.push_back(now);
        self.shared.metrics.producer_renewed(&reason);
        let producer = (self.factory)()?;
        init_transactions(&producer, self.shared.config.transaction_timeout).await?;
        let fenced = std::mem::replace(&mut self.producer, producer.clone());
        *self.current.lock().expect("current producer") = producer;
        // Destroying a client waits for its outstanding requests: not on this task.
        std::thread::spawn(move || drop(fenced));
        self.reset();
        self.rewind().await
    }

    /// Rewinds every partition to its committed offset (see `rewind`).
    async fn rewind(&self) -> Result<(), RuntimeError> {
        let (shared, consumer) = (self.shared.clone(), self.consumer.clone());
        tokio::task::spawn_blocking(move || request_rewind(&shared, &consumer))
            .await
            .map_err(|source| RuntimeError::Task {
                task: "the rewind",
                source,
            })?
            .map_err(|e| RuntimeError::Rewind(e.to_string()))
    }

    fn reset(&mut self) {
        self.open = false;
        self.offsets.clear();
        self.messages = 0;
        self.records = 0;
        self.bytes = 0;
        self.timestamps.clear();
        // Dropped unanswered when the transaction aborted.
        self.counts.drop_checkpoints();
    }

    /// Commits the positions of `partitions` whose last commit recorded a count of
    /// starts, without it: a clean revoke or shutdown is no crash.
    async fn clear_counts(&mut self, partitions: Option<&[i32]>) -> Result<(), RuntimeError> {
        let clear = self.counts.to_clear(partitions, &self.offsets);
        if clear.is_empty() {
            return Ok(());
        }
        if !self.open && !self.begin().await? {
            return Ok(());
        }
        self.offsets.extend(clear);
        Ok(())
    }

    /// Aborts the open transaction and rewinds every partition to its committed offset.
    async fn abort_and_rewind(&mut self, reason: String) -> Result<(), RuntimeError> {
        self.consecutive_aborts += 1;
        if self.consecutive_aborts > MAX_CONSECUTIVE_ABORTS {
            return Err(RuntimeError::Aborts {
                aborts: MAX_CONSECUTIVE_ABORTS,
                last: reason,
            });
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
            let aborted = blocking_call(
                "aborting the transaction",
                Stage::TransactionCall,
                Some(timeout),
                move || producer.abort_transaction(timeout),
            )
            .await;
            if let Err(CallError::Abortable(message) | CallError::Fatal(message)) = aborted {
                // A fenced producer cannot abort; its replacement's init does.
                return self.producer_failed(message).await;
            }
        }
        self.reset();
        self.rewind().await
    }
}

impl Committer for TransactionalCommitter {
    async fn accept(&mut self, mut item: Prepared) -> Result<(), RuntimeError> {
        if item.rewind_epoch != self.shared.rewind_epoch() {
            return Ok(());
        }
        if !self.open && !self.begin().await? {
            return Ok(());
        }
        let records = records_within_limits(&mut item, &self.limits, &self.shared);
        for record in &records {
            let tag = Box::new(Tag::Transaction {
                transaction: self.transaction,
                partition: item.partition,
                offset: item.offset,
            });
            if let Err((error, _)) = send(&self.producer, record, tag).await {
                match classify(&error, Stage::Send) {
                    Next::Stop => return Err(RuntimeError::kafka("producing", error)),
                    Next::ReplaceProducer => {
                        return self
                            .producer_failed(format!("producing failed: {error}"))
                            .await;
                    }
                    Next::DeadLetter => self.shared.poison(
                        item.partition,
                        item.offset,
                        format!("the client refused an output: {error}"),
                    ),
                    Next::Retry | Next::AbortTransaction | Next::Ignore => {}
                }
                return self
                    .abort_and_rewind(format!("producing failed: {error}"))
                    .await;
            }
        }
        self.offsets.insert(item.partition, item.offset + 1);
        self.counts.keep_checkpoint(&mut item);
        self.messages += 1;
        self.records += records.len() as u64;
        self.bytes += records.iter().map(|r| r.size() as u64).sum::<u64>();
        if let Some(timestamp) = item.timestamp {
            self.timestamps.push(timestamp);
        }
        Ok(())
    }

    fn pending(&self) -> Pending {
        Pending {
            messages: self.messages,
            checkpoints: self.counts.checkpoints(),
        }
    }

    async fn commit(&mut self) -> Result<(), RuntimeError> {
        if !self.open {
            // An idle worker learns here that its producer failed (the client's error
            // callback leaves that to the committer).
            if self.producer.client().fatal_error().is_some() {
                return self
                    .producer_failed("the producer failed while idle".into())
                    .await;
            }
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
        let starts = self.counts.checkpoint_starts();
        let offsets = offsets_list_counting(&self.shared.input_topic, &self.offsets, &starts);
        let producer = self.producer.clone();
        let timeout = self.shared.config.transaction_timeout;
        let started = Instant::now();
        let sent = blocking_call(
            "sending offsets to the transaction",
            Stage::TransactionCall,
            Some(timeout),
            {
                let producer = producer.clone();
                move || producer.send_offsets_to_transaction(&offsets, &metadata, timeout)
            },
        )
        .await;
        let committed = match sent {
            Ok(()) => {
                blocking_call(
                    "committing the transaction",
                    Stage::TransactionCall,
                    Some(timeout),
                    move || {
                        await_deliveries(&producer, timeout);
                        producer.commit_transaction(timeout)
                    },
                )
                .await
            }
            Err(error) => Err(error),
        };
        self.shared
            .metrics
            .transaction_commit_took(started.elapsed());
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
                    .delivered(self.records, self.bytes, &self.timestamps);
                self.consecutive_aborts = 0;
                self.counts.committed(&self.offsets, &starts);
                self.counts.answer_checkpoints();
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
            Err(CallError::Fatal(reason)) => self.producer_failed(reason).await,
        }
    }

    async fn revoke(&mut self, partitions: &[i32], lost: bool) -> Result<(), RuntimeError> {
        if lost {
            // Another member owns them: their counts stay (a lost assignment is as good
            // as a crash to the next owner).
            self.counts.forget(partitions);
            // The partitions belong to another member now: nothing of this transaction
            // may commit. With no transaction open, results of the lost partitions may
            // still wait in the queue (their tasks are aborted, not drained): the
            // rewind makes them stale. Otherwise the next transaction would carry them
            // and commit offsets of partitions this member no longer owns, with a group
            // generation that a quick rejoin made valid again (KIP-447 checks the
            // generation, not the ownership).
            if self.open {
                return self.abort_and_rewind("partitions lost".into()).await;
            }
            return self.rewind().await;
        }
        self.clear_counts(Some(partitions)).await?;
        self.commit().await?;
        self.counts.forget(partitions);
        Ok(())
    }

    async fn close(&mut self) -> Result<(), RuntimeError> {
        self.clear_counts(None).await?;
        self.commit().await
    }
}

/// Waits (bounded by `timeout`) until every record sent is acknowledged. The client's
/// own commit flushes first, but with the delivery reports served by another thread it
/// waits in steps of 100 ms; arriving with nothing outstanding skips that wait. A
/// zero-timeout flush also sends lingering batches at once.
fn await_deliveries(producer: &WorkerProducer, timeout: Duration) {
    let until = Instant::now() + timeout;
    while producer.flush(Duration::ZERO).is_err() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Initialises transactions for a new producer: fences older epochs of its
/// transactional id and aborts what they left open.
pub(crate) async fn init_transactions(
    producer: &Arc<WorkerProducer>,
    timeout: Duration,
) -> Result<(), RuntimeError> {
    let producer = producer.clone();
    let timeout = timeout.max(Duration::from_secs(30));
    // No time budget: a new producer waits for the coordinator as long as it takes
    // (bounded by the attempts), whatever an outage left open.
    blocking_call(
        "initialising transactions",
        Stage::TransactionCall,
        None,
        move || producer.init_transactions(timeout),
    )
    .await
    .map_err(|e| match e {
        CallError::Abortable(reason) | CallError::Fatal(reason) => {
            RuntimeError::Transaction(reason)
        }
    })
}
