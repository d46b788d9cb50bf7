#!/usr/bin/env bash
# `make test`: installs what is missing, finds or starts a real Apache Kafka broker and
# a schema registry, builds, runs every test suite, and stops what it started, also on
# failure.
#
# Broker, in order: KAFKA_BOOTSTRAP_SERVERS if set; testcontainers when a Docker
# daemon answers; otherwise a local Apache Kafka (KRaft) started by scripts/kafka.sh.
# Registry: ORDERFLOW_TEST_REGISTRY_URL if set; otherwise Apicurio Registry started by
# scripts/registry.sh (needs Java).
#
# `scripts/test.sh --containers` (make test-containers) takes the testcontainers path
# on purpose: it starts a Docker Engine when none answers (scripts/docker.sh), builds
# the images that are missing (scripts/images.sh), runs the whole integration binary
# with KAFKA_BOOTSTRAP_SERVERS unset, then the container smoke test of the product
# image (scripts/smoke.sh). The unit tests and the schema and chart checks are
# `make test`'s.
set -euo pipefail

containers=""
case ${1:-} in
  --containers) containers=1 ;;
  "") ;;
  *) echo "usage: scripts/test.sh [--containers]" >&2; exit 2 ;;
esac

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
log() { printf '\n==> %s\n' "$*" >&2; }
started_kafka=""
started_registry=""
started_kafka_diagnosed=""
started_docker=""
test_run=""
# Everything the test binaries print, for the summary of failures at the end.
test_output="$repo/target/test-output.log"

# The failing tests and the message of each one's panic, last: the logs printed before
# can run to thousands of lines, and a truncated CI log keeps its end. Panics on other
# threads (tests that provoke one on purpose and pass) are left out.
failure_summary() {
  [ -s "$test_output" ] || return 0
  grep -aq '^test .* FAILED$' "$test_output" || return 0
  log "summary of the failures (the whole output is in target/test-output.log)"
  awk '/^test .* FAILED$/ { if (!($2 in failed)) print; failed[$2] = 1; next }
       { lines[NR] = $0 }
       END {
         for (i = 1; i <= NR; i++) {
           if (!(i in lines) || lines[i] !~ /^thread .* panicked at/) continue
           name = lines[i]; sub(/^thread \047/, "", name); sub(/\047.*/, "", name)
           if (!(name in failed) || (lines[i] in shown)) continue
           shown[lines[i]] = 1
           print ""; print lines[i]
           for (j = i + 1; j <= NR && j <= i + 20; j++) {
             if (!(j in lines) || lines[j] == "" || lines[j] ~ /^(stack backtrace:|note: )/) break
             print lines[j]
           }
         }
       }' "$test_output" | head -n 300 >&2
}

finish() {
  local status=$?
  if [ "$status" != 0 ] && [ -n "$started_kafka" ] && [ -z "$started_kafka_diagnosed" ]; then
    log "tests failed; broker log follows"
    KAFKA_LOG_LINES=300 bash scripts/kafka.sh logs || true
  fi
  [ "$status" = 0 ] || failure_summary
  if [ -n "$started_registry" ]; then
    bash scripts/registry.sh down >/dev/null 2>&1 || true
  fi
  if [ -n "$started_kafka" ]; then
    log "stopping the local Apache Kafka broker"
    bash scripts/kafka.sh down || true
  fi
  if [ -n "$test_run" ]; then
    # The fixture's broker container outlives the test binary (it is held by a static).
    local ids
    ids=$("$DOCKER" ps -aq --filter "label=org.orderflow.test-run=$test_run" 2>/dev/null || true)
    # shellcheck disable=SC2086 # one id per word
    [ -z "$ids" ] || { log "removing the test containers: ${ids//$'\n'/ }"; "$DOCKER" rm -f $ids >/dev/null || true; }
  fi
  if [ -n "$started_docker" ]; then
    log "stopping the Docker Engine this run started"
    bash scripts/docker.sh down || true
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

# The testcontainers fixture is compiled only when this run uses it (it adds 3 to 4
# minutes to a cold build): with --containers, or when no cluster is given and a Docker
# daemon answers.
# The broker's source is decided here, once, for the build and the tests alike.
broker_in_docker=""
features=()
if [ -n "$containers" ] ||
  { [ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ] && bash scripts/docker.sh status >/dev/null 2>&1; }; then
  broker_in_docker=1
  features=(--features orderflow-tests/containers)
fi

log "building"
# The binaries and the tests in one build: built apart, they resolve the dependencies'
# features apart (the tests' dev-dependencies add some, tokio's test-util among them)
# and a cold build compiles tokio and everything above it twice. The test runs below
# take the same features, or cargo would build again.
cargo build --workspace --bins --tests --locked "${features[@]}"

took() { log "$1 took $((SECONDS - $2)) s"; }

if [ -n "$containers" ]; then
  unset KAFKA_BOOTSTRAP_SERVERS
  if ! DOCKER_HOST=$(bash scripts/docker.sh status 2>/dev/null); then
    log "no Docker daemon answers: starting one"
    start=$SECONDS
    started_docker=1
    DOCKER_HOST=$(bash scripts/docker.sh up | tail -n 1)
    took "installing and starting the Docker Engine" "$start"
  fi
  # Named once the engine is installed: the docker.io package brings its own client.
  DOCKER=$(bash scripts/docker.sh client)
  export DOCKER_HOST DOCKER
  log "building the images that are missing"
  start=$SECONDS
  bash scripts/images.sh all
  took "the images" "$start"
fi

if [ -z "${TEST_FILTER:-}" ] && [ -z "$containers" ]; then
  log "schema evolution check"
  # The binary built above: `cargo run -p orderflow` alone would build the dependencies
  # again with the features of one package instead of the workspace's.
  for dir in schemas examples/temperature-alerts/schemas; do
    "${CARGO_TARGET_DIR:-target}/debug/orderflow" schemas check --dir "$dir"
  done
  log "Helm chart checks"
  bash scripts/helm-check.sh
fi

if [ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]; then
  log "using the cluster at KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS"
elif [ -n "$broker_in_docker" ]; then
  log "a Docker daemon answers: the tests start an apache/kafka container (testcontainers)"
  DOCKER_HOST=${DOCKER_HOST:-$(bash scripts/docker.sh status)}
  DOCKER=${DOCKER:-$(bash scripts/docker.sh client)}
  test_run="tests-$(date +%s)-$$"
  export DOCKER_HOST DOCKER ORDERFLOW_TEST_RUN=$test_run
else
  export KAFKA_STATE_DIR="$repo/.cache/kafka-test"
  KAFKA_PORT=$(free_port 19092)
  export KAFKA_PORT
  log "no KAFKA_BOOTSTRAP_SERVERS and no Docker: starting a local Apache Kafka on port $KAFKA_PORT"
  started_kafka=1
  # A broker that shares two busy cores with the suite: this machine was seen to stop
  # every process for up to 7.5 s under the suite's load (a sleeping process's 50 ms
  # timer fired seconds late), and after such a pause the in-process controller fenced
  # its own broker for a heartbeat 9 s old (broker.session.timeout.ms), taking every
  # partition's leader away for a moment. 30 s outlasts the pauses; the clusters that
  # the chaos tests start and kill keep the default, which their failover relies on.
  KAFKA_BOOTSTRAP_SERVERS=$(KAFKA_EXTRA_CONFIG="broker.session.timeout.ms=30000${KAFKA_EXTRA_CONFIG:+;$KAFKA_EXTRA_CONFIG}" \
    bash scripts/kafka.sh up | tail -n 1)
  export KAFKA_BOOTSTRAP_SERVERS
fi

# Prove the cluster before the tests rely on it: one clear failure here instead of one
# time-out per test.
if [ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]; then
  log "probing the cluster at $KAFKA_BOOTSTRAP_SERVERS: create, write, read and delete a topic"
  if ! "$ORDERFLOW_PYTHON" scripts/kafka-probe.py "$KAFKA_BOOTSTRAP_SERVERS" --timeout 30; then
    if [ -n "$started_kafka" ]; then
      log "the broker this run started is not usable; its state follows"
      bash scripts/kafka.sh diagnose >&2 || true
      started_kafka_diagnosed=1
    fi
    exit 1
  fi
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

# Tests at once: one per core, at most 4 (TEST_THREADS overrides). An integration test
# runs several workers and clients; on two cores, loads like the suite's were seen to
# stall every process for seconds (a sleeping process's 50 ms timer fired up to 7.5 s
# late), long enough for timeouts of a few seconds (group sessions, a stop's deadline)
# to expire under tests that do not expect it. Fewer tests at once load the cores less.
test_threads=${TEST_THREADS:-$(($(nproc) < 4 ? $(nproc) : 4))}

log "tests"
mkdir -p "$(dirname "$test_output")"
: >"$test_output"
if [ -n "${TEST_FILTER:-}" ]; then
  # TEST_REPEAT runs the selection that many times in a row on the same broker (make
  # chaos-repeat); every run is reported, and the script fails if any run failed.
  failed_runs=0
  for run in $(seq 1 "${TEST_REPEAT:-1}"); do
    [ "${TEST_REPEAT:-1}" = 1 ] || log "run $run of $TEST_REPEAT"
    # shellcheck disable=SC2086 # TEST_FILTER may hold several filters
    cargo test --workspace --locked "${features[@]}" --test integration -- --nocapture \
      --test-threads="${TEST_THREADS:-2}" $TEST_FILTER 2>&1 | tee -a "$test_output" ||
      failed_runs=$((failed_runs + 1))
  done
  [ "$failed_runs" = 0 ] || { log "$failed_runs of ${TEST_REPEAT:-1} runs failed"; exit 1; }
elif [ -n "$containers" ]; then
  start=$SECONDS
  cargo test --workspace --locked "${features[@]}" --test integration -- \
    --test-threads="$test_threads" 2>&1 |
    tee -a "$test_output"
  took "the integration suite (testcontainers)" "$start"
  log "container smoke test of the product image"
  start=$SECONDS
  bash scripts/smoke.sh
  took "the smoke test" "$start"
else
  cargo test --workspace --locked "${features[@]}" -- --test-threads="$test_threads" 2>&1 |
    tee -a "$test_output"
fi
