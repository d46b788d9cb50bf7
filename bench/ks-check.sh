#!/usr/bin/env bash
# Checks the Kafka Streams order-validator (bench/ks) against the Rust worker: both read
# one input topic (generated order lifecycles, hand-written edge cases of every rule and
# messages that must be dead-lettered) and their outputs must agree per source event:
# the same derived event_id, verdict, reason codes, fields and messages, writer schema,
# forwarded orderflow.produced-at-us header, and the same dead letters. Also reports
# the Kafka Streams startup time (launch to RUNNING) and both workers' RSS.
#
#   KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092 bash bench/ks-check.sh
#
# Settings (environment):
#   KAFKA_BOOTSTRAP_SERVERS  a running broker (default 127.0.0.1:9092)
#   KS_CHECK_EVENTS          generated events (default 5000)
#   KS_CHECK_GUARANTEE       exactly-once or at-least-once, for both (default exactly-once)
#   KS_CHECK_TIMEOUT_SECS    longest wait for the outputs (default 180)
#   KS_CHECK_SKIP_BUILD=1    use the binaries and classes already built
#   KS_CHECK_KEEP_TOPICS=1   leave the check's topics on the broker
#   KS_JAVA_OPTS             JVM options of the Kafka Streams app (default none: JVM defaults)
# Needs cargo, Java 17, Maven and the Python virtualenv of scripts/deps.sh.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
bootstrap=${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:9092}
events=${KS_CHECK_EVENTS:-5000}
guarantee=${KS_CHECK_GUARANTEE:-exactly-once}
timeout_secs=${KS_CHECK_TIMEOUT_SECS:-180}
python="$repo/.cache/venv/bin/python"
check_py="$repo/bench/ks/check.py"
orderflow="$repo/target/debug/orderflow"
validator="$repo/target/debug/order-validator"

log() { printf 'ks-check: %s\n' "$*" >&2; }
die() { printf 'ks-check: error: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo "?"; }

[ -x "$python" ] || die "no $python: run scripts/deps.sh first"
"$python" -c 'import confluent_kafka, fastavro' 2>/dev/null \
  || die "$python lacks confluent_kafka or fastavro: run scripts/deps.sh"

if [ "${KS_CHECK_SKIP_BUILD:-}" != 1 ]; then
  log "building the Rust binaries and the Kafka Streams app"
  cargo build -q -p orderflow -p order-validator --bins
  # Maven's -q still writes colour resets: keep its output for when it fails.
  mvn_log=$(mktemp)
  mvn -q -B -f bench/ks/pom.xml package dependency:copy-dependencies -DoutputDirectory=target/lib \
    >"$mvn_log" 2>&1 || { cat "$mvn_log" >&2; rm -f "$mvn_log"; die "the Maven build failed"; }
  rm -f "$mvn_log"
fi
[ -x "$orderflow" ] && [ -x "$validator" ] || die "missing $orderflow or $validator"
[ -d bench/ks/target/classes ] && [ -d bench/ks/target/lib ] || die "bench/ks is not built"

run="ks-check-$(date +%s)-$$"
input="$run.input"
out_rust="$run.rust.out"
dlq_rust="$run.rust.dlq"
out_ks="$run.ks.out"
dlq_ks="$run.ks.dlq"
work=$(mktemp -d)
pids=()

cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ "${KS_CHECK_KEEP_TOPICS:-}" != 1 ]; then
    "$python" "$check_py" delete "$bootstrap" "$input" "$out_rust" "$dlq_rust" "$out_ks" "$dlq_ks" \
      >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

log "topics $run.* on $bootstrap"
"$python" "$check_py" topics "$bootstrap" 4 "$input" "$out_rust" "$dlq_rust" "$out_ks" "$dlq_ks"

log "producing $events generated events and the edge cases"
report=$("$orderflow" loadgen --bootstrap-servers "$bootstrap" --topic "$input" --count "$events" \
  --rate 0 --invalid-share 0.1 --risky-share 0.1 --seed 7 --timestamp-header --quiet)
echo "$report"
orders=$(sed -n 's/^produced [0-9]* events (\([0-9]*\) orders.*/\1/p' <<<"$report")
[ -n "$orders" ] || die "cannot read the number of orders from: $report"
read -r edge_outputs edge_dead < <("$python" "$check_py" edge "$bootstrap" "$input" schemas)
expected=$((orders + edge_outputs))
log "expecting $expected outputs ($orders generated orders, $edge_outputs edge cases) and $edge_dead dead letters"

log "starting both workers ($guarantee)"
ks_started=$(now_ms)
# shellcheck disable=SC2086
java ${KS_JAVA_OPTS:-} -cp "bench/ks/target/classes:bench/ks/target/lib/*" io.orderflow.bench.ValidatorApp \
  --bootstrap-servers "$bootstrap" --input-topic "$input" --output-topic "$out_ks" --dlq-topic "$dlq_ks" \
  --application-id "$run-ks" --guarantee "$guarantee" --schemas-dir schemas --state-dir "$work/ks-state" \
  >"$work/ks.out" 2>"$work/ks.err" &
ks_pid=$!
pids+=("$ks_pid")
rust_started=$(now_ms)
"$validator" --bootstrap-servers "$bootstrap" --input-topic "$input" --output-topic "$out_rust" \
  --dlq-topic "$dlq_rust" --group-id "$run-rust" --guarantee "$guarantee" --http-addr 127.0.0.1:0 \
  >"$work/rust.out" 2>"$work/rust.err" &
rust_pid=$!
pids+=("$rust_pid")

show_logs() {
  log "Kafka Streams stderr (tail):"; tail -n 20 "$work/ks.err" >&2 || true
  log "Rust worker log (tail):"; tail -n 20 "$work/rust.out" "$work/rust.err" >&2 || true
}

ks_running=""
deadline=$(( $(date +%s) + 120 ))
while [ -z "$ks_running" ]; do
  if grep -qx started "$work/ks.out"; then
    ks_running=$(( $(now_ms) - ks_started ))
  elif ! kill -0 "$ks_pid" 2>/dev/null; then
    show_logs; die "the Kafka Streams app exited before RUNNING"
  elif [ "$(date +%s)" -ge "$deadline" ]; then
    show_logs; die "the Kafka Streams app did not reach RUNNING within 120 s"
  else
    sleep 0.05
  fi
done
log "Kafka Streams RUNNING after $ks_running ms"

# Waits until `topic` holds `count` records (read_committed), at most the timeout, then
# writes the time to `stamp`.
wait_for() {
  local topic=$1 count=$2 stamp=$3
  if [ "$count" -gt 0 ]; then
    timeout "$timeout_secs" "$orderflow" tail "$topic" --bootstrap-servers "$bootstrap" --follow \
      --count "$count" >/dev/null || return 1
  fi
  now_ms >"$stamp"
}
waits=()
wait_for "$out_ks" "$expected" "$work/ks-out.done" & waits+=($!)
wait_for "$dlq_ks" "$edge_dead" "$work/ks-dlq.done" & waits+=($!)
wait_for "$out_rust" "$expected" "$work/rust-out.done" & waits+=($!)
wait_for "$dlq_rust" "$edge_dead" "$work/rust-dlq.done" & waits+=($!)
waited=0
for w in "${waits[@]}"; do
  wait "$w" || waited=1
done
if [ "$waited" != 0 ]; then
  show_logs
  for pair in "$out_ks:$expected" "$dlq_ks:$edge_dead" "$out_rust:$expected" "$dlq_rust:$edge_dead"; do
    have=$("$orderflow" tail "${pair%%:*}" --bootstrap-servers "$bootstrap" | wc -l)
    log "${pair%%:*}: $have of ${pair##*:} records"
  done
  die "timed out after ${timeout_secs} s waiting for the outputs"
fi
rust_assigned=$(grep -h '"rebalance"' "$work/rust.out" "$work/rust.err" 2>/dev/null | grep -m1 '"assign"' \
  | sed -n 's/.*"timestamp":"\([^"]*\)".*/\1/p')
rust_running="?"
if [ -n "$rust_assigned" ]; then
  rust_running=$(( $(date -d "$rust_assigned" +%s%3N) - rust_started ))
fi
ks_done=$(( $(cat "$work/ks-out.done") - ks_started ))
rust_done=$(( $(cat "$work/rust-out.done") - rust_started ))
ks_rss=$(rss_kb "$ks_pid")
rust_rss=$(rss_kb "$rust_pid")

# Anything extra (a duplicate) would show after another commit interval or two.
sleep 2
for topic in "$out_rust" "$dlq_rust" "$out_ks" "$dlq_ks"; do
  "$orderflow" tail "$topic" --bootstrap-servers "$bootstrap" >"$work/$topic.jsonl"
done

log "stopping both workers (SIGTERM)"
stop_started=$(now_ms)
kill -TERM "$ks_pid" "$rust_pid"
ks_exit=0; wait "$ks_pid" || ks_exit=$?
ks_stop=$(( $(now_ms) - stop_started ))
rust_exit=0; wait "$rust_pid" || rust_exit=$?
pids=()
# 143: the JVM's exit status after SIGTERM once its shutdown hook finished.
case "$ks_exit" in 0|143) ;; *) show_logs; die "the Kafka Streams app exited with $ks_exit on SIGTERM" ;; esac
[ "$rust_exit" = 0 ] || { show_logs; die "the Rust worker exited with $rust_exit on SIGTERM"; }

echo "kafka-streams: RUNNING after ${ks_running} ms; all outputs after ${ks_done} ms; RSS ${ks_rss} kB after processing; stopped in ${ks_stop} ms (exit $ks_exit)"
echo "rust:          partitions assigned after ${rust_running} ms; all outputs after ${rust_done} ms; RSS ${rust_rss} kB after processing"
"$python" "$check_py" compare "$work/$out_rust.jsonl" "$work/$out_ks.jsonl" \
  "$work/$dlq_rust.jsonl" "$work/$dlq_ks.jsonl" --expected "$expected" --expected-dlq "$edge_dead"
