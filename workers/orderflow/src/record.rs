//! The one JSON form of a Kafka record: what `orderflow tail` prints (one per line),
//! `orderflow produce` reads, and `orderflow dlq inspect` shows as examples.
//!
//! ```json
//! {"topic": "orders.lifecycle", "partition": 3, "offset": 42, "timestamp": 1700000000000,
//!  "key": "ord-000123", "headers": [{"key": "traceparent", "value": "00-..."}],
//!  "schema": "fingerprint:0x...", "value": {"event_id": "...", ...}}
//! ```
//!
//! - `value` is the JSON form of the Avro datum in the writer's own schema
//!   ([`orderflow_events::json_form`]); `null` for a tombstone. A value that could not
//!   be decoded has no `value` but `value_base64` (standard alphabet, padded) and `error`.
//! - `schema` names the writer schema as the value's framing does: `id:N` (Confluent
//!   framing, a registry id) or `fingerprint:0x...` (single-object encoding).
//! - `key` is text, `null` without a key; a key that is not UTF-8 is `key_base64`.
//! - `headers` keeps every header in record order, repeated names included; a header's
//!   `key` (Kafka's word for its name) or `value` that is not UTF-8 is `key_base64` or
//!   `value_base64`, and a null value is `null`.
//! - `timestamp` is the record's timestamp, milliseconds since the Unix epoch.
//!
//! Read back by `orderflow produce`, a record keeps its key, headers and value, and a
//! value with a `schema` is written with that schema and framing, so the payload is the
//! same bytes; `topic`, `partition`, `offset` and `timestamp` are where it was read and
//! are ignored.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use orderflow_events::{Codec, wire};
use orderflow_kafka_bytes::headers::RecordHeader;
use rdkafka::message::{Message, OwnedMessage};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value as Json;

/// The members a record may have; an object with a `value` or `value_base64` member and
/// no member outside these is a record, not a bare event.
pub const MEMBERS: [&str; 11] = [
    "topic",
    "partition",
    "offset",
    "timestamp",
    "key",
    "key_base64",
    "headers",
    "schema",
    "value",
    "value_base64",
    "error",
];

/// One Kafka record as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonRecord {
    /// Topic of the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Its partition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<i32>,
    /// Its offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    /// Its timestamp, milliseconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    /// The key as text: `Some(None)` for no key, `None` when the member is absent.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub key: Option<Option<String>>,
    /// A key that is not UTF-8, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_base64: Option<String>,
    /// Every header, in record order.
    #[serde(default)]
    pub headers: Vec<JsonHeader>,
    /// The writer schema the value names (`id:N` or `fingerprint:0x...`).
    #[serde(default)]
    pub schema: Option<String>,
    /// The value in its JSON form; `Some(Null)` for a tombstone, `None` when absent.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub value: Option<Json>,
    /// A value that could not be decoded, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_base64: Option<String>,
    /// Why it could not be decoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a record is made of, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct Parts<'a> {
    /// Its topic.
    pub topic: &'a str,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// Its timestamp, milliseconds since the Unix epoch.
    pub timestamp: Option<i64>,
    /// Its key.
    pub key: Option<&'a [u8]>,
    /// Its headers.
    pub headers: &'a [RecordHeader],
    /// Its value.
    pub payload: Option<&'a [u8]>,
}

/// One header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonHeader {
    /// The header's name as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// A name that is not UTF-8, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_base64: Option<String>,
    /// The value as text: `Some(None)` for a null value, `None` when the member is
    /// absent (a value given as `value_base64`).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub value: Option<Option<String>>,
    /// A value that is not UTF-8, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_base64: Option<String>,
}

/// A member that is present, even as `null`: `Some(null)`, where serde's default reads
/// `null` as absent.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// Bytes as text when they are UTF-8, else base64: `(text, base64)`.
fn text_or_base64(bytes: &[u8]) -> (Option<String>, Option<String>) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (Some(text.to_owned()), None),
        Err(_) => (None, Some(STANDARD.encode(bytes))),
    }
}

/// The bytes of a member given as text (`Some(None)`: null) or as base64, `what`
/// naming it in errors: `None` when neither is given.
fn bytes_of(
    text: Option<Option<&str>>,
    base64: Option<&str>,
    what: &str,
) -> Option<Result<Option<Vec<u8>>, String>> {
    Some(match (text, base64) {
        (None, None) => return None,
        (Some(_), Some(_)) => Err(format!("{what} and {what}_base64 are both given")),
        (Some(text), None) => Ok(text.map(|t| t.as_bytes().to_vec())),
        (None, Some(encoded)) => STANDARD
            .decode(encoded)
            .map(Some)
            .map_err(|e| format!("{what}_base64: not base64: {e}")),
    })
}

impl JsonHeader {
    /// The JSON of `header`.
    pub fn of(header: &RecordHeader) -> JsonHeader {
        let (key, key_base64) = text_or_base64(&header.name);
        let (value, value_base64) = match header.value.as_deref().map(text_or_base64) {
            None => (Some(None), None),
            Some((text, base64)) => (text.map(Some), base64),
        };
        JsonHeader {
            key,
            key_base64,
            value,
            value_base64,
        }
    }

    /// The header this JSON stands for; a header without a value member has a null
    /// value.
    pub fn to_header(&self) -> Result<RecordHeader, String> {
        let name = bytes_of(
            self.key.as_deref().map(Some),
            self.key_base64.as_deref(),
            "key",
        )
        .ok_or("a header needs a key (or key_base64)")??
        .ok_or("a header's key is not null")?;
        let value = bytes_of(
            self.value.as_ref().map(Option::as_deref),
            self.value_base64.as_deref(),
            "value",
        )
        .transpose()?
        .flatten();
        Ok(RecordHeader { name, value })
    }
}

impl JsonRecord {
    /// Describes `message`, decoding its value with `codec`.
    pub async fn of(codec: &Codec, message: &OwnedMessage) -> JsonRecord {
        JsonRecord::from_parts(
            codec,
            Parts {
                topic: message.topic(),
                partition: message.partition(),
                offset: message.offset(),
                timestamp: message.timestamp().to_millis(),
                key: message.key(),
                headers: &orderflow_kafka_bytes::headers::read(message),
                payload: message.payload(),
            },
        )
        .await
    }

    /// Describes the record made of `parts`, decoding its value with `codec`.
    pub async fn from_parts(codec: &Codec, parts: Parts<'_>) -> JsonRecord {
        let (key, key_base64) = match parts.key {
            None => (Some(None), None),
            Some(bytes) => match text_or_base64(bytes) {
                (Some(text), _) => (Some(Some(text)), None),
                (None, base64) => (None, base64),
            },
        };
        let (value, value_base64, error) = match parts.payload {
            None => (Some(Json::Null), None, None),
            Some(bytes) => match codec.decode_json(bytes).await {
                Ok((value, _)) => (Some(value), None, None),
                Err(error) => (None, Some(STANDARD.encode(bytes)), Some(error.to_string())),
            },
        };
        JsonRecord {
            topic: Some(parts.topic.to_owned()),
            partition: Some(parts.partition),
            offset: Some(parts.offset),
            timestamp: parts.timestamp,
            key,
            key_base64,
            headers: parts.headers.iter().map(JsonHeader::of).collect(),
            schema: parts.payload.and_then(wire::peek).map(|s| s.to_string()),
            value,
            value_base64,
            error,
        }
    }

    /// Whether `json` is a record rather than a bare event: an object with a `value` or
    /// `value_base64` member and no member a record does not have.
    pub fn is_record(json: &Json) -> bool {
        json.as_object().is_some_and(|object| {
            (object.contains_key("value") || object.contains_key("value_base64"))
                && object.keys().all(|name| MEMBERS.contains(&name.as_str()))
        })
    }

    /// The key's bytes: `None` when the record has neither `key` nor `key_base64`;
    /// `Some(Ok(None))` for no key (`"key": null`); an error for a key given twice or
    /// base64 that is not.
    pub fn key_bytes(&self) -> Option<Result<Option<Vec<u8>>, String>> {
        bytes_of(
            self.key.as_ref().map(Option::as_deref),
            self.key_base64.as_deref(),
            "key",
        )
    }

    /// The headers as Kafka headers; the error names the header (counted from 0).
    pub fn record_headers(&self) -> Result<Vec<RecordHeader>, String> {
        self.headers
            .iter()
            .enumerate()
            .map(|(index, header)| {
                header
                    .to_header()
                    .map_err(|e| format!("headers[{index}]: {e}"))
            })
            .collect()
    }
}

impl std::str::FromStr for JsonRecord {
    type Err = String;

    /// Parses one line of `orderflow tail` output.
    fn from_str(line: &str) -> Result<Self, Self::Err> {
        serde_json::from_str(line).map_err(|e| format!("not a record: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderflow_events::{CodecSettings, OrderEvent, Record, sample};
    use rdkafka::Timestamp;
    use rdkafka::message::{Header, OwnedHeaders};

    fn message(
        key: Option<&[u8]>,
        payload: Option<Vec<u8>>,
        headers: OwnedHeaders,
    ) -> OwnedMessage {
        OwnedMessage::new(
            payload,
            key.map(<[u8]>::to_vec),
            "order-status.dlq".into(),
            Timestamp::CreateTime(1_700_000_000_000),
            2,
            41,
            Some(headers),
        )
    }

    #[tokio::test]
    async fn a_decodable_value_is_shown_in_its_json_form_with_every_header() {
        let codec = Codec::new(CodecSettings::default()).unwrap();
        let event = sample::order_placed(2);
        let bytes = codec.encode("orders.lifecycle", &event).await.unwrap();
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "orderflow.dlq.error-class",
                value: Some("transient"),
            })
            .insert(Header {
                key: "nothing",
                value: None::<&[u8]>,
            })
            .insert(Header {
                key: "orderflow.dlq.error-class",
                value: Some(&[0xff_u8, 0][..]),
            });
        let record =
            JsonRecord::of(&codec, &message(Some(b"ord-000123"), Some(bytes), headers)).await;
        assert_eq!(record.topic.as_deref(), Some("order-status.dlq"));
        assert_eq!(
            (record.partition, record.offset, record.timestamp),
            (Some(2), Some(41), Some(1_700_000_000_000))
        );
        assert_eq!(record.key, Some(Some("ord-000123".into())));
        let headers: Vec<String> = record
            .headers
            .iter()
            .map(|h| serde_json::to_string(h).unwrap())
            .collect();
        assert_eq!(
            headers,
            [
                r#"{"key":"orderflow.dlq.error-class","value":"transient"}"#,
                r#"{"key":"nothing","value":null}"#,
                r#"{"key":"orderflow.dlq.error-class","value_base64":"/wA="}"#,
            ]
        );
        assert_eq!(
            record.schema,
            Some(format!(
                "fingerprint:{:#018x}",
                OrderEvent::contract().fingerprint
            ))
        );
        let value = record.value.as_ref().expect("decoded");
        assert_eq!(value, &serde_json::to_value(&event).unwrap());
        assert!(record.error.is_none() && record.value_base64.is_none());
        let text = serde_json::to_string(&record).unwrap();
        assert!(
            text.starts_with(
                r#"{"topic":"order-status.dlq","partition":2,"offset":41,"timestamp":1700000000000,"key":"ord-000123","headers":[{"#
            ),
            "{text}"
        );
        let back: JsonRecord = text.parse().unwrap();
        assert_eq!(back, record);
        assert!(JsonRecord::is_record(&serde_json::from_str(&text).unwrap()));
        assert_eq!(
            back.record_headers().unwrap()[2],
            RecordHeader {
                name: b"orderflow.dlq.error-class".to_vec(),
                value: Some(vec![0xff, 0])
            }
        );
    }

    #[tokio::test]
    async fn garbage_is_shown_as_base64_with_the_codec_error() {
        let codec = Codec::new(CodecSettings::default()).unwrap();
        let record = JsonRecord::of(
            &codec,
            &message(
                Some(&[0xff, b'k']),
                Some(b"not avro".to_vec()),
                OwnedHeaders::new(),
            ),
        )
        .await;
        assert_eq!(record.key, None);
        assert_eq!(record.key_base64.as_deref(), Some("/2s="));
        assert_eq!(record.key_bytes(), Some(Ok(Some(vec![0xff, b'k']))));
        assert_eq!(record.value, None);
        assert_eq!(record.schema, None);
        assert!(
            record
                .error
                .as_deref()
                .unwrap()
                .contains("unknown wire format"),
            "{record:?}"
        );
        assert_eq!(record.value_base64.as_deref(), Some("bm90IGF2cm8="));
        let text = serde_json::to_string(&record).unwrap();
        assert!(!text.contains(r#""value":"#), "{text}");
        assert_eq!(text.parse::<JsonRecord>().unwrap(), record);
    }

    #[tokio::test]
    async fn a_tombstone_has_a_null_value_and_no_key_a_null_key() {
        let codec = Codec::new(CodecSettings::default()).unwrap();
        let record = JsonRecord::of(&codec, &message(None, None, OwnedHeaders::new())).await;
        let text = serde_json::to_string(&record).unwrap();
        assert!(
            text.contains(r#""key":null"#) && text.contains(r#""value":null"#),
            "{text}"
        );
        assert!(!text.contains("error"), "{text}");
        let back: JsonRecord = text.parse().unwrap();
        assert_eq!(back.value, Some(Json::Null));
        assert_eq!(back.key_bytes(), Some(Ok(None)));
        let mut twice = back.clone();
        twice.key_base64 = Some("AA==".into());
        assert_eq!(
            twice.key_bytes(),
            Some(Err("key and key_base64 are both given".into()))
        );
        twice.key = None;
        twice.key_base64 = Some("!!".into());
        assert!(
            twice
                .key_bytes()
                .unwrap()
                .unwrap_err()
                .starts_with("key_base64: not base64")
        );
        twice.key_base64 = None;
        assert_eq!(twice.key_bytes(), None);
    }

    #[test]
    fn records_are_told_from_bare_events_by_their_members() {
        let record = |text: &str| JsonRecord::is_record(&serde_json::from_str(text).unwrap());
        assert!(record(r#"{"value": {"order_id": "a"}}"#));
        assert!(record(r#"{"key": "a", "value": null, "headers": []}"#));
        assert!(record(r#"{"value_base64": "AA==", "error": "x"}"#));
        assert!(!record(r#"{"order_id": "a", "value": 1}"#));
        assert!(!record(r#"{"key": "a"}"#));
        assert!(!record("[1]"));
        let error =
            r#"{"value": 1, "headers": [{"name": "x"}]}"#.parse::<JsonRecord>().unwrap_err();
        assert!(error.contains("unknown field `name`"), "{error}");
        let header = JsonHeader {
            key: Some("a".into()),
            key_base64: Some("YQ==".into()),
            value: None,
            value_base64: None,
        };
        let absent: JsonHeader = serde_json::from_str(r#"{"key": "a"}"#).unwrap();
        assert_eq!(
            absent.to_header().unwrap(),
            RecordHeader {
                name: b"a".to_vec(),
                value: None
            }
        );
        assert_eq!(
            header.to_header().unwrap_err(),
            "key and key_base64 are both given"
        );
    }
}
