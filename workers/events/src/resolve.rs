//! Avro schema resolution as the specification's "Schema Resolution" section states it.
//!
//! A datum is first decoded with the writer's schema (apache-avro), then walked with
//! both schemas into a value of the reader's schema. apache-avro's own resolver is not
//! used: it resolves a writer's union value into the first reader branch the value
//! fits, ignoring the writer branch's name (apache/avro-rs#383), so an
//! `OrderCancelled { reason, refund_amount }` written with an older schema would fit
//! `OrderDelivered` (whose only field has a default) and silently become a delivery.
//!
//! The rules, in the specification's terms:
//! - two schemas *match* when both are records, enums or fixed with the same
//!   unqualified name (or the writer's name is one of the reader's aliases; fixed also
//!   need the same size), both are arrays or maps whose items or values match, either is
//!   a union, or both are the same primitive type or the writer's promotes to the
//!   reader's: int to long, float or double; long to float or double; float to double;
//!   string to bytes and bytes to string;
//! - a union branch is the *first* branch of the reader's union that matches; when none
//!   does, the datum cannot be read ([`Mismatch::UnknownUnionBranch`] when the writer
//!   picked a branch the reader lacks);
//! - record fields match by name or by the reader field's aliases; the writer's extra
//!   fields are skipped; a reader field the writer lacks takes its default, whose JSON
//!   is read as the field's type (a union's default is of its first branch, bytes and
//!   fixed are ISO-8859-1 strings);
//! - an enum symbol the reader lacks becomes the reader enum's default;
//! - logical types resolve as their underlying types and are re-applied on the reader's
//!   side, except that two decimals match only with the same precision and scale.
//!
//! [`Resolver::new`] refuses a pair of schemas that no datum can resolve (another
//! record, a missing field without default); what depends on the datum (the union
//! branch, the enum symbol) is decided per datum.

use std::collections::{HashMap, HashSet};

use apache_avro::schema::{
    Alias, DecimalSchema, InnerDecimalSchema, Name, ResolvedSchema, Schema, UnionSchema, UuidSchema,
};
use apache_avro::types::Value;
use serde_json::Value as Json;

/// Named types of a schema, by full name.
type Names = HashMap<Name, &'static Schema>;

/// Why a writer's datum (or every datum of a writer's schema) cannot be read with the
/// reader's schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    /// The writer picked a union branch that no branch of the reader's union (or the
    /// reader's schema, when it is not a union) matches: typically a payload type added
    /// by a newer writer.
    #[error("the writer's union branch {branch} has no match in the reader's {reader}")]
    UnknownUnionBranch {
        /// The writer's branch: the full name of a named type, else the type's name.
        branch: String,
        /// The reader's schema at that place.
        reader: String,
    },
    /// An enum symbol the reader's enum lacks, and the reader's enum has no default.
    #[error("symbol {symbol} is not in the reader's enum {name}, which has no default")]
    UnknownEnumSymbol {
        /// The reader's enum.
        name: String,
        /// The writer's symbol.
        symbol: String,
    },
    /// A field of the reader's record that the writer's record lacks, without default.
    #[error("the reader's field {record}.{field} is not in the writer's record and has no default")]
    MissingField {
        /// The reader's record.
        record: String,
        /// The field.
        field: String,
    },
    /// The two schemas do not match (different types, names or fixed sizes).
    #[error("the writer's {writer} does not match the reader's {reader}")]
    SchemaMismatch {
        /// The writer's schema at that place.
        writer: String,
        /// The reader's schema at that place.
        reader: String,
    },
    /// A reader field's default that is not a value of the field's type.
    #[error("the default of {record}.{field} is not a {expected}")]
    InvalidDefault {
        /// The reader's record.
        record: String,
        /// The field.
        field: String,
        /// The type the default should be.
        expected: String,
    },
    /// The decoded value does not have the writer schema's shape (cannot happen for a
    /// value decoded with that schema).
    #[error("the value does not fit the writer's schema: {0}")]
    Datum(String),
}

/// A [`Mismatch`] and where it happened (the reader's field path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveError {
    /// Field path from the top-level record, e.g. `payload` or `lines[].sku`; empty at
    /// the top.
    pub path: String,
    /// What does not match.
    pub mismatch: Mismatch,
}

impl std::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.mismatch)
        } else {
            write!(f, "{} (at {})", self.mismatch, self.path)
        }
    }
}

impl std::error::Error for ResolveError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.mismatch)
    }
}

impl ResolveError {
    fn new(mismatch: Mismatch) -> ResolveError {
        ResolveError {
            path: String::new(),
            mismatch,
        }
    }

    /// Prefixes the path with `segment` (a field name, or `[]` for array items and
    /// map values).
    fn within(mut self, segment: &str) -> ResolveError {
        self.path = match (self.path.is_empty(), segment.starts_with('[')) {
            (true, _) => segment.to_owned(),
            (false, true) if self.path.starts_with('[') => format!("{segment}{}", self.path),
            (false, true) => format!("{segment}.{}", self.path),
            (false, false) if self.path.starts_with('[') => format!("{segment}{}", self.path),
            (false, false) => format!("{segment}.{}", self.path),
        };
        self
    }

    /// A short stable name of the mismatch, used as the dead-letter error kind.
    pub fn kind(&self) -> &'static str {
        match self.mismatch {
            Mismatch::UnknownUnionBranch { .. } => "unknown-union-branch",
            Mismatch::UnknownEnumSymbol { .. } => "unknown-enum-symbol",
            Mismatch::MissingField { .. } => "missing-field",
            Mismatch::SchemaMismatch { .. } => "incompatible-schema",
            Mismatch::InvalidDefault { .. } => "invalid-default",
            Mismatch::Datum(_) => "malformed",
        }
    }

    /// Whether the datum, not the schemas, is at fault.
    pub fn is_datum(&self) -> bool {
        matches!(self.mismatch, Mismatch::Datum(_))
    }
}

type Result<T> = std::result::Result<T, ResolveError>;

/// Resolves values written with one schema into another.
#[derive(Debug)]
pub struct Resolver {
    writer: &'static Schema,
    reader: &'static Schema,
    writer_names: Names,
    reader_names: Names,
}

impl Resolver {
    /// A resolver from `writer` to `reader`; fails when no datum of `writer` can be
    /// read as `reader`.
    pub fn new(writer: &'static Schema, reader: &'static Schema) -> Result<Resolver> {
        let names = |schema: &'static Schema| -> Result<Names> {
            let resolved = ResolvedSchema::try_from(schema)
                .map_err(|e| ResolveError::new(Mismatch::Datum(e.to_string())))?;
            Ok(resolved
                .get_names()
                .iter()
                .map(|(name, schema)| (name.clone(), *schema))
                .collect())
        };
        let resolver = Resolver {
            writer,
            reader,
            writer_names: names(writer)?,
            reader_names: names(reader)?,
        };
        resolver.check(writer, reader, &mut HashSet::new())?;
        Ok(resolver)
    }

    /// Turns `value`, decoded with the writer's schema, into a value of the reader's.
    pub fn resolve(&self, value: Value) -> Result<Value> {
        self.value(value, self.writer, self.reader)
    }

    fn writer_schema<'a>(&'a self, schema: &'a Schema) -> &'a Schema {
        deref(&self.writer_names, schema)
    }

    fn reader_schema<'a>(&'a self, schema: &'a Schema) -> &'a Schema {
        deref(&self.reader_names, schema)
    }

    /// Fails when every datum of `writer` fails to resolve into `reader`.
    fn check(
        &self,
        writer: &Schema,
        reader: &Schema,
        seen: &mut HashSet<(String, String)>,
    ) -> Result<()> {
        let writer = self.writer_schema(writer);
        let reader = self.reader_schema(reader);
        // Recursive types: a pair under check is assumed to resolve.
        if let (Some(w), Some(r)) = (writer.name(), reader.name())
            && !seen.insert((w.fullname(None), r.fullname(None)))
        {
            return Ok(());
        }
        match (writer, reader) {
            (Schema::Union(union), _) => {
                // Readable as long as one branch is: the others fail per datum.
                let mut first_error = None;
                for branch in union.variants() {
                    let branch = self.writer_schema(branch);
                    let checked = match reader {
                        Schema::Union(readers) => match self.first_match(branch, readers) {
                            Some(index) => self.check(branch, &readers.variants()[index], seen),
                            None => Err(unknown_branch(branch, reader)),
                        },
                        _ if self.matches(branch, reader) => self.check(branch, reader, seen),
                        _ => Err(unknown_branch(branch, reader)),
                    };
                    match checked {
                        Ok(()) => return Ok(()),
                        Err(error) => {
                            first_error.get_or_insert(error);
                        }
                    }
                }
                match first_error {
                    Some(error) => Err(error),
                    // An empty union has no datum at all.
                    None => Ok(()),
                }
            }
            (_, Schema::Union(union)) => match self.first_match(writer, union) {
                Some(index) => self.check(writer, &union.variants()[index], seen),
                None => Err(self.mismatch(writer, reader)),
            },
            (Schema::Record(w), Schema::Record(r)) => {
                if !names_match(&w.name, &r.name, &r.aliases) {
                    return Err(self.mismatch(writer, reader));
                }
                for field in &r.fields {
                    match written_field(w, field) {
                        Some(written) => self
                            .check(&written.schema, &field.schema, seen)
                            .map_err(|e| e.within(&field.name))?,
                        None => {
                            self.default_of(r, field)?;
                        }
                    }
                }
                Ok(())
            }
            (Schema::Array(w), Schema::Array(r)) => self
                .check(&w.items, &r.items, seen)
                .map_err(|e| e.within("[]")),
            (Schema::Map(w), Schema::Map(r)) => self
                .check(&w.types, &r.types, seen)
                .map_err(|e| e.within("[]")),
            _ if self.matches(writer, reader) => Ok(()),
            _ => Err(self.mismatch(writer, reader)),
        }
    }

    fn value(&self, value: Value, writer: &Schema, reader: &Schema) -> Result<Value> {
        let writer = self.writer_schema(writer);
        let reader = self.reader_schema(reader);
        match (writer, reader) {
            (Schema::Union(union), _) => {
                let Value::Union(index, inner) = value else {
                    return Err(datum("expected a union value"));
                };
                let branch = union
                    .variants()
                    .get(index as usize)
                    .ok_or_else(|| datum(&format!("union index {index} out of range")))?;
                let branch = self.writer_schema(branch);
                let unknown = || unknown_branch(branch, reader);
                match reader {
                    Schema::Union(readers) => {
                        let index = self.first_match(branch, readers).ok_or_else(unknown)?;
                        let inner = self.value(*inner, branch, &readers.variants()[index])?;
                        Ok(Value::Union(index as u32, Box::new(inner)))
                    }
                    _ if self.matches(branch, reader) => self.value(*inner, branch, reader),
                    _ => Err(unknown()),
                }
            }
            (_, Schema::Union(union)) => {
                let index = self
                    .first_match(writer, union)
                    .ok_or_else(|| self.mismatch(writer, reader))?;
                let inner = self.value(value, writer, &union.variants()[index])?;
                Ok(Value::Union(index as u32, Box::new(inner)))
            }
            (Schema::Record(w), Schema::Record(r)) => {
                if !names_match(&w.name, &r.name, &r.aliases) {
                    return Err(self.mismatch(writer, reader));
                }
                let Value::Record(fields) = value else {
                    return Err(datum("expected a record value"));
                };
                let mut written: HashMap<String, Value> = fields.into_iter().collect();
                let mut out = Vec::with_capacity(r.fields.len());
                for field in &r.fields {
                    let resolved = match written_field(w, field) {
                        Some(wf) => {
                            let value = written.remove(&wf.name).ok_or_else(|| {
                                datum(&format!("no value for the writer's field {}", wf.name))
                            })?;
                            self.value(value, &wf.schema, &field.schema)
                                .map_err(|e| e.within(&field.name))?
                        }
                        None => self.default_of(r, field)?,
                    };
                    out.push((field.name.clone(), resolved));
                }
                Ok(Value::Record(out))
            }
            (Schema::Enum(w), Schema::Enum(r)) => {
                if !names_match(&w.name, &r.name, &r.aliases) {
                    return Err(self.mismatch(writer, reader));
                }
                let Value::Enum(_, symbol) = value else {
                    return Err(datum("expected an enum value"));
                };
                let symbol = if r.symbols.contains(&symbol) {
                    symbol
                } else {
                    r.default.clone().ok_or_else(|| {
                        ResolveError::new(Mismatch::UnknownEnumSymbol {
                            name: r.name.fullname(None),
                            symbol,
                        })
                    })?
                };
                let index = r
                    .symbols
                    .iter()
                    .position(|s| *s == symbol)
                    .ok_or_else(|| datum(&format!("the enum default {symbol} is no symbol")))?;
                Ok(Value::Enum(index as u32, symbol))
            }
            (Schema::Array(w), Schema::Array(r)) => match value {
                Value::Array(items) => Ok(Value::Array(
                    items
                        .into_iter()
                        .map(|item| self.value(item, &w.items, &r.items))
                        .collect::<Result<_>>()
                        .map_err(|e| e.within("[]"))?,
                )),
                _ => Err(datum("expected an array value")),
            },
            (Schema::Map(w), Schema::Map(r)) => match value {
                Value::Map(entries) => Ok(Value::Map(
                    entries
                        .into_iter()
                        .map(|(k, v)| self.value(v, &w.types, &r.types).map(|v| (k, v)))
                        .collect::<Result<_>>()
                        .map_err(|e| e.within("[]"))?,
                )),
                _ => Err(datum("expected a map value")),
            },
            _ if self.matches(writer, reader) => {
                let primitive = underlying(value, writer)?;
                let promoted =
                    promote(primitive, reader).ok_or_else(|| self.mismatch(writer, reader))?;
                Ok(logical(promoted, reader))
            }
            _ => Err(self.mismatch(writer, reader)),
        }
    }

    /// The specification's "match" of a writer's schema and a reader's (not unions).
    fn matches(&self, writer: &Schema, reader: &Schema) -> bool {
        let writer = self.writer_schema(writer);
        let reader = self.reader_schema(reader);
        match (writer, reader) {
            (Schema::Union(_), _) | (_, Schema::Union(_)) => true,
            (Schema::Record(w), Schema::Record(r)) => names_match(&w.name, &r.name, &r.aliases),
            (Schema::Enum(w), Schema::Enum(r)) => names_match(&w.name, &r.name, &r.aliases),
            (Schema::Array(w), Schema::Array(r)) => self.matches(&w.items, &r.items),
            (Schema::Map(w), Schema::Map(r)) => self.matches(&w.types, &r.types),
            // The one logical type the specification gives a rule of its own.
            (Schema::Decimal(w), Schema::Decimal(r))
                if (w.precision, w.scale) != (r.precision, r.scale) =>
            {
                false
            }
            _ => match (Primitive::of(writer), Primitive::of(reader)) {
                (Some(Primitive::Fixed(w, w_size)), Some(Primitive::Fixed(r, r_size))) => {
                    w_size == r_size && names_match(&w.name, &r.name, &r.aliases)
                }
                (Some(w), Some(r)) => w.promotes_to(&r),
                _ => false,
            },
        }
    }

    /// The first branch of the reader's union that matches the writer's schema.
    fn first_match(&self, writer: &Schema, union: &UnionSchema) -> Option<usize> {
        union
            .variants()
            .iter()
            .position(|branch| !matches!(branch, Schema::Union(_)) && self.matches(writer, branch))
    }

    fn mismatch(&self, writer: &Schema, reader: &Schema) -> ResolveError {
        ResolveError::new(Mismatch::SchemaMismatch {
            writer: type_name(self.writer_schema(writer)),
            reader: type_name(self.reader_schema(reader)),
        })
    }

    /// The default of a reader field the writer lacks.
    fn default_of(
        &self,
        record: &apache_avro::schema::RecordSchema,
        field: &apache_avro::schema::RecordField,
    ) -> Result<Value> {
        let Some(default) = &field.default else {
            return Err(ResolveError::new(Mismatch::MissingField {
                record: record.name.fullname(None),
                field: field.name.clone(),
            }));
        };
        json_value(
            default,
            &field.schema,
            &self.reader_names,
            JsonForm::Default,
        )
        .map_err(|expected| {
            ResolveError::new(Mismatch::InvalidDefault {
                record: record.name.fullname(None),
                field: field.name.clone(),
                expected,
            })
        })
    }
}

fn deref<'a>(names: &'a Names, schema: &'a Schema) -> &'a Schema {
    match schema {
        Schema::Ref { name } => names.get(name).copied().unwrap_or(schema),
        other => other,
    }
}

fn unknown_branch(branch: &Schema, reader: &Schema) -> ResolveError {
    ResolveError::new(Mismatch::UnknownUnionBranch {
        branch: type_name(branch),
        reader: type_name(reader),
    })
}

fn datum(reason: &str) -> ResolveError {
    ResolveError::new(Mismatch::Datum(reason.to_owned()))
}

/// The writer's field a reader's field reads: same name, else one of the reader
/// field's aliases.
fn written_field<'w>(
    writer: &'w apache_avro::schema::RecordSchema,
    field: &apache_avro::schema::RecordField,
) -> Option<&'w apache_avro::schema::RecordField> {
    writer
        .fields
        .iter()
        .find(|wf| wf.name == field.name)
        .or_else(|| {
            field
                .aliases
                .iter()
                .find_map(|alias| writer.fields.iter().find(|wf| wf.name == *alias))
        })
}

/// Named types match by unqualified name, or when the writer's name is one of the
/// reader's aliases.
fn names_match(writer: &Name, reader: &Name, aliases: &Option<Vec<Alias>>) -> bool {
    writer.name() == reader.name()
        || aliases
            .iter()
            .flatten()
            .any(|alias| alias.name() == writer.name())
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

/// The primitive (underlying) type of a schema: logical types resolve as these.
#[derive(Debug, Clone, Copy)]
enum Primitive<'a> {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Fixed(&'a apache_avro::schema::FixedSchema, usize),
}

impl<'a> Primitive<'a> {
    fn of(schema: &'a Schema) -> Option<Primitive<'a>> {
        Some(match schema {
            Schema::Null => Primitive::Null,
            Schema::Boolean => Primitive::Boolean,
            Schema::Int | Schema::Date | Schema::TimeMillis => Primitive::Int,
            Schema::Long
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => Primitive::Long,
            Schema::Float => Primitive::Float,
            Schema::Double => Primitive::Double,
            Schema::Bytes
            | Schema::BigDecimal
            | Schema::Uuid(UuidSchema::Bytes)
            | Schema::Decimal(DecimalSchema {
                inner: InnerDecimalSchema::Bytes,
                ..
            }) => Primitive::Bytes,
            Schema::String | Schema::Uuid(UuidSchema::String) => Primitive::String,
            Schema::Fixed(fixed)
            | Schema::Uuid(UuidSchema::Fixed(fixed))
            | Schema::Duration(fixed)
            | Schema::Decimal(DecimalSchema {
                inner: InnerDecimalSchema::Fixed(fixed),
                ..
            }) => Primitive::Fixed(fixed, fixed.size),
            _ => return None,
        })
    }

    fn promotes_to(&self, reader: &Primitive) -> bool {
        use Primitive::*;
        matches!(
            (self, reader),
            (Null, Null)
                | (Boolean, Boolean)
                | (Int, Int | Long | Float | Double)
                | (Long, Long | Float | Double)
                | (Float, Float | Double)
                | (Double, Double)
                | (Bytes | String, Bytes | String)
        )
    }
}

/// A writer's value as its underlying primitive value.
fn underlying(value: Value, writer: &Schema) -> Result<Value> {
    Ok(match value {
        Value::Date(v) | Value::TimeMillis(v) => Value::Int(v),
        Value::TimeMicros(v)
        | Value::TimestampMillis(v)
        | Value::TimestampMicros(v)
        | Value::TimestampNanos(v)
        | Value::LocalTimestampMillis(v)
        | Value::LocalTimestampMicros(v)
        | Value::LocalTimestampNanos(v) => Value::Long(v),
        Value::Decimal(decimal) => {
            let bytes = Vec::<u8>::try_from(&decimal).map_err(|e| datum(&e.to_string()))?;
            match Primitive::of(writer) {
                Some(Primitive::Fixed(_, size)) => Value::Fixed(size, bytes),
                _ => Value::Bytes(bytes),
            }
        }
        Value::Uuid(uuid) => match Primitive::of(writer) {
            Some(Primitive::Fixed(_, size)) => Value::Fixed(size, uuid.as_bytes().to_vec()),
            Some(Primitive::Bytes) => Value::Bytes(uuid.as_bytes().to_vec()),
            _ => Value::String(uuid.to_string()),
        },
        Value::Duration(duration) => Value::Fixed(12, <[u8; 12]>::from(duration).to_vec()),
        Value::BigDecimal(_) => {
            return Err(datum("big-decimal values are not resolved"));
        }
        other => other,
    })
}

/// A primitive value promoted to the reader's primitive type.
fn promote(value: Value, reader: &Schema) -> Option<Value> {
    let reader = Primitive::of(reader)?;
    Some(match (value, reader) {
        (Value::Int(v), Primitive::Long) => Value::Long(v.into()),
        (Value::Int(v), Primitive::Float) => Value::Float(v as f32),
        (Value::Int(v), Primitive::Double) => Value::Double(v.into()),
        (Value::Long(v), Primitive::Float) => Value::Float(v as f32),
        (Value::Long(v), Primitive::Double) => Value::Double(v as f64),
        (Value::Float(v), Primitive::Double) => Value::Double(v.into()),
        // Avro strings are UTF-8; bytes that are not cannot become a string.
        (Value::Bytes(v), Primitive::String) => Value::String(String::from_utf8(v).ok()?),
        (Value::String(v), Primitive::Bytes) => Value::Bytes(v.into_bytes()),
        (
            value @ (Value::Null
            | Value::Boolean(_)
            | Value::Int(_)
            | Value::Long(_)
            | Value::Float(_)
            | Value::Double(_)
            | Value::Bytes(_)
            | Value::String(_)
            | Value::Fixed(..)),
            _,
        ) => value,
        _ => return None,
    })
}

/// A primitive value in the reader's logical type, when it has one.
fn logical(value: Value, reader: &Schema) -> Value {
    match (value, reader) {
        (Value::Int(v), Schema::Date) => Value::Date(v),
        (Value::Int(v), Schema::TimeMillis) => Value::TimeMillis(v),
        (Value::Long(v), Schema::TimeMicros) => Value::TimeMicros(v),
        (Value::Long(v), Schema::TimestampMillis) => Value::TimestampMillis(v),
        (Value::Long(v), Schema::TimestampMicros) => Value::TimestampMicros(v),
        (Value::Long(v), Schema::TimestampNanos) => Value::TimestampNanos(v),
        (Value::Long(v), Schema::LocalTimestampMillis) => Value::LocalTimestampMillis(v),
        (Value::Long(v), Schema::LocalTimestampMicros) => Value::LocalTimestampMicros(v),
        (Value::Long(v), Schema::LocalTimestampNanos) => Value::LocalTimestampNanos(v),
        (Value::Bytes(v) | Value::Fixed(_, v), Schema::Decimal(_)) => {
            Value::Decimal(apache_avro::Decimal::from(v))
        }
        // A string that is no UUID stays a string: the logical type is then ignored, as
        // the specification asks of invalid logical types.
        (Value::String(v), Schema::Uuid(UuidSchema::String)) => match uuid::Uuid::parse_str(&v) {
            Ok(uuid) => Value::Uuid(uuid),
            Err(_) => Value::String(v),
        },
        (Value::Fixed(16, v), Schema::Uuid(UuidSchema::Fixed(_))) => {
            match uuid::Uuid::from_slice(&v) {
                Ok(uuid) => Value::Uuid(uuid),
                Err(_) => Value::Fixed(16, v),
            }
        }
        (Value::Fixed(12, v), Schema::Duration(_)) => match <[u8; 12]>::try_from(v.as_slice()) {
            Ok(bytes) => Value::Duration(bytes.into()),
            Err(_) => Value::Fixed(12, v),
        },
        (value, _) => value,
    }
}

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
) -> std::result::Result<Value, String> {
    let schema = match schema {
        Schema::Ref { name } => names.get(name).copied().unwrap_or(schema),
        other => other,
    };
    let wrong = || type_name(schema);
    let latin1 = |text: &str| -> std::result::Result<Vec<u8>, String> {
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
                                .position(|b| {
                                    let b = match b {
                                        Schema::Ref { name } => {
                                            names.get(name).copied().unwrap_or(b)
                                        }
                                        other => other,
                                    };
                                    branch_key(b) == *key
                                })
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
                .collect::<std::result::Result<_, String>>()?,
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
                .collect::<std::result::Result<_, _>>()?,
        ),
        (Schema::Map(map), Json::Object(entries)) => Value::Map(
            entries
                .iter()
                .map(|(k, v)| json_value(v, &map.types, names, form).map(|v| (k.clone(), v)))
                .collect::<std::result::Result<_, _>>()?,
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

#[cfg(test)]
#[path = "resolve_table_tests.rs"]
mod table_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn leak(json: &str) -> &'static Schema {
        Box::leak(Box::new(Schema::parse_str(json).unwrap()))
    }

    const A: &str = r#"{"type":"record","name":"A","fields":[{"name":"x","type":["null","string"],"default":null}]}"#;
    const B: &str = r#"{"type":"record","name":"B","fields":[{"name":"reason","type":"string"},{"name":"n","type":"long"}]}"#;

    fn union_of(branches: &[&str]) -> &'static Schema {
        leak(&format!(
            r#"{{"type":"record","name":"E","fields":[{{"name":"p","type":[{}]}}]}}"#,
            branches.join(",")
        ))
    }

    fn b_value(index: u32) -> Value {
        Value::Record(vec![(
            "p".into(),
            Value::Union(
                index,
                Box::new(Value::Record(vec![
                    ("reason".into(), "fraud".into()),
                    ("n".into(), Value::Long(5)),
                ])),
            ),
        )])
    }

    #[test]
    fn a_union_branch_resolves_by_name_not_by_the_first_fit() {
        // B's value also fits A (A's only field has a default): a first-fit resolver
        // would pick A.
        let writer = union_of(&[B]);
        let reader = union_of(&[A, B]);
        let resolved = Resolver::new(writer, reader)
            .unwrap()
            .resolve(b_value(0))
            .unwrap();
        let Value::Record(fields) = resolved else {
            panic!()
        };
        let Value::Union(index, inner) = &fields[0].1 else {
            panic!("{fields:?}")
        };
        assert_eq!(*index, 1, "branch B");
        assert_eq!(
            **inner,
            Value::Record(vec![
                ("reason".into(), "fraud".into()),
                ("n".into(), Value::Long(5))
            ])
        );
    }

    #[test]
    fn a_union_branch_the_reader_lacks_is_named_in_the_error() {
        let writer = union_of(&[A, B]);
        let reader = union_of(&[A]);
        let resolver = Resolver::new(writer, reader).expect("branch A is readable");
        let error = resolver.resolve(b_value(1)).unwrap_err();
        assert_eq!(error.kind(), "unknown-union-branch");
        assert_eq!(error.path, "p");
        assert!(error.to_string().contains("branch B"), "{error}");
    }

    #[test]
    fn a_writer_no_datum_of_which_is_readable_is_refused_at_once() {
        let error = Resolver::new(leak(B), leak(A)).unwrap_err();
        assert_eq!(error.kind(), "incompatible-schema", "{error}");
        let without_default =
            leak(r#"{"type":"record","name":"A","fields":[{"name":"y","type":"string"}]}"#);
        let error = Resolver::new(leak(A), without_default).unwrap_err();
        assert_eq!(error.kind(), "missing-field", "{error}");
    }

    #[test]
    fn missing_fields_take_defaults_and_extra_fields_are_dropped_and_ints_promote() {
        let writer = leak(
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"gone","type":"string"}]}"#,
        );
        let reader = leak(
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"long"},
                {"name":"e","type":{"type":"enum","name":"S","symbols":["X","UNKNOWN"],"default":"UNKNOWN"},"default":"UNKNOWN"},
                {"name":"o","type":["null","string"],"default":null},
                {"name":"b","type":"bytes","default":"\u00ff"}]}"#,
        );
        let value = Value::Record(vec![
            ("a".into(), Value::Int(7)),
            ("gone".into(), "bye".into()),
        ]);
        let resolved = Resolver::new(writer, reader)
            .unwrap()
            .resolve(value)
            .unwrap();
        assert_eq!(
            resolved,
            Value::Record(vec![
                ("a".into(), Value::Long(7)),
                ("e".into(), Value::Enum(1, "UNKNOWN".into())),
                ("o".into(), Value::Union(0, Box::new(Value::Null))),
                ("b".into(), Value::Bytes(vec![0xff])),
            ])
        );
    }

    #[test]
    fn an_unknown_enum_symbol_takes_the_reader_default_or_is_named() {
        let writer = leak(r#"{"type":"enum","name":"S","symbols":["X","NEW"]}"#);
        let reader =
            leak(r#"{"type":"enum","name":"S","symbols":["X","UNKNOWN"],"default":"UNKNOWN"}"#);
        let resolved = Resolver::new(writer, reader)
            .unwrap()
            .resolve(Value::Enum(1, "NEW".into()))
            .unwrap();
        assert_eq!(resolved, Value::Enum(1, "UNKNOWN".into()));
        let strict = leak(r#"{"type":"enum","name":"S","symbols":["X"]}"#);
        let error = Resolver::new(writer, strict)
            .unwrap()
            .resolve(Value::Enum(1, "NEW".into()))
            .unwrap_err();
        assert_eq!(error.kind(), "unknown-enum-symbol");
        assert!(error.to_string().contains("NEW"), "{error}");
    }
}
