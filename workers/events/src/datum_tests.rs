use std::collections::BTreeMap;

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::writer::datum::GenericDatumWriter;
use proptest::prelude::*;

use super::*;
use crate::arbitrary::*;
use crate::contract::Record;
use crate::corpus::AvroBytes;
use crate::model::*;
use crate::sample;

/// apache-avro's encoding of `value` with the type's `.avsc` (not the derived schema).
fn reference_bytes<T: Record>(value: &T) -> Vec<u8> {
    let writer = GenericDatumWriter::builder(T::contract().schema())
        .human_readable(false)
        .build()
        .unwrap();
    let mut out = Vec::new();
    writer.write_ser(&mut out, value).unwrap();
    out
}

/// apache-avro's reading of `bytes` as `T` with the type's `.avsc`, every byte consumed.
fn reference_read<T: Record>(bytes: &[u8]) -> Result<T, String> {
    let reader = GenericDatumReader::builder(T::contract().schema())
        .human_readable(false)
        .build()
        .unwrap();
    let mut cursor = bytes;
    let value = reader
        .read_deser::<T>(&mut cursor)
        .map_err(|e| e.to_string())?;
    if cursor.is_empty() {
        Ok(value)
    } else {
        Err(format!("{} trailing bytes", cursor.len()))
    }
}

fn ours<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    write(value, &mut out).unwrap();
    out
}

fn read_all<'de, T: de::Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, DatumError> {
    let (value, rest) = read::<T>(bytes)?;
    assert!(rest.is_empty(), "{} bytes left", rest.len());
    Ok(value)
}

/// Ours writes the same bytes as apache-avro, and each reads the other's.
fn agrees_with_apache_avro<T: Record + PartialEq + fmt::Debug>(value: &T) {
    let expected = reference_bytes(value);
    let written = ours(value);
    assert_eq!(written, expected, "{value:?}");
    assert_eq!(&read_all::<T>(&expected).unwrap(), value);
    assert_eq!(&reference_read::<T>(&written).unwrap(), value);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn order_events_agree_with_apache_avro(event in arb_event()) {
        agrees_with_apache_avro(&event);
    }

    #[test]
    fn validations_agree_with_apache_avro(value in arb_validation()) {
        agrees_with_apache_avro(&value);
    }

    #[test]
    fn status_changes_agree_with_apache_avro(value in arb_status_changed()) {
        agrees_with_apache_avro(&value);
    }

    #[test]
    fn notifications_agree_with_apache_avro(value in arb_notification()) {
        agrees_with_apache_avro(&value);
    }

    #[test]
    fn risk_assessments_agree_with_apache_avro(value in arb_risk_assessed()) {
        agrees_with_apache_avro(&value);
    }

    /// A corrupted datum is read by ours exactly when apache-avro reads it, as the same
    /// value; anything else is an error, never a panic.
    #[test]
    fn corrupted_order_events_are_read_as_apache_avro_reads_them(
        event in arb_event(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = ours(&event);
        for (at, byte) in edits {
            let at = at.index(bytes.len());
            bytes[at] = byte;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        let mine = read::<OrderEvent>(&bytes)
            .map_err(|e| e.to_string())
            .and_then(|(v, rest)| if rest.is_empty() { Ok(v) } else { Err("trailing".into()) });
        let theirs = reference_read::<OrderEvent>(&bytes);
        match (&mine, &theirs) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(_), Err(_)) => {}
            _ => prop_assert!(false, "ours {mine:?}, apache-avro {theirs:?}, bytes {bytes:?}"),
        }
    }
}

#[test]
fn the_sample_order_agrees_with_apache_avro() {
    agrees_with_apache_avro(&sample::order_placed(10));
    agrees_with_apache_avro(&sample::order_placed(0));
}

/// The `OrderRiskAssessed` fields before `signals`, then the array in `blocks`.
fn risk_assessed_with(signals: impl FnOnce(&mut AvroBytes)) -> Vec<u8> {
    let mut bytes = AvroBytes::default();
    for text in ["e", "c", "o"] {
        bytes.string(text);
    }
    bytes.long(7);
    for text in ["risk-scorer", "0.1.0", "cus"] {
        bytes.string(text);
    }
    bytes.long(40).long(1);
    signals(&mut bytes);
    bytes.0
}

fn signal(bytes: &mut AvroBytes, code: &str) {
    bytes.string(code).long(10).string("d");
}

#[test]
fn arrays_in_several_blocks_and_blocks_with_a_byte_size_are_read() {
    let bytes = risk_assessed_with(|b| {
        // A block of two, then a block of -1 items with its byte size, then the end.
        b.long(2);
        signal(b, "A");
        signal(b, "B");
        let mut one = AvroBytes::default();
        signal(&mut one, "C");
        b.long(-1).long(one.0.len() as i64).raw(&one.0);
        b.long(0);
    });
    let value: OrderRiskAssessed = read_all(&bytes).unwrap();
    let codes: Vec<&str> = value.signals.iter().map(|s| s.code.as_str()).collect();
    assert_eq!(codes, ["A", "B", "C"]);
    assert_eq!(reference_read::<OrderRiskAssessed>(&bytes).unwrap(), value);
}

#[test]
fn maps_in_several_blocks_are_read() {
    let mut bytes = AvroBytes::default();
    bytes.long(1).string("a").string("1");
    bytes.long(-1).long(4).string("b").string("2");
    bytes.long(0);
    let map: BTreeMap<String, String> = read_all(&bytes.0).unwrap();
    assert_eq!(
        map,
        BTreeMap::from([("a".into(), "1".into()), ("b".into(), "2".into())])
    );
}

#[test]
fn zig_zag_longs_round_trip_at_their_edges() {
    for value in [
        0,
        -1,
        1,
        -64,
        63,
        64,
        i64::from(i32::MIN),
        i64::MAX,
        i64::MIN,
    ] {
        let bytes = ours(&value);
        assert_eq!(bytes, AvroBytes::default().long(value).0, "{value}");
        assert_eq!(read_all::<i64>(&bytes).unwrap(), value);
    }
    assert_eq!(ours(&i64::MIN).len(), 10);
}

fn refused<'de, T: de::Deserialize<'de> + fmt::Debug>(bytes: &'de [u8], expected: &str) {
    match read::<T>(bytes) {
        Ok((value, _)) => panic!("{bytes:?} read as {value:?}, expected: {expected}"),
        Err(error) => assert!(
            error.to_string().contains(expected),
            "{bytes:?}: {error}, expected: {expected}"
        ),
    }
}

#[test]
fn malformed_data_is_refused_with_what_is_wrong() {
    refused::<i64>(&[0xff; 11], "longer than 64 bits");
    refused::<i64>(&[0xff; 10], "longer than 64 bits");
    refused::<i64>(&[0x80, 0x80], "ends inside a variable-length integer");
    refused::<i64>(&[], "ends inside a variable-length integer");
    refused::<i32>(
        &AvroBytes::default().long(1 << 31).0,
        "does not fit an Avro int",
    );
    refused::<bool>(&[2], "not 0 or 1");
    refused::<String>(&AvroBytes::default().long(-2).0, "negative");
    refused::<String>(
        &AvroBytes::default().long(5).raw(b"abc").0,
        "more than the 3 bytes left",
    );
    refused::<String>(
        &AvroBytes::default().long(2).raw(&[0xc3, 0x28]).0,
        "not UTF-8",
    );
    refused::<Option<String>>(&[4], "union branch 2");
    refused::<SalesChannel>(&AvroBytes::default().long(6).0, "index 6 of SalesChannel");
    refused::<SalesChannel>(&AvroBytes::default().long(-1).0, "index -1");
    // A huge item count is refused before anything is allocated.
    refused::<Vec<String>>(&AvroBytes::default().long(i64::MAX).0, "items is more than");
    refused::<Vec<String>>(&AvroBytes::default().long(i64::MIN).0, "out of range");
    refused::<Vec<String>>(
        &AvroBytes::default().long(-3).long(1).raw(&[0, 0, 0]).0,
        "cannot fit in 1 bytes",
    );
    refused::<BTreeMap<String, String>>(
        &AvroBytes::default().long(1 << 40).0,
        "items is more than",
    );
}

#[test]
fn every_truncation_of_a_valid_order_is_an_error() {
    let bytes = ours(&sample::order_placed(3));
    for cut in 0..bytes.len() {
        assert!(read::<OrderEvent>(&bytes[..cut]).is_err(), "cut at {cut}");
    }
}

#[test]
fn types_without_an_avro_form_are_refused_when_written() {
    let mut out = Vec::new();
    assert!(write(&u64::MAX, &mut out).is_err());
    assert!(write(&(1, 2), &mut out).is_err());
    assert!(read::<(i32, i32)>(&[2, 4]).is_err());
    let unknown_length = serde_json::Map::new();
    // A serde_json map has a known length; an iterator without one is refused.
    assert!(write(&unknown_length, &mut out).is_ok());
    struct Unsized;
    impl Serialize for Unsized {
        fn serialize<S: ser::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_seq((0..3).filter(|i| i % 2 == 0))
        }
    }
    assert!(
        write(&Unsized, &mut out)
            .unwrap_err()
            .to_string()
            .contains("unknown length")
    );
}
