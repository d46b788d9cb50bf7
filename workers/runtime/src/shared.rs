//! State shared by the poll thread, the partition tasks, the committer and the Kafka
//! client callbacks of one worker.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::RuntimeConfig;
use crate::crash_loop::Restart;
use crate::dead_letter::DeadLetters;
use crate::message::Work;
use crate::metrics::WorkerMetrics;
use crate::topics::RecordLimits;

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

/// Starts the task of a newly assigned partition.
pub(crate) type Spawner = Box<
    dyn Fn(
            &Arc<Shared>,
            i32,
            mpsc::Receiver<Work>,
            Option<Restart>,
            CancellationToken,
        ) -> JoinHandle<()>
        + Send
        + Sync,
>;

/// What the committer is asked to do by the poll thread.
pub(crate) enum Control {
    /// Finish the revoked partitions: wait for their tasks, commit their work
    /// (or, when the assignment was lost, abort it), then answer on `done`.
    Revoke {
        partitions: Vec<i32>,
        tasks: Vec<JoinHandle<()>>,
        lost: bool,
        done: std::sync::mpsc::Sender<()>,
    },
    /// Final commit: wait for every task, commit, answer on `done`, stop.
    Shutdown {
        tasks: Vec<JoinHandle<()>>,
        done: std::sync::mpsc::Sender<()>,
    },
}

/// A rewind asked of the poll thread: its number, and where to answer.
pub(crate) type RewindRequest = (u64, std::sync::mpsc::Sender<Result<(), String>>);

/// State of one running worker.
pub(crate) struct Shared {
    pub config: RuntimeConfig,
    pub input_topic: Arc<str>,
    pub metrics: WorkerMetrics,
    pub dead_letters: DeadLetters,
    /// Bumped by every exactly-once rewind; messages carry the value they were read in.
    pub generation: AtomicU64,
    /// Assigned partitions.
    assignment: Mutex<HashMap<i32, Slot>>,
    /// Starts partition tasks.
    pub spawner: Spawner,
    /// To the committer.
    pub control: mpsc::UnboundedSender<Control>,
    /// Inputs whose outputs the broker refused for good (partition, offset, reason):
    /// on replay they are dead-lettered instead of processed again.
    poisoned: Mutex<HashMap<(i32, i64), String>>,
    fatal: Mutex<Option<String>>,
    fatal_notify: Notify,
    /// The poll loop must stop dispatching.
    pub stopping: AtomicBool,
    /// The committer has made its final commit; rebalance callbacks must not wait for it.
    pub committer_done: AtomicBool,
    /// The client connected to a broker at least once.
    pub connected: AtomicBool,
    /// The tokio runtime the tasks run on.
    pub runtime: tokio::runtime::Handle,
    /// The largest record each output topic accepts, known once topics are checked.
    pub limits: std::sync::OnceLock<RecordLimits>,
    /// Rewinds asked of the poll thread, each answered on its channel.
    pub rewinds: Mutex<Vec<RewindRequest>>,
    /// Numbers rewind requests.
    pub rewind_ids: AtomicU64,
    /// The poll thread is inside a rebalance callback, waiting for the committer.
    pub in_rebalance: AtomicBool,
    /// The poll thread left its loop (it serves no more rewind requests).
    pub poll_loop_done: AtomicBool,
}

impl Shared {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: RuntimeConfig,
        metrics: WorkerMetrics,
        spawner: Spawner,
        control: mpsc::UnboundedSender<Control>,
        runtime: tokio::runtime::Handle,
    ) -> Shared {
        let dead_letters = DeadLetters {
            topic: config.dlq_topic.as_str().into(),
            group: config.group_id.as_str().into(),
            worker: config.identity.name,
            version: config.identity.version,
        };
        Shared {
            input_topic: config.input_topic.as_str().into(),
            config,
            metrics,
            dead_letters,
            generation: AtomicU64::new(0),
            assignment: Mutex::new(HashMap::new()),
            spawner,
            control,
            poisoned: Mutex::new(HashMap::new()),
            fatal: Mutex::new(None),
            fatal_notify: Notify::new(),
            stopping: AtomicBool::new(false),
            committer_done: AtomicBool::new(false),
            connected: AtomicBool::new(false),
            runtime,
            limits: std::sync::OnceLock::new(),
            rewinds: Mutex::new(Vec::new()),
            rewind_ids: AtomicU64::new(0),
            in_rebalance: AtomicBool::new(false),
            poll_loop_done: AtomicBool::new(false),
        }
    }

    /// The largest record `topic` accepts (unbounded until the topics are checked).
    pub fn record_limit(&self, topic: &str) -> usize {
        self.limits
            .get()
            .map_or(usize::MAX, |limits| limits.of(topic))
    }

    /// The assignment, locked.
    pub fn assignment(&self) -> MutexGuard<'_, HashMap<i32, Slot>> {
        self.assignment.lock().expect("assignment lock")
    }

    /// The current rewind generation.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Stops the worker with `reason` (the first reason wins).
    pub fn fail(&self, reason: impl Into<String>) {
        let mut fatal = self.fatal.lock().expect("fatal lock");
        if fatal.is_none() {
            let reason = reason.into();
            tracing::error!(worker = self.config.identity.name, reason = %reason, "fatal error; stopping");
            *fatal = Some(reason);
        }
        drop(fatal);
        self.fatal_notify.notify_waiters();
        self.fatal_notify.notify_one();
    }

    /// Why the worker must stop, if it must.
    pub fn fatal(&self) -> Option<String> {
        self.fatal.lock().expect("fatal lock").clone()
    }

    /// Resolves when [`Self::fail`] is called.
    pub async fn failed(&self) -> String {
        loop {
            let notified = self.fatal_notify.notified();
            if let Some(reason) = self.fatal() {
                return reason;
            }
            notified.await;
        }
    }

    /// Marks an input whose output the broker refuses for good.
    pub fn poison(&self, partition: i32, offset: i64, reason: String) {
        self.poisoned
            .lock()
            .expect("poison lock")
            .insert((partition, offset), reason);
    }

    /// Takes the poison mark of an input, if it has one.
    pub fn take_poison(&self, partition: i32, offset: i64) -> Option<String> {
        let mut poisoned = self.poisoned.lock().expect("poison lock");
        if poisoned.is_empty() {
            return None;
        }
        poisoned.remove(&(partition, offset))
    }
}
