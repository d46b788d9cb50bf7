//! Confluent schema references, made self-contained.
//!
//! A schema registered with `references` names types (the payload records, say) whose
//! definitions live in other subjects. [`inline`] writes each referenced definition
//! in place of the first use of its name, as if the producer had written one schema:
//! the result parses on its own, and its Parsing Canonical Form (so its fingerprint)
//! is the one the same schema written in one piece has. A type defined both by a
//! reference and by another reference (an `Address` used by two payload records) is
//! defined once, at its first use, and named afterwards.

use std::collections::{HashMap, HashSet};

use serde_json::Value as Json;

/// Avro's primitive type names, which never name a reference.
const PRIMITIVES: &[&str] = &[
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
];

/// Most references nested in one another that a schema may have; deeper means a cycle.
pub const MAX_DEPTH: usize = 32;

/// `schema` with each referenced type (full name → its self-contained definition)
/// defined at its first use. Fails on JSON that is not a schema, or when a name is
/// neither defined nor referenced.
pub fn inline(schema: &str, references: &HashMap<String, Json>) -> Result<String, String> {
    let mut root: Json =
        serde_json::from_str(schema).map_err(|e| format!("the schema is not JSON: {e}"))?;
    let mut inliner = Inliner {
        references,
        defined: HashSet::new(),
    };
    inliner.walk(&mut root, None)?;
    Ok(root.to_string())
}

struct Inliner<'a> {
    references: &'a HashMap<String, Json>,
    defined: HashSet<String>,
}

impl Inliner<'_> {
    fn walk(&mut self, node: &mut Json, namespace: Option<&str>) -> Result<(), String> {
        match node {
            Json::String(name) => {
                if PRIMITIVES.contains(&name.as_str()) {
                    return Ok(());
                }
                let full = qualify(name, namespace);
                if self.defined.contains(&full) {
                    return Ok(());
                }
                let Some(definition) = self.references.get(&full) else {
                    return Err(format!(
                        "type {full} is neither defined in the schema nor referenced"
                    ));
                };
                let mut definition = definition.clone();
                // A referenced schema was parsed on its own: without a namespace it is
                // in the null namespace, not in the one of the place it is used.
                if let Json::Object(object) = &mut definition
                    && !object.contains_key("namespace")
                    && !full.contains('.')
                {
                    object.insert("namespace".into(), Json::String(String::new()));
                }
                self.walk(&mut definition, None)?;
                *node = definition;
                Ok(())
            }
            Json::Array(branches) => branches
                .iter_mut()
                .try_for_each(|branch| self.walk(branch, namespace)),
            Json::Object(object) => {
                let kind = object
                    .get("type")
                    .and_then(Json::as_str)
                    .unwrap_or("")
                    .to_owned();
                if matches!(kind.as_str(), "record" | "error" | "enum" | "fixed") {
                    let Some(name) = object.get("name").and_then(Json::as_str) else {
                        return Err(format!("a {kind} without a name"));
                    };
                    let name = name.to_owned();
                    let own_namespace = match object.get("namespace") {
                        Some(Json::String(ns)) => Some(ns.as_str()),
                        _ => namespace,
                    };
                    let full = qualify(&name, own_namespace);
                    if self.defined.contains(&full) {
                        // Defined earlier (by another reference): name it here.
                        *node = Json::String(full);
                        return Ok(());
                    }
                    let inner = full.rsplit_once('.').map(|(ns, _)| ns.to_owned());
                    self.defined.insert(full);
                    if kind == "record" || kind == "error" {
                        let Some(Json::Array(fields)) = object.get_mut("fields") else {
                            return Err(format!("record {name} has no fields"));
                        };
                        for field in fields {
                            if let Some(field_type) = field.get_mut("type") {
                                self.walk(field_type, inner.as_deref())?;
                            }
                        }
                    }
                    return Ok(());
                }
                match kind.as_str() {
                    "array" => match object.get_mut("items") {
                        Some(items) => self.walk(items, namespace),
                        None => Ok(()),
                    },
                    "map" => match object.get_mut("values") {
                        Some(values) => self.walk(values, namespace),
                        None => Ok(()),
                    },
                    // {"type": "string", "logicalType": ...}, or a type wrapped in an object.
                    _ => match object.get_mut("type") {
                        Some(inner) => self.walk(inner, namespace),
                        None => Ok(()),
                    },
                }
            }
            _ => Ok(()),
        }
    }
}

/// The full name of a type name used in `namespace`.
fn qualify(name: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) if !name.contains('.') && !ns.is_empty() => format!("{ns}.{name}"),
        _ => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::fingerprint;

    #[test]
    fn an_inlined_schema_has_the_fingerprint_of_the_schema_in_one_piece() {
        let whole = r#"{"type":"record","name":"E","namespace":"n","fields":[
            {"name":"a","type":{"type":"record","name":"A","fields":[{"name":"x","type":"long"}]}},
            {"name":"b","type":["null","A"]},
            {"name":"p","type":[{"type":"record","name":"P","fields":[{"name":"a","type":"n.A"}]}]}]}"#;
        let split = r#"{"type":"record","name":"E","namespace":"n","fields":[
            {"name":"a","type":"A"},{"name":"b","type":["null","A"]},{"name":"p","type":["n.P"]}]}"#;
        let a: Json = serde_json::from_str(
            r#"{"type":"record","name":"A","namespace":"n","fields":[{"name":"x","type":"long"}]}"#,
        )
        .unwrap();
        // P's own subject defines A again (it referenced it and was expanded).
        let p: Json = serde_json::from_str(
            r#"{"type":"record","name":"P","namespace":"n","fields":[{"name":"a","type":{"type":"record","name":"A","namespace":"n","fields":[{"name":"x","type":"long"}]}}]}"#,
        )
        .unwrap();
        let references = HashMap::from([("n.A".to_owned(), a), ("n.P".to_owned(), p)]);
        let inlined = inline(split, &references).unwrap();
        assert_eq!(fingerprint(&inlined).unwrap(), fingerprint(whole).unwrap());
    }

    #[test]
    fn a_name_neither_defined_nor_referenced_is_an_error() {
        let error = inline(r#"{"type":"array","items":"n.Gone"}"#, &HashMap::new()).unwrap_err();
        assert!(error.contains("n.Gone"), "{error}");
    }
}
