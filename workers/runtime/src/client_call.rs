//! A blocking client call (a transaction call, an offset commit) run off the async
//! threads: repeated while the error table says so, bounded by a time budget, and given
//! up on when the client does not answer at all.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::error::KafkaResult;

use crate::kafka_errors::{Next, Stage, classify};

/// Attempts of a call that fails with a retriable error.
const CALL_ATTEMPTS: u32 = 12;

/// How a call failed.
pub(crate) enum CallError {
    /// Abort the transaction and rewind.
    Abortable(String),
    /// The producer cannot go on: it failed fatally, or a call went unanswered past its
    /// time budget (the broker aborts a transaction older than its timeout anyway, and
    /// the producer may be waiting on a connection to its coordinator that will not come
    /// back: seen after a broker restart, the call timing out again and again with the
    /// request still queued). The committer replaces it, or stops the worker when no new
    /// producer can cure the error (see `producer_failed`).
    Fatal(String),
}

/// How long past its budget a call may stay blocked in the client before it is given up
/// on: the client's own timeout normally answers first.
const UNANSWERED_GRACE: Duration = Duration::from_secs(5);

/// Runs a blocking client call (a transaction call, or an offset commit: `stage`) on a
/// thread of its own, repeating it while the error table says `Retry` for `stage`, at
/// most [`CALL_ATTEMPTS`] times and, with a `budget`, not after the budget is spent
/// ([`CallError::Fatal`]).
///
/// With a budget, a call that has not returned [`UNANSWERED_GRACE`] after it is spent is
/// given up on ([`CallError::Fatal`]; the committer then replaces the producer): the
/// client enforces some call timeouts only through requests that must be answered
/// (`send_offsets_to_transaction` waits without a limit of its own), and after a broker
/// was fenced such a call was seen blocked for good, the worker alive, heartbeating, and
/// committing nothing. The blocked thread is left behind, detached: a process that
/// exits does not wait for it.
pub(crate) async fn blocking_call(
    what: &'static str,
    stage: Stage,
    budget: Option<Duration>,
    call: impl Fn() -> KafkaResult<()> + Send + Sync + 'static,
) -> Result<(), CallError> {
    let call = Arc::new(call);
    let started = Instant::now();
    let mut attempt = 1;
    loop {
        let run = call.clone();
        let (answer, answered) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("txn-call".into())
            .spawn(move || {
                let _ = answer.send(run());
            })
            .map_err(|e| CallError::Fatal(format!("{what}: cannot start a thread: {e}")))?;
        let result = match budget {
            None => answered.await,
            Some(budget) => {
                let limit = (budget + UNANSWERED_GRACE).saturating_sub(started.elapsed());
                match tokio::time::timeout(limit, answered).await {
                    Ok(answer) => answer,
                    Err(_) => {
                        return Err(CallError::Fatal(format!(
                            "{what}: no answer within {} ms; the call is still blocked in \
                             the client",
                            started.elapsed().as_millis()
                        )));
                    }
                }
            }
        }
        .map_err(|_| CallError::Fatal(format!("{what}: the call panicked")))?;
        let error = match result {
            Ok(()) => return Ok(()),
            Err(error) => error,
        };
        match classify(&error, stage) {
            // The committer replaces the producer, or stops the worker when no new
            // producer can cure the error (see `producer_failed`).
            Next::Stop | Next::ReplaceProducer => {
                return Err(CallError::Fatal(format!("{what}: {error}")));
            }
            Next::Retry if budget.is_some_and(|b| started.elapsed() >= b) => {
                return Err(CallError::Fatal(format!(
                    "{what}: no answer within {} ms: {error}",
                    started.elapsed().as_millis()
                )));
            }
            Next::Retry if attempt < CALL_ATTEMPTS => {
                tracing::warn!(what, attempt, %error, "call failed; retrying");
                tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                attempt += 1;
            }
            _ => return Err(CallError::Abortable(format!("{what}: {error}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_call_blocked_past_its_budget_is_given_up_on() {
        let started = Instant::now();
        let result = blocking_call(
            "a call",
            Stage::TransactionCall,
            Some(Duration::from_millis(200)),
            || {
                std::thread::sleep(Duration::from_secs(30));
                Ok(())
            },
        )
        .await;
        let waited = started.elapsed();
        assert!(
            matches!(&result, Err(CallError::Fatal(reason)) if reason.contains("no answer within")),
            "{:?}",
            result.err().map(|e| match e {
                CallError::Fatal(r) | CallError::Abortable(r) => r,
            })
        );
        assert!(waited < Duration::from_secs(20), "waited {waited:?}");
    }

    #[tokio::test]
    async fn a_call_that_answers_in_time_is_its_answer() {
        let result = blocking_call(
            "a call",
            Stage::TransactionCall,
            Some(Duration::from_secs(5)),
            || Ok(()),
        )
        .await;
        assert!(result.is_ok());
        let result = blocking_call("a call", Stage::TransactionCall, None, || Ok(())).await;
        assert!(result.is_ok());
    }
}
