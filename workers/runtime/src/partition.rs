//! One task per assigned partition: handles its messages one at a time, in offset
//! order, and passes each result to the committer in that order.
//!
//! Transient failures are retried here, with backoff, without blocking other
//! partitions; permanent ones become dead letters. The safety valve watches both.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::RetriesExhausted;
use crate::handler::{Failure, FailureClass, Handler};
use crate::message::{Disposition, InputMessage, OutputRecord, Prepared};
use crate::shared::Shared;
use crate::valve::Valve;

/// Runs the task of `partition` until its queue closes or it is cancelled mid-retry.
pub(crate) async fn run<H: Handler>(
    partition: i32,
    mut queue: mpsc::Receiver<Arc<InputMessage>>,
    handler: Arc<H>,
    committer: mpsc::Sender<Prepared>,
    shared: Arc<Shared>,
    valve: Arc<std::sync::Mutex<Valve>>,
    cancel: CancellationToken,
) {
    while let Some(message) = queue.recv().await {
        if message.generation != shared.generation() {
            // Read before an exactly-once rewind: it will be read again.
            continue;
        }
        let started = Instant::now();
        let outcome = match shared.take_poison(partition, message.offset) {
            Some(reason) => {
                let failure = Failure::new(FailureClass::Poison, "output-rejected", reason);
                Outcome::DeadLetter(failure, 1)
            }
            None => handle_with_retries(&*handler, &message, &shared, &cancel).await,
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
                shared
                    .metrics
                    .dead_lettered(&message.topic, partition, message.offset, &failure);
                let record = shared.dead_letters.record(&message, &failure, attempts);
                (vec![record], Disposition::DeadLettered)
            }
            Outcome::Abandoned => return,
            Outcome::Stale => continue,
            Outcome::Fatal(reason) => {
                shared.fail(reason);
                return;
            }
        };
        shared.metrics.processed(started.elapsed());
        let verdict = valve
            .lock()
            .expect("valve")
            .record(disposition == Disposition::DeadLettered);
        if let Some(reason) = verdict {
            shared.fail(reason);
            return;
        }
        let prepared = Prepared {
            topic: message.topic.clone(),
            partition,
            offset: message.offset,
            generation: message.generation,
            timestamp: message.timestamp,
            records,
            disposition,
            input: message,
        };
        if committer.send(prepared).await.is_err() {
            return;
        }
    }
}

enum Outcome {
    Handled(crate::handler::Handled),
    DeadLetter(Failure, u32),
    /// Cancelled during a retry (revoke or shutdown): the next owner processes it.
    Abandoned,
    /// An exactly-once rewind happened during a retry: it will be read again.
    Stale,
    Fatal(String),
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
        match handler.handle(message).await {
            Ok(handled) => return Outcome::Handled(handled),
            Err(failure) if failure.class != FailureClass::Transient => {
                return Outcome::DeadLetter(failure, attempt);
            }
            Err(failure) if attempt >= policy.max_attempts => {
                return match policy.exhausted {
                    RetriesExhausted::DeadLetter => Outcome::DeadLetter(failure, attempt),
                    RetriesExhausted::Fail => Outcome::Fatal(format!(
                        "partition {} offset {}: still failing after {attempt} attempts: {}",
                        message.partition, message.offset, failure.message
                    )),
                };
            }
            Err(failure) => {
                let delay = policy.delay(attempt);
                shared.metrics.retrying(
                    message.partition,
                    message.offset,
                    attempt,
                    delay,
                    &failure,
                );
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = cancel.cancelled() => return Outcome::Abandoned,
                }
                if message.generation != shared.generation() {
                    return Outcome::Stale;
                }
                attempt += 1;
            }
        }
    }
}

/// The dead letter that replaces `records` of `input` when the broker refuses one of
/// them for good (too large for the topic, for instance).
pub(crate) fn dead_letter_instead(
    shared: &Shared,
    input: &InputMessage,
    reason: String,
) -> OutputRecord {
    let failure = Failure::new(FailureClass::Poison, "output-rejected", reason);
    shared
        .metrics
        .dead_lettered(&input.topic, input.partition, input.offset, &failure);
    shared.dead_letters.record(input, &failure, 1)
}
