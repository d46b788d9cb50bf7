//! Writes the fuzzer's seed corpus: valid messages of each schema version and every
//! case of the malformed corpus, one file each, into the folder given as argument.

use orderflow_events::codec::DEFAULT_MAX_PAYLOAD_BYTES;
use orderflow_events::corpus::{malformed_cases, valid_message, valid_message_v1};

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fuzz/corpus/decode".into());
    std::fs::create_dir_all(&dir)?;
    let mut count = 0;
    for (name, bytes) in [
        ("valid-v2", valid_message()),
        ("valid-v1", valid_message_v1()),
    ] {
        std::fs::write(format!("{dir}/{name}"), bytes)?;
        count += 1;
    }
    // The oversized case is pointless as a seed (libFuzzer caps input length).
    for (i, case) in malformed_cases(DEFAULT_MAX_PAYLOAD_BYTES)
        .iter()
        .enumerate()
    {
        if case.bytes.len() < 4096 {
            std::fs::write(format!("{dir}/malformed-{i:03}"), &case.bytes)?;
            count += 1;
        }
    }
    println!("wrote {count} seeds to {dir}");
    Ok(())
}
