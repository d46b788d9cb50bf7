//! The worker's lifecycle: the phase it is in, and why it failed, if it did.
//!
//! A worker only moves forward through its phases:
//!
//! ```text
//! Connecting ──▶ Running ──▶ Stopping ──▶ Draining ──▶ Stopped
//! ```
//!
//! - `Connecting` → `Running`: the first sign that a broker answered (topic metadata at
//!   start, a message polled, an output acknowledged).
//! - `Connecting`/`Running` → `Stopping`: the engine was told to shut down, or the worker
//!   failed ([`Lifecycle::fail`]); the poll loop stops dispatching.
//! - `Stopping` → `Draining`: the poll thread left its loop; it serves no more rewind
//!   requests, so they run on the thread that asks (see `rewind`). A fatal error takes
//!   the poll loop here without the engine's `Stopping` first.
//! - `Draining` → `Stopped`: the committer made its final commit (or gave up); rebalance
//!   callbacks no longer wait for it.
//!
//! Each transition is one atomic maximum, so a late or repeated one is harmless: a
//! phase is never left for an earlier one. A failure is not a phase but a reason kept
//! beside it, the first one reported.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::error::RuntimeError;

/// Where a worker is in its life; see the module documentation for the transitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub(crate) enum Phase {
    /// Started; no broker has answered yet. A TLS failure here stops the worker (a wrong
    /// CA or host name); later it is a broker restarting, and retried.
    Connecting = 0,
    /// A broker answered.
    Running = 1,
    /// Shutting down: the poll loop stops dispatching.
    Stopping = 2,
    /// The poll thread left its loop.
    Draining = 3,
    /// The final commit is made; nothing waits for the committer any more.
    Stopped = 4,
}

impl Phase {
    fn from_u8(value: u8) -> Phase {
        match value {
            0 => Phase::Connecting,
            1 => Phase::Running,
            2 => Phase::Stopping,
            3 => Phase::Draining,
            _ => Phase::Stopped,
        }
    }
}

/// A worker's phase and its failure, shared by every thread and task of the worker.
pub(crate) struct Lifecycle {
    worker: &'static str,
    phase: AtomicU8,
    fatal: Mutex<Option<Arc<RuntimeError>>>,
    fatal_notify: Notify,
}

impl Lifecycle {
    pub fn new(worker: &'static str) -> Lifecycle {
        Lifecycle {
            worker,
            phase: AtomicU8::new(Phase::Connecting as u8),
            fatal: Mutex::new(None),
            fatal_notify: Notify::new(),
        }
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::SeqCst))
    }

    /// Whether the worker is at `phase` or past it.
    pub fn reached(&self, phase: Phase) -> bool {
        self.phase() >= phase
    }

    /// Moves the worker to `phase`, unless it is past it already.
    pub fn advance(&self, phase: Phase) {
        self.phase.fetch_max(phase as u8, Ordering::SeqCst);
    }

    /// Stops the worker with `error` (the first error wins; it is logged once) and
    /// returns the first.
    pub fn fail(&self, error: RuntimeError) -> Arc<RuntimeError> {
        let mut fatal = self.fatal.lock().expect("fatal lock");
        let first = fatal
            .get_or_insert_with(|| {
                let error = match error {
                    RuntimeError::Failed(first) => first,
                    error => Arc::new(error),
                };
                tracing::error!(worker = self.worker, reason = %error, "fatal error; stopping");
                error
            })
            .clone();
        drop(fatal);
        self.fatal_notify.notify_waiters();
        self.fatal_notify.notify_one();
        first
    }

    /// Why the worker must stop, if it must.
    pub fn fatal(&self) -> Option<Arc<RuntimeError>> {
        self.fatal.lock().expect("fatal lock").clone()
    }

    /// Resolves when [`Self::fail`] is called, with the first error.
    pub async fn failed(&self) -> Arc<RuntimeError> {
        loop {
            let notified = self.fatal_notify.notified();
            if let Some(error) = self.fatal() {
                return error;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{Lifecycle, Phase};
    use crate::error::RuntimeError;

    #[test]
    fn phases_only_move_forward() {
        let lifecycle = Lifecycle::new("test");
        assert_eq!(lifecycle.phase(), Phase::Connecting);
        assert!(!lifecycle.reached(Phase::Running));
        lifecycle.advance(Phase::Running);
        lifecycle.advance(Phase::Draining);
        // A late transition (an output acknowledged while the poll thread drains) does
        // not take the worker back.
        lifecycle.advance(Phase::Running);
        lifecycle.advance(Phase::Stopping);
        assert_eq!(lifecycle.phase(), Phase::Draining);
        assert!(lifecycle.reached(Phase::Stopping));
        assert!(!lifecycle.reached(Phase::Stopped));
        lifecycle.advance(Phase::Stopped);
        assert_eq!(lifecycle.phase(), Phase::Stopped);
    }

    #[test]
    fn the_first_failure_is_the_reason() {
        let lifecycle = Lifecycle::new("test");
        assert!(lifecycle.fatal().is_none());
        let first = lifecycle.fail(RuntimeError::Stopped("first".into()));
        let again = lifecycle.fail(RuntimeError::Stopped("second".into()));
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(
            lifecycle.fatal().map(|e| e.to_string()).as_deref(),
            Some("first")
        );
        let failed = futures::executor::block_on(lifecycle.failed());
        assert_eq!(failed.to_string(), "first");
        // Passed on by another part of the worker: not wrapped twice.
        let passed = lifecycle.fail(RuntimeError::Failed(first.clone()));
        assert!(Arc::ptr_eq(&passed, &first));
    }
}
