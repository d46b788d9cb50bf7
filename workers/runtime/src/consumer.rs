//! The consumer side: the poll thread, rebalance callbacks and the exactly-once rewind.
//!
//! One OS thread owns the poll loop. It copies each message into its partition's
//! bounded queue; when a queue stays full (beyond a short wait), it keeps that one
//! message aside and pauses the partition (librdkafka stops fetching it and drops what
//! it prefetched), so memory stays bounded at any lag and a stuck partition does not
//! hold the others up. Rebalance callbacks run on this thread, inside
//! `poll`: a revoke hands the partitions' work to the committer and blocks until it
//! is committed (or aborted when the assignment was lost), before librdkafka gives
//! the partitions up.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::statistics::Statistics;
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio::sync::mpsc::error::TrySendError;
use tokio_util::sync::CancellationToken;

use crate::crash_loop::{self, Restart};
use crate::message::{InputMessage, Work};
use crate::shared::{Control, Shared, Slot};

/// How long the poll thread waits for room in a full partition queue before it pauses
/// the partition.
const QUEUE_WAIT: Duration = Duration::from_millis(100);
/// How often the poll thread looks for partitions whose position moved past records no
/// reader is given (see [`Work::Advance`]).
const ADVANCE_EVERY: Duration = Duration::from_secs(1);
/// How long a revoke may take to commit before the poll thread gives up waiting.
const REVOKE_TIMEOUT: Duration = Duration::from_secs(60);

/// Consumer callbacks: rebalances, statistics (lag), errors.
pub(crate) struct ConsumerCallbacks {
    shared: Mutex<Option<Arc<Shared>>>,
    worker: &'static str,
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

    fn shared(&self) -> Option<Arc<Shared>> {
        self.shared.lock().expect("callbacks").clone()
    }
}

impl ClientContext for ConsumerCallbacks {
    fn stats(&self, statistics: Statistics) {
        let Some(shared) = self.shared() else { return };
        let mut total = 0;
        let mut known = false;
        let mut lags = Vec::new();
        if let Some(topic) = statistics.topics.get(shared.input_topic.as_ref()) {
            for (id, partition) in &topic.partitions {
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
        shared.metrics.total_lag(if known { total } else { -1 });
    }

    fn error(&self, error: KafkaError, reason: &str) {
        report_client_error(self.shared().as_deref(), self.worker, &error, reason);
    }
}

/// Sorts a client-level error: authentication failures stop the worker; TLS failures
/// stop it before it ever connected (a wrong CA or host name), and are retried after
/// (a broker restarting); the rest is logged, librdkafka reconnects by itself.
pub(crate) fn report_client_error(
    shared: Option<&Shared>,
    worker: &str,
    error: &KafkaError,
    reason: &str,
) {
    let code = error.rdkafka_error_code();
    let fatal = match code {
        Some(RDKafkaErrorCode::Authentication) | Some(RDKafkaErrorCode::Fatal) => true,
        Some(RDKafkaErrorCode::SaslAuthenticationFailed)
        | Some(RDKafkaErrorCode::TopicAuthorizationFailed)
        | Some(RDKafkaErrorCode::GroupAuthorizationFailed)
        | Some(RDKafkaErrorCode::ClusterAuthorizationFailed)
        | Some(RDKafkaErrorCode::TransactionalIdAuthorizationFailed) => true,
        Some(RDKafkaErrorCode::SSL) => shared.is_some_and(|s| !s.connected.load(Ordering::SeqCst)),
        _ => false,
    };
    if fatal {
        if let Some(shared) = shared {
            shared.fail(format!("Kafka client error: {reason}"));
        } else {
            tracing::error!(worker, error = %error, reason, "Kafka client error");
        }
    } else if matches!(code, Some(RDKafkaErrorCode::AllBrokersDown)) {
        tracing::warn!(worker, reason, "all brokers are down; reconnecting");
    } else if matches!(code, Some(RDKafkaErrorCode::BrokerTransportFailure)) {
        // librdkafka logs the connection failure itself; it reconnects with backoff.
        tracing::debug!(worker, reason, "broker connection failed");
    } else {
        tracing::warn!(worker, error = %error, reason, "Kafka client error");
    }
}

impl ConsumerContext for ConsumerCallbacks {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Some(shared) = self.shared() else { return };
        match rebalance {
            Rebalance::Revoke(list) => {
                let lost = consumer.assignment_lost();
                let partitions = partitions_of(list, &shared.input_topic);
                revoke(&shared, consumer, partitions, lost);
            }
            Rebalance::Assign(_) => {}
            Rebalance::Error(error) => {
                tracing::error!(worker = self.worker, %error, "rebalance error")
            }
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Some(shared) = self.shared() else { return };
        if let Rebalance::Assign(list) = rebalance {
            let partitions = partitions_of(list, &shared.input_topic);
            let fresh: Vec<i32> = {
                let assignment = shared.assignment();
                partitions
                    .iter()
                    .copied()
                    .filter(|p| !assignment.contains_key(p))
                    .collect()
            };
            let mut restarts = restarts(consumer, &shared.input_topic, &fresh);
            let mut assignment = shared.assignment();
            for &partition in &partitions {
                if assignment.contains_key(&partition) {
                    continue;
                }
                let (tx, rx) = tokio::sync::mpsc::channel(shared.config.partition_queue);
                let cancel = CancellationToken::new();
                let restart = restarts.remove(&partition);
                let task = (shared.spawner)(&shared, partition, rx, restart, cancel.clone());
                assignment.insert(
                    partition,
                    Slot {
                        tx,
                        stash: None,
                        paused: false,
                        first_offset: None,
                        next_offset: None,
                        cancel,
                        task,
                    },
                );
            }
            let total = assignment.len();
            drop(assignment);
            tracing::debug!(
                worker = shared.config.identity.name,
                ?partitions,
                "assigned"
            );
            shared.metrics.rebalanced("assign", partitions.len(), total);
        }
    }
}

/// The committed offsets of newly assigned `partitions` with their crash-loop counts
/// (see `crash_loop`); none when they cannot be read in time (the tasks then keep no
/// count for this assignment).
fn restarts(
    consumer: &BaseConsumer<ConsumerCallbacks>,
    topic: &str,
    partitions: &[i32],
) -> HashMap<i32, Restart> {
    if partitions.is_empty() {
        return HashMap::new();
    }
    let mut list = TopicPartitionList::new();
    for partition in partitions {
        list.add_partition(topic, *partition);
    }
    let Ok(committed) = consumer.committed_offsets(list, Duration::from_secs(10)) else {
        return HashMap::new();
    };
    let metadata = orderflow_kafka_bytes::metadata::of(&committed);
    committed
        .elements()
        .iter()
        .map(|element| {
            let offset = match element.offset() {
                Offset::Offset(offset) => offset,
                _ => -1,
            };
            let found = metadata
                .get(&(topic.to_owned(), element.partition()))
                .map(Vec::as_slice);
            (element.partition(), Restart::read(offset, found))
        })
        .collect()
}

fn partitions_of(list: &TopicPartitionList, topic: &str) -> Vec<i32> {
    list.elements()
        .iter()
        .filter(|e| e.topic() == topic)
        .map(|e| e.partition())
        .collect()
}

/// Hands revoked partitions to the committer and waits until their work is committed
/// (or aborted, when `lost`).
fn revoke(
    shared: &Shared,
    consumer: &BaseConsumer<ConsumerCallbacks>,
    partitions: Vec<i32>,
    lost: bool,
) {
    tracing::debug!(
        worker = shared.config.identity.name,
        ?partitions,
        lost,
        "revoking"
    );
    let mut tasks = Vec::new();
    let mut assignment = shared.assignment();
    for partition in &partitions {
        if let Some(slot) = assignment.remove(partition) {
            if slot.paused {
                let _ = consumer.resume(&single(&shared.input_topic, *partition));
            }
            if lost {
                // Another member owns the partition now: nothing of it may be committed.
                slot.cancel.cancel();
                slot.task.abort();
            } else {
                // The task drains its queue. The message kept aside (if any) is not
                // queued: waiting for room here could wait forever, with the task
                // waiting for the committer and the committer for this thread (a
                // rewind); it lies past every offset committed now, so the next owner
                // reads it. Retries of transient failures stop: the next owner retries.
                slot.cancel.cancel();
            }
            drop(slot.tx);
            tasks.push(slot.task);
        }
    }
    let remaining = assignment.len();
    drop(assignment);
    shared.metrics.rebalanced(
        if lost { "lost" } else { "revoke" },
        partitions.len(),
        remaining,
    );
    shared.metrics.forget_lag(&shared.input_topic, &partitions);
    if shared.committer_done.load(Ordering::SeqCst) {
        return;
    }
    let (done, finished) = std::sync::mpsc::channel();
    // While this thread waits inside the callback, the committer rewinds by itself.
    shared.in_rebalance.store(true, Ordering::SeqCst);
    if shared
        .control
        .send(Control::Revoke {
            partitions,
            tasks,
            lost,
            done,
        })
        .is_err()
    {
        shared.in_rebalance.store(false, Ordering::SeqCst);
        return;
    }
    let answered = finished.recv_timeout(REVOKE_TIMEOUT);
    shared.in_rebalance.store(false, Ordering::SeqCst);
    if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = answered {
        tracing::error!(
            worker = shared.config.identity.name,
            "revoked partitions were not committed in time"
        );
    }
    // Disconnected: the committer stopped on a fatal error, already reported.
}

/// Seeks the partitions of `list` to their offsets; names the first that failed.
fn seek_to(
    consumer: &BaseConsumer<ConsumerCallbacks>,
    list: TopicPartitionList,
) -> Result<(), String> {
    let result = consumer
        .seek_partitions(list, Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    match result.elements().iter().find(|e| e.error().is_err()) {
        Some(failed) => Err(format!(
            "partition {}: {:?}",
            failed.partition(),
            failed.error()
        )),
        None => Ok(()),
    }
}

fn single(topic: &str, partition: i32) -> TopicPartitionList {
    let mut list = TopicPartitionList::new();
    list.add_partition(topic, partition);
    list
}

/// Rewinds every assigned partition to its last committed offset after an aborted
/// transaction, and makes every message read before the rewind stale.
///
/// Safe against the poll thread: the assignment lock keeps dispatch out while the
/// partitions are sought, and the generation is bumped only after the seek, while the
/// poll thread reads the generation *before* each poll, so a message it received before
/// the seek always carries an old generation.
pub(crate) fn rewind(
    shared: &Shared,
    consumer: &BaseConsumer<ConsumerCallbacks>,
) -> Result<(), String> {
    let mut assignment = shared.assignment();
    if assignment.is_empty() {
        shared.generation.fetch_add(1, Ordering::SeqCst);
        return Ok(());
    }
    let mut list = TopicPartitionList::new();
    for partition in assignment.keys() {
        list.add_partition(&shared.input_topic, *partition);
    }
    let committed = consumer
        .committed_offsets(list, Duration::from_secs(10))
        .map_err(|e| format!("reading committed offsets for the rewind: {e}"))?;
    let mut seek = TopicPartitionList::new();
    let mut targets = HashMap::new();
    for element in committed.elements() {
        let slot = assignment.get(&element.partition());
        let target = match element.offset() {
            Offset::Offset(offset) => Offset::Offset(offset),
            // No commit yet: start again from the first message of this assignment.
            _ => match slot.and_then(|s| s.first_offset) {
                Some(first) => Offset::Offset(first),
                None => continue,
            },
        };
        seek.add_partition_offset(&shared.input_topic, element.partition(), target)
            .map_err(|e| e.to_string())?;
        targets.insert(element.partition(), target);
    }
    tracing::debug!(worker = shared.config.identity.name, seek = ?seek, "rewinding");
    if seek.count() > 0 {
        seek_to(consumer, seek).map_err(|e| format!("seeking to the committed offsets: {e}"))?;
    }
    shared.generation.fetch_add(1, Ordering::SeqCst);
    let mut resume = TopicPartitionList::new();
    for (partition, slot) in assignment.iter_mut() {
        slot.stash = None;
        slot.next_offset = match targets.get(partition) {
            Some(Offset::Offset(offset)) => Some(*offset),
            _ => None,
        };
        if slot.paused {
            slot.paused = false;
            resume.add_partition(&shared.input_topic, *partition);
        }
    }
    if resume.count() > 0 {
        consumer
            .resume(&resume)
            .map_err(|e| format!("resuming after the rewind: {e}"))?;
    }
    Ok(())
}

/// The poll loop. Runs on its own thread until `shared.stopping` is set or the worker
/// fails, then hands the final commit to the committer and leaves the group.
pub(crate) fn poll_loop(
    shared: Arc<Shared>,
    consumer: Arc<BaseConsumer<ConsumerCallbacks>>,
    deadline: Arc<Mutex<Option<Instant>>>,
) {
    let mut advanced_at = Instant::now();
    let mut rebootstrap = crate::kafka::rebootstrap_watch(&shared.config.kafka);
    while !shared.stopping.load(Ordering::SeqCst) && shared.fatal().is_none() {
        shared.metrics.status.polled();
        serve_rewinds(&shared, &consumer);
        if advanced_at.elapsed() >= ADVANCE_EVERY {
            advance_positions(&shared, &consumer);
            crate::kafka::keep_bootstrapped(&mut rebootstrap, consumer.client(), "consumer");
            advanced_at = Instant::now();
        }
        let paused = deliver_stashes(&shared, &consumer);
        // Every message this poll returns is read at this generation (see `rewind`).
        let generation = shared.generation();
        let timeout = if paused {
            Duration::from_millis(5)
        } else {
            Duration::from_millis(100)
        };
        match consumer.poll(timeout) {
            None => {}
            Some(Ok(message)) => {
                shared.connected.store(true, Ordering::SeqCst);
                dispatch(&shared, &consumer, &message, generation);
            }
            Some(Err(error)) => consumer_error(&shared, error),
        }
    }
    shared.poll_loop_done.store(true, Ordering::SeqCst);
    serve_rewinds(&shared, &consumer);
    finish(&shared, &consumer, &deadline);
    wait_sole_owner(&consumer, &deadline);
}

/// Runs the rewinds the committer asked for, between two polls.
fn serve_rewinds(shared: &Shared, consumer: &BaseConsumer<ConsumerCallbacks>) {
    let requests = std::mem::take(&mut *shared.rewinds.lock().expect("rewind requests"));
    for (_, answer) in requests {
        let _ = answer.send(rewind(shared, consumer));
    }
}

/// Asks for a rewind and waits for it. The poll thread runs it between two polls: a
/// poll that started before the seek may return a message fetched after it, which
/// would be taken for a stale one and dropped while the messages after it go on.
/// When the poll thread is parked in a rebalance callback (it returns from that poll
/// without a message) or has left its loop, the rewind runs here.
pub(crate) fn request_rewind(
    shared: &Shared,
    consumer: &BaseConsumer<ConsumerCallbacks>,
) -> Result<(), String> {
    let direct = || {
        shared.in_rebalance.load(Ordering::SeqCst) || shared.poll_loop_done.load(Ordering::SeqCst)
    };
    if direct() {
        return rewind(shared, consumer);
    }
    let id = shared.rewind_ids.fetch_add(1, Ordering::SeqCst);
    let (answer, answered) = std::sync::mpsc::channel();
    shared
        .rewinds
        .lock()
        .expect("rewind requests")
        .push((id, answer));
    loop {
        match answered.recv_timeout(Duration::from_millis(100)) {
            Ok(result) => return result,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err("the poll thread dropped the rewind request".into());
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) if direct() => {
                // Take the request back unless the poll thread already took it.
                let mut pending = shared.rewinds.lock().expect("rewind requests");
                if let Some(at) = pending.iter().position(|(other, _)| *other == id) {
                    pending.remove(at);
                    drop(pending);
                    return rewind(shared, consumer);
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
}

fn dispatch(
    shared: &Shared,
    consumer: &BaseConsumer<ConsumerCallbacks>,
    message: &rdkafka::message::BorrowedMessage<'_>,
    generation: u64,
) {
    let partition = message.partition();
    let mut assignment = shared.assignment();
    let Some(slot) = assignment.get_mut(&partition) else {
        // Fetched just before a revoke: the next owner reads it again.
        return;
    };
    let generation = match admit(
        generation,
        shared.generation(),
        slot.next_offset,
        message.offset(),
    ) {
        Admit::Dispatch(generation) => generation,
        Admit::Redelivered => {
            shared
                .metrics
                .redelivery_ignored(partition, message.offset());
            return;
        }
        Admit::SeekBack(next) => {
            tracing::debug!(
                worker = shared.config.identity.name,
                partition,
                offset = message.offset(),
                next,
                "message read across a rewind; reading again from the rewind's offset"
            );
            let mut list = single(&shared.input_topic, partition);
            let sought = list
                .set_all_offsets(Offset::Offset(next))
                .map_err(|e| e.to_string())
                .and_then(|()| seek_to(consumer, list));
            if let Err(error) = sought {
                shared.fail(format!(
                    "seeking partition {partition} back to offset {next}: {error}"
                ));
            }
            return;
        }
    };
    slot.next_offset = Some(message.offset() + 1);
    let input = Arc::new(InputMessage::from_kafka(
        message,
        shared.input_topic.clone(),
        generation,
    ));
    slot.first_offset.get_or_insert(input.offset);
    shared.metrics.consumed();
    let sent = match slot.tx.try_send(Work::Message(input)) {
        Err(TrySendError::Full(input)) => {
            let tx = slot.tx.clone();
            drop(assignment);
            let sent = wait_for_room(shared, &tx, input);
            assignment = shared.assignment();
            sent
        }
        other => other,
    };
    let Some(slot) = assignment.get_mut(&partition) else {
        return;
    };
    match sent {
        Ok(()) => {}
        Err(TrySendError::Full(input)) => {
            slot.stash = Some(input);
            slot.paused = true;
            if let Err(error) = consumer.pause(&single(&shared.input_topic, partition)) {
                shared.fail(format!("pausing partition {partition}: {error}"));
            }
            shared.metrics.paused();
        }
        Err(TrySendError::Closed(_)) => {
            if !shared.stopping.load(Ordering::SeqCst) {
                shared.fail(format!(
                    "the task of partition {partition} stopped unexpectedly"
                ));
            }
        }
    }
}

/// What the poll thread does with a message it received.
#[derive(Debug, PartialEq, Eq)]
enum Admit {
    /// Queue it, stamped with this generation.
    Dispatch(u64),
    /// Drop it: an offset below the next one expected was already dispatched (or
    /// committed); the client delivered it again.
    Redelivered,
    /// Drop it and seek the partition back to this offset: a rewind ran while the poll
    /// that returned it was inside a rebalance callback, and the message lies past the
    /// rewind's target, so the messages between would be skipped.
    SeekBack(i64),
}

/// Decides the fate of a message at `offset`, returned by a poll that started at
/// generation `read_at`, now that the generation is `current` and the partition expects
/// `next_offset` (the rewind's target just after a rewind).
///
/// Between two rewinds offsets only move forward. A rewind normally runs between two
/// polls, so a poll's messages belong to the generation read before it. Only a rewind
/// run inside a rebalance callback (the poll thread parked in that poll) can change the
/// generation under a poll; its message is then judged by offset: the rewind's target
/// itself is the very record to read next, whenever it was fetched.
fn admit(read_at: u64, current: u64, next_offset: Option<i64>, offset: i64) -> Admit {
    match next_offset {
        Some(next) if offset < next => Admit::Redelivered,
        Some(next) if read_at != current && offset > next => Admit::SeekBack(next),
        _ => Admit::Dispatch(current),
    }
}

/// Waits (bounded) for room in a full partition queue: a queue full for a moment (a
/// commit in progress, a burst) is waited for, since pausing would drop the partition's
/// prefetched messages and cost a fetch round trip. Called without the assignment lock.
fn wait_for_room(
    shared: &Shared,
    tx: &tokio::sync::mpsc::Sender<Work>,
    input: Work,
) -> Result<(), TrySendError<Work>> {
    let waited = shared
        .runtime
        .block_on(async { tokio::time::timeout(QUEUE_WAIT, tx.reserve()).await });
    match waited {
        Ok(Ok(permit)) => {
            permit.send(input);
            Ok(())
        }
        Ok(Err(_)) => Err(TrySendError::Closed(input)),
        Err(_) => Err(TrySendError::Full(input)),
    }
}

/// Hands each partition whose position moved past the last message dispatched (only
/// records no `read_committed` reader is given lie between: the position moves past
/// them as the client reads them) an advance to that position, in order after its
/// messages. A partition with nothing dispatched yet in this assignment starts from
/// its committed offset, read once.
fn advance_positions(shared: &Shared, consumer: &BaseConsumer<ConsumerCallbacks>) {
    let Ok(positions) = consumer.position() else {
        return;
    };
    let mut unknown = TopicPartitionList::new();
    {
        let generation = shared.generation();
        let mut assignment = shared.assignment();
        for element in positions.elements_for_topic(&shared.input_topic) {
            let Offset::Offset(position) = element.offset() else {
                continue;
            };
            let Some(slot) = assignment.get_mut(&element.partition()) else {
                continue;
            };
            if slot.paused || slot.stash.is_some() {
                continue;
            }
            let Some(next) = slot.next_offset else {
                unknown.add_partition(&shared.input_topic, element.partition());
                continue;
            };
            if position > next
                && slot
                    .tx
                    .try_send(Work::Advance {
                        to: position,
                        generation,
                    })
                    .is_ok()
            {
                slot.next_offset = Some(position);
            }
        }
    }
    if unknown.count() == 0 {
        return;
    }
    let Ok(committed) = consumer.committed_offsets(unknown, Duration::from_secs(2)) else {
        return;
    };
    let mut assignment = shared.assignment();
    for element in committed.elements() {
        if let (Offset::Offset(offset), Some(slot)) =
            (element.offset(), assignment.get_mut(&element.partition()))
        {
            // Offsets below it are committed: as if dispatched up to there.
            slot.next_offset.get_or_insert(offset);
        }
    }
}

/// Delivers messages kept aside into queues that have room and resumes their
/// partitions once their queues are half empty. Returns whether any partition is still paused.
fn deliver_stashes(shared: &Shared, consumer: &BaseConsumer<ConsumerCallbacks>) -> bool {
    let mut assignment = shared.assignment();
    let mut still_paused = false;
    let mut resume = TopicPartitionList::new();
    for (partition, slot) in assignment.iter_mut() {
        if let Some(stash) = slot.stash.take() {
            match slot.tx.try_send(stash) {
                Ok(()) => {}
                Err(TrySendError::Full(stash)) | Err(TrySendError::Closed(stash)) => {
                    slot.stash = Some(stash);
                }
            }
        }
        // Resume only once half the queue is free: a resumed partition refetches a
        // whole batch, and pausing again drops what of it did not fit.
        if slot.paused && slot.stash.is_none() && slot.tx.capacity() * 2 >= slot.tx.max_capacity() {
            slot.paused = false;
            resume.add_partition(&shared.input_topic, *partition);
        }
        still_paused |= slot.paused;
    }
    drop(assignment);
    if resume.count() > 0
        && let Err(error) = consumer.resume(&resume)
    {
        shared.fail(format!("resuming partitions: {error}"));
    }
    still_paused
}

fn consumer_error(shared: &Shared, error: KafkaError) {
    match error.rdkafka_error_code() {
        Some(RDKafkaErrorCode::PartitionEOF) => {}
        Some(RDKafkaErrorCode::UnknownTopicOrPartition) | Some(RDKafkaErrorCode::UnknownTopic) => {
            shared.fail(format!(
                "the input topic {} disappeared: {error}",
                shared.input_topic
            ));
        }
        Some(RDKafkaErrorCode::TopicAuthorizationFailed)
        | Some(RDKafkaErrorCode::GroupAuthorizationFailed) => {
            shared.fail(format!("not authorized: {error}"));
        }
        _ => tracing::warn!(worker = shared.config.identity.name, %error, "consumer error"),
    }
}

/// Stops dispatching and gives every partition up through the ordinary revoke path
/// (unsubscribe): the revoke callback drains the partition tasks and commits while the
/// group generation is still valid, so the commit is not refused by a rebalance that
/// other members' comings and goings start at the same moment. Then the committer
/// makes its final commit and stops.
fn finish(
    shared: &Shared,
    consumer: &BaseConsumer<ConsumerCallbacks>,
    deadline: &Mutex<Option<Instant>>,
) {
    shared.metrics.status.set_stopping();
    let until = Instant::now()
        + deadline
            .lock()
            .expect("deadline")
            .map_or(Duration::from_secs(30), |d| {
                d.saturating_duration_since(Instant::now())
            });
    if shared.fatal().is_none() {
        {
            let mut assignment = shared.assignment();
            let mut all = TopicPartitionList::new();
            for (partition, slot) in assignment.iter_mut() {
                all.add_partition(&shared.input_topic, *partition);
                // Not yet queued: the next owner reads it again.
                slot.stash = None;
            }
            if all.count() > 0 {
                let _ = consumer.pause(&all);
            }
        }
        consumer.unsubscribe();
        while !shared.assignment().is_empty() && Instant::now() < until && shared.fatal().is_none()
        {
            // Serves the revoke callback; a message fetched before the pause is left
            // to the next owner.
            let _ = consumer.poll(Duration::from_millis(50));
        }
        let tasks: Vec<_> = shared
            .assignment()
            .drain()
            .map(|(_, slot)| {
                slot.cancel.cancel();
                slot.task
            })
            .collect();
        let (done, finished) = std::sync::mpsc::channel();
        if shared
            .control
            .send(Control::Shutdown { tasks, done })
            .is_ok()
        {
            let _ = finished.recv_timeout(until.saturating_duration_since(Instant::now()));
        }
    }
    shared.committer_done.store(true, Ordering::SeqCst);
}

/// Waits (bounded) until this thread holds the last reference to the consumer, so that
/// dropping it here closes it: librdkafka's close leaves the group and serves the final
/// rebalance callback on the dropping thread, which must not be an executor thread.
fn wait_sole_owner(
    consumer: &Arc<BaseConsumer<ConsumerCallbacks>>,
    deadline: &Mutex<Option<Instant>>,
) {
    let until = deadline
        .lock()
        .expect("deadline")
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(5));
    while Arc::strong_count(consumer) > 1 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Builds a partition list of `topic` from `offsets` (partition to next offset).
pub(crate) fn offsets_list(topic: &str, offsets: &HashMap<i32, i64>) -> TopicPartitionList {
    offsets_list_counting(topic, offsets, &HashMap::new())
}

/// [`offsets_list`], recording a crash-loop count of starts with the offsets of the
/// partitions in `starts` (see `crash_loop`).
pub(crate) fn offsets_list_counting(
    topic: &str,
    offsets: &HashMap<i32, i64>,
    starts: &HashMap<i32, u32>,
) -> TopicPartitionList {
    let mut list = TopicPartitionList::new();
    for (partition, offset) in offsets {
        let _ = list.add_partition_offset(topic, *partition, Offset::Offset(*offset));
        if let Some(count) = starts.get(partition)
            && let Some(mut element) = list.find_partition(topic, *partition)
        {
            element.set_metadata(crash_loop::metadata(*count));
        }
    }
    list
}

#[cfg(test)]
mod tests {
    use super::{Admit, admit};

    #[test]
    fn offsets_move_forward_within_a_generation() {
        assert_eq!(admit(3, 3, None, 0), Admit::Dispatch(3));
        assert_eq!(admit(3, 3, Some(10), 10), Admit::Dispatch(3));
        // Transaction markers and compaction leave gaps: a later offset is normal.
        assert_eq!(admit(3, 3, Some(10), 12), Admit::Dispatch(3));
        assert_eq!(admit(3, 3, Some(10), 9), Admit::Redelivered);
    }

    #[test]
    fn a_rewind_inside_the_poll_keeps_its_target_and_reads_again_past_it() {
        // The rewind sought to 10: offset 10 is the next record, whenever fetched, and
        // goes on at the new generation instead of being dropped as stale (which would
        // lose it while 11 and after go on).
        assert_eq!(admit(3, 4, Some(10), 10), Admit::Dispatch(4));
        // Below the target: committed already.
        assert_eq!(admit(3, 4, Some(10), 7), Admit::Redelivered);
        // Past the target: read from before the seek, or a gap that cannot be told
        // apart from one; seek back so that nothing in between is skipped.
        assert_eq!(admit(3, 4, Some(10), 15), Admit::SeekBack(10));
        // A partition the rewind did not seek (nothing dispatched from it yet).
        assert_eq!(admit(3, 4, None, 15), Admit::Dispatch(4));
    }
}
