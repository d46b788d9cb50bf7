//! Primitive promotion and logical types. A writer's primitive promotes to the reader's
//! as the specification allows (int to long, float or double; long to float or double;
//! float to double; string to bytes and bytes to string); a logical type resolves as its
//! underlying primitive and is re-applied on the reader's side.

use apache_avro::schema::{DecimalSchema, InnerDecimalSchema, Schema, UuidSchema};
use apache_avro::types::Value;

use super::error::{Result, datum};

/// The primitive (underlying) type of a schema: logical types resolve as these.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Primitive<'a> {
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
    pub(crate) fn of(schema: &'a Schema) -> Option<Primitive<'a>> {
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

    pub(super) fn promotes_to(&self, reader: &Primitive) -> bool {
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
pub(super) fn underlying(value: Value, writer: &Schema) -> Result<Value> {
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
pub(super) fn promote(value: Value, reader: &Schema) -> Option<Value> {
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
pub(super) fn logical(value: Value, reader: &Schema) -> Value {
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
