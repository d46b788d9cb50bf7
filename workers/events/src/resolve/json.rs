//! Avro values read from JSON: a reader field's default, read as the field's type, and
//! Avro's JSON encoding (the form of the shared resolution table's data); and the names a
//! schema goes by there and in errors.

use std::collections::HashMap;

use apache_avro::schema::{Name, Schema, UuidSchema};
use apache_avro::types::Value;
use serde_json::Value as Json;

use super::deref;
use super::promotion::{Primitive, logical};

/// Which JSON form [`json_value`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonForm {
    /// A field default: a union's value is its first branch's, unwrapped.
    Default,
    /// Avro's JSON encoding: a union's value is `null` or `{"<branch name>": value}`.
    Encoding,
}

/// Reads `json` as a value of `schema` (bytes and fixed as ISO-8859-1 strings); the
/// error names the type it is not.
pub fn json_value(
    json: &Json,
    schema: &Schema,
    names: &HashMap<Name, &Schema>,
    form: JsonForm,
) -> Result<Value, String> {
    let schema = deref(names, schema);
    let wrong = || type_name(schema);
    let latin1 = |text: &str| -> Result<Vec<u8>, String> {
        text.chars()
            .map(|c| u8::try_from(u32::from(c)).map_err(|_| wrong()))
            .collect()
    };
    let value = match (schema, json) {
        (Schema::Union(union), _) => {
            return match form {
                JsonForm::Default => {
                    let first = union.variants().first().ok_or_else(wrong)?;
                    json_value(json, first, names, form).map(|v| Value::Union(0, Box::new(v)))
                }
                JsonForm::Encoding => {
                    let (index, inner) = match json {
                        Json::Null => {
                            let index = union
                                .variants()
                                .iter()
                                .position(|b| matches!(b, Schema::Null))
                                .ok_or_else(wrong)?;
                            (index, &Json::Null)
                        }
                        Json::Object(object) if object.len() == 1 => {
                            let (key, inner) = object.iter().next().ok_or_else(wrong)?;
                            let index = union
                                .variants()
                                .iter()
                                .position(|b| branch_key(deref(names, b)) == *key)
                                .ok_or_else(wrong)?;
                            (index, inner)
                        }
                        _ => return Err(wrong()),
                    };
                    json_value(inner, &union.variants()[index], names, form)
                        .map(|v| Value::Union(index as u32, Box::new(v)))
                }
            };
        }
        (Schema::Null, Json::Null) => Value::Null,
        (Schema::Boolean, Json::Bool(b)) => Value::Boolean(*b),
        (Schema::Record(record), Json::Object(object)) => Value::Record(
            record
                .fields
                .iter()
                .map(|field| {
                    let value = match (object.get(&field.name), &field.default) {
                        (Some(v), _) => json_value(v, &field.schema, names, form)?,
                        (None, Some(default)) => {
                            json_value(default, &field.schema, names, JsonForm::Default)?
                        }
                        (None, None) => return Err(wrong()),
                    };
                    Ok((field.name.clone(), value))
                })
                .collect::<Result<_, String>>()?,
        ),
        (Schema::Enum(e), Json::String(symbol)) => {
            let index = e
                .symbols
                .iter()
                .position(|s| s == symbol)
                .ok_or_else(wrong)?;
            Value::Enum(index as u32, symbol.clone())
        }
        (Schema::Array(array), Json::Array(items)) => Value::Array(
            items
                .iter()
                .map(|item| json_value(item, &array.items, names, form))
                .collect::<Result<_, _>>()?,
        ),
        (Schema::Map(map), Json::Object(entries)) => Value::Map(
            entries
                .iter()
                .map(|(k, v)| json_value(v, &map.types, names, form).map(|v| (k.clone(), v)))
                .collect::<Result<_, _>>()?,
        ),
        (_, Json::String(text)) => match Primitive::of(schema).ok_or_else(wrong)? {
            Primitive::String => Value::String(text.clone()),
            Primitive::Bytes => Value::Bytes(latin1(text)?),
            Primitive::Fixed(_, size) => {
                let bytes = latin1(text)?;
                if bytes.len() != size {
                    return Err(wrong());
                }
                Value::Fixed(size, bytes)
            }
            _ => return Err(wrong()),
        },
        (_, Json::Number(number)) => match Primitive::of(schema).ok_or_else(wrong)? {
            Primitive::Int => Value::Int(
                number
                    .as_i64()
                    .and_then(|v| i32::try_from(v).ok())
                    .ok_or_else(wrong)?,
            ),
            Primitive::Long => Value::Long(number.as_i64().ok_or_else(wrong)?),
            Primitive::Float => Value::Float(number.as_f64().ok_or_else(wrong)? as f32),
            Primitive::Double => Value::Double(number.as_f64().ok_or_else(wrong)?),
            _ => return Err(wrong()),
        },
        _ => return Err(wrong()),
    };
    Ok(logical(value, schema))
}

/// The key that names a union branch in Avro's JSON encoding: a named type's full
/// name, else the type's name.
pub fn branch_key(schema: &Schema) -> String {
    type_name(schema)
}

/// How a schema is called in an error: full name of a named type, else its type.
pub fn type_name(schema: &Schema) -> String {
    if let Some(name) = schema.name() {
        return name.fullname(None);
    }
    match schema {
        Schema::Null => "null".into(),
        Schema::Boolean => "boolean".into(),
        Schema::Int => "int".into(),
        Schema::Long => "long".into(),
        Schema::Float => "float".into(),
        Schema::Double => "double".into(),
        Schema::Bytes => "bytes".into(),
        Schema::String => "string".into(),
        Schema::Array(_) => "array".into(),
        Schema::Map(_) => "map".into(),
        Schema::Union(union) => format!(
            "union [{}]",
            union
                .variants()
                .iter()
                .map(type_name)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Schema::Decimal(_) | Schema::BigDecimal => "bytes".into(),
        Schema::Uuid(UuidSchema::String) => "string".into(),
        Schema::Uuid(_) => "bytes".into(),
        Schema::Date | Schema::TimeMillis => "int".into(),
        _ => "long".into(),
    }
}
