//! One assigned partition's slot in the worker's assignment, kept in the worker's
//! shared state; the rebalance (`rebalance`) fills and empties the assignment. It
//! imports nothing of the runtime but the message type, so the shared state can hold
//! it without the two modules importing each other.

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::message::Work;

/// One assigned partition, as the poll thread sees it.
#[derive(Debug)]
pub(crate) struct Slot {
    /// Queue into the partition's task.
    pub tx: mpsc::Sender<Work>,
    /// A message taken from the consumer while the queue was full; the partition is
    /// paused until it is delivered.
    pub stash: Option<Work>,
    /// Whether the partition is paused.
    pub paused: bool,
    /// First offset dispatched in this assignment: where a rewind starts when the group
    /// has no committed offset yet.
    pub first_offset: Option<i64>,
    /// The lowest offset the next dispatched message may have: offsets only move
    /// forward between two rewinds, so a message the client delivers again (as it can
    /// around a rebalance) is not processed twice.
    pub next_offset: Option<i64>,
    /// Stops the task's retries on revoke and shutdown.
    pub cancel: CancellationToken,
    /// The partition's task.
    pub task: JoinHandle<()>,
}
