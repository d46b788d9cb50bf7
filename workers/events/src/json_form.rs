//! The JSON form of an Avro datum: what `orderflow tail` prints and `orderflow produce`
//! reads, for any schema and both ways, so that a datum turned into JSON and back is the
//! same bytes.
//!
//! It is Avro's JSON encoding (the specification's "JSON Encoding"), easier to read and
//! to write by hand in one place, unions:
//! - a union of `null` and one other type is `null` or the bare value;
//! - any other union's value is `null` or `{"<branch>": value}`, where a named branch is
//!   called by its short name (its full name is accepted too, and is written when two
//!   branches share a short name), any other by its type (`string`, `array`, ...).
//!
//! The rest is the encoding's: a record is an object with its fields in schema order, a
//! map an object in the data's order, an enum its symbol, `bytes` and `fixed` a string
//! whose code points U+0000 to U+00FF are the bytes, numbers are JSON numbers (a float's
//! or double's `NaN`, `Infinity` and `-Infinity` are strings), and a logical type is its
//! underlying type's form (a `timestamp-millis` is a number of milliseconds). Read from
//! JSON, a missing record field takes its default and an unknown one is refused.
//!
//! For the catalogue's Rust types this is their serde JSON form, so what they serialize
//! to is what `orderflow produce` reads.

use std::collections::HashMap;
use std::fmt;

use apache_avro::schema::{Name, RecordSchema, ResolvedSchema, Schema, UnionSchema};
use serde_json::{Map, Number, Value as Json};

use crate::datum::{Blocks, DatumError, Reader, write_long};
use crate::resolve::{Primitive, type_name};

/// Deeper nesting than this (possible only with a recursive schema) is refused, so
/// neither direction can exhaust the stack.
pub const MAX_DEPTH: usize = 128;

/// Why a JSON value is not a datum of the schema: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// Path of the value: field names, union branches and `[index]`, dot-separated;
    /// empty for the whole value.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for JsonError {}

/// Which JSON a value is written from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// The JSON form.
    Form,
    /// A field default in the schema: a union's default is its first branch's value.
    Default,
}

/// Turns data of one schema into the JSON form and back.
#[derive(Debug)]
pub struct JsonDatum<'s> {
    schema: &'s Schema,
    names: HashMap<Name, &'s Schema>,
}

impl<'s> JsonDatum<'s> {
    /// The transcoder of `schema`; fails when a name it refers to is not defined.
    pub fn new(schema: &'s Schema) -> Result<JsonDatum<'s>, String> {
        let resolved = ResolvedSchema::try_from(schema).map_err(|e| e.to_string())?;
        let names = resolved
            .get_names()
            .iter()
            .map(|(name, schema)| (name.clone(), *schema))
            .collect();
        Ok(JsonDatum { schema, names })
    }

    /// The JSON form of the datum `bytes`, which must be read to its last byte.
    pub fn to_json(&self, bytes: &[u8]) -> Result<Json, DatumError> {
        let mut reader = Reader::new(bytes);
        let json = self.read(&mut reader, self.schema, 0)?;
        match reader.rest().len() {
            0 => Ok(json),
            left => Err(DatumError::new(format!("{left} trailing bytes"))),
        }
    }

    /// The datum of `json`, in the JSON form.
    pub fn from_json(&self, json: &Json) -> Result<Vec<u8>, JsonError> {
        let mut out = Vec::with_capacity(256);
        self.write(
            json,
            self.schema,
            Source::Form,
            &mut String::new(),
            &mut out,
            0,
        )?;
        Ok(out)
    }

    fn resolve<'a>(&'a self, schema: &'a Schema) -> &'a Schema {
        match schema {
            Schema::Ref { name } => self.names.get(name).copied().unwrap_or(schema),
            other => other,
        }
    }

    /// The key that names `branch` in a union's JSON form.
    fn branch_key(&self, union: &UnionSchema, branch: &Schema) -> String {
        let branch = self.resolve(branch);
        let Some(name) = branch.name() else {
            return type_name(branch);
        };
        let shared = union
            .variants()
            .iter()
            .filter(|other| self.resolve(other).name().map(|n| n.name()) == Some(name.name()))
            .count();
        if shared > 1 {
            name.fullname(None)
        } else {
            name.name().to_owned()
        }
    }

    /// A union of `null` and one other type, written as `null` or the bare value.
    fn nullable<'a>(&'a self, union: &'a UnionSchema) -> Option<(usize, usize)> {
        match union.variants() {
            [a, b] => match (self.resolve(a), self.resolve(b)) {
                (Schema::Null, Schema::Null) => None,
                (Schema::Null, _) => Some((0, 1)),
                (_, Schema::Null) => Some((1, 0)),
                _ => None,
            },
            _ => None,
        }
    }

    // -----------------------------------------------------------------------------------
    // Avro to JSON.

    fn read(&self, reader: &mut Reader, schema: &Schema, depth: usize) -> Result<Json, DatumError> {
        if depth > MAX_DEPTH {
            return Err(DatumError::new(format!(
                "nested deeper than {MAX_DEPTH} levels"
            )));
        }
        let schema = self.resolve(schema);
        Ok(match schema {
            Schema::Union(union) => {
                let index = reader.long()?;
                let branch = usize::try_from(index)
                    .ok()
                    .and_then(|i| union.variants().get(i))
                    .ok_or_else(|| {
                        DatumError::new(format!(
                            "union branch {index} of a union of {}",
                            union.variants().len()
                        ))
                    })?;
                let value = self.read(reader, branch, depth + 1)?;
                if value.is_null() || self.nullable(union).is_some() {
                    value
                } else {
                    let mut object = Map::new();
                    object.insert(self.branch_key(union, branch), value);
                    Json::Object(object)
                }
            }
            Schema::Record(record) => {
                let mut object = Map::new();
                for field in &record.fields {
                    let value = self.read(reader, &field.schema, depth + 1)?;
                    object.insert(field.name.clone(), value);
                }
                Json::Object(object)
            }
            Schema::Enum(enumeration) => {
                let index = reader.int()?;
                let symbol = usize::try_from(index)
                    .ok()
                    .and_then(|i| enumeration.symbols.get(i))
                    .ok_or_else(|| {
                        DatumError::new(format!(
                            "symbol {index} of enum {} of {} symbols",
                            enumeration.name.fullname(None),
                            enumeration.symbols.len()
                        ))
                    })?;
                Json::String(symbol.clone())
            }
            Schema::Array(array) => {
                let mut items = Vec::new();
                let mut blocks = Blocks::start(reader)?;
                while blocks.more()? {
                    items.push(self.read(blocks.reader(), &array.items, depth + 1)?);
                }
                Json::Array(items)
            }
            Schema::Map(map) => {
                let mut entries = Map::new();
                let mut blocks = Blocks::start(reader)?;
                while blocks.more()? {
                    let key = blocks.reader().str()?.to_owned();
                    let value = self.read(blocks.reader(), &map.types, depth + 1)?;
                    entries.insert(key, value);
                }
                Json::Object(entries)
            }
            _ => read_primitive(reader, schema)?,
        })
    }

    // -----------------------------------------------------------------------------------
    // JSON to Avro.

    fn write(
        &self,
        json: &Json,
        schema: &Schema,
        source: Source,
        path: &mut String,
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<(), JsonError> {
        let fail = |path: &str, message: String| JsonError {
            path: path.to_owned(),
            message,
        };
        if depth > MAX_DEPTH {
            return Err(fail(path, format!("nested deeper than {MAX_DEPTH} levels")));
        }
        let schema = self.resolve(schema);
        match (schema, json) {
            (Schema::Union(union), _) => {
                return self.write_union(union, json, source, path, out, depth);
            }
            (Schema::Record(record), Json::Object(object)) => {
                self.write_record(record, object, source, path, out, depth)?;
            }
            (Schema::Enum(enumeration), Json::String(symbol)) => {
                let index = enumeration
                    .symbols
                    .iter()
                    .position(|s| s == symbol)
                    .ok_or_else(|| {
                        fail(
                            path,
                            format!(
                                "{symbol:?} is not a symbol of enum {} ({})",
                                enumeration.name.fullname(None),
                                enumeration.symbols.join(", ")
                            ),
                        )
                    })?;
                write_long(out, index as i64);
            }
            (Schema::Array(array), Json::Array(items)) => {
                if !items.is_empty() {
                    write_long(out, items.len() as i64);
                    for (index, item) in items.iter().enumerate() {
                        let length = path.len();
                        path.push_str(&format!("[{index}]"));
                        self.write(item, &array.items, source, path, out, depth + 1)?;
                        path.truncate(length);
                    }
                }
                write_long(out, 0);
            }
            (Schema::Map(map), Json::Object(entries)) => {
                if !entries.is_empty() {
                    write_long(out, entries.len() as i64);
                    for (key, value) in entries {
                        write_long(out, key.len() as i64);
                        out.extend_from_slice(key.as_bytes());
                        let length = push_field(path, key);
                        self.write(value, &map.types, source, path, out, depth + 1)?;
                        path.truncate(length);
                    }
                }
                write_long(out, 0);
            }
            _ => write_primitive(json, schema, out).map_err(|message| fail(path, message))?,
        }
        Ok(())
    }

    fn write_union(
        &self,
        union: &UnionSchema,
        json: &Json,
        source: Source,
        path: &mut String,
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<(), JsonError> {
        let branches = || {
            union
                .variants()
                .iter()
                .map(|b| self.branch_key(union, b))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (index, value) = match (source, json) {
            // A field default is a value of the union's first branch.
            (Source::Default, _) => (0, json),
            (Source::Form, Json::Null) => {
                let index = union
                    .variants()
                    .iter()
                    .position(|b| matches!(self.resolve(b), Schema::Null))
                    .ok_or_else(|| JsonError {
                        path: path.clone(),
                        message: format!("null is not one of the union's types ({})", branches()),
                    })?;
                (index, json)
            }
            (Source::Form, _) => match self.nullable(union) {
                Some((_, other)) => (other, json),
                None => match json {
                    Json::Object(object) if object.len() == 1 => {
                        let (key, value) = object.iter().next().expect("one member");
                        let index = union
                            .variants()
                            .iter()
                            .position(|b| {
                                self.branch_key(union, b) == *key
                                    || self.resolve(b).name().map(|n| n.fullname(None)).as_ref()
                                        == Some(key)
                            })
                            .ok_or_else(|| JsonError {
                                path: path.clone(),
                                message: format!(
                                    "{key:?} is not one of the union's types ({})",
                                    branches()
                                ),
                            })?;
                        let length = push_field(path, key);
                        let branch = &union.variants()[index];
                        write_long(out, index as i64);
                        self.write(value, branch, source, path, out, depth + 1)?;
                        path.truncate(length);
                        return Ok(());
                    }
                    other => {
                        return Err(JsonError {
                            path: path.clone(),
                            message: format!(
                                "expected null or {{\"<type>\": value}} naming one of the \
                                 union's types ({}), found {}",
                                branches(),
                                describe(other)
                            ),
                        });
                    }
                },
            },
        };
        let branch = union.variants().get(index).ok_or_else(|| JsonError {
            path: path.clone(),
            message: "an empty union has no value".into(),
        })?;
        write_long(out, index as i64);
        self.write(value, branch, source, path, out, depth + 1)
    }

    fn write_record(
        &self,
        record: &RecordSchema,
        object: &Map<String, Json>,
        source: Source,
        path: &mut String,
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<(), JsonError> {
        for field in &record.fields {
            let length = push_field(path, &field.name);
            match (object.get(&field.name), &field.default) {
                (Some(value), _) => {
                    self.write(value, &field.schema, source, path, out, depth + 1)?
                }
                (None, Some(default)) => {
                    self.write(
                        default,
                        &field.schema,
                        Source::Default,
                        path,
                        out,
                        depth + 1,
                    )?;
                }
                (None, None) => {
                    path.truncate(length);
                    return Err(JsonError {
                        path: path.clone(),
                        message: format!("missing field `{}`", field.name),
                    });
                }
            }
            path.truncate(length);
        }
        if let Some(unknown) = object
            .keys()
            .find(|name| !record.fields.iter().any(|f| f.name == **name))
        {
            let length = push_field(path, unknown);
            let error = JsonError {
                path: path.clone(),
                message: format!(
                    "unknown field (the fields of {} are {})",
                    record.name.fullname(None),
                    record
                        .fields
                        .iter()
                        .map(|f| f.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            path.truncate(length);
            return Err(error);
        }
        Ok(())
    }
}

/// Appends `.name` (or `name` at the top) to `path`; returns the length to truncate to.
fn push_field(path: &mut String, name: &str) -> usize {
    let length = path.len();
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(name);
    length
}

fn read_primitive(reader: &mut Reader, schema: &Schema) -> Result<Json, DatumError> {
    let primitive = Primitive::of(schema)
        .ok_or_else(|| DatumError::new(format!("no JSON form for {}", type_name(schema))))?;
    Ok(match primitive {
        Primitive::Null => Json::Null,
        Primitive::Boolean => match reader.fixed::<1>("a boolean")? {
            [0] => Json::Bool(false),
            [1] => Json::Bool(true),
            [other] => return Err(DatumError::new(format!("{other} is not a boolean"))),
        },
        Primitive::Int => Json::from(reader.int()?),
        Primitive::Long => Json::from(reader.long()?),
        Primitive::Float => {
            let value = f32::from_le_bytes(reader.fixed::<4>("a float")?);
            // The shortest decimal that reads back as this float, not as the double.
            float_json(
                f64::from(value),
                value.to_string().parse().unwrap_or(f64::NAN),
            )
        }
        Primitive::Double => {
            let value = f64::from_le_bytes(reader.fixed::<8>("a double")?);
            float_json(value, value)
        }
        Primitive::Bytes => Json::String(latin1(reader.bytes()?)),
        Primitive::String => Json::String(reader.str()?.to_owned()),
        Primitive::Fixed(_, size) => {
            if reader.rest().len() < size {
                return Err(DatumError::new(format!(
                    "a fixed of {size} bytes but {} are left",
                    reader.rest().len()
                )));
            }
            Json::String(latin1(reader.take(size)))
        }
    })
}

/// A float or double: a JSON number, or one of the strings the specials are written as.
fn float_json(value: f64, shortest: f64) -> Json {
    match Number::from_f64(shortest) {
        Some(number) => Json::Number(number),
        None if value.is_nan() => Json::from("NaN"),
        None if value > 0.0 => Json::from("Infinity"),
        None => Json::from("-Infinity"),
    }
}

/// Bytes as the string whose code points are the bytes.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

fn write_primitive(json: &Json, schema: &Schema, out: &mut Vec<u8>) -> Result<(), String> {
    let expected = || format!("expected {}, found {}", type_name(schema), describe(json));
    let primitive = Primitive::of(schema).ok_or_else(expected)?;
    match (primitive, json) {
        (Primitive::Null, Json::Null) => {}
        (Primitive::Boolean, Json::Bool(value)) => out.push(u8::from(*value)),
        (Primitive::Int, Json::Number(number)) => {
            let value = number
                .as_i64()
                .and_then(|v| i32::try_from(v).ok())
                .ok_or_else(|| format!("{number} is not an int (32-bit integer)"))?;
            write_long(out, value.into());
        }
        (Primitive::Long, Json::Number(number)) => {
            let value = number
                .as_i64()
                .ok_or_else(|| format!("{number} is not a long (64-bit integer)"))?;
            write_long(out, value);
        }
        (Primitive::Float, _) => {
            let value: f32 = match json {
                Json::Number(number) => number.to_string().parse().map_err(|_| expected())?,
                _ => special(json).ok_or_else(expected)? as f32,
            };
            if value.is_infinite() && json.is_number() {
                return Err(format!("{json} does not fit a float"));
            }
            out.extend_from_slice(&value.to_le_bytes());
        }
        (Primitive::Double, _) => {
            let value = match json {
                Json::Number(number) => number.as_f64().ok_or_else(expected)?,
                _ => special(json).ok_or_else(expected)?,
            };
            out.extend_from_slice(&value.to_le_bytes());
        }
        (Primitive::Bytes, Json::String(text)) => {
            let bytes = from_latin1(text)?;
            write_long(out, bytes.len() as i64);
            out.extend_from_slice(&bytes);
        }
        (Primitive::String, Json::String(text)) => {
            write_long(out, text.len() as i64);
            out.extend_from_slice(text.as_bytes());
        }
        (Primitive::Fixed(fixed, size), Json::String(text)) => {
            let bytes = from_latin1(text)?;
            if bytes.len() != size {
                return Err(format!(
                    "{} bytes where fixed {} has {size}",
                    bytes.len(),
                    fixed.name.fullname(None)
                ));
            }
            out.extend_from_slice(&bytes);
        }
        _ => return Err(expected()),
    }
    Ok(())
}

/// `NaN`, `Infinity` and `-Infinity`, as the JSON form writes them.
fn special(json: &Json) -> Option<f64> {
    match json.as_str()? {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

fn from_latin1(text: &str) -> Result<Vec<u8>, String> {
    text.chars()
        .map(|c| {
            u8::try_from(u32::from(c)).map_err(|_| {
                format!(
                    "{c:?} is not a byte: bytes are written as the code points U+0000 to U+00FF"
                )
            })
        })
        .collect()
}

/// A JSON value, named in an error.
fn describe(json: &Json) -> String {
    match json {
        Json::Null => "null".into(),
        Json::Bool(value) => format!("boolean {value}"),
        Json::Number(number) => format!("number {number}"),
        Json::String(text) if text.chars().count() > 40 => {
            format!("string {:?}…", text.chars().take(40).collect::<String>())
        }
        Json::String(text) => format!("string {text:?}"),
        Json::Array(_) => "an array".into(),
        Json::Object(_) => "an object".into(),
    }
}

#[cfg(test)]
#[path = "json_form_tests.rs"]
mod tests;
