#!/usr/bin/env bash
# Installs the orderflow Helm chart into a real Kubernetes API server.
#
#   scripts/k8s-check.sh
#
# 1. Builds etcd and kube-apiserver from their Go modules at the releases
#    pinned in tools/k8s/{etcd,kube-apiserver}/go.mod (no container image, no
#    download site), cached in ~/.cache/orderflow/k8s (outside the checkout, so
#    fresh clones reuse them) under a key of the sources and the Go version.
#    The first build takes several minutes; later runs start at once.
# 2. Generates a CA and certificates, starts etcd and the API server on
#    loopback on free ports (TLS everywhere, client certificates, RBAC).
# 3. Runs helm/tests/test_install.py: applies the pinned KEDA and Prometheus
#    Operator CRDs, then for each profile installs (--dry-run=server, then for
#    real), reads the objects back, upgrades, runs `helm test` and uninstalls.
#    There are no nodes and no controllers: objects are stored, admitted,
#    defaulted and validated, but no pod runs (see test_install.py).
#
# Every process it starts is stopped on exit, failure or interrupt; every wait
# is bounded.
#
# Settings (environment):
#   HELM            helm binary to use instead of the pinned one (scripts/helm-bin.sh)
#   K8S_CHECK_KEEP  1: keep the work directory (certificates, logs) for a look
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/orderflow"
started=$(date +%s)

log() { printf 'k8s-check: %s\n' "$*" >&2; }
die() { printf 'k8s-check: error: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null || die "Go is needed to build etcd and kube-apiserver"
command -v openssl >/dev/null || die "openssl is needed to generate the certificates"
command -v curl >/dev/null || die "curl is needed to wait for the API server"

# ------------------------------------------------------------------ binaries

# The Kubernetes release is the one tools/k8s/kube-apiserver/go.mod requires;
# its version strings go into the binary (the API server reports them, and
# helm checks the chart's kubeVersion against them).
kube_version=$(awk '{ for (i = 1; i < NF; i++) if ($i == "k8s.io/kubernetes" && $(i + 1) ~ /^v[0-9]/) print $(i + 1) }' \
  "$repo/tools/k8s/kube-apiserver/go.mod")
[[ $kube_version =~ ^v([0-9]+)\.([0-9]+)\.[0-9]+$ ]] || die "no k8s.io/kubernetes release in tools/k8s/kube-apiserver/go.mod"
version_pkg=k8s.io/component-base/version
ldflags_kube="-s -w -X $version_pkg.gitVersion=$kube_version -X $version_pkg.gitMajor=${BASH_REMATCH[1]} -X $version_pkg.gitMinor=${BASH_REMATCH[2]}"

# Prints the path of the binary built from tools/k8s/<tool>, building it first
# when the cache has none for these sources and this Go.
binary() {
  local tool=$1 ldflags=$2 src="$repo/tools/k8s/$1" key dir
  key=$( (cat "$src/go.mod" "$src/go.sum" "$src"/*.go; go env GOVERSION GOOS GOARCH; echo "$ldflags") | sha256sum | cut -c1-16)
  dir="$cache/k8s/$tool-$key"
  if [ ! -x "$dir/$tool" ]; then
    log "building $tool (tools/k8s/$tool; first run only, cached in $dir)"
    local t0=$SECONDS
    mkdir -p "$dir"
    # nice: the build takes minutes of both cores; other work on the machine goes first.
    (cd "$src" && nice -n 10 go build -trimpath -ldflags "$ldflags" -o "$dir/$tool.tmp" .) >&2
    mv "$dir/$tool.tmp" "$dir/$tool"
    log "built $tool in $((SECONDS - t0)) s"
  fi
  printf '%s\n' "$dir/$tool"
}

etcd=$(binary etcd "-s -w")
apiserver=$(binary kube-apiserver "$ldflags_kube")
built=$(date +%s)

helm=$(bash "$repo/scripts/helm-bin.sh")

python="$repo/.cache/venv/bin/python"
[ -x "$python" ] || die "no venv: run make deps (scripts/deps.sh)"

# ------------------------------------------------------------------ processes

# Keys, certificates and the kubeconfig are for this run's eyes only (helm warns otherwise).
umask 077
work=$(mktemp -d "${TMPDIR:-/tmp}/orderflow-k8s-check.XXXXXX")
pids=()

stop() {
  local rc=$?
  trap - EXIT INT TERM
  # Reverse order: the API server before its storage.
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[i]}" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "${pids[i]}" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ]; then
    for f in kube-apiserver.log etcd.log; do
      [ -s "$work/$f" ] && { log "last lines of $f:"; tail -n 20 "$work/$f" >&2; }
    done
  fi
  if [ "${K8S_CHECK_KEEP:-0}" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
  exit "$rc"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Free loopback ports, chosen by the kernel (a small race with other programs
# binding in between: a clash fails the start, never something else).
read -r etcd_port peer_port api_port < <("$python" - <<'EOF'
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
EOF
)

# ------------------------------------------------------------------ certificates

pki="$work/pki"
mkdir -p "$pki"
# issue NAME SUBJECT [SUBJECT_ALT_NAMES]: a P-256 key and a certificate signed by the CA.
issue() {
  local name=$1 subject=$2 san=${3:-} ext
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$pki/$name.key" -out "$pki/$name.csr" -subj "$subject" 2>/dev/null
  if [ -n "$san" ]; then
    ext="subjectAltName=$san
extendedKeyUsage=serverAuth,clientAuth"
  else
    ext="extendedKeyUsage=clientAuth"
  fi
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 1 -out "$pki/$name.crt" -extfile <(printf '%s\n' "$ext") 2>/dev/null
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -keyout "$pki/ca.key" -out "$pki/ca.crt" -subj "/CN=orderflow k8s-check CA" 2>/dev/null
issue etcd "/CN=etcd" "IP:127.0.0.1,DNS:localhost"
issue kube-apiserver "/CN=kube-apiserver" "IP:127.0.0.1,DNS:localhost"
issue apiserver-etcd-client "/CN=kube-apiserver-etcd-client"
# system:masters: the group the API server's RBAC bootstrap binds to cluster-admin.
issue admin "/O=system:masters/CN=orderflow-k8s-check"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$pki/sa.key" 2>/dev/null
openssl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null

# ------------------------------------------------------------------ etcd

log "starting etcd $("$etcd" --version | awk 'NR == 1 { print $3 }') on 127.0.0.1:$etcd_port"
"$etcd" --name k8s-check --data-dir "$work/etcd" \
  --listen-client-urls "https://127.0.0.1:$etcd_port" --advertise-client-urls "https://127.0.0.1:$etcd_port" \
  --listen-peer-urls "https://127.0.0.1:$peer_port" --initial-advertise-peer-urls "https://127.0.0.1:$peer_port" \
  --initial-cluster "k8s-check=https://127.0.0.1:$peer_port" \
  --cert-file "$pki/etcd.crt" --key-file "$pki/etcd.key" --trusted-ca-file "$pki/ca.crt" --client-cert-auth \
  --peer-cert-file "$pki/etcd.crt" --peer-key-file "$pki/etcd.key" --peer-trusted-ca-file "$pki/ca.crt" \
  --peer-client-cert-auth --unsafe-no-fsync --log-level warn >"$work/etcd.log" 2>&1 &
pids+=($!)

wait_ready() {  # NAME SECONDS URL CERT KEY
  local name=$1 seconds=$2 url=$3 cert=$4 key=$5 deadline=$((SECONDS + $2))
  until curl -fsS --max-time 2 --cacert "$pki/ca.crt" --cert "$cert" --key "$key" "$url" >/dev/null 2>&1; do
    kill -0 "${pids[-1]}" 2>/dev/null || die "$name exited: see its log above"
    [ "$SECONDS" -lt "$deadline" ] || die "$name not ready after $seconds s ($url)"
    sleep 0.5
  done
}
wait_ready etcd 30 "https://127.0.0.1:$etcd_port/health" "$pki/apiserver-etcd-client.crt" "$pki/apiserver-etcd-client.key"

# ------------------------------------------------------------------ kube-apiserver

log "starting kube-apiserver $kube_version on 127.0.0.1:$api_port"
# --endpoint-reconciler-type=none: the default reconciler refuses a loopback
# advertise address (it would publish it as the kubernetes Service's endpoint).
# --service-cluster-ip-range is only allocated from (no network is set up).
"$apiserver" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
  --tls-cert-file "$pki/kube-apiserver.crt" --tls-private-key-file "$pki/kube-apiserver.key" \
  --client-ca-file "$pki/ca.crt" --anonymous-auth=false --authorization-mode RBAC \
  --etcd-servers "https://127.0.0.1:$etcd_port" --etcd-cafile "$pki/ca.crt" \
  --etcd-certfile "$pki/apiserver-etcd-client.crt" --etcd-keyfile "$pki/apiserver-etcd-client.key" \
  --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$pki/sa.pub" \
  --service-account-signing-key-file "$pki/sa.key" --service-cluster-ip-range 10.96.0.0/16 \
  --endpoint-reconciler-type none --enable-priority-and-fairness=false --profiling=false \
  --cert-dir "$work/apiserver" >"$work/kube-apiserver.log" 2>&1 &
pids+=($!)
wait_ready kube-apiserver 120 "https://127.0.0.1:$api_port/readyz" "$pki/admin.crt" "$pki/admin.key"
ready=$(date +%s)

cat >"$work/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: k8s-check
    cluster:
      server: https://127.0.0.1:$api_port
      certificate-authority: $pki/ca.crt
users:
  - name: admin
    user:
      client-certificate: $pki/admin.crt
      client-key: $pki/admin.key
contexts:
  - name: k8s-check
    context: {cluster: k8s-check, user: admin}
current-context: k8s-check
EOF

# ------------------------------------------------------------------ the chart

# In the background and waited for: bash runs a trap only between commands, so
# a signal during a foreground command would wait for it to end.
KUBECONFIG="$work/kubeconfig" HELM="$helm" K8S_CHECK_WORK="$work" \
  "$python" "$repo/helm/tests/test_install.py" &
pids+=($!)
wait "${pids[-1]}"

finished=$(date +%s)
log "times: binaries $((built - started)) s, etcd and kube-apiserver ready $((ready - built)) s, chart checks $((finished - ready)) s, total $((finished - started)) s"
