//! Avro's binary encoding of one datum, read and written straight through serde for the
//! Rust types of the catalogue.
//!
//! A [`Record`](crate::contract::Record) type is bound to its schema only after binding
//! proves that the schema derived from the type equals the `.avsc` file. The type's serde
//! shape then spells the schema, so the encoding needs no schema at run time: a struct
//! is a record (fields in order), `Option<T>` the union `["null", T]`, a unit-variant
//! enum an Avro enum, a newtype-variant enum a union (variant index = branch index),
//! `Vec` an array, a map with string keys a map. Nothing is looked up by name, and
//! strings are read in place before the type copies them.
//!
//! The rules are those of the specification's "Binary Encoding": `int` and `long` as
//! zig-zag variable-length integers, `float` and `double` little-endian, `string` and
//! `bytes` as a `long` length then the bytes, arrays and maps as blocks each with a
//! `long` count (negative when a block byte size follows) and a zero count at the end.
//!
//! Hardening: a length or block count larger than the bytes left is refused before
//! anything is allocated. Every array item and map entry of a catalogue type takes at
//! least one byte (no schema has an array of `null` or of empty records), so a count
//! above the bytes left can only come from a malformed message.

use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use serde::ser::{self, Serialize};

/// Why a datum could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatumError(String);

impl fmt::Display for DatumError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DatumError {}

impl DatumError {
    pub(crate) fn new(text: impl Into<String>) -> DatumError {
        DatumError(text.into())
    }
}

impl de::Error for DatumError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DatumError(msg.to_string())
    }
}

impl ser::Error for DatumError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DatumError(msg.to_string())
    }
}

#[cold]
fn error<T>(text: impl Into<String>) -> Result<T, DatumError> {
    Err(DatumError(text.into()))
}

#[inline]
fn zig_zag(value: u64) -> i64 {
    (value >> 1) as i64 ^ -((value & 1) as i64)
}

/// Reads one datum of `T` from the start of `bytes`; returns it with the bytes left.
pub fn read<'de, T: de::Deserialize<'de>>(bytes: &'de [u8]) -> Result<(T, &'de [u8]), DatumError> {
    let mut reader = Reader { input: bytes };
    let value = T::deserialize(&mut reader)?;
    Ok((value, reader.input))
}

/// Appends `value` as one datum to `out`.
pub fn write<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), DatumError> {
    value.serialize(&mut Writer { out })
}

// ---------------------------------------------------------------------------------------
// Reading.

/// A cursor over Avro binary data: the primitive reads of the specification, each
/// checked against the bytes left.
pub(crate) struct Reader<'de> {
    input: &'de [u8],
}

impl<'de> Reader<'de> {
    pub(crate) fn new(input: &'de [u8]) -> Reader<'de> {
        Reader { input }
    }

    /// The bytes not read yet.
    pub(crate) fn rest(&self) -> &'de [u8] {
        self.input
    }

    /// A zig-zag variable-length `long`: at most 10 bytes. Bits of a tenth byte beyond
    /// the 64th are dropped, as the Java and apache-avro readers drop them.
    #[inline]
    pub(crate) fn long(&mut self) -> Result<i64, DatumError> {
        // Most lengths, counts, indexes and small numbers take one byte.
        if let Some((&byte, rest)) = self.input.split_first()
            && byte < 0x80
        {
            self.input = rest;
            return Ok(zig_zag(u64::from(byte)));
        }
        self.long_of_several_bytes()
    }

    fn long_of_several_bytes(&mut self) -> Result<i64, DatumError> {
        let mut value: u64 = 0;
        for (i, &byte) in self.input.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                self.input = &self.input[i + 1..];
                return Ok(zig_zag(value));
            }
        }
        if self.input.len() < 10 && self.input.iter().all(|b| b & 0x80 != 0) {
            error("the data ends inside a variable-length integer")
        } else {
            error("a variable-length integer is longer than 64 bits")
        }
    }

    #[inline]
    pub(crate) fn int(&mut self) -> Result<i32, DatumError> {
        let long = self.long()?;
        i32::try_from(long).or_else(|_| error(format!("{long} does not fit an Avro int")))
    }

    /// A length: not negative, and not more than the bytes left.
    #[inline]
    pub(crate) fn length(&mut self, what: &str) -> Result<usize, DatumError> {
        let long = self.long()?;
        match usize::try_from(long) {
            Ok(n) if n <= self.input.len() => Ok(n),
            _ => self.length_error(what, long),
        }
    }

    #[cold]
    fn length_error(&self, what: &str, long: i64) -> Result<usize, DatumError> {
        if long < 0 {
            error(format!("{what} is negative ({long})"))
        } else {
            error(format!(
                "{what} of {long} is more than the {} bytes left",
                self.input.len()
            ))
        }
    }

    /// The next `n` bytes, `n` checked by [`Self::length`].
    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> &'de [u8] {
        let (head, tail) = self.input.split_at(n);
        self.input = tail;
        head
    }

    #[inline]
    pub(crate) fn str(&mut self) -> Result<&'de str, DatumError> {
        let n = self.length("a string length")?;
        std::str::from_utf8(self.take(n)).or_else(|e| error(format!("a string is not UTF-8: {e}")))
    }

    pub(crate) fn bytes(&mut self) -> Result<&'de [u8], DatumError> {
        let n = self.length("a bytes length")?;
        Ok(self.take(n))
    }

    /// Exactly `N` bytes (a `float` or a `double`).
    pub(crate) fn fixed<const N: usize>(&mut self, what: &str) -> Result<[u8; N], DatumError> {
        match self.input.split_first_chunk::<N>() {
            Some((bytes, rest)) => {
                self.input = rest;
                Ok(*bytes)
            }
            None => error(format!(
                "{what} needs {N} bytes but {} are left",
                self.input.len()
            )),
        }
    }

    /// The item count of the next array or map block; 0 ends the array or map. A
    /// negative count is followed by the block's size in bytes, which is checked.
    pub(crate) fn block(&mut self) -> Result<usize, DatumError> {
        let count = self.long()?;
        if count >= 0 {
            return self.check_count(count);
        }
        let count = count.checked_neg().map_or_else(
            || error("a block count is out of range"),
            |c| self.check_count(c),
        )?;
        let size = self.length("a block size")?;
        if size < count {
            return error(format!(
                "a block of {count} items cannot fit in {size} bytes"
            ));
        }
        Ok(count)
    }

    fn check_count(&self, count: i64) -> Result<usize, DatumError> {
        match usize::try_from(count) {
            Ok(n) if n <= self.input.len() => Ok(n),
            _ => error(format!(
                "a block of {count} items is more than the {} bytes left",
                self.input.len()
            )),
        }
    }
}

macro_rules! unsupported_de {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, DatumError> {
                error(concat!("Avro binary data has no form for serde's ", stringify!($method)))
            }
        )*
    };
}

macro_rules! integers_de {
    ($($method:ident: $read:ident $visit:ident),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DatumError> {
                visitor.$visit(self.$read()?)
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for &mut Reader<'de> {
    type Error = DatumError;

    unsupported_de! { deserialize_any deserialize_ignored_any deserialize_identifier
    deserialize_u64 deserialize_i128 deserialize_u128 }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DatumError> {
        match self.fixed::<1>("a boolean")?[0] {
            0 => visitor.visit_bool(false),
            1 => visitor.visit_bool(true),
            other => error(format!("a boolean byte is {other}, not 0 or 1")),
        }
    }

    // Avro's `int` is read for Rust's narrower integers, `long` for `i64` and `u32`
    // (apache-avro's mapping); the visitor refuses a value out of the type's range.
    integers_de! {
        deserialize_i8: int visit_i32, deserialize_i16: int visit_i32,
        deserialize_i32: int visit_i32, deserialize_u8: int visit_i32,
        deserialize_u16: int visit_i32, deserialize_i64: long visit_i64,
        deserialize_u32: long visit_i64,
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DatumError> {
        visitor.visit_f32(f32::from_le_bytes(self.fixed("a float")?))
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DatumError> {
        visitor.visit_f64(f64::from_le_bytes(self.fixed("a double")?))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DatumError> {
        visitor.visit_borrowed_str(self.str()?)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DatumError> {
        visitor.visit_borrowed_str(self.str()?)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DatumError> {
        visitor.visit_borrowed_str(self.str()?)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DatumError> {
        visitor.visit_borrowed_bytes(self.bytes()?)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DatumError> {
        visitor.visit_borrowed_bytes(self.bytes()?)
    }

    /// `Option<T>` is the union `["null", T]`.
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DatumError> {
        match self.long()? {
            0 => visitor.visit_none(),
            1 => visitor.visit_some(self),
            other => error(format!(
                "union branch {other} of an optional value (0 is null, 1 the value)"
            )),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DatumError> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DatumError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DatumError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DatumError> {
        visitor.visit_seq(Blocks::start(self)?)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DatumError> {
        visitor.visit_map(Blocks::start(self)?)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        _visitor: V,
    ) -> Result<V::Value, DatumError> {
        error("a tuple has no Avro form")
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        _visitor: V,
    ) -> Result<V::Value, DatumError> {
        error("a tuple struct has no Avro form")
    }

    /// A record: its fields in the order of the schema, which is the order of the type.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DatumError> {
        visitor.visit_seq(Fields {
            reader: self,
            left: fields.len(),
        })
    }

    /// An Avro enum (unit variants) or a union (newtype variants): the index is the
    /// symbol's or the branch's position, which is the variant's.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DatumError> {
        let index = self.long()?;
        match u32::try_from(index) {
            Ok(i) if (i as usize) < variants.len() => visitor.visit_enum(Variant {
                reader: self,
                index: i,
            }),
            _ => error(format!(
                "index {index} of {name}, which has {} symbols or branches",
                variants.len()
            )),
        }
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}

/// The fields of a record: a fixed number, one after the other.
struct Fields<'a, 'de> {
    reader: &'a mut Reader<'de>,
    left: usize,
}

impl<'de> de::SeqAccess<'de> for Fields<'_, 'de> {
    type Error = DatumError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DatumError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.reader).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

/// The items of an array, or the entries of a map, in blocks.
pub(crate) struct Blocks<'a, 'de> {
    reader: &'a mut Reader<'de>,
    /// Items left in the current block.
    left: usize,
    /// Whether the zero count that ends the blocks has been read.
    ended: bool,
}

impl<'a, 'de> Blocks<'a, 'de> {
    /// Reads the first block's count.
    pub(crate) fn start(reader: &'a mut Reader<'de>) -> Result<Self, DatumError> {
        let left = reader.block()?;
        Ok(Blocks {
            reader,
            left,
            ended: left == 0,
        })
    }

    /// The reader, positioned at the next item.
    pub(crate) fn reader(&mut self) -> &mut Reader<'de> {
        self.reader
    }

    /// Whether another item follows, reading the next block's count when one ends.
    pub(crate) fn more(&mut self) -> Result<bool, DatumError> {
        if self.ended {
            return Ok(false);
        }
        if self.left == 0 {
            self.left = self.reader.block()?;
            if self.left == 0 {
                self.ended = true;
                return Ok(false);
            }
        }
        self.left -= 1;
        Ok(true)
    }
}

impl<'de> de::SeqAccess<'de> for Blocks<'_, 'de> {
    type Error = DatumError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DatumError> {
        if !self.more()? {
            return Ok(None);
        }
        seed.deserialize(&mut *self.reader).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

impl<'de> de::MapAccess<'de> for Blocks<'_, 'de> {
    type Error = DatumError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DatumError> {
        if !self.more()? {
            return Ok(None);
        }
        // Map keys are strings.
        let key = self.reader.str()?;
        seed.deserialize(key.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, DatumError> {
        seed.deserialize(&mut *self.reader)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

struct Variant<'a, 'de> {
    reader: &'a mut Reader<'de>,
    index: u32,
}

impl<'a, 'de> de::EnumAccess<'de> for Variant<'a, 'de> {
    type Error = DatumError;
    type Variant = &'a mut Reader<'de>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), DatumError> {
        let index: de::value::U32Deserializer<DatumError> = self.index.into_deserializer();
        Ok((seed.deserialize(index)?, self.reader))
    }
}

impl<'de> de::VariantAccess<'de> for &mut Reader<'de> {
    type Error = DatumError;

    fn unit_variant(self) -> Result<(), DatumError> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, DatumError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        _visitor: V,
    ) -> Result<V::Value, DatumError> {
        error("a tuple variant has no Avro form")
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, DatumError> {
        error("a struct variant has no Avro form")
    }
}

// ---------------------------------------------------------------------------------------
// Writing.

/// Appends `value` as a zig-zag variable-length `long`.
pub(crate) fn write_long(out: &mut Vec<u8>, value: i64) {
    let mut zigzag = ((value << 1) ^ (value >> 63)) as u64;
    while zigzag >= 0x80 {
        out.push(zigzag as u8 | 0x80);
        zigzag >>= 7;
    }
    out.push(zigzag as u8);
}

struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

impl Writer<'_> {
    fn long(&mut self, value: i64) {
        write_long(self.out, value);
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.long(bytes.len() as i64);
        self.out.extend_from_slice(bytes);
    }

    fn count(&mut self, len: Option<usize>) -> Result<(), DatumError> {
        match len {
            Some(0) => Ok(()),
            Some(n) => {
                self.long(n as i64);
                Ok(())
            }
            None => error("an array or map of unknown length"),
        }
    }
}

macro_rules! unsupported_ser {
    ($($method:ident: $type:ty)*) => {
        $(
            fn $method(self, _value: $type) -> Result<(), DatumError> {
                error(concat!("Avro has no form for serde's ", stringify!($method)))
            }
        )*
    };
}

/// Every integer that fits an `i64` is a zig-zag `long` (an Avro `int` is written the
/// same way).
macro_rules! integers_ser {
    ($($method:ident: $type:ty),* $(,)?) => {
        $(
            fn $method(self, value: $type) -> Result<(), DatumError> {
                self.long(value.into());
                Ok(())
            }
        )*
    };
}

impl<'a> ser::Serializer for &'a mut Writer<'_> {
    type Ok = ();
    type Error = DatumError;
    type SerializeSeq = Items<'a>;
    type SerializeTuple = ser::Impossible<(), DatumError>;
    type SerializeTupleStruct = ser::Impossible<(), DatumError>;
    type SerializeTupleVariant = ser::Impossible<(), DatumError>;
    type SerializeMap = Items<'a>;
    type SerializeStruct = Self;
    type SerializeStructVariant = ser::Impossible<(), DatumError>;

    unsupported_ser! { serialize_u64: u64 serialize_i128: i128 serialize_u128: u128 }

    fn serialize_bool(self, value: bool) -> Result<(), DatumError> {
        self.out.push(u8::from(value));
        Ok(())
    }

    integers_ser! { serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
    serialize_u8: u8, serialize_u16: u16, serialize_u32: u32 }

    fn serialize_f32(self, value: f32) -> Result<(), DatumError> {
        self.out.extend_from_slice(&value.to_le_bytes());
        Ok(())
    }

    fn serialize_f64(self, value: f64) -> Result<(), DatumError> {
        self.out.extend_from_slice(&value.to_le_bytes());
        Ok(())
    }

    fn serialize_char(self, value: char) -> Result<(), DatumError> {
        self.bytes(value.encode_utf8(&mut [0; 4]).as_bytes());
        Ok(())
    }

    fn serialize_str(self, value: &str) -> Result<(), DatumError> {
        self.bytes(value.as_bytes());
        Ok(())
    }

    fn serialize_bytes(self, value: &[u8]) -> Result<(), DatumError> {
        self.bytes(value);
        Ok(())
    }

    fn serialize_none(self) -> Result<(), DatumError> {
        self.long(0);
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), DatumError> {
        self.long(1);
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), DatumError> {
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), DatumError> {
        Ok(())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
    ) -> Result<(), DatumError> {
        self.long(index.into());
        Ok(())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), DatumError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        index: u32,
        _variant: &'static str,
        value: &T,
    ) -> Result<(), DatumError> {
        self.long(index.into());
        value.serialize(self)
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Items<'a>, DatumError> {
        self.count(len)?;
        Ok(Items {
            writer: Writer { out: self.out },
        })
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, DatumError> {
        error("a tuple has no Avro form")
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, DatumError> {
        error("a tuple struct has no Avro form")
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, DatumError> {
        error("a tuple variant has no Avro form")
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Items<'a>, DatumError> {
        self.serialize_seq(len)
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Self, DatumError> {
        Ok(self)
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, DatumError> {
        error("a struct variant has no Avro form")
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}

impl ser::SerializeStruct for &mut Writer<'_> {
    type Ok = ();
    type Error = DatumError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        _key: &'static str,
        value: &T,
    ) -> Result<(), DatumError> {
        value.serialize(&mut **self)
    }

    fn skip_field(&mut self, key: &'static str) -> Result<(), DatumError> {
        error(format!(
            "field {key} is skipped, but a record writes every field"
        ))
    }

    fn end(self) -> Result<(), DatumError> {
        Ok(())
    }
}

/// The items of an array or the entries of a map: one block (none when empty), then
/// the zero count that ends them.
struct Items<'a> {
    writer: Writer<'a>,
}

impl Items<'_> {
    fn end_blocks(mut self) -> Result<(), DatumError> {
        self.writer.long(0);
        Ok(())
    }
}

impl ser::SerializeSeq for Items<'_> {
    type Ok = ();
    type Error = DatumError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), DatumError> {
        value.serialize(&mut self.writer)
    }

    fn end(self) -> Result<(), DatumError> {
        self.end_blocks()
    }
}

impl ser::SerializeMap for Items<'_> {
    type Ok = ();
    type Error = DatumError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), DatumError> {
        key.serialize(&mut self.writer)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), DatumError> {
        value.serialize(&mut self.writer)
    }

    fn end(self) -> Result<(), DatumError> {
        self.end_blocks()
    }
}

#[cfg(test)]
#[path = "datum_tests.rs"]
mod tests;
