//! The resolver's rules one by one: a union branch resolves by name, a writer no datum
//! of which is readable is refused at once, defaults, promotion and enum defaults.

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
