//! Any bytes given to the decoder end in an event or a typed error: no panic, no
//! unbounded allocation, no stack overflow.

#![no_main]

use std::sync::LazyLock;

use futures::FutureExt;
use libfuzzer_sys::fuzz_target;
use orderflow_events::{Codec, CodecSettings, OrderEvent};

static CODEC: LazyLock<Codec> =
    LazyLock::new(|| Codec::new(CodecSettings::default()).expect("codec"));

fuzz_target!(|data: &[u8]| {
    // Without a registry nothing awaits: the futures complete on their first poll.
    let typed = CODEC.decode::<OrderEvent>(data).now_or_never().expect("no I/O");
    let generic = CODEC.decode_json(data).now_or_never().expect("no I/O");
    // The typed reader accepts exactly what it can read; errors must carry a class.
    if let Err(error) = typed {
        let _ = error.class();
    }
    let _ = generic;
});
