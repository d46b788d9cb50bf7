#!/usr/bin/env bash
# `make bench-gateway`: the release build of orderflow, a local Apache Kafka broker of
# its own, then bench/gateway.py (hey against `orderflow gateway`; results in
# bench/results/gateway.md and gateway.json).
#
# Settings: BENCH_GATEWAY_SECONDS (20 per scenario), BENCH_GATEWAY_SCENARIOS (all).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
log() { printf '\n==> %s\n' "$*" >&2; }

bash scripts/deps.sh
log "release build"
cargo build --release --locked -p orderflow --bin orderflow

export KAFKA_STATE_DIR="$repo/.cache/kafka-bench-gateway"
export KAFKA_PORT=${BENCH_KAFKA_PORT:-19492}
trap 'bash scripts/kafka.sh down >/dev/null 2>&1 || true' EXIT
bootstrap=$(bash scripts/kafka.sh up | tail -n 1)

log "gateway load test"
scenarios=()
[ -z "${BENCH_GATEWAY_SCENARIOS:-}" ] || scenarios=(--scenarios "$BENCH_GATEWAY_SCENARIOS")
"$repo/.cache/venv/bin/python" bench/gateway.py --bootstrap "$bootstrap" \
  --orderflow "${CARGO_TARGET_DIR:-target}/release/orderflow" \
  --seconds "${BENCH_GATEWAY_SECONDS:-20}" "${scenarios[@]}" --results bench/results
