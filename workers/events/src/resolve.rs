//! Avro schema resolution that matches union branches by name.
//!
//! apache-avro 0.22 resolves a writer's union value into the first reader branch the
//! value fits, ignoring the writer branch's name (apache/avro-rs#383): an
//! `OrderCancelled { reason, refund_amount }` written with an older schema would fit
//! `OrderDelivered` (whose only field has a default) and silently become a delivery.
//! The specification says otherwise: the reader branch is the first one that matches
//! the writer branch, and named types match by name. This module walks the writer's
//! value with both schemas and applies that rule; for everything that is not a
//! union, record, array, map or enum (primitives and their promotions, logical
//! types, fixed) it delegates to apache-avro.

use std::collections::HashMap;

use apache_avro::Schema;
use apache_avro::schema::{Name, ResolvedSchema, SchemaKind, UnionSchema};
use apache_avro::types::Value;

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
    /// A resolver from `writer` to `reader`.
    pub fn new(writer: &'static Schema, reader: &'static Schema) -> Result<Resolver, String> {
        let names = |schema: &'static Schema| -> Result<Names, String> {
            let resolved = ResolvedSchema::try_from(schema).map_err(|e| e.to_string())?;
            Ok(resolved
                .get_names()
                .iter()
                .map(|(name, schema)| (name.clone(), *schema))
                .collect())
        };
        Ok(Resolver {
            writer,
            reader,
            writer_names: names(writer)?,
            reader_names: names(reader)?,
        })
    }

    /// Turns `value`, decoded with the writer's schema, into a value of the reader's.
    pub fn resolve(&self, value: Value) -> Result<Value, String> {
        self.value(value, self.writer, self.reader)
    }

    fn deref<'a>(names: &'a Names, schema: &'a Schema) -> &'a Schema {
        match schema {
            Schema::Ref { name } => names.get(name).copied().unwrap_or(schema),
            other => other,
        }
    }

    fn value(&self, value: Value, writer: &Schema, reader: &Schema) -> Result<Value, String> {
        let writer = Self::deref(&self.writer_names, writer);
        let reader = Self::deref(&self.reader_names, reader);
        match (writer, reader) {
            (Schema::Union(union), _) => {
                let Value::Union(index, inner) = value else {
                    return Err(format!("expected a union value, found {value:?}"));
                };
                let branch = union
                    .variants()
                    .get(index as usize)
                    .ok_or_else(|| format!("union index {index} out of range"))?;
                self.value(*inner, branch, reader)
            }
            (_, Schema::Union(union)) => {
                let index = self.matching_branch(writer, union)?;
                let inner = self.value(value, writer, &union.variants()[index])?;
                Ok(Value::Union(index as u32, Box::new(inner)))
            }
            (Schema::Record(w), Schema::Record(r)) => {
                let Value::Record(fields) = value else {
                    return Err(format!("expected a record value for {}", w.name));
                };
                let mut by_name: HashMap<String, Value> = fields.into_iter().collect();
                let mut out = Vec::with_capacity(r.fields.len());
                for field in &r.fields {
                    let written = w
                        .fields
                        .iter()
                        .find(|wf| wf.name == field.name || field.aliases.contains(&wf.name));
                    let resolved = match written
                        .and_then(|wf| by_name.remove(&wf.name).map(|v| (wf, v)))
                    {
                        Some((wf, v)) => self.value(v, &wf.schema, &field.schema)?,
                        None => {
                            let default = field.default.clone().ok_or_else(|| {
                                format!(
                                    "field {}.{} is missing and has no default",
                                    r.name, field.name
                                )
                            })?;
                            let default = Value::try_from(default).map_err(|e| e.to_string())?;
                            default
                                .resolve_with_names(&field.schema, &self.reader_names)
                                .map_err(|e| format!("default of {}.{}: {e}", r.name, field.name))?
                        }
                    };
                    out.push((field.name.clone(), resolved));
                }
                Ok(Value::Record(out))
            }
            (Schema::Array(w), Schema::Array(r)) => match value {
                Value::Array(items) => Ok(Value::Array(
                    items
                        .into_iter()
                        .map(|item| self.value(item, &w.items, &r.items))
                        .collect::<Result<_, _>>()?,
                )),
                other => Err(format!("expected an array value, found {other:?}")),
            },
            (Schema::Map(w), Schema::Map(r)) => match value {
                Value::Map(entries) => Ok(Value::Map(
                    entries
                        .into_iter()
                        .map(|(k, v)| self.value(v, &w.types, &r.types).map(|v| (k, v)))
                        .collect::<Result<_, _>>()?,
                )),
                other => Err(format!("expected a map value, found {other:?}")),
            },
            (Schema::Enum(_), Schema::Enum(r)) => match value {
                Value::Enum(_, symbol) => {
                    let symbol = if r.symbols.contains(&symbol) {
                        symbol
                    } else {
                        r.default.clone().ok_or_else(|| {
                            format!(
                                "symbol {symbol} is not in enum {} and it has no default",
                                r.name
                            )
                        })?
                    };
                    let index = r
                        .symbols
                        .iter()
                        .position(|s| *s == symbol)
                        .unwrap_or_default();
                    Ok(Value::Enum(index as u32, symbol))
                }
                other => Err(format!("expected an enum value, found {other:?}")),
            },
            _ => value
                .resolve_with_names(reader, &self.reader_names)
                .map_err(|e| e.to_string()),
        }
    }

    /// The reader branch for a writer's (non-union) schema: the same named type, else
    /// the same primitive kind, else the first branch the writer's type promotes to.
    fn matching_branch(&self, writer: &Schema, union: &UnionSchema) -> Result<usize, String> {
        let branches: Vec<&Schema> = union
            .variants()
            .iter()
            .map(|b| Self::deref(&self.reader_names, b))
            .collect();
        if let Some(name) = writer.name() {
            let found = branches.iter().position(|b| {
                b.name()
                    .is_some_and(|n| n.fullname(None) == name.fullname(None))
                    || aliases_of(b).contains(&name.fullname(None))
            });
            return found.ok_or_else(|| {
                format!(
                    "no branch named {} in the reader's union",
                    name.fullname(None)
                )
            });
        }
        let kind = SchemaKind::from(writer);
        if let Some(index) = branches.iter().position(|b| SchemaKind::from(*b) == kind) {
            return Ok(index);
        }
        let promotions: &[SchemaKind] = match kind {
            SchemaKind::Int => &[SchemaKind::Long, SchemaKind::Float, SchemaKind::Double],
            SchemaKind::Long => &[SchemaKind::Float, SchemaKind::Double],
            SchemaKind::Float => &[SchemaKind::Double],
            SchemaKind::String => &[SchemaKind::Bytes],
            SchemaKind::Bytes => &[SchemaKind::String],
            _ => &[],
        };
        branches
            .iter()
            .position(|b| promotions.contains(&SchemaKind::from(*b)))
            .ok_or_else(|| format!("no branch of the reader's union reads a {kind:?}"))
    }
}

fn aliases_of(schema: &Schema) -> Vec<String> {
    let aliases = match schema {
        Schema::Record(r) => r.aliases.clone(),
        Schema::Enum(e) => e.aliases.clone(),
        Schema::Fixed(f) => f.aliases.clone(),
        _ => None,
    };
    aliases
        .unwrap_or_default()
        .iter()
        .map(|alias| match alias.namespace() {
            Some(namespace) => format!("{namespace}.{}", alias.name()),
            None => alias.name().to_owned(),
        })
        .collect()
}

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

    #[test]
    fn a_union_branch_resolves_by_name_not_by_the_first_fit() {
        // B's value also fits A (A's only field has a default): a first-fit resolver
        // would pick A.
        let writer = union_of(&[B]);
        let reader = union_of(&[A, B]);
        let value = Value::Record(vec![(
            "p".into(),
            Value::Union(
                0,
                Box::new(Value::Record(vec![
                    ("reason".into(), "fraud".into()),
                    ("n".into(), Value::Long(5)),
                ])),
            ),
        )]);
        let resolved = Resolver::new(writer, reader)
            .unwrap()
            .resolve(value)
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
    fn missing_fields_take_defaults_and_extra_fields_are_dropped_and_ints_promote() {
        let writer = leak(
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"gone","type":"string"}]}"#,
        );
        let reader = leak(
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"long"},
                {"name":"e","type":{"type":"enum","name":"S","symbols":["X","UNKNOWN"],"default":"UNKNOWN"},"default":"UNKNOWN"},
                {"name":"o","type":["null","string"],"default":null}]}"#,
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
            ])
        );
    }

    #[test]
    fn an_unknown_enum_symbol_takes_the_reader_default() {
        let writer = leak(r#"{"type":"enum","name":"S","symbols":["X","NEW"]}"#);
        let reader =
            leak(r#"{"type":"enum","name":"S","symbols":["X","UNKNOWN"],"default":"UNKNOWN"}"#);
        let resolved = Resolver::new(writer, reader)
            .unwrap()
            .resolve(Value::Enum(1, "NEW".into()))
            .unwrap();
        assert_eq!(resolved, Value::Enum(1, "UNKNOWN".into()));
    }
}
