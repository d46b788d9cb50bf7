//! A corpus of malformed messages, each with the error class the codec must give it.
//!
//! Used by the codec's unit tests, as seeds of the fuzz target, and by the failure
//! suite, which mixes these messages into valid traffic and expects each one to be
//! dead-lettered exactly once. The valid event the cases are cut from is written
//! here byte by byte, field by field, so that a case can break one field precisely.

use crate::contract::Record;
use crate::error::ErrorClass;
use crate::model::OrderEvent;
use crate::wire::{SchemaRef, write_header};

/// One malformed message.
#[derive(Debug, Clone)]
pub struct MalformedCase {
    /// What is wrong with it.
    pub name: String,
    /// The message bytes.
    pub bytes: Vec<u8>,
    /// The class the codec must report.
    pub class: ErrorClass,
    /// The error kind the codec must report (see `CodecError::kind`).
    pub kind: &'static str,
}

/// A fingerprint no schema has.
pub const UNKNOWN_FINGERPRINT: u64 = 0x0123_4567_89ab_cdef;

/// Minimal Avro binary writer, enough to build the sample `OrderEvent` field by field.
#[derive(Default, Clone)]
pub struct AvroBytes(pub Vec<u8>);

impl AvroBytes {
    /// A zig-zag varint `long` (also `int`, enum and union indexes, lengths).
    pub fn long(&mut self, value: i64) -> &mut Self {
        let mut n = ((value << 1) ^ (value >> 63)) as u64;
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                self.0.push(byte);
                break;
            }
            self.0.push(byte | 0x80);
        }
        self
    }

    /// A length-prefixed UTF-8 string.
    pub fn string(&mut self, text: &str) -> &mut Self {
        self.long(text.len() as i64);
        self.0.extend_from_slice(text.as_bytes());
        self
    }

    /// A boolean.
    pub fn boolean(&mut self, value: bool) -> &mut Self {
        self.0.push(u8::from(value));
        self
    }

    /// Raw bytes.
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.extend_from_slice(bytes);
        self
    }
}

/// Where a mutation applies in the sample event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    EventId,
    PayloadIndex,
    LineItemCount,
    Quantity,
    Line2Index,
    SalesChannel,
    None,
}

/// The sample `OrderPlaced` event as a datum of the newest `OrderEvent` schema, with
/// `replace` written instead of the field at `at`. Also returns the byte offsets
/// where each field starts, for truncation cases.
fn sample_datum(at: At, replace: &[u8], with_sales_channel: bool) -> (Vec<u8>, Vec<usize>) {
    let mut w = AvroBytes::default();
    let mut boundaries = Vec::new();
    let mut field = |w: &mut AvroBytes, here: At, write: &dyn Fn(&mut AvroBytes)| {
        boundaries.push(w.0.len());
        if here != At::None && here == at {
            w.raw(replace);
        } else {
            write(w);
        }
    };
    field(&mut w, At::EventId, &|w| {
        w.string("4b2f6d1e-8a3c-4f7e-9b1d-2c5e8f0a7b3d");
    });
    field(&mut w, At::None, &|w| {
        w.string("ord-000123");
    });
    field(&mut w, At::None, &|w| {
        w.string("cus-42");
    });
    field(&mut w, At::None, &|w| {
        w.long(1_795_436_220_317);
    });
    field(&mut w, At::None, &|w| {
        w.string("shop-frontend");
    });
    field(&mut w, At::PayloadIndex, &|w| {
        w.long(0);
    });
    field(&mut w, At::LineItemCount, &|w| {
        w.long(2);
    });
    for (sku, quantity, price) in [("SKU-1", 2, 1999), ("SKU-2", 1, 500)] {
        field(&mut w, At::None, &|w| {
            w.string(sku);
        });
        field(&mut w, At::Quantity, &|w| {
            w.long(quantity);
        });
        field(&mut w, At::None, &|w| {
            w.long(price);
        });
    }
    field(&mut w, At::None, &|w| {
        w.long(0);
    });
    field(&mut w, At::None, &|w| {
        w.string("EUR");
    });
    for amount in [499, 700, 0, 5697] {
        field(&mut w, At::None, &|w| {
            w.long(amount);
        });
    }
    for text in ["Ada Lovelace", "1 Main St"] {
        field(&mut w, At::None, &|w| {
            w.string(text);
        });
    }
    field(&mut w, At::Line2Index, &|w| {
        w.long(0);
    });
    for text in ["Berlin", "10115"] {
        field(&mut w, At::None, &|w| {
            w.string(text);
        });
    }
    field(&mut w, At::None, &|w| {
        w.long(0);
    });
    for text in ["DE", "DE", "ada@example.com"] {
        field(&mut w, At::None, &|w| {
            w.string(text);
        });
    }
    field(&mut w, At::None, &|w| {
        w.boolean(false);
    });
    if with_sales_channel {
        field(&mut w, At::SalesChannel, &|w| {
            w.long(0);
        });
    }
    (w.0, boundaries)
}

/// The valid sample event, framed in single-object encoding with the newest schema.
pub fn valid_message() -> Vec<u8> {
    framed(
        OrderEvent::contract().fingerprint,
        &sample_datum(At::None, &[], true).0,
    )
}

/// The valid sample event written with version 1 of the `OrderEvent` schema (before
/// `sales_channel` existed), framed in single-object encoding.
pub fn valid_message_v1() -> Vec<u8> {
    let v1 = crate::contract::CATALOGUE
        .iter()
        .find(|e| e.name == "OrderEvent" && e.version == 1)
        .expect("schemas/OrderEvent/v1.avsc");
    let fp = crate::fingerprint::fingerprint(v1.text).expect("v1 fingerprint");
    framed(fp, &sample_datum(At::None, &[], false).0)
}

/// `datum` framed in single-object encoding under the schema fingerprint `fp`.
pub(crate) fn framed(fp: u64, datum: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_header(SchemaRef::Fingerprint(fp), &mut out);
    out.extend_from_slice(datum);
    out
}

fn varint(value: i64) -> Vec<u8> {
    let mut w = AvroBytes::default();
    w.long(value);
    w.0
}

/// Every malformed case, for a codec whose maximum payload is `max_payload_bytes`.
pub fn malformed_cases(max_payload_bytes: usize) -> Vec<MalformedCase> {
    use ErrorClass::{Decode, Schema};
    let case = |name: &str, bytes: Vec<u8>, class, kind| MalformedCase {
        name: name.to_owned(),
        bytes,
        class,
        kind,
    };
    let newest = OrderEvent::contract().fingerprint;
    let mutated = |at, replace: &[u8]| framed(newest, &sample_datum(at, replace, true).0);
    let valid = valid_message();
    let mut cases = vec![
        case("empty payload", vec![], Decode, "unknown-format"),
        case(
            "one byte: Confluent magic only",
            vec![0x00],
            Decode,
            "malformed",
        ),
        case(
            "one byte: single-object marker only",
            vec![0xC3],
            Decode,
            "unknown-format",
        ),
        case(
            "wrong magic byte",
            [&[0x01u8][..], &valid[1..]].concat(),
            Decode,
            "unknown-format",
        ),
        case(
            "JSON instead of Avro",
            br#"{"order_id":"o-1"}"#.to_vec(),
            Decode,
            "unknown-format",
        ),
        case(
            "second marker byte wrong",
            [&[0xC3, 0x02][..], &valid[2..]].concat(),
            Decode,
            "unknown-format",
        ),
        case(
            "Confluent header cut inside the schema id",
            vec![0x00, 0x00, 0x01],
            Decode,
            "malformed",
        ),
        case(
            "single-object header cut inside the fingerprint",
            valid[..6].to_vec(),
            Decode,
            "malformed",
        ),
        case(
            "header only, no datum",
            valid[..10].to_vec(),
            Decode,
            "malformed",
        ),
        case(
            "unknown fingerprint",
            framed(UNKNOWN_FINGERPRINT, &valid[10..]),
            Schema,
            "unknown-fingerprint",
        ),
        case(
            "Confluent schema id without a registry",
            [&[0x00, 0x00, 0x00, 0x30, 0x39][..], &valid[10..]].concat(),
            Schema,
            "unknown-schema-id",
        ),
        case(
            "fingerprint of another record type (OrderStatusChanged)",
            {
                let other = crate::fingerprint::fingerprint(
                    crate::contract::newest("OrderStatusChanged")
                        .expect("schema")
                        .text,
                )
                .expect("fingerprint");
                framed(other, &valid[10..])
            },
            Schema,
            "incompatible-schema",
        ),
        case(
            "string length prefix 2^31",
            mutated(At::EventId, &varint(1 << 31)),
            Decode,
            "malformed",
        ),
        case(
            "string length prefix 2^62",
            mutated(At::EventId, &varint(1 << 62)),
            Decode,
            "malformed",
        ),
        case(
            "negative string length",
            mutated(At::EventId, &varint(-5)),
            Decode,
            "malformed",
        ),
        case(
            "string length beyond the payload",
            mutated(At::EventId, &[varint(200), b"abc".to_vec()].concat()),
            Decode,
            "malformed",
        ),
        case(
            "invalid UTF-8 in a string",
            mutated(At::EventId, &[&varint(2)[..], &[0xC3, 0x28]].concat()),
            Decode,
            "malformed",
        ),
        case(
            "array block count 2^62",
            mutated(At::LineItemCount, &varint(1 << 62)),
            Decode,
            "malformed",
        ),
        case(
            "array block count 2^31",
            mutated(At::LineItemCount, &varint(1 << 31)),
            Decode,
            "malformed",
        ),
        case(
            "negative array block count with a huge byte size",
            mutated(
                At::LineItemCount,
                &[varint(-(1 << 40)), varint(1 << 60)].concat(),
            ),
            Decode,
            "malformed",
        ),
        case(
            "union index out of range",
            mutated(At::PayloadIndex, &varint(6)),
            Decode,
            "malformed",
        ),
        case(
            "union index far out of range",
            mutated(At::PayloadIndex, &varint(1 << 40)),
            Decode,
            "malformed",
        ),
        case(
            "negative union index",
            mutated(At::PayloadIndex, &varint(-1)),
            Decode,
            "malformed",
        ),
        case(
            "optional field union index out of range",
            mutated(At::Line2Index, &varint(2)),
            Decode,
            "malformed",
        ),
        case(
            "enum index out of range",
            mutated(At::SalesChannel, &varint(99)),
            Decode,
            "malformed",
        ),
        case(
            "negative enum index",
            mutated(At::SalesChannel, &varint(-1)),
            Decode,
            "malformed",
        ),
        case(
            "int field above 32 bits",
            mutated(At::Quantity, &varint(1 << 40)),
            Decode,
            "malformed",
        ),
        case(
            "varint longer than 10 bytes",
            mutated(At::Quantity, &[0xFF; 11]),
            Decode,
            "malformed",
        ),
        case(
            "trailing bytes",
            [&valid[..], &[0x00, 0x01]].concat(),
            Decode,
            "malformed",
        ),
        case(
            "all 0xFF after a valid header",
            [&valid[..10], &[0xFF; 64][..]].concat(),
            Decode,
            "malformed",
        ),
        case(
            "payload over the size limit",
            [&valid[..], &vec![0u8; max_payload_bytes]].concat(),
            Decode,
            "payload-too-large",
        ),
    ];
    // Truncated at the start of every field, and at every byte inside the datum.
    let (datum, boundaries) = sample_datum(At::None, &[], true);
    for (i, &at) in boundaries.iter().enumerate().skip(1) {
        cases.push(case(
            &format!("truncated at field boundary {i} (datum byte {at})"),
            framed(newest, &datum[..at]),
            Decode,
            "malformed",
        ));
    }
    for at in 0..datum.len() {
        if !boundaries.contains(&at) {
            cases.push(case(
                &format!("truncated at datum byte {at}"),
                framed(newest, &datum[..at]),
                Decode,
                "malformed",
            ));
        }
    }
    cases
}
