//! `orderflow produce`: JSON in, Avro out, all or nothing.
//!
//! The input is JSON lines (one per line) or one JSON document (one, or an array). Each
//! is either a bare event, the JSON form of its value ([`orderflow_events::json_form`],
//! the serde form of the event types: a union is an object naming its branch,
//! `{"OrderPlaced": {...}}`), or a record as `orderflow tail` prints it
//! ([`crate::record`]): then its key and headers are kept, and a value that names its
//! `schema` is written with that schema and framing, so `orderflow tail ... | orderflow
//! produce ...` writes the same payload bytes. Every value is checked against its schema
//! and encoded before the first record is sent, so a bad event anywhere in the input
//! means nothing is produced. Errors name the event (counted from 1) and the path of the
//! field.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use orderflow_events::contract::{WriterSchema, catalogue, newest};
use orderflow_events::json_form::JsonError;
use orderflow_events::{Codec, SchemaRef};
use orderflow_kafka_bytes::headers::{RecordHeader, to_kafka};
use orderflow_runtime::send;
use rdkafka::producer::FutureRecord;
use serde_json::Value as Json;

use crate::cli::ProduceArgs;
use crate::record::JsonRecord;
use crate::topology::schema_of;

/// How the input's JSON values are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum InputForm {
    /// A record when it looks like one (an object with `value` or `value_base64` and no
    /// member a record lacks), else a bare value.
    #[default]
    Auto,
    /// Every value is a record as `orderflow tail` prints it.
    Record,
    /// Every value is a bare event (for a schema whose fields look like a record's).
    Value,
}

/// At most this many invalid events are listed in the error.
const LISTED_ERRORS: usize = 20;

/// One encoded record, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The record key; `None` for no key.
    pub key: Option<Vec<u8>>,
    /// The encoded value; `None` for a tombstone.
    pub value: Option<Vec<u8>>,
    /// The headers, in order.
    pub headers: Vec<RecordHeader>,
}

impl Encoded {
    /// The record to send to `topic`.
    pub fn to<'a>(&'a self, topic: &'a str) -> FutureRecord<'a, [u8], [u8]> {
        let mut record = FutureRecord::to(topic);
        if let Some(key) = &self.key {
            record = record.key(key.as_slice());
        }
        if let Some(value) = &self.value {
            record = record.payload(value.as_slice());
        }
        if !self.headers.is_empty() {
            record = record.headers(to_kafka(&self.headers));
        }
        record
    }
}

/// Splits the input into events: JSON lines, or one document that is an event or an
/// array of events.
pub fn parse_events(text: &str) -> Result<Vec<Json>, String> {
    // A byte-order mark, as some editors write one.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut documents = Vec::new();
    for document in serde_json::Deserializer::from_str(text).into_iter::<Json>() {
        let number = documents.len() + 1;
        documents.push(document.map_err(|e| format!("event {number}: not valid JSON: {e}"))?);
    }
    match documents.as_slice() {
        [] => Err("no events in the input".into()),
        [Json::Array(events)] if events.is_empty() => {
            Err("no events in the input (an empty array)".into())
        }
        [Json::Array(_)] => match documents.pop() {
            Some(Json::Array(events)) => Ok(events),
            _ => unreachable!("matched an array"),
        },
        _ => match documents.iter().position(Json::is_array) {
            Some(at) => Err(format!(
                "event {}: an array is accepted only as the whole input, not as one of several \
                 JSON values",
                at + 1
            )),
            None => Ok(documents),
        },
    }
}

/// The record key of `event`: the string (or number) at `field`, a dotted path.
pub fn key_of(number: usize, event: &Json, field: &str) -> Result<String, String> {
    let found = field
        .split('.')
        .try_fold(event, |value, name| value.get(name));
    match found {
        Some(Json::String(text)) => Ok(text.clone()),
        Some(Json::Number(number)) => Ok(number.to_string()),
        _ => Err(format!(
            "event {number}: no string field {field} to use as the key (choose another with \
             --key-field)"
        )),
    }
}

/// The names `--schema` accepts: every schema of the catalogue.
pub fn schema_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = catalogue().iter().map(|entry| entry.name).collect();
    names.dedup();
    names
}

/// The newest version of the schema of the events: `--schema`, else the topic's; `None`
/// for a topic without one (records that name their schema need none).
pub fn schema_for(given: Option<&str>, topic: &str) -> anyhow::Result<Option<WriterSchema>> {
    let Some(name) = given.or_else(|| schema_of(topic)) else {
        return Ok(None);
    };
    let entry = newest(name).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown schema '{name}': the known schemas are {}",
            schema_names().join(", ")
        )
    })?;
    WriterSchema::parse(entry.text)
        .map(Some)
        .map_err(anyhow::Error::msg)
}

/// How events without a schema of their own are written.
#[derive(Debug)]
pub struct DefaultSchema {
    /// The schema, when `--schema` or the topic gives one.
    pub writer: Option<WriterSchema>,
    /// Its header on the topic, found on first use (a registry lookup in Confluent
    /// format).
    header: Option<SchemaRef>,
}

impl DefaultSchema {
    /// Events of `writer`.
    pub fn new(writer: Option<WriterSchema>) -> DefaultSchema {
        DefaultSchema {
            writer,
            header: None,
        }
    }
}

impl DefaultSchema {
    /// The schema and its header on `topic` (found on first use: a registry lookup in
    /// Confluent format); `None` without a schema.
    pub async fn resolve(
        &mut self,
        codec: &Codec,
        topic: &str,
    ) -> anyhow::Result<Option<(SchemaRef, &WriterSchema)>> {
        let DefaultSchema { writer, header } = self;
        let Some(writer) = writer.as_ref() else {
            return Ok(None);
        };
        let header = match header {
            Some(header) => *header,
            None => {
                let found = codec
                    .header_for_writer(topic, writer)
                    .await
                    .with_context(|| format!("finding the schema id of {}", writer.full_name))?;
                *header.insert(found)
            }
        };
        Ok(Some((header, writer)))
    }
}

/// Validates and encodes every event; the errors of every bad event otherwise.
pub async fn encode_events(
    codec: &Codec,
    topic: &str,
    default: &mut DefaultSchema,
    events: &[Json],
    key_field: &str,
    form: InputForm,
) -> anyhow::Result<Result<Vec<Encoded>, Vec<String>>> {
    let mut writers: HashMap<SchemaRef, Arc<WriterSchema>> = HashMap::new();
    let mut encoded = Vec::with_capacity(events.len());
    let mut errors = Vec::new();
    for (index, event) in events.iter().enumerate() {
        let number = index + 1;
        let is_record = match form {
            InputForm::Auto => JsonRecord::is_record(event),
            InputForm::Record => true,
            InputForm::Value => false,
        };
        let outcome = if is_record {
            encode_record(
                codec,
                topic,
                default,
                &mut writers,
                number,
                event,
                key_field,
            )
            .await?
        } else {
            let key = key_of(number, event, key_field);
            match (
                key,
                encode_value(codec, topic, default, number, event, "").await?,
            ) {
                (Ok(key), Ok(value)) => Ok(Encoded {
                    key: Some(key.into_bytes()),
                    value: Some(value),
                    headers: Vec::new(),
                }),
                (Err(error), _) | (_, Err(error)) => Err(error),
            }
        };
        match outcome {
            Ok(record) => encoded.push(record),
            Err(error) => errors.push(error),
        }
    }
    Ok(if errors.is_empty() {
        Ok(encoded)
    } else {
        Err(errors)
    })
}

/// A value written with the default schema; `Err` is the event's error, the outer one
/// a registry failure that ends the command.
async fn encode_value(
    codec: &Codec,
    topic: &str,
    default: &mut DefaultSchema,
    number: usize,
    value: &Json,
    path: &str,
) -> anyhow::Result<Result<Vec<u8>, String>> {
    let Some((header, writer)) = default.resolve(codec, topic).await? else {
        anyhow::bail!(
            "topic {topic} has no default schema and event {number} names none: give \
             --schema, one of {}",
            schema_names().join(", ")
        );
    };
    Ok(encode_with(codec, header, writer, number, value, path))
}

/// One bare event (no record around it) checked against `writer` and encoded, keyed by
/// the string at `key_field`; the first problem otherwise, with the path of its field.
/// The gateway's way in: it wants the field path apart from the message.
pub fn encode_bare(
    codec: &Codec,
    header: SchemaRef,
    writer: &WriterSchema,
    event: &Json,
    key_field: &str,
) -> Result<Encoded, JsonError> {
    let value = codec.encode_json(header, writer, event)?;
    // The schema decides the key field's type; a key field the schema does not have
    // (or makes optional) is named here.
    match key_of(0, event, key_field) {
        Ok(key) => Ok(Encoded {
            key: Some(key.into_bytes()),
            value: Some(value),
            headers: Vec::new(),
        }),
        Err(_) => Err(JsonError {
            path: key_field.to_owned(),
            message: "the record key: a string is required".into(),
        }),
    }
}

fn encode_with(
    codec: &Codec,
    header: SchemaRef,
    writer: &WriterSchema,
    number: usize,
    value: &Json,
    path: &str,
) -> Result<Vec<u8>, String> {
    codec
        .encode_json(header, writer, value)
        .map_err(|error| match (path, error.path.as_str()) {
            ("", "") => format!("event {number}: {}", error.message),
            ("", at) | (at, "") => format!("event {number}: {at}: {}", error.message),
            (prefix, at) => format!("event {number}: {prefix}.{at}: {}", error.message),
        })
}

/// One record in the form `orderflow tail` prints.
async fn encode_record(
    codec: &Codec,
    topic: &str,
    default: &mut DefaultSchema,
    writers: &mut HashMap<SchemaRef, Arc<WriterSchema>>,
    number: usize,
    event: &Json,
    key_field: &str,
) -> anyhow::Result<Result<Encoded, String>> {
    let record: JsonRecord = match serde_path_to_error::deserialize(event) {
        Ok(record) => record,
        Err(error) => {
            return Ok(Err(format!(
                "event {number}: {}: {}",
                error.path(),
                error.inner()
            )));
        }
    };
    let fail = |error: String| Ok(Err(format!("event {number}: {error}")));
    let headers = match record.record_headers() {
        Ok(headers) => headers,
        Err(error) => return fail(error),
    };
    let Some(value) = &record.value else {
        return fail(format!(
            "value_base64: a value that could not be decoded is not produced ({}; orderflow \
             dlq replay writes dead letters back as they are)",
            record
                .error
                .as_deref()
                .unwrap_or("no value and no error given")
        ));
    };
    let key = match record.key_bytes() {
        Some(Ok(key)) => key,
        Some(Err(error)) => return fail(error),
        None => match key_of(number, value, key_field) {
            Ok(key) => Some(key.into_bytes()),
            Err(error) => return Ok(Err(error)),
        },
    };
    if value.is_null() {
        return Ok(Ok(Encoded {
            key,
            value: None,
            headers,
        }));
    }
    let encoded = match record.schema.as_deref() {
        None => encode_value(codec, topic, default, number, value, "value").await?,
        Some(named) => {
            let schema: SchemaRef = match named.parse() {
                Ok(schema) => schema,
                Err(error) => return fail(format!("schema: {error}")),
            };
            let writer = match writers.get(&schema) {
                Some(writer) => writer.clone(),
                None => match codec.writer_schema(schema).await {
                    Ok(writer) => writers.entry(schema).or_insert(writer).clone(),
                    Err(error) => return fail(format!("schema {schema}: {error}")),
                },
            };
            // Another version of the topic's schema is fine; another record is a pipe
            // into the wrong topic.
            if let Some(expected) = &default.writer
                && expected.full_name != writer.full_name
            {
                return fail(format!(
                    "schema {schema}: a {} does not belong on {topic}, whose schema is {} \
                     (give --schema {} to write it anyway)",
                    writer.full_name,
                    expected.full_name,
                    writer.full_name.rsplit('.').next().unwrap_or_default()
                ));
            }
            encode_with(codec, schema, &writer, number, value, "value")
        }
    };
    Ok(encoded.map(|value| Encoded {
        key,
        value: Some(value),
        headers,
    }))
}

/// The error of a rejected input: every bad event (up to a limit), and that nothing was
/// produced.
pub fn rejection(errors: &[String], total: usize) -> String {
    let mut text = format!(
        "{} of {total} events are invalid; nothing was produced:",
        errors.len()
    );
    for error in errors.iter().take(LISTED_ERRORS) {
        text.push_str("\n  ");
        text.push_str(error);
    }
    if errors.len() > LISTED_ERRORS {
        text.push_str(&format!(
            "\n  ... and {} more",
            errors.len() - LISTED_ERRORS
        ));
    }
    text
}

fn read_input(file: Option<&Path>) -> anyhow::Result<(String, String)> {
    match file {
        Some(path) if path != Path::new("-") => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Ok((text, path.display().to_string()))
        }
        _ => {
            let stdin = std::io::stdin();
            if std::io::IsTerminal::is_terminal(&stdin) {
                eprintln!("reading JSON events from stdin (end with Ctrl-D)");
            }
            let mut text = String::new();
            stdin
                .lock()
                .read_to_string(&mut text)
                .context("reading stdin")?;
            Ok((text, "stdin".to_owned()))
        }
    }
}

/// Runs `orderflow produce`.
pub async fn run(args: ProduceArgs) -> anyhow::Result<()> {
    let settings = args.connection.kafka()?;
    // First: it adds the schemas of --schemas-dir, which --schema may name.
    let codec = Codec::new(args.connection.codec(args.format)?).map_err(anyhow::Error::msg)?;
    let mut default = DefaultSchema::new(schema_for(args.schema.as_deref(), &args.topic)?);
    let (text, source) = read_input(args.file.as_deref())?;
    let events =
        parse_events(&text).map_err(|e| anyhow::anyhow!("{source}: {e}; nothing was produced"))?;
    let records = match encode_events(
        &codec,
        &args.topic,
        &mut default,
        &events,
        &args.key_field,
        args.form,
    )
    .await?
    {
        Ok(records) => records,
        Err(errors) => anyhow::bail!("{source}: {}", rejection(&errors, events.len())),
    };
    orderflow_runtime::topics::require_topic(&settings, &args.topic).await?;
    let producer = send::idempotent_producer(&settings)?;
    let outcomes = send::send_all(
        &producer,
        records.iter().map(|record| record.to(&args.topic)),
    )
    .await?;
    let mut failures = outcomes.into_iter().filter_map(Result::err);
    let first_error = failures.next();
    let failed = first_error.iter().count() + failures.count();
    if failed > 0 {
        anyhow::bail!(
            "{failed} of {} events to {} were not acknowledged: {}",
            records.len(),
            args.topic,
            first_error.map(|e| e.to_string()).unwrap_or_default()
        );
    }
    println!("produced {} events to {}", records.len(), args.topic);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderflow_events::{CodecSettings, OrderEvent, sample};

    fn order_json(order: &str) -> Json {
        let mut event = sample::order_placed(1);
        event.order_id = order.into();
        serde_json::to_value(event).unwrap()
    }

    #[test]
    fn json_lines_a_single_object_and_an_array_are_all_accepted() {
        let lines = format!("{}\n\n{}\n", order_json("a"), order_json("b"));
        assert_eq!(parse_events(&lines).unwrap().len(), 2);
        let pretty = serde_json::to_string_pretty(&order_json("a")).unwrap();
        assert_eq!(parse_events(&pretty).unwrap(), vec![order_json("a")]);
        let array =
            Json::Array(vec![order_json("a"), order_json("b"), order_json("c")]).to_string();
        let events = parse_events(&array).unwrap();
        assert_eq!(events.len(), 3);
        assert_eq!(events[2]["order_id"], "c");
    }

    #[test]
    fn broken_or_empty_input_is_refused_naming_the_event() {
        let text = format!("{}\n{{\"order_id\": \n", order_json("a"));
        let error = parse_events(&text).unwrap_err();
        assert!(error.starts_with("event 2: not valid JSON:"), "{error}");
        assert!(error.contains("line 3"), "{error}");
        assert_eq!(parse_events(" \n").unwrap_err(), "no events in the input");
        assert!(parse_events("[]").is_err());
        let mixed = format!("{}\n[{}]", order_json("a"), order_json("b"));
        assert!(
            parse_events(&mixed)
                .unwrap_err()
                .starts_with("event 2: an array")
        );
    }

    /// The errors of encoding `events` as order events, single-object.
    async fn errors_of(events: Vec<Json>) -> Vec<String> {
        let codec = Codec::new(CodecSettings::default()).unwrap();
        encode_orders(&codec, &events).await.unwrap_err()
    }

    /// `events` encoded as order events for orders.lifecycle, keyed by order id.
    async fn encode_orders(codec: &Codec, events: &[Json]) -> Result<Vec<Encoded>, Vec<String>> {
        let mut default = DefaultSchema::new(schema_for(None, "orders.lifecycle").unwrap());
        let form = InputForm::Auto;
        encode_events(
            codec,
            "orders.lifecycle",
            &mut default,
            events,
            "order_id",
            form,
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn a_wrong_type_names_the_event_and_the_field_path() {
        let mut event = order_json("a");
        event["payload"]["OrderPlaced"]["line_items"][0]["quantity"] = Json::from("two");
        let mut record = serde_json::json!({"key": "a", "value": event.clone()});
        record["value"]["occurred_at"] = Json::from(1.5);
        assert_eq!(
            errors_of(vec![order_json("a"), event, record]).await,
            [
                r#"event 2: payload.OrderPlaced.line_items[0].quantity: expected int, found string "two""#,
                "event 3: value.occurred_at: 1.5 is not a long (64-bit integer)",
            ]
        );
    }

    #[tokio::test]
    async fn a_missing_field_an_unknown_branch_and_an_unknown_field_are_named() {
        let mut missing = order_json("a");
        missing.as_object_mut().unwrap().remove("customer_id");
        let mut lost = order_json("a");
        lost["payload"] = serde_json::json!({"OrderLost": {}});
        let mut misspelt = order_json("a");
        misspelt["payload"]["OrderPlaced"]["shipping_address"]["regoin"] = Json::from("Bavaria");
        let errors = errors_of(vec![missing, lost, misspelt, order_json("a")]).await;
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert_eq!(errors[0], "event 1: missing field `customer_id`");
        assert!(
            errors[1].starts_with(
                r#"event 2: payload: "OrderLost" is not one of the union's types (OrderPlaced, "#
            ),
            "{errors:?}"
        );
        assert!(
            errors[2].starts_with(
                "event 3: payload.OrderPlaced.shipping_address.regoin: unknown field (the \
                 fields of io.orderflow.events.Address are recipient, line1, "
            ),
            "{errors:?}"
        );
    }

    #[tokio::test]
    async fn records_keep_their_schema_key_and_headers_and_refuse_undecodable_values() {
        let codec = Codec::new(CodecSettings::default()).unwrap();
        // Written with the first version of the schema: kept, not upgraded.
        let v1 = newest("OrderEvent").unwrap().version - 1;
        let old = catalogue()
            .iter()
            .find(|e| e.name == "OrderEvent" && e.version == v1)
            .unwrap();
        let old = WriterSchema::parse(old.text).unwrap();
        let header = SchemaRef::Fingerprint(old.fingerprint);
        let mut value = order_json("a");
        value["payload"]["OrderPlaced"]
            .as_object_mut()
            .unwrap()
            .retain(|name, _| name != "sales_channel");
        let bytes = codec.encode_json(header, &old, &value).unwrap();
        let record = serde_json::json!({
            "topic": "elsewhere", "partition": 3, "offset": 9, "timestamp": 1,
            "key_base64": "/wA=",
            "headers": [{"key": "h", "value": "1"}, {"key": "h", "value": null},
                        {"key_base64": "/w==", "value_base64": "AA=="}],
            "schema": header.to_string(), "value": value,
        });
        let tombstone = serde_json::json!({"key": "gone", "value": null});
        let keyless = serde_json::json!({"key": null, "value": order_json("b")});
        let events = vec![record, tombstone, keyless];
        let encoded = encode_orders(&codec, &events).await.unwrap();
        assert_eq!(encoded[0].value.as_deref(), Some(bytes.as_slice()));
        assert_eq!(encoded[0].key.as_deref(), Some(&[0xff_u8, 0][..]));
        assert_eq!(
            encoded[0].headers,
            [
                RecordHeader::new("h", "1"),
                RecordHeader {
                    name: b"h".to_vec(),
                    value: None
                },
                RecordHeader {
                    name: vec![0xff],
                    value: Some(vec![0])
                },
            ]
        );
        assert_eq!(
            (encoded[1].key.as_deref(), encoded[1].value.as_ref()),
            (Some(&b"gone"[..]), None)
        );
        assert_eq!(encoded[2].key, None);

        let garbage = serde_json::json!({"key": "k", "value_base64": "AAAA", "error": "bad"});
        let unknown = serde_json::json!({"key": "k", "schema": "id:7", "value": order_json("c")});
        let errors = errors_of(vec![garbage, unknown]).await;
        assert!(
            errors[0].starts_with(
                "event 1: value_base64: a value that could not be decoded is not produced"
            ),
            "{errors:?}"
        );
        assert!(
            errors[1].starts_with("event 2: schema id:7: "),
            "{errors:?}"
        );

        // Keys given twice or as bad base64, headers of the wrong shape, and a record
        // of another schema than the topic's are refused, naming the member.
        let risk = schema_for(Some("OrderRiskAssessed"), "any")
            .unwrap()
            .unwrap();
        let risk = SchemaRef::Fingerprint(risk.fingerprint).to_string();
        let twice = serde_json::json!({"key": "a", "key_base64": "AA==", "value": order_json("a")});
        let bad = serde_json::json!({"key_base64": "!!", "value": order_json("a")});
        let headers =
            serde_json::json!({"key": "a", "headers": {"h": "1"}, "value": order_json("a")});
        let other = serde_json::json!({"key": "a", "schema": risk, "value": {}});
        let errors = errors_of(vec![twice, bad, headers, other]).await;
        assert_eq!(errors[0], "event 1: key and key_base64 are both given");
        assert!(
            errors[1].starts_with("event 2: key_base64: not base64"),
            "{errors:?}"
        );
        assert!(
            errors[2].starts_with("event 3: headers: invalid type: map"),
            "{errors:?}"
        );
        assert!(
            errors[3].contains(
                "a io.orderflow.events.OrderRiskAssessed does not belong on orders.lifecycle, \
                 whose schema is io.orderflow.events.OrderEvent (give --schema OrderRiskAssessed"
            ),
            "{errors:?}"
        );
    }

    #[tokio::test]
    async fn the_form_flag_reads_a_value_that_looks_like_a_record_as_a_value() {
        let codec = Codec::new(CodecSettings::default()).unwrap();
        let looks_like_a_record = serde_json::json!({"key": "a", "value": order_json("a")});
        let mut default = DefaultSchema::new(schema_for(None, "orders.lifecycle").unwrap());
        let error = encode_events(
            &codec,
            "orders.lifecycle",
            &mut default,
            &[looks_like_a_record],
            "key",
            InputForm::Value,
        )
        .await
        .unwrap()
        .unwrap_err();
        // Read as an order event, which it is not.
        assert_eq!(error, ["event 1: missing field `event_id`"]);
        assert_eq!(
            parse_events("\u{feff}{\"a\": 1}").unwrap(),
            vec![serde_json::json!({"a": 1})]
        );
    }

    #[test]
    fn the_key_comes_from_the_key_field() {
        let event = order_json("ord-7");
        assert_eq!(key_of(1, &event, "order_id").unwrap(), "ord-7");
        assert_eq!(key_of(1, &event, "occurred_at").unwrap(), "1795436220317");
        assert_eq!(
            key_of(1, &event, "payload.OrderPlaced.currency").unwrap(),
            "EUR"
        );
        let error = key_of(5, &event, "tenant").unwrap_err();
        assert!(
            error.starts_with("event 5: no string field tenant"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn the_schema_comes_from_the_flag_or_the_topic() {
        let schema = |given, topic| schema_for(given, topic).map(|w| w.map(|w| w.full_name));
        assert_eq!(
            schema(None, "orders.lifecycle").unwrap().unwrap(),
            "io.orderflow.events.OrderEvent"
        );
        assert_eq!(
            schema(Some("OrderRiskAssessed"), "anything")
                .unwrap()
                .unwrap(),
            "io.orderflow.events.OrderRiskAssessed"
        );
        assert_eq!(schema(None, "my.topic").unwrap(), None);
        let error = schema(Some("Order"), "orders.lifecycle")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("unknown schema 'Order'") && error.contains("OrderEvent"),
            "{error}"
        );
        // Without a schema, only an event that needs one is refused.
        let codec = Codec::new(CodecSettings::default()).unwrap();
        let error = encode_events(
            &codec,
            "my.topic",
            &mut DefaultSchema::new(None),
            &[order_json("a"), order_json("b")],
            "order_id",
            InputForm::Auto,
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(
            error.starts_with(
                "topic my.topic has no default schema and event 1 names none: give --schema"
            ),
            "{error}"
        );
    }

    #[tokio::test]
    async fn one_bad_event_rejects_the_whole_input() {
        let mut bad = order_json("b");
        bad["occurred_at"] = Json::from("yesterday");
        let errors = errors_of(vec![order_json("a"), bad, order_json("c")]).await;
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("event 2: occurred_at: expected long"),
            "{errors:?}"
        );
        let message = rejection(&errors, 3);
        assert!(
            message.starts_with("1 of 3 events are invalid; nothing was produced:"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn valid_events_are_encoded_with_their_keys_and_decode_back() {
        let codec = Codec::new(CodecSettings::default()).unwrap();
        let events = vec![order_json("a"), order_json("b")];
        let records = encode_orders(&codec, &events).await.unwrap();
        assert_eq!(
            records
                .iter()
                .map(|r| r.key.clone().unwrap())
                .collect::<Vec<_>>(),
            [b"a".to_vec(), b"b".to_vec()]
        );
        let value = records[1].value.as_ref().unwrap();
        let decoded = codec.decode::<OrderEvent>(value).await.unwrap().value;
        assert_eq!(serde_json::to_value(decoded).unwrap(), events[1]);
        // The same bytes as the Rust type's own encoding.
        let typed: OrderEvent = serde_json::from_value(events[1].clone()).unwrap();
        assert_eq!(
            value,
            &codec.encode("orders.lifecycle", &typed).await.unwrap()
        );
    }

    #[tokio::test]
    async fn the_sample_events_of_the_readme_are_valid_order_events() {
        let text = include_str!("../../../examples/events.jsonl");
        let events = parse_events(text).unwrap();
        let codec = Codec::new(CodecSettings::default()).unwrap();
        let records = encode_orders(&codec, &events).await.unwrap();
        assert_eq!(records.len(), text.lines().count());
        for record in &records {
            let value = record.value.as_deref().unwrap();
            codec.decode::<OrderEvent>(value).await.unwrap();
        }
    }
}
