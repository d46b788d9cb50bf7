//! Turning one consumed message into records to produce.
//!
//! [`Handler`] is the byte-level step the engine drives. [`AvroHandler`] wraps a
//! [`Processor`]: decode with the codec, call the pure function, encode the outputs,
//! carry the input headers and the W3C trace context. [`Passthrough`] copies messages unchanged; it is the
//! ceiling the benchmarks compare the workers against.

use std::future::Future;
use std::sync::Arc;

use orderflow_events::{Codec, CodecError, ErrorClass, SchemaRef, wire};

use crate::clock::Clock;
use crate::message::{InputMessage, OutputRecord, RecordHeader};
use crate::processor::{Input, Outcome, ProcessError, Processor};
use crate::telemetry::{TRACEPARENT, child_traceparent};

/// Why a message failed, sorted by what the runtime does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureClass {
    /// Not a valid event: dead-letter.
    Decode,
    /// Unknown or unreadable schema: dead-letter.
    Schema,
    /// Valid but unprocessable (the processor refused it, or its output cannot be
    /// written): dead-letter.
    Poison,
    /// May succeed later: retry.
    Transient,
    /// Handling it panicked (a bug in a library or a processor): dead-letter, with the
    /// panic's message, instead of crashing on it again after every restart.
    Panic,
    /// Processes handling it died (abort, OOM kill, a panic that cannot be caught)
    /// several starts in a row: set aside without being handled again.
    CrashLoop,
}

impl FailureClass {
    /// Every class, for the metrics to start each series at 0.
    pub const ALL: [FailureClass; 6] = [
        FailureClass::Decode,
        FailureClass::Schema,
        FailureClass::Poison,
        FailureClass::Transient,
        FailureClass::Panic,
        FailureClass::CrashLoop,
    ];

    /// Stable name for dead-letter headers and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Decode => "decode",
            FailureClass::Schema => "schema",
            FailureClass::Poison => "poison",
            FailureClass::Transient => "transient",
            FailureClass::Panic => "panic",
            FailureClass::CrashLoop => "crash-loop",
        }
    }
}

/// A failed message.
#[derive(Debug, Clone)]
pub struct Failure {
    /// What to do.
    pub class: FailureClass,
    /// Finer, stable error kind.
    pub kind: &'static str,
    /// Human-readable message.
    pub message: String,
    /// The writer schema named by the message, when readable.
    pub schema: Option<SchemaRef>,
}

impl Failure {
    /// A failure of `class`.
    pub fn new(class: FailureClass, kind: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            class,
            kind,
            message: message.into(),
            schema: None,
        }
    }

    fn from_codec(error: CodecError, payload: &[u8]) -> Failure {
        let class = match error.class() {
            ErrorClass::Decode => FailureClass::Decode,
            ErrorClass::Schema => FailureClass::Schema,
            ErrorClass::Transient => FailureClass::Transient,
        };
        Failure {
            class,
            kind: error.kind(),
            message: error.to_string(),
            schema: wire::peek(payload),
        }
    }
}

/// What handling one message produced.
#[derive(Debug, Default)]
pub struct Handled {
    /// Records to produce, in order.
    pub records: Vec<OutputRecord>,
    /// Set when the handler does not process this kind of input (a metric label).
    pub skipped: Option<&'static str>,
}

/// One step from a consumed message to records to produce.
pub trait Handler: Send + Sync + 'static {
    /// Handles one message. Must not panic on any input.
    fn handle(
        &self,
        message: &InputMessage,
    ) -> impl Future<Output = Result<Handled, Failure>> + Send;

    /// Gets ready before the first message (looks up or registers output schemas).
    /// The worker is not ready until this succeeds; it is retried while it fails.
    fn prepare(&self) -> impl Future<Output = Result<(), Failure>> + Send {
        async { Ok(()) }
    }
}

/// A [`Processor`] with its codec: the handler of every worker.
pub struct AvroHandler<P: Processor> {
    processor: P,
    codec: Arc<Codec>,
    output_topic: Arc<str>,
    clock: Arc<dyn Clock>,
}

impl<P: Processor> AvroHandler<P> {
    /// Wraps `processor`, writing to `output_topic`.
    pub fn new(processor: P, codec: Arc<Codec>, output_topic: &str, clock: Arc<dyn Clock>) -> Self {
        AvroHandler {
            processor,
            codec,
            output_topic: output_topic.into(),
            clock,
        }
    }

    /// The processor.
    pub fn processor(&self) -> &P {
        &self.processor
    }
}

impl<P: Processor> Handler for AvroHandler<P> {
    async fn handle(&self, message: &InputMessage) -> Result<Handled, Failure> {
        let Some(payload) = message.payload.as_deref() else {
            return Err(Failure::new(
                FailureClass::Decode,
                "tombstone",
                "the record has no value",
            ));
        };
        let decoded = self
            .codec
            .decode::<P::Input>(payload)
            .await
            .map_err(|error| Failure::from_codec(error, payload))?;
        let input = Input {
            event: &decoded.value,
            topic: &message.topic,
            partition: message.partition,
            offset: message.offset,
            timestamp: message.timestamp,
            key: message.key.as_deref(),
            headers: &message.headers,
            now: self.clock.now_millis(),
        };
        let outputs = match self.processor.process(&input) {
            Ok(Outcome::Emit(outputs)) => outputs,
            Ok(Outcome::Skip(reason)) => {
                return Ok(Handled {
                    records: vec![],
                    skipped: Some(reason),
                });
            }
            Err(ProcessError::Permanent(reason)) => {
                let mut failure = Failure::new(FailureClass::Poison, "processor-rejected", reason);
                failure.schema = Some(decoded.schema);
                return Err(failure);
            }
            Err(ProcessError::Transient(reason)) => {
                return Err(Failure::new(
                    FailureClass::Transient,
                    "processor-transient",
                    reason,
                ));
            }
        };
        if outputs.is_empty() {
            return Ok(Handled::default());
        }
        let header = self
            .codec
            .header_for::<P::Output>(&self.output_topic)
            .await
            .map_err(|error| Failure::from_codec(error, &[]))?;
        // Input headers travel on (as in Kafka Streams), except the dead-letter and replay
        // provenance of the input itself; the trace context continues with a new span.
        let mut headers: Vec<RecordHeader> = message
            .headers
            .iter()
            .filter(|h| !h.is(TRACEPARENT) && !crate::dead_letter::header::is_provenance(&h.name))
            .cloned()
            .collect();
        headers.push(RecordHeader::new(
            TRACEPARENT,
            child_traceparent(message.header(TRACEPARENT)),
        ));
        let mut records = Vec::with_capacity(outputs.len());
        let last = outputs.len() - 1;
        for (index, output) in outputs.into_iter().enumerate() {
            let payload = self
                .codec
                .encode_with(header, &output.value)
                .map_err(|error| {
                    Failure::new(
                        FailureClass::Poison,
                        error.kind(),
                        format!("cannot encode output: {error}"),
                    )
                })?;
            records.push(OutputRecord {
                topic: self.output_topic.clone(),
                key: Some(output.key.into_bytes()),
                payload: Some(payload),
                // The last output takes them: most inputs have one.
                headers: if index == last {
                    std::mem::take(&mut headers)
                } else {
                    headers.clone()
                },
            });
        }
        Ok(Handled {
            records,
            skipped: None,
        })
    }

    async fn prepare(&self) -> Result<(), Failure> {
        self.codec
            .header_for::<P::Output>(&self.output_topic)
            .await
            .map(|_| ())
            .map_err(|error| Failure::from_codec(error, &[]))
    }
}

/// Copies every message unchanged (key, value, headers) to one topic.
pub struct Passthrough {
    output_topic: Arc<str>,
}

impl Passthrough {
    /// Copies to `output_topic`.
    pub fn new(output_topic: &str) -> Self {
        Passthrough {
            output_topic: output_topic.into(),
        }
    }
}

impl Handler for Passthrough {
    async fn handle(&self, message: &InputMessage) -> Result<Handled, Failure> {
        Ok(Handled {
            records: vec![OutputRecord {
                topic: self.output_topic.clone(),
                key: message.key.clone(),
                payload: message.payload.clone(),
                headers: message.headers.clone(),
            }],
            skipped: None,
        })
    }
}
