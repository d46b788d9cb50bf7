#!/usr/bin/env bash
# `make test`: installs what is missing, finds or starts a real Apache Kafka broker and
# a schema registry, builds, runs every test suite, and stops what it started, also on
# failure.
#
# Broker, in order: KAFKA_BOOTSTRAP_SERVERS if set; testcontainers when a Docker
# daemon answers; otherwise a local Apache Kafka (KRaft) started by scripts/kafka.sh.
# Registry: ORDERFLOW_TEST_REGISTRY_URL if set; otherwise Apicurio Registry started by
# scripts/registry.sh (needs Java).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
log() { printf '\n==> %s\n' "$*" >&2; }
started_kafka=""
started_registry=""

finish() {
  local status=$?
  if [ "$status" != 0 ] && [ -n "$started_kafka" ]; then
    log "tests failed; broker log follows"
    KAFKA_LOG_LINES=300 bash scripts/kafka.sh logs || true
  fi
  if [ -n "$started_registry" ]; then
    bash scripts/registry.sh down >/dev/null 2>&1 || true
  fi
  if [ -n "$started_kafka" ]; then
    log "stopping the local Apache Kafka broker"
    bash scripts/kafka.sh down || true
  fi
  exit "$status"
}
trap finish EXIT

free_port() {
  python3 -c 'import socket, sys
start = int(sys.argv[1])
for p in range(start, start + 800, 7):
    try:
        a = socket.socket(); a.bind(("127.0.0.1", p)); b = socket.socket(); b.bind(("127.0.0.1", p + 100))
        a.close(); b.close(); print(p); break
    except OSError:
        pass' "$1"
}

bash scripts/deps.sh
export ORDERFLOW_PYTHON="$repo/.cache/venv/bin/python"

log "building"
cargo build --workspace --bins --locked
cargo test --workspace --locked --no-run

if [ -z "${TEST_FILTER:-}" ]; then
  log "schema evolution check"
  cargo run --quiet --locked -p orderflow -- schemas check --dir schemas
  log "Helm chart checks"
  bash scripts/helm-check.sh
fi

if [ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]; then
  log "using the cluster at KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS"
elif docker info >/dev/null 2>&1; then
  log "a Docker daemon answers: the tests start an apache/kafka container (testcontainers)"
else
  export KAFKA_STATE_DIR="$repo/.cache/kafka-test"
  KAFKA_PORT=$(free_port 19092)
  export KAFKA_PORT
  log "no KAFKA_BOOTSTRAP_SERVERS and no Docker: starting a local Apache Kafka on port $KAFKA_PORT"
  started_kafka=1
  KAFKA_BOOTSTRAP_SERVERS=$(bash scripts/kafka.sh up | tail -n 1)
  export KAFKA_BOOTSTRAP_SERVERS
fi

if [ -z "${ORDERFLOW_TEST_REGISTRY_URL:-}" ]; then
  export REGISTRY_STATE_DIR="$repo/.cache/registry-test"
  REGISTRY_PORT=$(free_port 18081)
  export REGISTRY_PORT
  log "starting Apicurio Registry (Confluent-compatible API) on port $REGISTRY_PORT"
  started_registry=1
  ORDERFLOW_TEST_REGISTRY_URL=$(bash scripts/registry.sh up | tail -n 1)
  export ORDERFLOW_TEST_REGISTRY_URL
fi

log "tests"
if [ -n "${TEST_FILTER:-}" ]; then
  cargo test --locked -p orderflow-tests --test integration -- --nocapture \
    --test-threads="${TEST_THREADS:-2}" "$TEST_FILTER"
else
  cargo test --workspace --locked -- --test-threads="${TEST_THREADS:-4}"
fi
