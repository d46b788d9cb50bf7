//! The poll thread: one OS thread owns the consumer and its poll loop. It copies each
//! message into its partition's bounded queue; when a queue stays full (beyond a short
//! wait), it keeps that one message aside and pauses the partition (librdkafka stops
//! fetching it and drops what it prefetched), so memory stays bounded at any lag and a
//! stuck partition does not hold the others up. Rebalance callbacks (`rebalance`) and
//! rewinds asked by the committer (`rewind`) run on this thread, between two polls.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{Message, Offset, TopicPartitionList};
use tokio::sync::mpsc::error::TrySendError;

use crate::consumer::ConsumerCallbacks;
use crate::error::RuntimeError;
use crate::kafka_errors::{self, Next, Stage, classify};
use crate::lifecycle::Phase;
use crate::message::{InputMessage, Work};
use crate::offsets;
use crate::rewind::{seek_to, serve_rewinds};
use crate::shared::{Control, Shared};

/// How long the poll thread waits for room in a full partition queue before it pauses
/// the partition.
const QUEUE_WAIT: Duration = Duration::from_millis(100);
/// A full partition queue is waited for until this fraction of it (one quarter) is
/// free (see [`wait_for_room`]).
const ROOM_DIVISOR: usize = 4;
/// How often the poll thread looks for partitions whose position moved past records no
/// reader is given (see [`Work::Advance`]).
const ADVANCE_EVERY: Duration = Duration::from_secs(1);
/// How long a stopping worker waits for librdkafka's revoke before it gives its
/// partitions up by itself (see [`finish`]). An unsubscribe that is not postponed
/// delivers the revoke at the next poll.
const REVOKE_WAIT: Duration = Duration::from_secs(3);

/// The poll loop. Runs on its own thread until the worker is stopping or failed, then
/// hands the final commit to the committer and leaves the group.
pub(crate) fn poll_loop(
    shared: Arc<Shared>,
    consumer: Arc<BaseConsumer<ConsumerCallbacks>>,
    deadline: Arc<Mutex<Option<Instant>>>,
) {
    let mut advanced_at = Instant::now();
    let mut rebootstrap = crate::kafka::rebootstrap_watch(&shared.config.kafka);
    while !shared.lifecycle.reached(Phase::Stopping) && shared.fatal().is_none() {
        shared.metrics.status.polled();
        serve_rewinds(&shared, &consumer);
        if advanced_at.elapsed() >= ADVANCE_EVERY {
            advance_positions(&shared, &consumer);
            crate::kafka::keep_bootstrapped(&mut rebootstrap, consumer.client(), "consumer");
            advanced_at = Instant::now();
        }
        let paused = deliver_stashes(&shared, &consumer);
        // Every message this poll returns is read at this rewind epoch (see `rewind`).
        let rewind_epoch = shared.rewind_epoch();
        let timeout = if paused {
            Duration::from_millis(5)
        } else {
            Duration::from_millis(100)
        };
        match consumer.poll(timeout) {
            None => {}
            Some(Ok(message)) => {
                shared.lifecycle.advance(Phase::Running);
                dispatch(&shared, &consumer, &message, rewind_epoch);
            }
            Some(Err(error)) => consumer_error(&shared, error),
        }
    }
    shared.lifecycle.advance(Phase::Draining);
    serve_rewinds(&shared, &consumer);
    finish(&shared, &consumer, &deadline);
    wait_sole_owner(&consumer, &deadline);
}

fn dispatch(
    shared: &Shared,
    consumer: &BaseConsumer<ConsumerCallbacks>,
    message: &rdkafka::message::BorrowedMessage<'_>,
    rewind_epoch: u64,
) {
    let partition = message.partition();
    let mut assignment = shared.assignment();
    let Some(slot) = assignment.get_mut(&partition) else {
        // Fetched just before a revoke: the next owner reads it again.
        return;
    };
    let rewind_epoch = match admit(
        rewind_epoch,
        shared.rewind_epoch(),
        slot.next_offset,
        message.offset(),
    ) {
        Admit::Dispatch(rewind_epoch) => rewind_epoch,
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
            let mut list = offsets::single(&shared.input_topic, partition);
            let sought = list
                .set_all_offsets(Offset::Offset(next))
                .map_err(|e| e.to_string())
                .and_then(|()| seek_to(consumer, list));
            if let Err(error) = sought {
                shared.fail(RuntimeError::Rewind(format!(
                    "seeking partition {partition} back to offset {next}: {error}"
                )));
            }
            return;
        }
    };
    slot.next_offset = Some(message.offset() + 1);
    let input = Arc::new(InputMessage::from_kafka(
        message,
        shared.input_topic.clone(),
        rewind_epoch,
    ));
    slot.first_offset.get_or_insert(input.offset);
    shared.metrics.consumed(input.size());
    let sent = match slot.tx.try_send(Work::Message(input)) {
        Err(TrySendError::Full(input)) => {
            let tx = slot.tx.clone();
            drop(assignment);
            let sent = wait_for_room(&shared.runtime, &tx, input);
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
            if let Err(error) = consumer.pause(&offsets::single(&shared.input_topic, partition)) {
                shared.fail(RuntimeError::kafka(
                    format!("pausing partition {partition}"),
                    error,
                ));
            }
            shared.metrics.paused();
        }
        Err(TrySendError::Closed(_)) => {
            if !shared.lifecycle.reached(Phase::Stopping) {
                shared.fail(RuntimeError::Stopped(format!(
                    "the task of partition {partition} stopped unexpectedly"
                )));
            }
        }
    }
}

/// What the poll thread does with a message it received.
#[derive(Debug, PartialEq, Eq)]
enum Admit {
    /// Queue it, stamped with this rewind epoch.
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
/// rewind epoch `read_at`, now that the rewind epoch is `current` and the partition expects
/// `next_offset` (the rewind's target just after a rewind).
///
/// Between two rewinds offsets only move forward. A rewind normally runs between two
/// polls, so a poll's messages belong to the rewind epoch read before it. Only a rewind
/// run inside a rebalance callback (the poll thread parked in that poll) can change the
/// rewind epoch under a poll; its message is then judged by offset: the rewind's target
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
///
/// It waits until a quarter of the queue is free, not one slot: a worker draining a
/// backlog keeps its queues full, and a wait that ended at the first free slot would
/// put this thread to sleep and wake it again for every few messages (a futex wait and
/// a context switch each), while the task still has three quarters of a queue to work
/// through.
fn wait_for_room<T>(
    runtime: &tokio::runtime::Handle,
    tx: &tokio::sync::mpsc::Sender<T>,
    input: T,
) -> Result<(), TrySendError<T>> {
    let room = (tx.max_capacity() / ROOM_DIVISOR).max(1);
    let waited =
        runtime.block_on(async { tokio::time::timeout(QUEUE_WAIT, tx.reserve_many(room)).await });
    match waited {
        Ok(Ok(mut permits)) => {
            // The other permits go back as they drop: the next polls fill them.
            permits
                .next()
                .expect("reserve_many gives at least one permit")
                .send(input);
            Ok(())
        }
        Ok(Err(_)) => Err(TrySendError::Closed(input)),
        // Less than that freed within the wait: a slow task still gets what it freed,
        // and only a queue with no room at all pauses its partition.
        Err(_) => tx.try_send(input),
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
        let rewind_epoch = shared.rewind_epoch();
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
                        rewind_epoch,
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
        shared.fail(RuntimeError::kafka("resuming partitions", error));
    }
    still_paused
}

fn consumer_error(shared: &Shared, error: KafkaError) {
    match classify(&error, Stage::Poll) {
        Next::Ignore => {}
        Next::Stop => match error.rdkafka_error_code() {
            Some(code) if kafka_errors::is_denied(code) => {
                shared.fail(RuntimeError::kafka("not authorized", error));
            }
            Some(
                RDKafkaErrorCode::UnknownTopicOrPartition
                | RDKafkaErrorCode::UnknownTopic
                | RDKafkaErrorCode::UnknownPartition,
            ) => {
                shared.fail(RuntimeError::kafka(
                    format!("the input topic {} disappeared", shared.input_topic),
                    error,
                ));
            }
            _ => shared.fail(RuntimeError::kafka("consuming", error)),
        },
        _ => tracing::warn!(worker = shared.config.identity.name, %error, "consumer error"),
    }
}

/// Stops dispatching and gives every partition up through the ordinary revoke path
/// (unsubscribe): the revoke callback drains the partition tasks and commits while the
/// group generation is still valid, so the commit is not refused by a rebalance that
/// other members' comings and goings start at the same moment. Then the committer
/// makes its final commit and stops.
///
/// librdkafka postpones an unsubscribe while the member rejoins the group, until the
/// coordinator answers its JoinGroup and SyncGroup, and the coordinator answers once
/// every member has rejoined (up to the rebalance timeout, minutes). The revoke is
/// awaited [`REVOKE_WAIT`] only: past it, the partitions are given up here in the same
/// way (tasks drained, work committed, or aborted when the commit is refused, then read
/// again by the next owner); the revoke librdkafka delivers later, while the consumer
/// closes, finds nothing left to do.
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
        let revoke_until = until.min(Instant::now() + REVOKE_WAIT);
        while !shared.assignment().is_empty()
            && Instant::now() < revoke_until
            && shared.fatal().is_none()
        {
            // Serves the revoke callback; a message fetched before the pause is left
            // to the next owner.
            let _ = consumer.poll(Duration::from_millis(50));
        }
        if !shared.assignment().is_empty() && shared.fatal().is_none() {
            tracing::info!(
                worker = shared.config.identity.name,
                wait_s = REVOKE_WAIT.as_secs(),
                "no revoke yet (the group is rebalancing): giving the partitions up here"
            );
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
    shared.lifecycle.advance(Phase::Stopped);
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

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use tokio::sync::mpsc::{self, error::TrySendError};

    use super::{Admit, QUEUE_WAIT, admit, wait_for_room};

    /// A queue of 8, full, whose reader takes `take` messages and then holds the queue
    /// without reading; and the runtime the reader runs on.
    fn full_queue(take: usize) -> (tokio::runtime::Runtime, mpsc::Sender<u32>) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_time()
            .build()
            .expect("runtime");
        let (tx, mut rx) = mpsc::channel(8);
        for n in 0..8 {
            tx.try_send(n).expect("room");
        }
        runtime.spawn(async move {
            for _ in 0..take {
                rx.recv().await;
            }
            std::future::pending::<()>().await;
            drop(rx);
        });
        (runtime, tx)
    }

    #[test]
    fn a_full_queue_is_waited_for_until_a_quarter_of_it_is_free() {
        let (runtime, tx) = full_queue(2);
        assert!(wait_for_room(runtime.handle(), &tx, 8).is_ok());
        assert_eq!(tx.capacity(), 1, "one of the two freed slots taken");
    }

    #[test]
    fn one_free_slot_does_not_end_the_wait_but_is_used_once_it_ends() {
        // Woken at every freed slot, the poll thread would sleep and wake once per
        // message while a worker drains a backlog; a slow task still gets its slot
        // when the wait ends, instead of a pause.
        let (runtime, tx) = full_queue(1);
        let started = Instant::now();
        assert!(wait_for_room(runtime.handle(), &tx, 8).is_ok());
        assert!(
            started.elapsed() >= QUEUE_WAIT,
            "returned at the first free slot"
        );
        assert_eq!(tx.capacity(), 0);
    }

    #[test]
    fn a_queue_without_room_or_reader_gives_the_message_back() {
        let (runtime, tx) = full_queue(0);
        assert!(matches!(
            wait_for_room(runtime.handle(), &tx, 8),
            Err(TrySendError::Full(8))
        ));
        // The reader is gone (the task ended): given back as closed.
        let (closed, reader) = mpsc::channel::<u32>(1);
        drop(reader);
        assert!(matches!(
            wait_for_room(runtime.handle(), &closed, 1),
            Err(TrySendError::Closed(1))
        ));
    }

    #[test]
    fn offsets_move_forward_within_a_rewind_epoch() {
        assert_eq!(admit(3, 3, None, 0), Admit::Dispatch(3));
        assert_eq!(admit(3, 3, Some(10), 10), Admit::Dispatch(3));
        // Transaction markers and compaction leave gaps: a later offset is normal.
        assert_eq!(admit(3, 3, Some(10), 12), Admit::Dispatch(3));
        assert_eq!(admit(3, 3, Some(10), 9), Admit::Redelivered);
    }

    #[test]
    fn a_rewind_inside_the_poll_keeps_its_target_and_reads_again_past_it() {
        // The rewind sought to 10: offset 10 is the next record, whenever fetched, and
        // goes on at the new rewind epoch instead of being dropped as stale (which would
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
