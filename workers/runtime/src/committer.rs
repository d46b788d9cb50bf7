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
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::RuntimeConfig;
use crate::error::RuntimeError;
use crate::lifecycle::Lifecycle;
use crate::message::Prepared;
use crate::shared::Control;

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
mod tests {
    use std::sync::Mutex;
    use std::time::Instant;

    use super::*;
    use crate::message::{Disposition, InputMessage};

    /// What the fake committer was asked to do, in order.
    #[derive(Clone, Debug, PartialEq, Eq)]
    enum Call {
        Accept(i32, i64),
        Commit(usize),
        Revoke(Vec<i32>, bool),
        Close,
    }

    /// Records its calls; counts what it accepted since its last commit; fails to
    /// accept the offset `fail_at`.
    struct Recorder {
        calls: Arc<Mutex<Vec<Call>>>,
        pending: usize,
        fail_at: Option<i64>,
    }

    impl Committer for Recorder {
        async fn accept(&mut self, item: Prepared) -> Result<(), RuntimeError> {
            if Some(item.offset) == self.fail_at {
                return Err(RuntimeError::Transaction(format!(
                    "refused {}",
                    item.offset
                )));
            }
            self.record(Call::Accept(item.partition, item.offset));
            self.pending += 1;
            Ok(())
        }

        fn pending(&self) -> Pending {
            Pending {
                messages: self.pending,
                checkpoints: 0,
            }
        }

        async fn commit(&mut self) -> Result<(), RuntimeError> {
            let committed = std::mem::take(&mut self.pending);
            self.record(Call::Commit(committed));
            Ok(())
        }

        async fn revoke(&mut self, partitions: &[i32], lost: bool) -> Result<(), RuntimeError> {
            self.record(Call::Revoke(partitions.to_vec(), lost));
            Ok(())
        }

        async fn close(&mut self) -> Result<(), RuntimeError> {
            self.record(Call::Close);
            Ok(())
        }
    }

    impl Recorder {
        fn record(&self, call: Call) {
            self.calls.lock().unwrap().push(call);
        }
    }

    fn item(partition: i32, offset: i64) -> Prepared {
        let topic: Arc<str> = "in".into();
        Prepared {
            topic: topic.clone(),
            partition,
            offset,
            rewind_epoch: 0,
            timestamp: None,
            records: Vec::new(),
            disposition: Disposition::Processed,
            input: Arc::new(InputMessage {
                topic,
                partition,
                offset,
                timestamp: None,
                key: None,
                payload: None,
                headers: Vec::new(),
                rewind_epoch: 0,
                received_at: Instant::now(),
            }),
            checkpoint: None,
        }
    }

    struct Loop {
        calls: Arc<Mutex<Vec<Call>>>,
        items: mpsc::Sender<Prepared>,
        control: mpsc::UnboundedSender<Control>,
        lifecycle: Arc<Lifecycle>,
        task: JoinHandle<Result<(), RuntimeError>>,
    }

    /// Starts the loop with a recording committer, committing every second or every
    /// `max_messages`.
    fn start(max_messages: usize, fail_at: Option<i64>) -> Loop {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let (items, items_rx) = mpsc::channel(16);
        let (control, control_rx) = mpsc::unbounded_channel();
        let lifecycle = Arc::new(Lifecycle::new("test"));
        let committer = Recorder {
            calls: calls.clone(),
            pending: 0,
            fail_at,
        };
        let policy = CommitPolicy {
            interval: Duration::from_secs(1),
            max_messages,
        };
        let task = tokio::spawn(run(
            committer,
            items_rx,
            control_rx,
            policy,
            lifecycle.clone(),
        ));
        Loop {
            calls,
            items,
            control,
            lifecycle,
            task,
        }
    }

    impl Loop {
        fn calls(&self) -> Vec<Call> {
            self.calls.lock().unwrap().clone()
        }

        /// Lets the loop run until it waits (time is paused: nothing else moves it).
        async fn settle(&self) {
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn work_is_committed_on_the_interval_tick() {
        let worker = start(100, None);
        // The interval's first tick is at once: nothing accepted yet.
        worker.settle().await;
        worker.items.send(item(0, 5)).await.unwrap();
        worker.settle().await;
        assert_eq!(worker.calls(), [Call::Commit(0), Call::Accept(0, 5)]);
        tokio::time::advance(Duration::from_millis(999)).await;
        worker.settle().await;
        assert_eq!(worker.calls().len(), 2, "not before the interval ends");
        tokio::time::advance(Duration::from_millis(1)).await;
        worker.settle().await;
        assert_eq!(
            worker.calls(),
            [Call::Commit(0), Call::Accept(0, 5), Call::Commit(1)]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn work_is_committed_as_soon_as_the_message_limit_is_reached() {
        let worker = start(3, None);
        worker.settle().await;
        for offset in 0..3 {
            worker.items.send(item(1, offset)).await.unwrap();
        }
        worker.settle().await;
        assert_eq!(
            worker.calls(),
            [
                Call::Commit(0),
                Call::Accept(1, 0),
                Call::Accept(1, 1),
                Call::Accept(1, 2),
                Call::Commit(3),
            ],
            "committed at the third message, with no time passing"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_revoke_is_answered_only_after_its_partitions_work_is_accepted_and_committed() {
        let worker = start(100, None);
        worker.settle().await;
        // A partition task still sending its last result when the revoke comes.
        let items = worker.items.clone();
        let task = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            items.send(item(2, 7)).await.unwrap();
        });
        let (done, answered) = std::sync::mpsc::channel();
        worker
            .control
            .send(Control::Revoke {
                partitions: vec![2],
                tasks: vec![task],
                lost: false,
                done,
            })
            .unwrap();
        worker.settle().await;
        assert!(
            answered.try_recv().is_err(),
            "answered before the task ended"
        );
        tokio::time::advance(Duration::from_millis(300)).await;
        worker.settle().await;
        answered.try_recv().expect("answered");
        assert_eq!(
            worker.calls(),
            [
                Call::Commit(0),
                Call::Accept(2, 7),
                Call::Revoke(vec![2], false)
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_assignment_is_discarded_without_waiting_for_its_tasks() {
        let worker = start(100, None);
        worker.settle().await;
        let (done, answered) = std::sync::mpsc::channel();
        let never = tokio::spawn(std::future::pending::<()>());
        worker
            .control
            .send(Control::Revoke {
                partitions: vec![0, 1],
                tasks: vec![never],
                lost: true,
                done,
            })
            .unwrap();
        worker.settle().await;
        answered.try_recv().expect("answered at once");
        assert_eq!(
            worker.calls(),
            [Call::Commit(0), Call::Revoke(vec![0, 1], true)]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_shutdown_accepts_what_is_queued_then_closes_and_stops() {
        let worker = start(100, None);
        worker.settle().await;
        worker.items.send(item(0, 1)).await.unwrap();
        worker.items.send(item(0, 2)).await.unwrap();
        let (done, answered) = std::sync::mpsc::channel();
        worker
            .control
            .send(Control::Shutdown {
                tasks: Vec::new(),
                done,
            })
            .unwrap();
        let result = worker.task.await.unwrap();
        assert!(result.is_ok());
        answered.try_recv().expect("answered");
        let calls = worker.calls.lock().unwrap().clone();
        assert_eq!(
            calls,
            [
                Call::Commit(0),
                Call::Accept(0, 1),
                Call::Accept(0, 2),
                Call::Close
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_error_stops_the_loop_and_fails_the_worker() {
        let worker = start(100, Some(4));
        worker.settle().await;
        worker.items.send(item(0, 3)).await.unwrap();
        worker.items.send(item(0, 4)).await.unwrap();
        worker.items.send(item(0, 5)).await.unwrap();
        let result = worker.task.await.unwrap();
        assert_eq!(result.unwrap_err().to_string(), "refused 4");
        assert!(matches!(
            worker.lifecycle.fatal().as_deref(),
            Some(RuntimeError::Transaction(reason)) if reason == "refused 4"
        ));
        let calls = worker.calls.lock().unwrap().clone();
        assert_eq!(
            calls,
            [Call::Commit(0), Call::Accept(0, 3)],
            "nothing after it"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_elsewhere_in_the_worker_stops_the_loop() {
        let worker = start(100, None);
        worker.settle().await;
        let first = worker
            .lifecycle
            .fail(RuntimeError::Stopped("the poll thread failed".into()));
        let result = worker.task.await.unwrap();
        assert!(matches!(result, Err(RuntimeError::Failed(ref e)) if Arc::ptr_eq(e, &first)));
    }
}
