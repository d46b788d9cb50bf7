#!/usr/bin/env bash
# `make bench`: release builds of the workers and the Kafka Streams comparison, a local
# Apache Kafka broker of its own, then bench/run.py (results in bench/results/).
#
# Settings: BENCH_EVENTS (1000000), BENCH_ROUNDS (3), BENCH_RATES (2000,10000),
# BENCH_LATENCY_SECONDS (20), BENCH_SCALE (4,12,48: input partitions of S's scale table;
# empty to skip it).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
log() { printf '\n==> %s\n' "$*" >&2; }

bash scripts/deps.sh
venv="$repo/.cache/venv"
"$venv/bin/python" -c 'import hdrh, matplotlib' 2>/dev/null || "$venv/bin/pip" install -q -r bench/requirements.txt

log "release build"
cargo build --release --locked --bins
log "Kafka Streams build"
mvn -q -B -f bench/ks/pom.xml package dependency:copy-dependencies -DoutputDirectory=target/lib

export KAFKA_STATE_DIR="$repo/.cache/kafka-bench"
export KAFKA_PORT=${BENCH_KAFKA_PORT:-19392}
export KAFKA_HEAP=${BENCH_KAFKA_HEAP:-1g}
trap 'bash scripts/kafka.sh down >/dev/null 2>&1 || true' EXIT
bootstrap=$(bash scripts/kafka.sh up | tail -n 1)
broker_pid=$(cat "$KAFKA_STATE_DIR/broker-1/pid")

log "benchmark"
"$venv/bin/python" bench/run.py --bootstrap "$bootstrap" --broker-pid "$broker_pid" \
  --events "${BENCH_EVENTS:-1000000}" --rounds "${BENCH_ROUNDS:-3}" \
  --rates "${BENCH_RATES:-2000,10000}" --latency-seconds "${BENCH_LATENCY_SECONDS:-20}" \
  --scale "${BENCH_SCALE-4,12,48}"
