//! One task per assigned partition: handles its messages one at a time, in offset
//! order, and passes each result to the committer in that order.
//!
//! Transient failures are retried here, with backoff, without blocking other
//! partitions; permanent ones become dead letters. The safety valve watches both.

use std::sync::Arc;
use std::time::Instant;

use futures::FutureExt;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::config::RetriesExhausted;
use crate::crash_loop::{Careful, Restart};
use crate::error::RuntimeError;
use crate::handler::{Failure, FailureClass, Handler};
use crate::message::{Checkpoint, Disposition, InputMessage, Prepared, Work};
use crate::shared::Shared;
use crate::valve::Valve;

/// Runs the task of `partition` until its queue closes or it is cancelled mid-retry.
/// `restart` is what the committed offset said of earlier starts (see `crash_loop`).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run<H: Handler>(
    partition: i32,
    mut queue: mpsc::Receiver<Work>,
    mut restart: Option<Restart>,
    handler: Arc<H>,
    committer: mpsc::Sender<Prepared>,
    shared: Arc<Shared>,
    valve: Arc<std::sync::Mutex<Valve>>,
    cancel: CancellationToken,
) {
    let mut careful: Option<Careful> = None;
    while let Some(work) = queue.recv().await {
        let message = match work {
            Work::Message(message) => message,
            Work::Advance { to, rewind_epoch } => {
                if rewind_epoch != shared.rewind_epoch() {
                    continue;
                }
                let stand_in =
                    InputMessage::advance(shared.input_topic.clone(), partition, to, rewind_epoch);
                if committer.send(position(stand_in, None)).await.is_err() {
                    return;
                }
                continue;
            }
        };
        if message.rewind_epoch != shared.rewind_epoch() {
            // Read before an exactly-once rewind: it will be read again.
            continue;
        }
        let mut set_aside = None;
        if let Some(restart) = restart.take() {
            if restart.sets_aside(message.offset) {
                set_aside = Some(restart.starts);
            } else {
                // This start counts before the first message is handled: if handling
                // kills the process, the next start knows.
                let stand_in = InputMessage::advance(
                    shared.input_topic.clone(),
                    partition,
                    message.offset,
                    message.rewind_epoch,
                );
                let (done, written) = oneshot::channel();
                let checkpoint = Checkpoint {
                    starts: restart.starts + 1,
                    done,
                };
                if committer
                    .send(position(stand_in, Some(checkpoint)))
                    .await
                    .is_err()
                {
                    return;
                }
                // Not written (an abort in between): this start goes uncounted. A revoke
                // waits for this task to drain, and for nothing else.
                tokio::select! {
                    _ = written => {}
                    _ = cancel.cancelled() => {}
                }
            }
            if restart.unclean() {
                careful = Some(Careful::default());
            }
        }
        let started = Instant::now();
        let outcome = match (set_aside, shared.take_poison(partition, message.offset)) {
            (Some(starts), _) => {
                let failure = Failure::new(
                    FailureClass::CrashLoop,
                    "crash-loop",
                    format!(
                        "{starts} starts in a row died while handling this record \
                         (an abort, an out-of-memory kill or a panic that could not be \
                         caught): set aside without being handled again"
                    ),
                );
                Outcome::DeadLetter(failure, starts)
            }
            (None, Some(reason)) => {
                let failure = Failure::new(FailureClass::Poison, "output-rejected", reason);
                Outcome::DeadLetter(failure, 1)
            }
            (None, None) => handle_with_retries(&*handler, &message, &shared, &cancel).await,
        };
        let (records, disposition) = match outcome {
            Outcome::Handled(handled) => {
                if let Some(reason) = handled.skipped {
                    shared.metrics.skipped(reason);
                    (handled.records, Disposition::Skipped)
                } else {
                    (handled.records, Disposition::Processed)
                }
            }
            Outcome::DeadLetter(failure, attempts) => {
                shared.metrics.dead_lettered(&message, &failure);
                let record = shared.dead_letters.record(&message, &failure, attempts);
                (vec![record], Disposition::DeadLettered)
            }
            Outcome::Abandoned => return,
            Outcome::Stale => continue,
            Outcome::Fatal(error) => {
                shared.fail(error);
                return;
            }
        };
        shared.metrics.processed(started.elapsed());
        let verdict = valve
            .lock()
            .expect("valve")
            .record(disposition == Disposition::DeadLettered);
        if let Some(reason) = verdict {
            shared.metrics.valve_tripped(&reason);
            shared.fail(RuntimeError::SafetyValve(reason));
            return;
        }
        // After an unclean start, commit after 1, 2, 4, ... messages: a record that
        // kills the process soon becomes the committed position itself.
        let (checkpoint, written) = match careful.as_mut().map(Careful::next) {
            Some(Some(true)) => {
                let (done, written) = oneshot::channel();
                (Some(Checkpoint { starts: 1, done }), Some(written))
            }
            Some(Some(false)) => (None, None),
            Some(None) => {
                careful = None;
                (None, None)
            }
            None => (None, None),
        };
        let prepared = Prepared {
            topic: message.topic.clone(),
            partition,
            offset: message.offset,
            rewind_epoch: message.rewind_epoch,
            timestamp: message.timestamp,
            records,
            disposition,
            input: message,
            checkpoint,
        };
        if committer.send(prepared).await.is_err() {
            return;
        }
        if let Some(written) = written {
            tokio::select! {
                _ = written => {}
                _ = cancel.cancelled() => {}
            }
        }
    }
}

/// The committer's item for a position without a message: an advance past records no
/// reader is given, or the count of a start.
fn position(stand_in: InputMessage, checkpoint: Option<Checkpoint>) -> Prepared {
    Prepared {
        topic: stand_in.topic.clone(),
        partition: stand_in.partition,
        offset: stand_in.offset,
        rewind_epoch: stand_in.rewind_epoch,
        timestamp: None,
        records: Vec::new(),
        disposition: Disposition::Advanced,
        input: Arc::new(stand_in),
        checkpoint,
    }
}

enum Outcome {
    Handled(crate::handler::Handled),
    DeadLetter(Failure, u32),
    /// Cancelled during a retry (revoke or shutdown): the next owner processes it.
    Abandoned,
    /// An exactly-once rewind happened during a retry: it will be read again.
    Stale,
    Fatal(RuntimeError),
}

async fn handle_with_retries<H: Handler>(
    handler: &H,
    message: &InputMessage,
    shared: &Shared,
    cancel: &CancellationToken,
) -> Outcome {
    let policy = shared.config.retry;
    let mut attempt = 1;
    loop {
        // A panic in decode, process or encode is this message's failure: caught here,
        // it becomes a dead letter instead of a crash that the next start repeats.
        let handled = std::panic::AssertUnwindSafe(handler.handle(message))
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| {
                Err(Failure::new(
                    FailureClass::Panic,
                    "panic",
                    panic_message(panic.as_ref()),
                ))
            });
        match handled {
            Ok(handled) => return Outcome::Handled(handled),
            Err(failure) if failure.class != FailureClass::Transient => {
                return Outcome::DeadLetter(failure, attempt);
            }
            Err(failure) if attempt >= policy.max_attempts => {
                return match policy.exhausted {
                    RetriesExhausted::DeadLetter => Outcome::DeadLetter(failure, attempt),
                    RetriesExhausted::Fail => Outcome::Fatal(RuntimeError::RetriesExhausted {
                        partition: message.partition,
                        offset: message.offset,
                        attempts: attempt,
                        reason: failure.message,
                    }),
                };
            }
            Err(failure) => {
                let delay = policy.delay(attempt);
                shared.metrics.retrying(message, attempt, delay, &failure);
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = cancel.cancelled() => return Outcome::Abandoned,
                }
                if message.rewind_epoch != shared.rewind_epoch() {
                    return Outcome::Stale;
                }
                attempt += 1;
            }
        }
    }
}

/// The message a panic was raised with.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}
