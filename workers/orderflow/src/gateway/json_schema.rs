//! JSON Schema of the JSON form of an Avro schema ([`orderflow_events::json_form`]), for
//! the OpenAPI document: generated from the `.avsc`, so the document cannot drift from
//! the contract.
//!
//! Named types (records, enums, fixed) become entries of `components/schemas` under
//! their full name, referred to by `$ref`; the `doc` of types and fields becomes
//! `description`. A union of `null` and one type is that type or `null`; any other
//! union is an object with one member naming its branch, as the JSON form writes it.

use apache_avro::schema::{Name, RecordSchema, Schema, UnionSchema};
use serde_json::{Map, Value as Json, json};

/// Where the components live in an OpenAPI document.
const COMPONENTS: &str = "#/components/schemas/";

/// The components generated so far, by full name.
#[derive(Debug, Default)]
pub struct Components {
    /// The JSON Schemas of the named types.
    pub schemas: Map<String, Json>,
}

impl Components {
    /// The `$ref` of the top-level record `schema`, with every named type it uses added;
    /// its fields in `optional` are not required (the gateway fills them in).
    pub fn add_record(&mut self, schema: &Schema, optional: &[&str]) -> Json {
        let reference = self.of(schema);
        if let (Some(name), Schema::Record(_)) = (schema.name(), schema) {
            let entry = self.schemas.get_mut(&name.fullname(None));
            if let Some(Json::Array(required)) = entry.and_then(|e| e.get_mut("required")) {
                required.retain(|field| !optional.iter().any(|o| field == o));
            }
        }
        reference
    }

    fn reference(name: &Name) -> Json {
        json!({ "$ref": format!("{COMPONENTS}{}", name.fullname(None)) })
    }

    /// The JSON Schema of `schema`'s JSON form.
    pub fn of(&mut self, schema: &Schema) -> Json {
        match schema {
            Schema::Null => json!({"type": "null"}),
            Schema::Boolean => json!({"type": "boolean"}),
            Schema::Int => json!({"type": "integer", "format": "int32"}),
            Schema::Long => json!({"type": "integer", "format": "int64"}),
            Schema::Float | Schema::Double => json!({"type": "number"}),
            Schema::Bytes => {
                json!({"type": "string", "description": "Bytes: code points U+0000 to U+00FF."})
            }
            Schema::String => json!({"type": "string"}),
            Schema::Uuid(_) => json!({"type": "string", "format": "uuid"}),
            Schema::Date => {
                json!({"type": "integer", "format": "int32", "description": "Days since 1970-01-01."})
            }
            Schema::TimeMillis => json!({"type": "integer", "format": "int32",
                "description": "Milliseconds after midnight."}),
            Schema::TimeMicros => json!({"type": "integer", "format": "int64",
                "description": "Microseconds after midnight."}),
            Schema::TimestampMillis | Schema::LocalTimestampMillis => {
                json!({"type": "integer", "format": "int64",
                    "description": "Milliseconds since the Unix epoch."})
            }
            Schema::TimestampMicros | Schema::LocalTimestampMicros => {
                json!({"type": "integer", "format": "int64",
                    "description": "Microseconds since the Unix epoch."})
            }
            Schema::TimestampNanos | Schema::LocalTimestampNanos => {
                json!({"type": "integer", "format": "int64",
                    "description": "Nanoseconds since the Unix epoch."})
            }
            Schema::Decimal(_) | Schema::BigDecimal | Schema::Duration(_) => json!({
                "type": "string", "description": "Bytes: code points U+0000 to U+00FF."
            }),
            Schema::Array(array) => json!({"type": "array", "items": self.of(&array.items)}),
            Schema::Map(map) => {
                json!({"type": "object", "additionalProperties": self.of(&map.types)})
            }
            Schema::Union(union) => self.union(union),
            Schema::Record(record) => {
                if !self.schemas.contains_key(&record.name.fullname(None)) {
                    let entry = self.record(record);
                    self.schemas.insert(record.name.fullname(None), entry);
                }
                Components::reference(&record.name)
            }
            Schema::Enum(symbols) => {
                let mut entry = json!({"type": "string", "enum": symbols.symbols});
                describe(&mut entry, symbols.doc.as_deref());
                self.schemas.insert(symbols.name.fullname(None), entry);
                Components::reference(&symbols.name)
            }
            Schema::Fixed(fixed) => {
                let mut entry = json!({"type": "string",
                    "description": format!("{} bytes: code points U+0000 to U+00FF.", fixed.size)});
                describe(&mut entry, fixed.doc.as_deref());
                self.schemas.insert(fixed.name.fullname(None), entry);
                Components::reference(&fixed.name)
            }
            Schema::Ref { name } => Components::reference(name),
        }
    }

    fn record(&mut self, record: &RecordSchema) -> Json {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for field in &record.fields {
            let mut property = self.of(&field.schema);
            describe(&mut property, field.doc.as_deref());
            if let (Some(default), Json::Object(object)) = (&field.default, &mut property) {
                object.insert("default".into(), default.clone());
            }
            if field.default.is_none() {
                required.push(Json::from(field.name.clone()));
            }
            properties.insert(field.name.clone(), property);
        }
        let mut entry = json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        });
        describe(&mut entry, record.doc.as_deref());
        entry
    }

    fn union(&mut self, union: &UnionSchema) -> Json {
        let variants = union.variants();
        if let [a, b] = variants {
            match (a, b) {
                (Schema::Null, other) | (other, Schema::Null) if *other != Schema::Null => {
                    return json!({"oneOf": [self.of(other), {"type": "null"}]});
                }
                _ => {}
            }
        }
        let branches: Vec<Json> = variants
            .iter()
            .map(|branch| match branch {
                Schema::Null => json!({"type": "null"}),
                _ => {
                    let key = branch_key(variants, branch);
                    json!({
                        "type": "object",
                        "properties": { key.clone(): self.of(branch) },
                        "required": [key],
                        "additionalProperties": false,
                    })
                }
            })
            .collect();
        json!({ "oneOf": branches })
    }
}

/// The member naming `branch` in the JSON form: a named type's short name (its full
/// name when two branches share it), else the type.
fn branch_key(variants: &[Schema], branch: &Schema) -> String {
    let name = match branch {
        Schema::Ref { name } => Some(name),
        other => other.name(),
    };
    let Some(name) = name else {
        return type_word(branch).to_owned();
    };
    let short = |s: &Schema| match s {
        Schema::Ref { name } => Some(name.name().to_owned()),
        other => other.name().map(|n| n.name().to_owned()),
    };
    let shared = variants
        .iter()
        .filter(|v| short(v).as_deref() == Some(name.name()))
        .count();
    if shared > 1 {
        name.fullname(None)
    } else {
        name.name().to_owned()
    }
}

/// The Avro type of an unnamed branch.
fn type_word(schema: &Schema) -> &'static str {
    match schema {
        Schema::Boolean => "boolean",
        Schema::Int | Schema::Date | Schema::TimeMillis => "int",
        Schema::Long
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => "long",
        Schema::Float => "float",
        Schema::Double => "double",
        Schema::Bytes | Schema::Decimal(_) | Schema::BigDecimal => "bytes",
        Schema::Array(_) => "array",
        Schema::Map(_) => "map",
        _ => "string",
    }
}

/// Adds `doc` as the description (before a description the type already has).
fn describe(entry: &mut Json, doc: Option<&str>) {
    let (Some(doc), Json::Object(object)) = (doc, entry) else {
        return;
    };
    let text = match object.get("description").and_then(Json::as_str) {
        Some(own) => format!("{doc} {own}"),
        None => doc.to_owned(),
    };
    object.insert("description".into(), Json::from(text));
}

#[cfg(test)]
mod tests {
    use super::*;
    use orderflow_events::contract::{WriterSchema, newest};

    #[test]
    fn the_order_event_schema_becomes_components_with_docs_unions_and_required_fields() {
        let writer = WriterSchema::parse(newest("OrderEvent").unwrap().text).unwrap();
        let mut components = Components::default();
        let top = components.add_record(writer.schema, &["event_id"]);
        assert_eq!(
            top,
            json!({"$ref": "#/components/schemas/io.orderflow.events.OrderEvent"})
        );
        let event = &components.schemas["io.orderflow.events.OrderEvent"];
        let required = event["required"].as_array().unwrap();
        assert!(required.contains(&json!("order_id")), "{event}");
        assert!(!required.contains(&json!("event_id")), "{event}");
        assert_eq!(event["additionalProperties"], false);
        assert!(
            event["properties"]["event_id"]["description"]
                .as_str()
                .unwrap()
                .contains("idempotency key")
        );
        assert_eq!(
            event["properties"]["occurred_at"]["format"], "int64",
            "{event}"
        );
        // The payload union: one object per branch, named by the branch's short name.
        let branches = event["properties"]["payload"]["oneOf"].as_array().unwrap();
        assert!(
            branches
                .iter()
                .any(|b| b["required"] == json!(["OrderPlaced"]))
        );
        assert_eq!(
            branches[0]["properties"]["OrderPlaced"]["$ref"],
            "#/components/schemas/io.orderflow.events.OrderPlaced"
        );
        let placed = &components.schemas["io.orderflow.events.OrderPlaced"];
        assert_eq!(placed["properties"]["line_items"]["type"], "array");
        // Every $ref points at a component.
        let text = serde_json::to_string(&components.schemas).unwrap();
        for reference in text.split("\"$ref\":\"").skip(1) {
            let name = reference.split('"').next().unwrap();
            let name = name.trim_start_matches(COMPONENTS);
            assert!(components.schemas.contains_key(name), "dangling {name}");
        }
    }
}
