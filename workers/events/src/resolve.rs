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
//!
//! [`Resolver`] (here) walks the two schemas by these rules; the primitive promotions
//! and logical types are in `promotion`, the reading of defaults (and of Avro's JSON
//! encoding) in `json`, and why a datum cannot be read in `error`.

mod error;
mod json;
mod promotion;

use std::collections::{HashMap, HashSet};

use apache_avro::schema::{Alias, Name, ResolvedSchema, Schema, UnionSchema};
use apache_avro::types::Value;

pub use error::{Mismatch, ResolveError};
pub use json::{JsonForm, branch_key, json_value, type_name};
pub(crate) use promotion::Primitive;

use error::{Result, datum, unknown_branch};
use promotion::{logical, promote, underlying};

/// Named types of a schema, by full name.
type Names = HashMap<Name, &'static Schema>;

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

/// `schema`, or the named type it refers to.
fn deref<'a>(names: &HashMap<Name, &'a Schema>, schema: &'a Schema) -> &'a Schema {
    match schema {
        Schema::Ref { name } => names.get(name).copied().unwrap_or(schema),
        other => other,
    }
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

#[cfg(test)]
#[path = "resolve_table_tests.rs"]
mod table_tests;

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
