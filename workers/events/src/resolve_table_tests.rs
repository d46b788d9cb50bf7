//! The shared table of schema resolution cases (`tests/avro-resolution/cases.json`),
//! run against this crate's decoder: the same table runs against fastavro and the Java
//! Avro library in the integration tests.

use std::collections::HashMap;

use apache_avro::schema::{Name, ResolvedSchema, Schema};
use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;
use serde_json::{Value as Json, json};

use super::{JsonForm, branch_key, deref, json_value};
use crate::contract::Resolution;

const TABLE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/avro-resolution/cases.json"
));

fn leak(json: &Json) -> Result<&'static Schema, String> {
    Schema::parse(json)
        .map(|schema| &*Box::leak(Box::new(schema)))
        .map_err(|e| format!("schema does not parse: {e}"))
}

fn names(schema: &'static Schema) -> HashMap<Name, &'static Schema> {
    ResolvedSchema::try_from(schema)
        .expect("names")
        .get_names()
        .iter()
        .map(|(name, schema)| (name.clone(), *schema))
        .collect()
}

/// What the decoder gives for one case: the reader's datum in Avro's JSON encoding,
/// or the error kind and message.
fn outcome(case: &Json) -> Result<Json, (String, String)> {
    let setup = |e: String| ("setup".to_owned(), e);
    let writer = leak(&case["writer"]).map_err(setup)?;
    let reader = leak(&case["reader"]).map_err(setup)?;
    let value = json_value(&case["datum"], writer, &names(writer), JsonForm::Encoding)
        .map_err(|e| setup(format!("the datum is not a {e}")))?;
    let bytes = GenericDatumWriter::builder(writer)
        .build()
        .and_then(|w| w.write_value_to_vec(value))
        .map_err(|e| setup(e.to_string()))?;
    let resolution = Resolution::new(writer, reader, "writer".into(), "reader".into())
        .map_err(|e| (e.kind().to_owned(), e.to_string()))?;
    let value = resolution
        .read(&bytes)
        .map_err(|e| (e.kind().to_owned(), e.to_string()))?;
    Ok(avro_json(&value, reader, &names(reader)))
}

/// A value in Avro's JSON encoding of `schema` (logical types as their underlying
/// type, bytes and fixed as ISO-8859-1 strings).
fn avro_json(value: &Value, schema: &Schema, names: &HashMap<Name, &'static Schema>) -> Json {
    let schema = deref(names, schema);
    let latin1 =
        |bytes: &[u8]| -> Json { Json::String(bytes.iter().map(|b| char::from(*b)).collect()) };
    match (value, schema) {
        (Value::Union(index, inner), Schema::Union(union)) => {
            let branch = &union.variants()[*index as usize];
            let resolved = deref(names, branch);
            match resolved {
                Schema::Null => Json::Null,
                _ => json!({ branch_key(resolved): avro_json(inner, branch, names) }),
            }
        }
        (Value::Record(fields), Schema::Record(record)) => Json::Object(
            fields
                .iter()
                .zip(&record.fields)
                .map(|((name, v), field)| (name.clone(), avro_json(v, &field.schema, names)))
                .collect(),
        ),
        (Value::Array(items), Schema::Array(array)) => Json::Array(
            items
                .iter()
                .map(|item| avro_json(item, &array.items, names))
                .collect(),
        ),
        (Value::Map(entries), Schema::Map(map)) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), avro_json(v, &map.types, names)))
                .collect(),
        ),
        (Value::Null, _) => Json::Null,
        (Value::Boolean(b), _) => json!(b),
        (Value::Int(v) | Value::Date(v) | Value::TimeMillis(v), _) => json!(v),
        (
            Value::Long(v)
            | Value::TimeMicros(v)
            | Value::TimestampMillis(v)
            | Value::TimestampMicros(v)
            | Value::TimestampNanos(v)
            | Value::LocalTimestampMillis(v)
            | Value::LocalTimestampMicros(v)
            | Value::LocalTimestampNanos(v),
            _,
        ) => json!(v),
        (Value::Float(v), _) => json!(f64::from(*v)),
        (Value::Double(v), _) => json!(v),
        (Value::String(s), _) | (Value::Enum(_, s), _) => json!(s),
        (Value::Bytes(b), _) | (Value::Fixed(_, b), _) => latin1(b),
        (Value::Decimal(d), _) => latin1(&Vec::<u8>::try_from(d).expect("decimal bytes")),
        (Value::Uuid(u), Schema::Uuid(apache_avro::schema::UuidSchema::String)) => {
            json!(u.to_string())
        }
        (Value::Uuid(u), _) => latin1(u.as_bytes()),
        (Value::Duration(d), _) => latin1(&<[u8; 12]>::from(*d)),
        (other, _) => json!(format!("unrendered {other:?}")),
    }
}

/// JSON equality where numbers compare by value (5 and 5.0 are one number).
pub fn same(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn the_decoder_resolves_every_case_of_the_shared_table_as_the_specification_says() {
    let table: Json = serde_json::from_str(TABLE).expect("cases.json is JSON");
    let cases = table["cases"].as_array().expect("cases");
    assert!(cases.len() >= 50, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap_or("?");
        match (outcome(case), case.get("expected"), case["error"].as_str()) {
            (Ok(got), Some(want), _) if same(&got, want) => {}
            (Err((kind, _)), None, Some(want)) if kind == want => {}
            (got, _, _) => failures.push(format!(
                "{name}: expected {}, got {got:?}",
                case.get("expected")
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| format!("error {}", case["error"]))
            )),
        }
    }
    println!("{} cases, {} failed", cases.len(), failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
