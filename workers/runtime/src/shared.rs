//! State shared by the poll thread, the partition tasks, the committer and the Kafka
//! client callbacks of one worker: the worker's fixed services (configuration, metrics,
//! dead letters, record limits), the assignment (`rebalance`), the rewind protocol
//! (`rewind`), the lifecycle (`lifecycle`) and the poison marks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::RuntimeConfig;
use crate::crash_loop::Restart;
use crate::dead_letter::DeadLetters;
use crate::error::RuntimeError;
use crate::lifecycle::Lifecycle;
use crate::message::Work;
use crate::metrics::WorkerMetrics;
use crate::rebalance::slot::Slot;
use crate::rewind::state::Rewinds;
use crate::topics::RecordLimits;

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

/// State of one running worker.
pub(crate) struct Shared {
    pub config: RuntimeConfig,
    pub input_topic: Arc<str>,
    pub metrics: WorkerMetrics,
    pub dead_letters: DeadLetters,
    /// The exactly-once rewind protocol.
    pub rewinds: Rewinds,
    /// The worker's phase and failure.
    pub lifecycle: Arc<Lifecycle>,
    /// Assigned partitions.
    assignment: Mutex<HashMap<i32, Slot>>,
    /// Starts partition tasks.
    pub spawner: Spawner,
    /// To the committer.
    pub control: mpsc::UnboundedSender<Control>,
    /// Inputs whose outputs the broker refused for good (partition, offset, reason):
    /// on replay they are dead-lettered instead of processed again.
    poisoned: Mutex<HashMap<(i32, i64), String>>,
    /// The tokio runtime the tasks run on.
    pub runtime: tokio::runtime::Handle,
    /// The largest record each output topic accepts, known once topics are checked.
    pub limits: std::sync::OnceLock<RecordLimits>,
}

impl Shared {
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
        let lifecycle = Arc::new(Lifecycle::new(config.identity.name));
        Shared {
            input_topic: config.input_topic.as_str().into(),
            config,
            metrics,
            dead_letters,
            rewinds: Rewinds::default(),
            lifecycle,
            assignment: Mutex::new(HashMap::new()),
            spawner,
            control,
            poisoned: Mutex::new(HashMap::new()),
            runtime,
            limits: std::sync::OnceLock::new(),
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

    /// The current rewind epoch (see `rewind`).
    pub fn rewind_epoch(&self) -> u64 {
        self.rewinds.epoch()
    }

    /// Stops the worker with `error` (the first error wins).
    pub fn fail(&self, error: RuntimeError) {
        self.lifecycle.fail(error);
    }

    /// Why the worker must stop, if it must.
    pub fn fatal(&self) -> Option<Arc<RuntimeError>> {
        self.lifecycle.fatal()
    }

    /// Resolves when [`Self::fail`] is called, with the first error.
    pub async fn failed(&self) -> Arc<RuntimeError> {
        self.lifecycle.failed().await
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
