//! The producer side: sending records, and what the client's delivery reports mean.
//!
//! Every record carries a tag naming the input it came from. In exactly-once mode a
//! failed delivery dooms the open transaction; when the broker refused the record for
//! good (too large, invalid), the input is also marked poisoned so that, after the
//! rewind, it is dead-lettered instead of failing the next transaction the same way.
//! In at-least-once mode the tag counts the input's outstanding records; the last
//! acknowledgement completes the input's offset.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::Message;
use rdkafka::client::ClientContext;
use rdkafka::error::KafkaError;
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseRecord, ProducerContext, ThreadedProducer};
use rdkafka::statistics::Statistics;

use crate::error::RuntimeError;
use crate::kafka_errors::{Next, Stage, classify};
use crate::lifecycle::Phase;
use crate::message::{InputMessage, OutputRecord, RecordHeader};
use crate::shared::Shared;

/// The producer every worker uses.
pub(crate) type WorkerProducer = ThreadedProducer<ProducerCallbacks>;

/// An input whose records are in flight (at-least-once).
#[derive(Debug)]
pub(crate) struct PendingInput {
    pub input: Arc<InputMessage>,
    pub remaining: AtomicUsize,
    pub records: u64,
    /// Bytes of those records (key, value, headers).
    pub bytes: u64,
    /// Times a failed record of this input was sent again.
    pub redeliveries: AtomicU32,
}

/// What a record's delivery report refers to.
pub(crate) enum Tag {
    /// A record of transaction number `transaction`, from this input.
    Transaction {
        transaction: u64,
        partition: i32,
        offset: i64,
    },
    /// A record of this in-flight input.
    Tracked(Arc<PendingInput>),
}

/// A delivery that failed, for the at-least-once committer to retry or dead-letter.
#[derive(Debug)]
pub(crate) struct FailedDelivery {
    pub pending: Arc<PendingInput>,
    pub record: OutputRecord,
    pub permanent: bool,
    pub error: String,
}

/// Where at-least-once acknowledgements go.
pub(crate) trait AckSink: Send + Sync {
    /// Every record of `pending` is acknowledged.
    fn completed(&self, pending: &PendingInput);
    /// A record of `pending` failed.
    fn failed(&self, failure: FailedDelivery);
}

/// Producer callbacks: delivery reports and client errors.
pub(crate) struct ProducerCallbacks {
    worker: &'static str,
    /// Exactly-once: the committer owns what a fatal error means (a fenced producer is
    /// replaced in process), so the callbacks only report it.
    transactional: bool,
    shared: Mutex<Option<Arc<Shared>>>,
    /// The first delivery failure of the open transaction.
    transaction_failure: Mutex<Option<String>>,
    /// Number of the open transaction: reports about older ones (records purged by
    /// an abort) must not doom the current one.
    current_transaction: AtomicU64,
    acks: Mutex<Option<Arc<dyn AckSink>>>,
}

impl ProducerCallbacks {
    pub fn new(worker: &'static str, transactional: bool) -> ProducerCallbacks {
        ProducerCallbacks {
            worker,
            transactional,
            shared: Mutex::new(None),
            transaction_failure: Mutex::new(None),
            current_transaction: AtomicU64::new(0),
            acks: Mutex::new(None),
        }
    }

    pub fn attach(&self, shared: Arc<Shared>, acks: Option<Arc<dyn AckSink>>) {
        *self.shared.lock().expect("callbacks") = Some(shared);
        *self.acks.lock().expect("callbacks") = acks;
    }

    /// A new transaction begins: forget failures of earlier ones.
    pub fn begin_transaction(&self, transaction: u64) {
        self.current_transaction
            .store(transaction, Ordering::SeqCst);
        *self.transaction_failure.lock().expect("callbacks") = None;
    }

    /// Takes the first delivery failure recorded since the last call.
    pub fn take_transaction_failure(&self) -> Option<String> {
        self.transaction_failure.lock().expect("callbacks").take()
    }

    fn shared(&self) -> Option<Arc<Shared>> {
        self.shared.lock().expect("callbacks").clone()
    }
}

impl ClientContext for ProducerCallbacks {
    fn stats(&self, statistics: Statistics) {
        if let Some(shared) = self.shared() {
            shared
                .metrics
                .producer_queue(statistics.msg_cnt, statistics.msg_size);
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if self.transactional && classify(&error, Stage::Client) == Next::ReplaceProducer {
            // The committer sees it on its next transaction call (or tick) and either
            // replaces a fenced producer or stops the worker.
            tracing::warn!(
                worker = self.worker,
                reason,
                "the producer hit a fatal error"
            );
            return;
        }
        crate::consumer::report_client_error(self.shared().as_deref(), self.worker, &error, reason);
    }
}

impl ProducerContext for ProducerCallbacks {
    type DeliveryOpaque = Box<Tag>;

    fn delivery(&self, result: &DeliveryResult<'_>, tag: Box<Tag>) {
        let shared = self.shared();
        let failure = result.as_ref().err().map(|(error, message)| {
            // A whole batch fails with the error of its worst record; only a record
            // that is itself over its topic's limit is refused for good.
            let headers = orderflow_kafka_bytes::headers::read(message);
            let size = message.payload_len()
                + message.key().map_or(0, <[u8]>::len)
                + headers.iter().map(RecordHeader::size).sum::<usize>();
            let oversized = shared
                .as_ref()
                .is_some_and(|s| size > s.record_limit(message.topic()));
            let refused = classify(error, Stage::Delivery) == Next::DeadLetter && oversized;
            (error, message, refused)
        });
        if let Some(shared) = &shared {
            match &failure {
                Some((error, _, refused)) => {
                    shared.metrics.delivery_failed(*refused, &error.to_string());
                    let next = classify(error, Stage::Delivery);
                    if matches!(next, Next::Stop | Next::ReplaceProducer) && !self.transactional {
                        shared.fail(RuntimeError::kafka("producing", (*error).clone()));
                    }
                }
                None => shared.lifecycle.advance(Phase::Running),
            }
        }
        match *tag {
            Tag::Transaction {
                transaction,
                partition,
                offset,
            } => {
                let Some((error, _, refused)) = failure else {
                    return;
                };
                if transaction != self.current_transaction.load(Ordering::SeqCst) {
                    return;
                }
                if refused && let Some(shared) = &shared {
                    shared.poison(
                        partition,
                        offset,
                        format!("the broker refused an output: {error}"),
                    );
                }
                let reason = format!(
                    "delivery of an output of partition {partition} offset {offset} failed: {error}"
                );
                self.transaction_failure
                    .lock()
                    .expect("callbacks")
                    .get_or_insert(reason);
            }
            Tag::Tracked(pending) => {
                let Some(acks) = self.acks.lock().expect("callbacks").clone() else {
                    return;
                };
                match failure {
                    None => {
                        if pending.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                            acks.completed(&pending);
                        }
                    }
                    Some((error, message, refused)) => acks.failed(FailedDelivery {
                        record: OutputRecord {
                            topic: message.topic().into(),
                            key: message.key().map(<[u8]>::to_vec),
                            payload: message.payload().map(<[u8]>::to_vec),
                            headers: orderflow_kafka_bytes::headers::read(message),
                        },
                        permanent: refused,
                        error: error.to_string(),
                        pending,
                    }),
                }
            }
        }
    }
}

/// Enqueues `record`, waiting while the client's queue is full (backpressure: the one
/// error of `send` that [`classify`] says to retry). Returns the tag back with any
/// other error.
pub(crate) async fn send(
    producer: &WorkerProducer,
    record: &OutputRecord,
    mut tag: Box<Tag>,
) -> Result<(), (KafkaError, Box<Tag>)> {
    // Built once: the client takes them over on success and hands them back with a
    // refused record, so a retry sends the same ones without copying them.
    let mut headers = Some(record.kafka_headers());
    loop {
        let mut base = BaseRecord::with_opaque_to(&record.topic, tag);
        base.headers = headers.take();
        if let Some(payload) = &record.payload {
            base = base.payload(payload);
        }
        if let Some(key) = &record.key {
            base = base.key(key);
        }
        match producer.send(base) {
            Ok(()) => return Ok(()),
            Err((error, returned)) if classify(&error, Stage::Send) == Next::Retry => {
                tag = returned.delivery_opaque;
                headers = returned.headers;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            Err((error, returned)) => return Err((error, returned.delivery_opaque)),
        }
    }
}
