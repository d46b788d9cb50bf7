#!/usr/bin/env bash
# Container smoke test: the product image run the way the Helm chart runs it.
#
# On a Docker network of its own: a Kafka broker (the local apache/kafka image), the
# chart's topics Job (`orderflow topics ensure`, twice: the hook runs on every
# upgrade), then every worker with the command, environment and security context the
# chart renders (scripts/chart-run.py: non-root user, read-only root file system, all
# capabilities dropped, no privilege escalation, /tmp as the only writable path, the
# chart's CPU and memory limits). Each worker must turn ready on /readyz; a batch of
# generated order events must come out of each exactly once (`orderflow verify
# --strict`); SIGTERM must end each worker with exit code 0 within the chart's
# termination grace period. Everything it started is removed on exit, also on failure.
#
# Needs DOCKER_HOST for a daemon that answers and the images of `scripts/images.sh all`.
#
# Settings (environment):
#   PRODUCT_IMAGE     image under test (default orderflow:dev)
#   SMOKE_EVENTS      order events to generate (default 2000)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
docker=${DOCKER:-$(bash scripts/docker.sh client)}
image=${PRODUCT_IMAGE:-orderflow:dev}
kafka_image=$(bash scripts/images.sh names | sed -n 2p)
events=${SMOKE_EVENTS:-2000}
python=${ORDERFLOW_PYTHON:-$repo/.cache/venv/bin/python}
run="smoke-$(date +%s)-$$"
network="orderflow-$run"
label="org.orderflow.smoke=$run"
work=$(mktemp -d "${TMPDIR:-/tmp}/orderflow-smoke.XXXXXX")
log() { printf 'smoke: %s\n' "$*" >&2; }
fail() {
  printf 'smoke: FAILED: %s\n' "$*" >&2
  exit 1
}

cleanup() {
  local status=$? ids
  ids=$("$docker" ps -aq --filter "label=$label" 2>/dev/null || true)
  if [ "$status" != 0 ] && [ -n "$ids" ]; then
    for id in $ids; do
      log "last log lines of $("$docker" inspect -f '{{.Name}}' "$id" 2>/dev/null)"
      "$docker" logs --tail 30 "$id" 2>&1 | sed 's/^/    /' >&2 || true
    done
  fi
  # shellcheck disable=SC2086 # one id per word
  [ -z "$ids" ] || "$docker" rm -f $ids >/dev/null 2>&1 || true
  "$docker" network rm "$network" >/dev/null 2>&1 || true
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for needed in "$image" "$kafka_image"; do
  "$docker" image inspect "$needed" >/dev/null 2>&1 || fail "image $needed is missing: run scripts/images.sh all"
done
[ "$("$docker" image inspect -f '{{.Config.User}}' "$image")" = "10001:10001" ] ||
  fail "$image does not run as the numeric non-root user 10001:10001 the chart expects"

# A one-off tool container from the image, hardened like the chart's pods.
tool() {
  "$docker" run --rm --network "$network" --label "$label" --user 10001:10001 --read-only \
    --cap-drop ALL --security-opt no-new-privileges --tmpfs /tmp:rw,mode=1777,size=67108864 \
    --env ORDERFLOW_BOOTSTRAP_SERVERS=kafka:9092 --env ORDERFLOW_LOG_FORMAT=json \
    --entrypoint orderflow "$image" "$@"
}

"$docker" network create --label "$label" "$network" >/dev/null
log "network $network"

# The broker: one KRaft node reachable as kafka:9092 on the network only.
start=$SECONDS
"$docker" run -d --name "$run-kafka" --network "$network" --network-alias kafka --label "$label" \
  --env KAFKA_NODE_ID=1 \
  --env KAFKA_PROCESS_ROLES=broker,controller \
  --env KAFKA_LISTENERS=PLAINTEXT://:9092,CONTROLLER://:9093 \
  --env KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://kafka:9092 \
  --env KAFKA_CONTROLLER_LISTENER_NAMES=CONTROLLER \
  --env KAFKA_LISTENER_SECURITY_PROTOCOL_MAP=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT \
  --env KAFKA_CONTROLLER_QUORUM_VOTERS=1@localhost:9093 \
  --env KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR=1 \
  --env KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR=1 \
  --env KAFKA_TRANSACTION_STATE_LOG_MIN_ISR=1 \
  --env KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS=0 \
  --env KAFKA_AUTO_CREATE_TOPICS_ENABLE=false \
  --env KAFKA_HEAP_OPTS="-Xmx512m -Xms128m" \
  "$kafka_image" >/dev/null
deadline=$((SECONDS + 120))
until "$docker" logs "$run-kafka" 2>/dev/null | grep -q 'Kafka Server started'; do
  [ "$("$docker" inspect -f '{{.State.Running}}' "$run-kafka")" = true ] || fail "the broker exited during start"
  [ "$SECONDS" -lt "$deadline" ] || fail "the broker did not start within 120 s"
  sleep 1
done
log "broker $kafka_image started in $((SECONDS - start)) s"

# The pods the chart renders, one worker replica each, pointed at the broker.
"$(bash scripts/helm-bin.sh)" template smoke helm/orderflow --namespace smoke \
  --set kafka.bootstrapServers=kafka:9092 \
  --set topics.ensureJob.enabled=true --set topics.partitions=4 --set topics.replicationFactor=1 \
  --set defaults.replicas=1 >"$work/manifests.yaml"
read -r -a workloads < <("$python" scripts/chart-run.py --image "$image" --network "$network" \
  --out "$work/pods" --name-prefix "$run-" --label "$label" <"$work/manifests.yaml")
[[ " ${workloads[*]} " == *" topics "* ]] || fail "the chart rendered no topics Job"
workers=()
for workload in "${workloads[@]}"; do [ "$workload" = topics ] || workers+=("$workload"); done
expected=$("$python" -c 'import sys, yaml; print(" ".join(sorted(yaml.safe_load(open(sys.argv[1]))["workers"])))' \
  helm/orderflow/values.yaml)
[ "$(printf '%s\n' "${workers[@]}" | sort | xargs)" = "$expected" ] ||
  fail "expected a Deployment for each worker in the chart's values ($expected), the chart rendered: ${workers[*]}"

pod_args() { mapfile -d '' -t args <"$work/pods/$1.args"; }

# The topics Job, as the pre-install and then the pre-upgrade hook.
for hook in pre-install pre-upgrade; do
  pod_args topics
  args=("${args[@]:2}") # a Job's pods have no fixed name: drop --name NAME
  start=$SECONDS
  deadline=$(cat "$work/pods/topics.grace")
  if ! timeout "$deadline" "$docker" run --rm "${args[@]}" >"$work/topics-$hook.log" 2>&1; then
    cat "$work/topics-$hook.log" >&2
    fail "orderflow topics ensure ($hook) failed"
  fi
  log "topics Job ($hook): exit 0 in $((SECONDS - start)) s: $(grep -c . "$work/topics-$hook.log") log lines"
done

# The workers, each as its Deployment's single pod.
for worker in "${workers[@]}"; do
  pod_args "$worker"
  "$docker" run -d "${args[@]}" >/dev/null
done
for worker in "${workers[@]}"; do
  start=$SECONDS
  port=$("$docker" port "$run-$worker" 9090/tcp | head -n 1)
  [[ "$port" == 127.0.0.1:* ]] || fail "$worker's port is published on $port, not on loopback"
  deadline=$((SECONDS + 90))
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$port/readyz")" = 200 ]; do
    [ "$("$docker" inspect -f '{{.State.Running}}' "$run-$worker")" = true ] ||
      fail "$worker exited before it was ready (exit code $("$docker" inspect -f '{{.State.ExitCode}}' "$run-$worker"))"
    [ "$SECONDS" -lt "$deadline" ] || fail "$worker was not ready within 90 s: $(curl -s "http://$port/readyz")"
    sleep 1
  done
  log "$worker ready after $((SECONDS - start)) s (/readyz on $port, uid $("$docker" exec "$run-$worker" id -u), read-only root: $("$docker" inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$run-$worker"))"
done

start=$SECONDS
tool loadgen --count "$events" --rate 0 --seed 7 --quiet >"$work/loadgen.log" 2>&1 ||
  { cat "$work/loadgen.log" >&2; fail "orderflow loadgen failed"; }
log "produced $events order events to orders.lifecycle in $((SECONDS - start)) s"

for worker in "${workers[@]}"; do
  if ! tool verify --worker "$worker" --strict --timeout 90s >"$work/verify-$worker.json" 2>"$work/verify-$worker.log"; then
    cat "$work/verify-$worker.json" "$work/verify-$worker.log" >&2
    fail "$worker did not process the batch exactly once"
  fi
  "$python" - "$worker" "$work/verify-$worker.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[2]))
print(f"smoke: {sys.argv[1]}: {r['inputs']} inputs, {r['expected_outputs']} outputs expected, "
      f"{r['outputs']} read (read_committed), lost {r['lost']}, duplicated {r['duplicated']}, "
      f"out of order {r['order_violations']}, aborted reads {r['aborted_reads']}, "
      f"dead letters {r['dead_letters']} of {r['expected_dead_letters']} expected", file=sys.stderr)
EOF
done

for worker in "${workers[@]}"; do
  grace=$(cat "$work/pods/$worker.grace")
  start=$(date +%s.%N)
  "$docker" kill --signal TERM "$run-$worker" >/dev/null
  if ! code=$(timeout "$grace" "$docker" wait "$run-$worker"); then
    fail "$worker did not exit within the chart's grace period of $grace s after SIGTERM"
  fi
  took=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  [ "$code" = 0 ] || fail "$worker exited with code $code after SIGTERM"
  log "$worker: SIGTERM -> exit 0 in $took s (grace period $grace s)"
done
log "passed: ${#workers[@]} workers and the topics Job from $image"
