#!/usr/bin/env bash
# Runs one failure scenario N times in a row with busy processes on the cores, the way
# the full test suite loads the machine, and prints every run's lost and duplicated
# counts. A scenario that passes alone but loses events under load shows up here.
#
#   scripts/chaos-repeat.sh SCENARIO [N] [LOAD]       (make chaos-repeat SCENARIO=broker N=10 LOAD=2)
#
# SCENARIO: broker, leader, sigkill, rolling, frozen, rebalance, malformed, oversized,
# tls, or any filter of the integration tests' names (e.g. chaos::chaos_sigkill_storm_exactly_once).
# N runs (default 10), LOAD busy processes (default: one per core). Reduced size unless
# ORDERFLOW_CHAOS=full. Rows go to target/chaos-repeat.jsonl; the table to standard output.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
scenario=${1:?usage: chaos-repeat.sh SCENARIO [N] [LOAD]}
runs=${2:-10}
load=${3:-$(nproc)}

case $scenario in
  broker) filter=chaos::chaos_broker_killed_and_restarted ;;
  leader) filter=chaos::chaos_partition_leader_killed_on_three_brokers ;;
  sigkill) filter=chaos::chaos_sigkill_storm_ ;;
  rolling) filter=chaos::chaos_rolling_restarts_ ;;
  frozen) filter=chaos::chaos_frozen_worker_is_fenced ;;
  rebalance) filter=chaos::chaos_rebalance_storm ;;
  malformed) filter=chaos::chaos_malformed_corpus_in_the_stream ;;
  oversized) filter=chaos::chaos_output_too_large_for_its_topic ;;
  tls) filter=chaos::chaos_tls_and_sasl_scram ;;
  *) filter=$scenario ;;
esac

busy=()
stop_load() {
  if [ ${#busy[@]} -gt 0 ]; then kill "${busy[@]}" 2>/dev/null || true; fi
}
trap stop_load EXIT INT TERM

rows="$repo/target/chaos-report.jsonl"
mkdir -p "$repo/target"
: >"$rows"
for _ in $(seq 1 "$load"); do
  # A busy loop per core: competes for the CPU like the suite's other brokers and workers.
  bash -c 'while :; do :; done' &
  busy+=("$!")
done
printf 'chaos-repeat: %s x%s with %s busy process(es)\n' "$filter" "$runs" "$load" >&2

status=0
TEST_FILTER=$filter TEST_REPEAT=$runs bash scripts/test.sh || status=$?
stop_load
busy=()

cp "$rows" "$repo/target/chaos-repeat.jsonl"
python3 - "$rows" "$runs" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
print(f"| run | scenario | events | faults | lost | duplicated | worst lag | recovery s |")
print(f"| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for n, r in enumerate(rows, 1):
    print(f"| {n} | {r['scenario']} | {r['events']} | {r['faults']} | {r['lost']} | {r['duplicated']} | {r['worst_lag']} | {r['recovery_seconds']:.1f} |")
lost = sum(r["lost"] for r in rows)
print(f"\n{len(rows)} report rows; lost in all: {lost}")
EOF
exit "$status"
