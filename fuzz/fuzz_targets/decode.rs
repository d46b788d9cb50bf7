//! Any bytes given to the decoder end in an event or a typed error: no panic, no
//! unbounded allocation, no stack overflow. Data of our own schema is read exactly as
//! apache-avro's reader reads it: the same value, or an error from both.

#![no_main]

use std::sync::LazyLock;

use apache_avro::reader::datum::GenericDatumReader;
use futures::FutureExt;
use libfuzzer_sys::fuzz_target;
use orderflow_events::wire::{self, SchemaRef};
use orderflow_events::{Codec, CodecSettings, OrderEvent, Record};

static CODEC: LazyLock<Codec> =
    LazyLock::new(|| Codec::new(CodecSettings::default()).expect("codec"));

static REFERENCE: LazyLock<GenericDatumReader<'static>> = LazyLock::new(|| {
    GenericDatumReader::builder(OrderEvent::contract().schema())
        .human_readable(false)
        .build()
        .expect("reader")
});

fuzz_target!(|data: &[u8]| {
    // Without a registry nothing awaits: the futures complete on their first poll.
    let typed = CODEC.decode::<OrderEvent>(data).now_or_never().expect("no I/O");
    let generic = CODEC.decode_json(data).now_or_never().expect("no I/O");
    // The typed reader accepts exactly what it can read; errors must carry a class.
    if let Err(error) = &typed {
        let _ = error.class();
    }
    let _ = generic;
    if let Ok((SchemaRef::Fingerprint(fp), datum)) = wire::split(data)
        && fp == OrderEvent::contract().fingerprint
        && data.len() <= CODEC.settings().max_payload_bytes
    {
        let mut cursor = datum;
        let reference = REFERENCE
            .read_deser::<OrderEvent>(&mut cursor)
            .ok()
            .filter(|_| cursor.is_empty());
        assert_eq!(typed.ok().map(|d| d.value), reference, "{data:?}");
    }
});
