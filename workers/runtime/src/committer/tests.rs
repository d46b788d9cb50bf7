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

/// A handled message of `partition` at `offset`, with nothing to write.
pub(super) fn item(partition: i32, offset: i64) -> Prepared {
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
