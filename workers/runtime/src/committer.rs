//! The committer: the one task that owns the producer's transaction (or offset
//! tracking) and decides when work becomes durable.
//!
//! It receives each handled message from its partition's task, in partition order,
//! writes its records, and commits every `--commit-interval-ms` or
//! `--commit-max-messages`; results that arrive during a commit wait for the next
//! transaction in memory (bounded), so the partition tasks do not stall. Revokes and
//! shutdown come from the poll thread as [`Control`] messages: the committer first takes
//! every result the finishing partition tasks still send, then commits, then answers.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::RuntimeError;
use crate::message::Prepared;
use crate::shared::{Control, Shared};

/// A commit strategy: exactly-once transactions or at-least-once offset tracking.
pub(crate) trait Committer: Send {
    /// Writes the records of one handled message.
    fn accept(&mut self, item: Prepared) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    /// Whether enough messages wait to commit before the interval ends.
    fn due(&self) -> bool;
    /// Makes everything accepted so far durable.
    fn commit(&mut self) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    /// Finishes revoked partitions: commit their work, or discard it when `lost`.
    fn revoke(
        &mut self,
        partitions: &[i32],
        lost: bool,
    ) -> impl Future<Output = Result<(), RuntimeError>> + Send;
    /// The final commit before the worker exits.
    fn close(&mut self) -> impl Future<Output = Result<(), RuntimeError>> + Send;
}

/// Runs `committer` until shutdown or a fatal error.
pub(crate) async fn run<C: Committer>(
    mut committer: C,
    mut items: mpsc::Receiver<Prepared>,
    mut control: mpsc::UnboundedReceiver<Control>,
    shared: Arc<Shared>,
) -> Result<(), RuntimeError> {
    let mut tick = tokio::time::interval(shared.config.commit_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let result = loop {
        let step = tokio::select! {
            biased;
            reason = shared.failed() => Err(RuntimeError::Fatal(reason)),
            Some(message) = control.recv() => match message {
                Control::Revoke { partitions, tasks, lost, done } => {
                    let outcome = async {
                        if !lost {
                            drain(&mut committer, &mut items, tasks, &shared).await?;
                        }
                        committer.revoke(&partitions, lost).await
                    }
                    .await;
                    let _ = done.send(());
                    outcome
                }
                Control::Shutdown { tasks, done } => {
                    let outcome = async {
                        drain(&mut committer, &mut items, tasks, &shared).await?;
                        committer.close().await
                    }
                    .await;
                    let _ = done.send(());
                    break outcome;
                }
            },
            Some(item) = items.recv() => {
                match committer.accept(item).await {
                    Ok(()) if committer.due() => commit(&mut committer, &mut items, &shared).await,
                    other => other,
                }
            }
            _ = tick.tick() => commit(&mut committer, &mut items, &shared).await,
        };
        if let Err(error) = step {
            break Err(error);
        }
    };
    if let Err(error) = &result {
        shared.fail(error.to_string());
    }
    result
}

/// Commits while the partition tasks go on: results that arrive during the commit are
/// kept (up to the committer queue's size again) and accepted, in order, into the next
/// transaction, so that a commit's round trips do not stall the partitions behind it.
async fn commit<C: Committer>(
    committer: &mut C,
    items: &mut mpsc::Receiver<Prepared>,
    shared: &Shared,
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
        if !committer.due() || shared.fatal().is_some() {
            return Ok(());
        }
    }
}

/// Accepts results until every task in `tasks` ended, then whatever is left queued.
async fn drain<C: Committer>(
    committer: &mut C,
    items: &mut mpsc::Receiver<Prepared>,
    tasks: Vec<JoinHandle<()>>,
    shared: &Shared,
) -> Result<(), RuntimeError> {
    let mut finished = std::pin::pin!(futures::future::join_all(tasks));
    loop {
        tokio::select! {
            biased;
            reason = shared.failed() => return Err(RuntimeError::Fatal(reason)),
            _ = &mut finished => break,
            Some(item) = items.recv() => committer.accept(item).await?,
        }
    }
    while let Ok(item) = items.try_recv() {
        committer.accept(item).await?;
    }
    Ok(())
}
