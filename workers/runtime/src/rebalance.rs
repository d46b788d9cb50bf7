//! Rebalances: the assignment (one [`Slot`] per partition, its task started on assign)
//! and the revoke, which hands the partitions' work to the committer and blocks until
//! it is committed (or aborted, when the assignment was lost) before librdkafka gives
//! the partitions up. The callbacks run on the poll thread, inside `poll`.

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::consumer::ConsumerCallbacks;
use crate::crash_loop::Restart;
use crate::lifecycle::Phase;
use crate::offsets;
use crate::shared::{Control, Shared};

pub(crate) mod slot;

use slot::Slot;

/// How long a revoke may take to commit before the poll thread gives up waiting.
const REVOKE_TIMEOUT: Duration = Duration::from_secs(60);

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
                let (tx, rx) = mpsc::channel(shared.config.partition_queue);
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
                let _ = consumer.resume(&offsets::single(&shared.input_topic, *partition));
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
    if shared.lifecycle.reached(Phase::Stopped) {
        return;
    }
    let (done, finished) = std::sync::mpsc::channel();
    // While this thread waits inside the callback, the committer rewinds by itself.
    shared.rewinds.set_in_rebalance(true);
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
        shared.rewinds.set_in_rebalance(false);
        return;
    }
    let answered = finished.recv_timeout(REVOKE_TIMEOUT);
    shared.rewinds.set_in_rebalance(false);
    if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = answered {
        tracing::error!(
            worker = shared.config.identity.name,
            "revoked partitions were not committed in time"
        );
    }
    // Disconnected: the committer stopped on a fatal error, already reported.
}
