//! Parsing Canonical Form and the CRC-64-AVRO (Rabin) fingerprint, as the Avro
//! specification defines them.
//!
//! The single-object header carries this fingerprint, so it must be bit-for-bit the
//! one Java, Python (fastavro) and every other implementation compute. apache-avro's
//! own `canonical_form` keeps `{"type":"long"}` for primitives that carried a logical
//! type, which changes the fingerprint; this module works on the schema's JSON
//! instead, following the specification's transformation rules.

use serde_json::{Map, Value};

/// Why a schema could not be brought into canonical form.
#[derive(Debug, thiserror::Error)]
#[error("schema is not valid Avro: {0}")]
pub struct CanonicalFormError(String);

/// The Parsing Canonical Form of a schema given as JSON text.
pub fn canonical_form(schema_json: &str) -> Result<String, CanonicalFormError> {
    let value: Value = serde_json::from_str(schema_json)
        .map_err(|e| CanonicalFormError(format!("not JSON: {e}")))?;
    canonical_form_of(&value)
}

/// The Parsing Canonical Form of a schema given as a JSON value.
pub fn canonical_form_of(schema: &Value) -> Result<String, CanonicalFormError> {
    let mut out = String::new();
    let mut defined = Vec::new();
    write_schema(schema, "", &mut defined, &mut out)?;
    Ok(out)
}

/// CRC-64-AVRO fingerprint of a schema's JSON text (of its canonical form).
pub fn fingerprint(schema_json: &str) -> Result<u64, CanonicalFormError> {
    Ok(rabin(canonical_form(schema_json)?.as_bytes()))
}

const PRIMITIVES: &[&str] = &[
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
];

fn write_schema(
    schema: &Value,
    namespace: &str,
    defined: &mut Vec<String>,
    out: &mut String,
) -> Result<(), CanonicalFormError> {
    match schema {
        Value::String(name) => {
            if PRIMITIVES.contains(&name.as_str()) {
                write_string(name, out);
            } else {
                write_string(&full_name(name, namespace), out);
            }
            Ok(())
        }
        Value::Array(branches) => {
            out.push('[');
            for (i, branch) in branches.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_schema(branch, namespace, defined, out)?;
            }
            out.push(']');
            Ok(())
        }
        Value::Object(object) => write_object(object, namespace, defined, out),
        other => Err(CanonicalFormError(format!(
            "unexpected schema value {other}"
        ))),
    }
}

fn write_object(
    object: &Map<String, Value>,
    namespace: &str,
    defined: &mut Vec<String>,
    out: &mut String,
) -> Result<(), CanonicalFormError> {
    let kind = object
        .get("type")
        .ok_or_else(|| CanonicalFormError("an object schema without \"type\"".into()))?;
    let kind_name = match kind {
        Value::String(kind) => kind.as_str(),
        // {"type": {...}} or {"type": [...]}: the attribute wraps another schema.
        nested => return write_schema(nested, namespace, defined, out),
    };
    match kind_name {
        "record" | "error" | "enum" | "fixed" => {
            let name = object
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| CanonicalFormError(format!("a {kind_name} without a name")))?;
            let own_namespace = object
                .get("namespace")
                .and_then(Value::as_str)
                .unwrap_or(namespace);
            let full = full_name(name, own_namespace);
            if defined.contains(&full) {
                // A named type appears in full once; later uses are its full name.
                write_string(&full, out);
                return Ok(());
            }
            defined.push(full.clone());
            let inner_namespace = full.rsplit_once('.').map_or("", |(ns, _)| ns).to_owned();
            out.push_str("{\"name\":");
            write_string(&full, out);
            out.push_str(",\"type\":");
            write_string(
                if kind_name == "error" {
                    "record"
                } else {
                    kind_name
                },
                out,
            );
            match kind_name {
                "enum" => {
                    out.push_str(",\"symbols\":");
                    let symbols =
                        object
                            .get("symbols")
                            .and_then(Value::as_array)
                            .ok_or_else(|| {
                                CanonicalFormError(format!("enum {full} without symbols"))
                            })?;
                    out.push('[');
                    for (i, symbol) in symbols.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        write_string(symbol.as_str().unwrap_or_default(), out);
                    }
                    out.push(']');
                }
                "fixed" => {
                    let size = object.get("size").and_then(Value::as_u64).ok_or_else(|| {
                        CanonicalFormError(format!("fixed {full} without an integer size"))
                    })?;
                    out.push_str(",\"size\":");
                    out.push_str(&size.to_string());
                }
                _ => {
                    out.push_str(",\"fields\":[");
                    let fields =
                        object
                            .get("fields")
                            .and_then(Value::as_array)
                            .ok_or_else(|| {
                                CanonicalFormError(format!("record {full} without fields"))
                            })?;
                    for (i, field) in fields.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        let field_name =
                            field.get("name").and_then(Value::as_str).ok_or_else(|| {
                                CanonicalFormError(format!("a field of {full} without a name"))
                            })?;
                        let field_type = field.get("type").ok_or_else(|| {
                            CanonicalFormError(format!("field {full}.{field_name} without a type"))
                        })?;
                        out.push_str("{\"name\":");
                        write_string(field_name, out);
                        out.push_str(",\"type\":");
                        write_schema(field_type, &inner_namespace, defined, out)?;
                        out.push('}');
                    }
                    out.push(']');
                }
            }
            out.push('}');
            Ok(())
        }
        "array" => {
            let items = object
                .get("items")
                .ok_or_else(|| CanonicalFormError("an array without items".into()))?;
            out.push_str("{\"type\":\"array\",\"items\":");
            write_schema(items, namespace, defined, out)?;
            out.push('}');
            Ok(())
        }
        "map" => {
            let values = object
                .get("values")
                .ok_or_else(|| CanonicalFormError("a map without values".into()))?;
            out.push_str("{\"type\":\"map\",\"values\":");
            write_schema(values, namespace, defined, out)?;
            out.push('}');
            Ok(())
        }
        // A primitive in object form, possibly with a logical type: its simple form.
        primitive if PRIMITIVES.contains(&primitive) => {
            write_string(primitive, out);
            Ok(())
        }
        reference => {
            write_string(&full_name(reference, namespace), out);
            Ok(())
        }
    }
}

fn full_name(name: &str, namespace: &str) -> String {
    if name.contains('.') || namespace.is_empty() {
        name.to_owned()
    } else {
        format!("{namespace}.{name}")
    }
}

fn write_string(text: &str, out: &mut String) {
    // serde_json escapes only what JSON requires and keeps UTF-8 as is, as [STRINGS] asks.
    out.push_str(&serde_json::to_string(text).unwrap_or_default());
}

/// The CRC-64-AVRO checksum (the specification's Rabin fingerprint).
pub fn rabin(bytes: &[u8]) -> u64 {
    const EMPTY: u64 = 0xc15d_213a_a4d7_a795;
    static TABLE: std::sync::LazyLock<[u64; 256]> = std::sync::LazyLock::new(|| {
        let mut table = [0u64; 256];
        for (i, slot) in table.iter_mut().enumerate() {
            let mut fp = i as u64;
            for _ in 0..8 {
                fp = (fp >> 1) ^ (EMPTY & 0u64.wrapping_sub(fp & 1));
            }
            *slot = fp;
        }
        table
    });
    let mut fp = EMPTY;
    for &byte in bytes {
        fp = (fp >> 8) ^ TABLE[((fp ^ u64::from(byte)) & 0xff) as usize];
    }
    fp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitive_fingerprints_match_the_specification_test_vectors() {
        // The same values fastavro and the Java implementation compute.
        assert_eq!(fingerprint(r#""null""#).unwrap(), 0x63dd_24e7_cc25_8f8a);
        assert_eq!(
            fingerprint(r#"{"type": "int"}"#).unwrap(),
            0x7275_d51a_3f39_5c8f
        );
        assert_eq!(fingerprint(r#""string""#).unwrap(), 0x8f01_4872_6345_03c7);
    }

    #[test]
    fn canonical_form_strips_docs_defaults_and_logical_types_and_qualifies_names() {
        let schema = r#"{"type":"record","name":"X","namespace":"a.b","doc":"d","fields":[
            {"name":"id","type":{"type":"string","logicalType":"uuid"},"doc":"x"},
            {"name":"t","type":{"type":"long","logicalType":"timestamp-millis"}},
            {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"],"default":"A"},"default":"A"},
            {"name":"again","type":"E"},
            {"name":"o","type":["null",{"type":"record","name":"c.Y","fields":[{"name":"z","type":"E2"}]}]},
            {"name":"m","type":{"type":"map","values":{"type":"array","items":"int"}}}
        ]}"#;
        assert_eq!(
            canonical_form(schema).unwrap(),
            concat!(
                r#"{"name":"a.b.X","type":"record","fields":["#,
                r#"{"name":"id","type":"string"},{"name":"t","type":"long"},"#,
                r#"{"name":"e","type":{"name":"a.b.E","type":"enum","symbols":["A","B"]}},"#,
                r#"{"name":"again","type":"a.b.E"},"#,
                r#"{"name":"o","type":["null",{"name":"c.Y","type":"record","fields":[{"name":"z","type":"c.E2"}]}]},"#,
                r#"{"name":"m","type":{"type":"map","values":{"type":"array","items":"int"}}}]}"#
            )
        );
    }

    #[test]
    fn fingerprint_of_a_logical_type_equals_that_of_its_primitive() {
        let logical = r#"{"type":"long","logicalType":"timestamp-millis"}"#;
        assert_eq!(
            fingerprint(logical).unwrap(),
            fingerprint(r#""long""#).unwrap()
        );
    }

    #[test]
    fn invalid_schemas_are_errors_not_panics() {
        for bad in [
            "",
            "{",
            "42",
            r#"{"type":"record"}"#,
            r#"{"type":"enum","name":"E"}"#,
        ] {
            assert!(canonical_form(bad).is_err(), "{bad}");
        }
    }
}
