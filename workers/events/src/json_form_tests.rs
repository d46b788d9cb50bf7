use apache_avro::Schema;
use proptest::prelude::*;
use serde_json::{Value as Json, json};

use super::*;
use crate::arbitrary::{
    arb_event, arb_notification, arb_risk_assessed, arb_status_changed, arb_validation,
};
use crate::contract::Record;
use crate::datum;

/// A schema with every type the form has a rule for.
const EVERYTHING: &str = r#"{
  "type": "record", "name": "Everything", "namespace": "test.form",
  "fields": [
    {"name": "flag", "type": "boolean"},
    {"name": "count", "type": "int"},
    {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "ratio", "type": "float"},
    {"name": "exact", "type": "double"},
    {"name": "raw", "type": "bytes"},
    {"name": "id", "type": {"type": "fixed", "name": "Id", "size": 4}},
    {"name": "colour", "type": {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN"]}},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "attributes", "type": {"type": "map", "values": "long"}},
    {"name": "note", "type": ["null", "string"], "default": null},
    {"name": "last", "type": ["string", "null"], "default": "none"},
    {"name": "choice", "type": ["null", "long", "string", "Id",
      {"type": "record", "name": "Inner", "fields": [{"name": "a", "type": "int"}]},
      {"type": "record", "name": "Inner", "namespace": "other", "fields": [{"name": "b", "type": "int"}]}]},
    {"name": "more", "type": "Inner", "default": {"a": 7}}
  ]
}"#;

/// A linked list: recursive, so nesting is bounded only by the data.
const LIST: &str = r#"{"type": "record", "name": "Node", "fields": [
  {"name": "value", "type": "int"}, {"name": "next", "type": ["null", "Node"]}]}"#;

fn schema(text: &str) -> &'static Schema {
    Box::leak(Box::new(Schema::parse_str(text).expect("schema")))
}

fn everything() -> Json {
    json!({
        "flag": true,
        "count": -3,
        "at": 1_700_000_000_000_i64,
        "ratio": 0.1,
        "exact": -2.5e-300,
        "raw": "\u{0}\u{ff}a",
        "id": "abc\u{80}",
        "colour": "GREEN",
        "tags": ["x", ""],
        "attributes": {"zeta": 1, "alpha": -1, "mid": 0},
        "note": "hello",
        "last": null,
        "choice": {"test.form.Inner": {"a": 1}},
        "more": {"a": 2}
    })
}

#[test]
fn every_type_goes_to_avro_and_back_to_the_same_json_and_bytes() {
    let form = JsonDatum::new(schema(EVERYTHING)).unwrap();
    let bytes = form.from_json(&everything()).unwrap();
    let json = form.to_json(&bytes).unwrap();
    assert_eq!(json, everything());
    assert_eq!(form.from_json(&json).unwrap(), bytes);
    // Records in schema order, maps in the data's order.
    let text = json.to_string();
    assert!(
        text.starts_with(r#"{"flag":true,"count":-3,"at":"#),
        "{text}"
    );
    assert!(
        text.contains(r#""attributes":{"zeta":1,"alpha":-1,"mid":0}"#),
        "{text}"
    );
    assert!(text.contains(r#""ratio":0.1,"#), "{text}");
}

#[test]
fn union_branches_are_named_by_short_name_unless_two_share_it() {
    let form = JsonDatum::new(schema(EVERYTHING)).unwrap();
    for (choice, written) in [
        (json!(null), json!(null)),
        (json!({"long": 5}), json!({"long": 5})),
        (json!({"string": "s"}), json!({"string": "s"})),
        (json!({"Id": "wxyz"}), json!({"Id": "wxyz"})),
        (json!({"test.form.Id": "wxyz"}), json!({"Id": "wxyz"})),
        (
            json!({"other.Inner": {"b": 4}}),
            json!({"other.Inner": {"b": 4}}),
        ),
    ] {
        let mut event = everything();
        event["choice"] = choice;
        let bytes = form.from_json(&event).unwrap();
        assert_eq!(form.to_json(&bytes).unwrap()["choice"], written);
    }
    let mut event = everything();
    event["choice"] = json!({"Inner": {"a": 1}});
    let error = form.from_json(&event).unwrap_err();
    assert_eq!(error.path, "choice");
    assert!(
        error
            .message
            .contains(r#""Inner" is not one of the union's types"#),
        "{error}"
    );
}

#[test]
fn missing_fields_take_their_defaults() {
    let form = JsonDatum::new(schema(EVERYTHING)).unwrap();
    let mut event = everything();
    for name in ["note", "last", "more"] {
        event.as_object_mut().unwrap().remove(name);
    }
    let json = form.to_json(&form.from_json(&event).unwrap()).unwrap();
    assert_eq!(json["note"], Json::Null);
    assert_eq!(json["last"], "none");
    assert_eq!(json["more"], json!({"a": 7}));
}

#[test]
fn a_double_with_many_digits_survives_text() {
    let form = JsonDatum::new(schema(EVERYTHING)).unwrap();
    for exact in [
        123_456_789.123_456_79,
        0.1 + 0.2,
        5e-324,
        1.797_693_134_862_315_7e308,
    ] {
        let mut event = everything();
        event["exact"] = json!(exact);
        let bytes = form.from_json(&event).unwrap();
        let text = form.to_json(&bytes).unwrap().to_string();
        let read: Json = serde_json::from_str(&text).unwrap();
        assert_eq!(form.from_json(&read).unwrap(), bytes, "{exact}");
    }
}

#[test]
fn floats_keep_their_specials_and_their_shortest_decimal() {
    let form = JsonDatum::new(schema(EVERYTHING)).unwrap();
    for (ratio, exact) in [("NaN", "Infinity"), ("-Infinity", "NaN")] {
        let mut event = everything();
        event["ratio"] = json!(ratio);
        event["exact"] = json!(exact);
        let json = form.to_json(&form.from_json(&event).unwrap()).unwrap();
        assert_eq!(
            (json["ratio"].clone(), json["exact"].clone()),
            (json!(ratio), json!(exact))
        );
    }
    let mut event = everything();
    event["ratio"] = json!(1e39);
    let error = form.from_json(&event).unwrap_err();
    assert_eq!(error.to_string(), "ratio: 1e+39 does not fit a float");
}

#[test]
fn errors_name_the_path_and_what_was_expected() {
    let form = JsonDatum::new(schema(EVERYTHING)).unwrap();
    let cases: [(&str, Json, &str); 9] = [
        (
            "count",
            json!("two"),
            r#"count: expected int, found string "two""#,
        ),
        (
            "count",
            json!(3_000_000_000_i64),
            "count: 3000000000 is not an int (32-bit integer)",
        ),
        ("at", json!(1.5), "at: 1.5 is not a long (64-bit integer)"),
        (
            "colour",
            json!("BLUE"),
            r#"colour: "BLUE" is not a symbol of enum test.form.Colour (RED, GREEN)"#,
        ),
        (
            "tags",
            json!(["a", 1]),
            "tags[1]: expected string, found number 1",
        ),
        (
            "attributes",
            json!({"k": "v"}),
            r#"attributes.k: expected long, found string "v""#,
        ),
        (
            "raw",
            json!("€"),
            "raw: '€' is not a byte: bytes are written as the code points U+0000 to U+00FF",
        ),
        (
            "id",
            json!("abc"),
            "id: 3 bytes where fixed test.form.Id has 4",
        ),
        (
            "choice",
            json!({"Inner": {"a": "x"}, "long": 1}),
            "choice: expected null or {\"<type>\": value} naming one of the union's types (null, long, string, Id, test.form.Inner, other.Inner), found an object",
        ),
    ];
    for (field, value, expected) in cases {
        let mut event = everything();
        event[field] = value;
        assert_eq!(form.from_json(&event).unwrap_err().to_string(), expected);
    }
    let mut event = everything();
    event["choice"] = json!({"test.form.Inner": {"a": 1, "c": 2}});
    assert_eq!(
        form.from_json(&event).unwrap_err().to_string(),
        "choice.test.form.Inner.c: unknown field (the fields of test.form.Inner are a)"
    );
    event.as_object_mut().unwrap().remove("count");
    assert_eq!(
        form.from_json(&event).unwrap_err().to_string(),
        "missing field `count`"
    );
    assert_eq!(
        form.from_json(&json!([1])).unwrap_err().to_string(),
        "expected test.form.Everything, found an array"
    );
}

#[test]
fn malformed_data_is_an_error_not_a_panic() {
    let form = JsonDatum::new(schema(EVERYTHING)).unwrap();
    let bytes = form.from_json(&everything()).unwrap();
    for end in 0..bytes.len() {
        assert!(form.to_json(&bytes[..end]).is_err(), "cut at {end}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        form.to_json(&longer).unwrap_err().to_string(),
        "1 trailing bytes"
    );
    // A union index past the branches, and an enum symbol past the symbols.
    let list = JsonDatum::new(schema(LIST)).unwrap();
    assert!(
        list.to_json(&[2, 4])
            .unwrap_err()
            .to_string()
            .contains("union branch 2")
    );
}

#[test]
fn nesting_of_a_recursive_schema_is_bounded_both_ways() {
    let list = JsonDatum::new(schema(LIST)).unwrap();
    let mut deep = json!(null);
    for value in 0..(MAX_DEPTH as i32) {
        deep = json!({"value": value, "next": deep});
    }
    let deep = json!({"value": -1, "next": deep});
    let error = list.from_json(&deep).unwrap_err();
    assert!(error.message.contains("nested deeper than"), "{error}");
    // Node n: its value 0, then branch 1 (a Node); the last node ends with branch 0.
    let mut bytes = [0u8, 2].repeat(MAX_DEPTH + 1);
    bytes.extend([0, 0]);
    let error = list.to_json(&bytes).unwrap_err();
    assert!(error.to_string().contains("nested deeper than"), "{error}");
    let shallow = json!({"value": 1, "next": {"value": 2, "next": null}});
    assert_eq!(
        list.to_json(&list.from_json(&shallow).unwrap()).unwrap(),
        shallow
    );
}

/// The form of a catalogue type's datum is the type's serde JSON, both ways, to the byte.
fn same_as_serde<T: Record>(value: &T) {
    let contract = T::contract();
    let form = JsonDatum::new(contract.schema()).unwrap();
    let mut bytes = Vec::new();
    datum::write(value, &mut bytes).unwrap();
    let serde_form = serde_json::to_value(value).unwrap();
    assert_eq!(form.to_json(&bytes).unwrap(), serde_form);
    let text = form.to_json(&bytes).unwrap().to_string();
    let read: Json = serde_json::from_str(&text).unwrap();
    assert_eq!(form.from_json(&read).unwrap(), bytes);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn order_events_have_their_serde_form(event in arb_event()) {
        same_as_serde(&event);
    }

    #[test]
    fn derived_events_have_their_serde_form(
        validation in arb_validation(),
        status in arb_status_changed(),
    ) {
        same_as_serde(&validation);
        same_as_serde(&status);
    }

    #[test]
    fn notifications_and_risk_assessments_have_their_serde_form(
        notification in arb_notification(),
        risk in arb_risk_assessed(),
    ) {
        same_as_serde(&notification);
        same_as_serde(&risk);
    }

    #[test]
    fn every_float_and_double_comes_back_to_the_bit(
        ratio in any::<f32>().prop_filter("a number", |f| !f.is_nan()),
        exact in any::<f64>().prop_filter("a number", |f| !f.is_nan()),
    ) {
        let form = JsonDatum::new(schema(EVERYTHING)).unwrap();
        let mut event = everything();
        event["ratio"] = float_json(f64::from(ratio), ratio.to_string().parse().unwrap_or(f64::NAN));
        event["exact"] = float_json(exact, exact);
        let bytes = form.from_json(&event).unwrap();
        // Through text, as tail prints it and produce reads it.
        let text = form.to_json(&bytes).unwrap().to_string();
        let json: Json = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(form.from_json(&json).unwrap(), bytes.clone());
        let mut expected = Vec::new();
        expected.extend(ratio.to_le_bytes());
        expected.extend(exact.to_le_bytes());
        prop_assert!(bytes.windows(12).any(|w| w == expected.as_slice()));
    }
}
