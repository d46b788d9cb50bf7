//! The exactly-once rewind: after an aborted transaction, every assigned partition goes
//! back to its last committed offset, and every message read before is stale.
//!
//! The committer asks ([`request_rewind`]); the poll thread runs the rewind between two
//! polls ([`serve_rewinds`]), or the asking thread runs it itself while the poll thread
//! is parked in a rebalance callback or has left its loop. Each rewind moves the
//! *rewind epoch* on: messages carry the epoch they were read in, and the partition
//! tasks and the committer drop work of an older one. (Not to be confused with the
//! consumer group's generation, which Kafka bumps on every rebalance.)

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use crate::consumer::ConsumerCallbacks;
use crate::lifecycle::Phase;
use crate::shared::Shared;

pub(crate) mod state;

/// Rewinds every assigned partition to its last committed offset after an aborted
/// transaction, and makes every message read before the rewind stale.
///
/// Safe against the poll thread: the assignment lock keeps dispatch out while the
/// partitions are sought, and the rewind epoch is bumped only after the seek, while the
/// poll thread reads the rewind epoch *before* each poll, so a message it received before
/// the seek always carries an old rewind epoch.
pub(crate) fn rewind(
    shared: &Shared,
    consumer: &BaseConsumer<ConsumerCallbacks>,
) -> Result<(), String> {
    let mut assignment = shared.assignment();
    if assignment.is_empty() {
        shared.rewinds.epoch.fetch_add(1, Ordering::SeqCst);
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
    shared.rewinds.epoch.fetch_add(1, Ordering::SeqCst);
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

/// Runs the rewinds the committer asked for, between two polls.
pub(crate) fn serve_rewinds(shared: &Shared, consumer: &BaseConsumer<ConsumerCallbacks>) {
    let requests = std::mem::take(&mut *shared.rewinds.requests.lock().expect("rewind requests"));
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
        shared.rewinds.in_rebalance.load(Ordering::SeqCst)
            || shared.lifecycle.reached(Phase::Draining)
    };
    if direct() {
        return rewind(shared, consumer);
    }
    let id = shared.rewinds.next_id.fetch_add(1, Ordering::SeqCst);
    let (answer, answered) = std::sync::mpsc::channel();
    shared
        .rewinds
        .requests
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
                let mut pending = shared.rewinds.requests.lock().expect("rewind requests");
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

/// Seeks the partitions of `list` to their offsets; names the first that failed.
pub(crate) fn seek_to(
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
