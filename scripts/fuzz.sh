#!/usr/bin/env bash
# Fuzzes the decoder with libFuzzer (cargo fuzz) for the given number of seconds
# (default 600), seeded with valid messages and the malformed corpus.
#
# cargo fuzz needs nightly compiler flags; with only a stable toolchain,
# RUSTC_BOOTSTRAP=1 enables them for this build.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
seconds=${1:-600}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cargo run --quiet --locked -p orderflow-events --example fuzz_seeds -- fuzz/corpus/decode
cd fuzz
RUSTC_BOOTSTRAP=1 cargo fuzz run decode --sanitizer "${FUZZ_SANITIZER:-address}" -- \
  -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1
