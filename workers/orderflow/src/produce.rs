//! `orderflow produce`: JSON in, Avro out, all or nothing.
//!
//! The input is JSON lines (one event per line) or one JSON document (an event, or an
//! array of events). Every event is checked against the Rust type of its schema (the
//! serde JSON form: a union is an object naming its branch, `{"OrderPlaced": {...}}`)
//! and encoded before the first record is sent, so a bad event anywhere in the input
//! means nothing is produced. Errors name the event (counted from 1) and the path of
//! the field.

use std::io::Read;
use std::path::Path;

use anyhow::Context;
use orderflow_events::{
    Codec, NotificationRequested, OrderEvent, OrderRiskAssessed, OrderStatusChanged,
    OrderValidation, Record,
};
use orderflow_runtime::send;
use rdkafka::producer::FutureRecord;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;

use crate::cli::ProduceArgs;
use crate::topology::schema_of;

/// The schemas `--schema` accepts: every event type with a Rust binding.
pub const SCHEMAS: [&str; 5] = [
    OrderEvent::SCHEMA,
    OrderValidation::SCHEMA,
    OrderStatusChanged::SCHEMA,
    NotificationRequested::SCHEMA,
    OrderRiskAssessed::SCHEMA,
];

/// At most this many invalid events are listed in the error.
const LISTED_ERRORS: usize = 20;

/// One encoded record, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The record key.
    pub key: String,
    /// The encoded value.
    pub value: Vec<u8>,
}

/// Splits the input into events: JSON lines, or one document that is an event or an
/// array of events.
pub fn parse_events(text: &str) -> Result<Vec<Json>, String> {
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

/// Checks `event` (number `number`, from 1) against `T`: the value, or a message naming
/// the event and the path of the first bad field.
pub fn typed<T: DeserializeOwned + serde::Serialize>(
    number: usize,
    event: &Json,
) -> Result<T, String> {
    let value: T = serde_path_to_error::deserialize(event).map_err(|error| {
        let path = error.path().to_string();
        if path == "." {
            format!("event {number}: {}", error.inner())
        } else {
            format!("event {number}: {path}: {}", error.inner())
        }
    })?;
    // serde ignores fields it does not know: a misspelt optional field would be
    // dropped without a word. Whatever does not come back out was not understood.
    let understood = serde_json::to_value(&value).map_err(|e| format!("event {number}: {e}"))?;
    let mut unknown = Vec::new();
    unknown_fields(event, &understood, String::new(), &mut unknown);
    match unknown.first() {
        Some(path) => Err(format!("event {number}: {path}: unknown field")),
        None => Ok(value),
    }
}

/// Paths of the object fields of `given` that `understood` lacks.
fn unknown_fields(given: &Json, understood: &Json, path: String, out: &mut Vec<String>) {
    match (given, understood) {
        (Json::Object(given), Json::Object(understood)) => {
            for (name, value) in given {
                let at = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                match understood.get(name) {
                    Some(known) => unknown_fields(value, known, at, out),
                    None => out.push(at),
                }
            }
        }
        (Json::Array(given), Json::Array(understood)) => {
            for (index, (value, known)) in given.iter().zip(understood).enumerate() {
                unknown_fields(value, known, format!("{path}[{index}]"), out);
            }
        }
        _ => {}
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

/// Validates and encodes every event as `T`; the errors of every bad event otherwise.
pub async fn encode_all<T: Record>(
    codec: &Codec,
    topic: &str,
    events: &[Json],
    key_field: &str,
) -> Result<Vec<Encoded>, Vec<String>> {
    let mut typed_events = Vec::with_capacity(events.len());
    let mut errors = Vec::new();
    for (index, event) in events.iter().enumerate() {
        let number = index + 1;
        match (typed::<T>(number, event), key_of(number, event, key_field)) {
            (Ok(value), Ok(key)) => typed_events.push((number, key, value)),
            (Err(error), _) | (Ok(_), Err(error)) => errors.push(error),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut encoded = Vec::with_capacity(typed_events.len());
    for (number, key, value) in typed_events {
        match codec.encode(topic, &value).await {
            Ok(bytes) => encoded.push(Encoded { key, value: bytes }),
            Err(error) => errors.push(format!("event {number}: {error}")),
        }
    }
    if errors.is_empty() {
        Ok(encoded)
    } else {
        Err(errors)
    }
}

/// [`encode_all`] with the Rust type of the schema called `schema`.
pub async fn encode_as(
    schema: &str,
    codec: &Codec,
    topic: &str,
    events: &[Json],
    key_field: &str,
) -> anyhow::Result<Result<Vec<Encoded>, Vec<String>>> {
    Ok(match schema {
        OrderEvent::SCHEMA => encode_all::<OrderEvent>(codec, topic, events, key_field).await,
        OrderValidation::SCHEMA => {
            encode_all::<OrderValidation>(codec, topic, events, key_field).await
        }
        OrderStatusChanged::SCHEMA => {
            encode_all::<OrderStatusChanged>(codec, topic, events, key_field).await
        }
        NotificationRequested::SCHEMA => {
            encode_all::<NotificationRequested>(codec, topic, events, key_field).await
        }
        OrderRiskAssessed::SCHEMA => {
            encode_all::<OrderRiskAssessed>(codec, topic, events, key_field).await
        }
        other => anyhow::bail!(
            "unknown schema '{other}': the known schemas are {}",
            SCHEMAS.join(", ")
        ),
    })
}

/// The schema of the events: `--schema`, else the topic's.
pub fn schema_for(given: Option<&str>, topic: &str) -> anyhow::Result<&'static str> {
    match given {
        Some(name) => SCHEMAS
            .iter()
            .copied()
            .find(|known| *known == name)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown schema '{name}': the known schemas are {}",
                    SCHEMAS.join(", ")
                )
            }),
        None => schema_of(topic).ok_or_else(|| {
            anyhow::anyhow!(
                "topic {topic} has no default schema: give --schema, one of {}",
                SCHEMAS.join(", ")
            )
        }),
    }
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
    let schema = schema_for(args.schema.as_deref(), &args.topic)?;
    let codec = Codec::new(args.connection.codec(args.format)?).map_err(anyhow::Error::msg)?;
    let (text, source) = read_input(args.file.as_deref())?;
    let events =
        parse_events(&text).map_err(|e| anyhow::anyhow!("{source}: {e}; nothing was produced"))?;
    let records = match encode_as(schema, &codec, &args.topic, &events, &args.key_field).await? {
        Ok(records) => records,
        Err(errors) => anyhow::bail!("{source}: {}", rejection(&errors, events.len())),
    };
    orderflow_runtime::topics::require_topic(&settings, &args.topic).await?;
    let producer = send::idempotent_producer(&settings)?;
    let outcomes = send::send_all(
        &producer,
        records.iter().map(|record| {
            FutureRecord::to(&args.topic)
                .key(&record.key)
                .payload(&record.value)
        }),
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
    use orderflow_events::{CodecSettings, sample};

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

    #[test]
    fn a_wrong_type_names_the_event_and_the_field_path() {
        let mut event = order_json("a");
        event["payload"]["OrderPlaced"]["line_items"][0]["quantity"] = Json::from("two");
        let error = typed::<OrderEvent>(2, &event).unwrap_err();
        assert_eq!(
            error,
            r#"event 2: payload.OrderPlaced.line_items[0].quantity: invalid type: string "two", expected i32"#
        );
    }

    #[test]
    fn a_missing_field_an_unknown_branch_and_an_unknown_field_are_named() {
        let mut event = order_json("a");
        event.as_object_mut().unwrap().remove("customer_id");
        let error = typed::<OrderEvent>(1, &event).unwrap_err();
        assert_eq!(error, "event 1: missing field `customer_id`");

        let mut event = order_json("a");
        event["payload"] = serde_json::json!({"OrderLost": {}});
        let error = typed::<OrderEvent>(3, &event).unwrap_err();
        assert!(
            error.starts_with("event 3: payload: unknown variant `OrderLost`"),
            "{error}"
        );

        let mut event = order_json("a");
        event["payload"]["OrderPlaced"]["shipping_address"]["regoin"] = Json::from("Bavaria");
        let error = typed::<OrderEvent>(4, &event).unwrap_err();
        assert_eq!(
            error,
            "event 4: payload.OrderPlaced.shipping_address.regoin: unknown field"
        );

        assert!(typed::<OrderEvent>(1, &order_json("a")).is_ok());
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

    #[test]
    fn the_schema_comes_from_the_flag_or_the_topic() {
        assert_eq!(schema_for(None, "orders.lifecycle").unwrap(), "OrderEvent");
        assert_eq!(
            schema_for(Some("OrderRiskAssessed"), "anything").unwrap(),
            "OrderRiskAssessed"
        );
        let error = schema_for(None, "my.topic").unwrap_err().to_string();
        assert!(
            error.contains("--schema") && error.contains("OrderStatusChanged"),
            "{error}"
        );
        let error = schema_for(Some("Order"), "orders.lifecycle")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("unknown schema 'Order'") && error.contains("OrderEvent"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn one_bad_event_rejects_the_whole_input() {
        let codec = Codec::new(CodecSettings::default()).unwrap();
        let mut bad = order_json("b");
        bad["occurred_at"] = Json::from("yesterday");
        let events = vec![order_json("a"), bad, order_json("c")];
        let errors = encode_all::<OrderEvent>(&codec, "orders.lifecycle", &events, "order_id")
            .await
            .unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("event 2: occurred_at: invalid type"),
            "{errors:?}"
        );
        let message = rejection(&errors, events.len());
        assert!(
            message.starts_with("1 of 3 events are invalid; nothing was produced:"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn valid_events_are_encoded_with_their_keys_and_decode_back() {
        let codec = Codec::new(CodecSettings::default()).unwrap();
        let events = vec![order_json("a"), order_json("b")];
        let records = encode_as(
            "OrderEvent",
            &codec,
            "orders.lifecycle",
            &events,
            "order_id",
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(
            records.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        let decoded = codec
            .decode::<OrderEvent>(&records[1].value)
            .await
            .unwrap()
            .value;
        assert_eq!(serde_json::to_value(decoded).unwrap(), events[1]);
    }
}
