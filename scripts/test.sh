#!/usr/bin/env bash
# `make test`: installs what is missing, finds or starts a real Apache Kafka broker,
# builds, runs every test suite, and stops the broker it started, also on failure.
#
# Broker, in order: KAFKA_BOOTSTRAP_SERVERS if set; testcontainers when a Docker
# daemon answers; otherwise a local Apache Kafka (KRaft) started by scripts/kafka.sh.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
log() { printf '\n==> %s\n' "$*" >&2; }

bash scripts/deps.sh

started=""
status=0
finish() {
  status=$?
  if [ -n "$started" ]; then
    if [ "$status" != 0 ]; then
      log "tests failed; broker log follows"
      KAFKA_LOG_LINES=300 bash scripts/kafka.sh logs || true
    fi
    log "stopping the local Apache Kafka broker"
    bash scripts/kafka.sh down || true
  fi
  exit "$status"
}
trap finish EXIT

free_port() {
  python3 -c 'import socket
for p in range(19092, 19900, 7):
    try:
        a = socket.socket(); a.bind(("127.0.0.1", p)); b = socket.socket(); b.bind(("127.0.0.1", p + 100))
        a.close(); b.close(); print(p); break
    except OSError:
        pass'
}

log "building"
cargo build --workspace --bins --locked
cargo test --workspace --locked --no-run

if [ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]; then
  log "using the cluster at KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS"
elif docker info >/dev/null 2>&1; then
  log "a Docker daemon answers: the tests start an apache/kafka container (testcontainers)"
else
  export KAFKA_STATE_DIR="$repo/.cache/kafka-test"
  KAFKA_PORT=$(free_port)
  export KAFKA_PORT
  log "no KAFKA_BOOTSTRAP_SERVERS and no Docker: starting a local Apache Kafka on port $KAFKA_PORT"
  started=1
  KAFKA_BOOTSTRAP_SERVERS=$(bash scripts/kafka.sh up | tail -n 1)
  export KAFKA_BOOTSTRAP_SERVERS
fi

log "tests"
cargo test --workspace --locked -- --test-threads="${TEST_THREADS:-4}"
