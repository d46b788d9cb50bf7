//! The committer: the one task that owns the producer's transaction (or offset
//! tracking) and decides when work becomes durable.
//!
//! It receives each handled message from its partition's task, in partition order,
//! writes its records, and commits every `--commit-interval-ms` or
//! `--commit-max-messages`; results that arrive during a commit wait for the next
//! transaction in memory (bounded), so the partition tasks do not stall. Revokes and
//! shutdown come from the poll thread as [`Control`] messages: the committer first takes
//! every result the finishing partition tasks still send, then commits, then answers.
//!
//! Both strategies take an item's records the same way ([`records_within_limits`]) and
//! keep the same crash-loop bookkeeping ([`StartCounts`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::RuntimeConfig;
use crate::dead_letter::within_limits;
use crate::error::RuntimeError;
use crate::lifecycle::Lifecycle;
use crate::message::{OutputRecord, Prepared};
use crate::shared::{Control, Shared};
use crate::topics::RecordLimits;

mod start_counts;
pub(crate) use start_counts::StartCounts;

/// What waits to be made durable, as a committer counts it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Pending {
    /// Handled messages accepted since the last commit.
    pub messages: usize,
    /// Crash-loop checkpoints accepted since the last commit (see `crash_loop`): their
    /// partitions wait for them to be durable.
    pub checkpoints: usize,
}

/// When work becomes durable: the one commit policy, for both guarantees. A commit is
/// due every `interval` (the `--commit-interval-ms` tick of [`run`]), as soon as
/// `max_messages` handled messages wait (`--commit-max-messages`), and at once when a
/// crash-loop checkpoint waits, since its partition does not go on before it is
/// durable. Revokes and the shutdown commit whatever waits, due or not.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CommitPolicy {
    pub interval: Duration,
    pub max_messages: usize,
}

impl CommitPolicy {
    pub fn of(config: &RuntimeConfig) -> CommitPolicy {
        CommitPolicy {
            interval: config.commit_interval,
            max_messages: config.commit_max_messages,
        }
    }

    /// Whether `pending` must be committed before the interval ends.
    pub fn due(&self, pending: Pending) -> bool {
        pending.checkpoints > 0 || pending.messages >= self.max_messages
    }
}

/// A commit strategy: exactly-once transactions (`transaction`) or at-least-once
/// offset tracking (`acking`). One task ([`run`]) owns it and calls it, one call at a
/// time, never concurrently; [`run`] decides when to commit ([`CommitPolicy`]).
pub(crate) trait Committer: Send {
    /// Takes the records of one handled message. Items of one partition come in offset
    /// order; partitions interleave. May wait for room in the producer's queue (that is
    /// the pipeline's backpressure) but not for the broker's answer. An item read
    /// before the latest rewind (an older rewind epoch, see `rewind`) must be dropped:
    /// its input is read again. An `Err` stops the worker; an error this committer can
    /// cure (an abortable transaction, a record to dead-letter) is handled inside and
    /// is not an `Err`.
    fn accept(&mut self, item: Prepared) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    /// What waits to be committed, for the [`CommitPolicy`].
    fn pending(&self) -> Pending;
    /// Makes everything accepted so far durable: commits the transaction with its input
    /// offsets (exactly-once), or waits for the acknowledgements and stores the offsets
    /// (at-least-once). May wait for the broker, within the transaction timeout; items
    /// keep arriving meanwhile and are accepted after it returns. When the broker
    /// refuses, the work is aborted and read again (not an `Err`); an `Err` stops the
    /// worker.
    fn commit(&mut self) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    /// Finishes revoked partitions after [`run`] accepted everything their tasks sent:
    /// commits their work, or discards it when `lost` (another member owns them
    /// already). Must not return before their work is durable or discarded: the
    /// partitions are given up when it returns. An `Err` stops the worker.
    fn revoke(
        &mut self,
        partitions: &[i32],
        lost: bool,
    ) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    /// The final commit before the worker exits, after [`run`] accepted everything the
    /// partition tasks sent.
    fn close(&mut self) -> impl Future<Output = Result<(), RuntimeError>> + Send;
}

/// Takes the records of `item` for a committer to write, each within its topic's size
/// limit: outputs of which one is too large give way to the dead letter of their input,
/// counted in the worker's metrics (see [`within_limits`]).
pub(crate) fn records_within_limits(
    item: &mut Prepared,
    limits: &RecordLimits,
    shared: &Shared,
) -> Vec<OutputRecord> {
    let records = std::mem::take(&mut item.records);
    within_limits(records, item, limits, |reason| {
        shared
            .dead_letters
            .replacing_outputs(&shared.metrics, &item.input, reason)
    })
}

/// Runs `committer` until shutdown or a fatal error: accepts items, commits as
/// `policy` says, and serves the poll thread's [`Control`] messages. A fatal error from
/// anywhere in the worker (`lifecycle`) stops it; its own `Err` fails the worker.
pub(crate) async fn run<C: Committer>(
    mut committer: C,
    mut items: mpsc::Receiver<Prepared>,
    mut control: mpsc::UnboundedReceiver<Control>,
    policy: CommitPolicy,
    lifecycle: Arc<Lifecycle>,
) -> Result<(), RuntimeError> {
    let mut tick = tokio::time::interval(policy.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let result = loop {
        let step = tokio::select! {
            biased;
            first = lifecycle.failed() => Err(RuntimeError::Failed(first)),
            Some(message) = control.recv() => match message {
                Control::Revoke { partitions, tasks, lost, done } => {
                    let outcome = async {
                        if !lost {
                            let draining = drain(&mut committer, &mut items, tasks, &lifecycle);
                            noting_slow("draining the revoked partitions' tasks", draining)
                                .await?;
                        }
                        let committing = committer.revoke(&partitions, lost);
                        noting_slow("committing the revoked partitions' work", committing).await
                    }
                    .await;
                    let _ = done.send(());
                    outcome
                }
                Control::Shutdown { tasks, done } => {
                    let outcome = async {
                        let draining = drain(&mut committer, &mut items, tasks, &lifecycle);
                        noting_slow("draining the partition tasks to stop", draining).await?;
                        noting_slow("the final commit", committer.close()).await
                    }
                    .await;
                    let _ = done.send(());
                    break outcome;
                }
            },
            Some(item) = items.recv() => {
                match committer.accept(item).await {
                    Ok(()) if policy.due(committer.pending()) => {
                        let committing = commit(&mut committer, &mut items, policy, &lifecycle);
                        noting_slow("a commit", committing).await
                    }
                    other => other,
                }
            }
            _ = tick.tick() => {
                let committing = commit(&mut committer, &mut items, policy, &lifecycle);
                noting_slow("a commit", committing).await
            }
        };
        if let Err(error) = step {
            break Err(error);
        }
    };
    // Its own error, unless another part of the worker failed first.
    result.map_err(|error| RuntimeError::Failed(lifecycle.fail(error)))
}

/// How long a commit, or a revoke's or the shutdown's step, may take before the log
/// says so: a revoke or stop that comes meanwhile waits for it, within deadlines.
const SLOW_STEP: Duration = Duration::from_secs(5);

/// Runs `step`, logging when it takes longer than [`SLOW_STEP`], so that a stop or
/// revoke that outlives its deadline says which step held it.
async fn noting_slow<T>(what: &str, step: impl Future<Output = T>) -> T {
    let mut step = std::pin::pin!(step);
    tokio::select! {
        done = &mut step => return done,
        _ = tokio::time::sleep(SLOW_STEP) => {}
    }
    tracing::warn!(step = what, after_s = SLOW_STEP.as_secs(), "still going");
    let done = step.await;
    tracing::warn!(step = what, "finished late");
    done
}

/// Commits while the partition tasks go on: results that arrive during the commit are
/// kept (up to the committer queue's size again) and accepted, in order, into the next
/// transaction, so that a commit's round trips do not stall the partitions behind it.
async fn commit<C: Committer>(
    committer: &mut C,
    items: &mut mpsc::Receiver<Prepared>,
    policy: CommitPolicy,
    lifecycle: &Lifecycle,
) -> Result<(), RuntimeError> {
    let limit = items.max_capacity();
    let mut arrived = Vec::new();
    loop {
        {
            let mut committing = std::pin::pin!(committer.commit());
            loop {
                tokio::select! {
                    biased;
                    result = &mut committing => break result?,
                    Some(item) = items.recv(), if arrived.len() < limit => arrived.push(item),
                }
            }
        }
        for item in arrived.drain(..) {
            committer.accept(item).await?;
        }
        if !policy.due(committer.pending()) || lifecycle.fatal().is_some() {
            return Ok(());
        }
    }
}

/// Accepts results until every task in `tasks` ended, then whatever is left queued.
async fn drain<C: Committer>(
    committer: &mut C,
    items: &mut mpsc::Receiver<Prepared>,
    tasks: Vec<JoinHandle<()>>,
    lifecycle: &Lifecycle,
) -> Result<(), RuntimeError> {
    let mut finished = std::pin::pin!(futures::future::join_all(tasks));
    loop {
        tokio::select! {
            biased;
            first = lifecycle.failed() => return Err(RuntimeError::Failed(first)),
            _ = &mut finished => break,
            Some(item) = items.recv() => committer.accept(item).await?,
        }
    }
    while let Ok(item) = items.try_recv() {
        committer.accept(item).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
