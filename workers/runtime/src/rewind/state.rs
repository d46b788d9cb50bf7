//! The rewind protocol's state, one per worker, kept in the worker's shared state; the
//! rewind itself (`rewind`) reads and moves it. It imports nothing of the runtime, so
//! the shared state can hold it without the two modules importing each other.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// A rewind asked of the poll thread: its number, and where to answer.
pub(super) type RewindRequest = (u64, std::sync::mpsc::Sender<Result<(), String>>);

/// The rewind protocol's state, one per worker.
#[derive(Default)]
pub(crate) struct Rewinds {
    /// Moved on by every rewind; messages read at an older epoch are stale.
    pub(super) epoch: AtomicU64,
    /// Rewinds asked of the poll thread, each answered on its channel.
    pub(super) requests: Mutex<Vec<RewindRequest>>,
    /// Numbers the requests.
    pub(super) next_id: AtomicU64,
    /// The poll thread is inside a rebalance callback, waiting for the committer: a
    /// rewind asked now runs on the asking thread.
    pub(super) in_rebalance: AtomicBool,
}

impl Rewinds {
    /// The current rewind epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Marks the poll thread as parked in (or back from) a rebalance callback.
    pub fn set_in_rebalance(&self, parked: bool) {
        self.in_rebalance.store(parked, Ordering::SeqCst);
    }
}
