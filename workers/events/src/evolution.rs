//! The schema-evolution check behind `make schema-check`.
//!
//! For every schema folder, every version must be readable by every later version
//! (backward: new readers decode old data) and every later version must be readable
//! by every earlier one (forward: old readers decode new data), under Avro's
//! resolution rules. Every record and field must also carry a `doc`, and every field
//! added after version 1 a `default`.

use std::collections::BTreeMap;

use apache_avro::Schema;
use serde_json::Value;

use crate::contract::readable_as;

/// One schema file to check.
#[derive(Debug, Clone)]
pub struct SchemaFile {
    /// Folder name.
    pub name: String,
    /// Version number.
    pub version: u32,
    /// JSON text.
    pub text: String,
}

/// Every problem found, each naming the schema, the versions and the field; empty when
/// the catalogue is sound.
pub fn check(files: &[SchemaFile]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut by_name: BTreeMap<&str, Vec<(u32, Schema, &str)>> = BTreeMap::new();
    for file in files {
        let label = format!("schemas/{}/v{}.avsc", file.name, file.version);
        match serde_json::from_str::<Value>(&file.text) {
            Err(error) => {
                problems.push(format!("{label}: not JSON: {error}"));
                continue;
            }
            Ok(json) => undocumented(&json, &label, &mut problems),
        }
        match Schema::parse_str(&file.text) {
            Ok(schema) => {
                by_name
                    .entry(&file.name)
                    .or_default()
                    .push((file.version, schema, &file.text))
            }
            Err(error) => problems.push(format!("{label}: not a valid Avro schema: {error}")),
        }
    }
    for (name, mut versions) in by_name {
        versions.sort_by_key(|(version, _, _)| *version);
        for (i, (old_version, old, _)) in versions.iter().enumerate() {
            for (new_version, new, _) in &versions[i + 1..] {
                if let Err(reason) = readable_as(old, new) {
                    problems.push(format!(
                        "{name}: not backward compatible: v{new_version} cannot read data written \
                         with v{old_version}: {reason}"
                    ));
                }
                if let Err(reason) = readable_as(new, old) {
                    problems.push(format!(
                        "{name}: not forward compatible: v{old_version} cannot read data written \
                         with v{new_version}: {reason}"
                    ));
                }
            }
        }
    }
    problems
}

/// Records and fields without a `doc`.
fn undocumented(schema: &Value, label: &str, problems: &mut Vec<String>) {
    match schema {
        Value::Array(branches) => branches
            .iter()
            .for_each(|b| undocumented(b, label, problems)),
        Value::Object(object) => {
            let kind = object.get("type");
            if matches!(kind.and_then(Value::as_str), Some("record" | "enum")) {
                let name = object.get("name").and_then(Value::as_str).unwrap_or("?");
                if !object.contains_key("doc") {
                    problems.push(format!("{label}: type {name} has no doc"));
                }
                for field in object
                    .get("fields")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let field_name = field.get("name").and_then(Value::as_str).unwrap_or("?");
                    if !field.get("doc").is_some_and(Value::is_string) {
                        problems.push(format!("{label}: field {name}.{field_name} has no doc"));
                    }
                    if let Some(inner) = field.get("type") {
                        undocumented(inner, label, problems);
                    }
                }
            }
            for key in ["type", "items", "values"] {
                if let Some(inner) = object.get(key).filter(|v| !v.is_string()) {
                    undocumented(inner, label, problems);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::CATALOGUE;

    fn file(name: &str, version: u32, text: &str) -> SchemaFile {
        SchemaFile {
            name: name.into(),
            version,
            text: text.into(),
        }
    }

    const V1: &str = r#"{"type":"record","name":"T","doc":"t","fields":[
        {"name":"a","type":"string","doc":"a"}]}"#;

    #[test]
    fn the_repository_catalogue_passes() {
        let files: Vec<_> = CATALOGUE
            .iter()
            .map(|e| file(e.name, e.version, e.text))
            .collect();
        assert_eq!(check(&files), Vec::<String>::new());
    }

    #[test]
    fn a_field_added_without_default_fails_backward_and_names_the_field() {
        let v2 = r#"{"type":"record","name":"T","doc":"t","fields":[
            {"name":"a","type":"string","doc":"a"},{"name":"added","type":"long","doc":"x"}]}"#;
        let problems = check(&[file("T", 1, V1), file("T", 2, v2)]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("not backward compatible"),
            "{}",
            problems[0]
        );
        assert!(problems[0].contains("'added'"), "{}", problems[0]);
    }

    #[test]
    fn a_field_removed_without_default_fails_forward_and_names_the_field() {
        let v2 = r#"{"type":"record","name":"T","doc":"t","fields":[]}"#;
        let problems = check(&[file("T", 1, V1), file("T", 2, v2)]);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("not forward compatible") && p.contains("'a'")),
            "{problems:?}"
        );
    }

    #[test]
    fn a_changed_field_type_names_the_field() {
        let v2 = r#"{"type":"record","name":"T","doc":"t","fields":[{"name":"a","type":"int","doc":"a"}]}"#;
        let problems = check(&[file("T", 1, V1), file("T", 2, v2)]);
        assert!(!problems.is_empty());
        assert!(problems.iter().all(|p| p.contains("'a'")), "{problems:?}");
    }

    #[test]
    fn undocumented_fields_are_reported() {
        let v = r#"{"type":"record","name":"T","doc":"t","fields":[{"name":"a","type":"string"}]}"#;
        assert_eq!(
            check(&[file("T", 1, v)]),
            vec!["schemas/T/v1.avsc: field T.a has no doc"]
        );
    }
}
