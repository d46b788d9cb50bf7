#!/usr/bin/env bash
# Installs what building and testing orderflow needs and is missing: the system
# packages librdkafka's build links against, kcat, hey (the gateway's load test), the
# Python packages the interoperability tests use (in a virtualenv under .cache/venv) and the packages of the
# Node.js producer example (npm ci, from its lock file). Idempotent.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { printf 'deps: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root to run: $*"; return 1; fi
}

# Debian package -> a file that proves it is installed.
missing=()
check() { [ -e "$2" ] || missing+=("$1"); }
if command -v dpkg >/dev/null; then
  for pkg in cmake pkg-config libssl-dev libcurl4-openssl-dev g++ make kcat hey python3-venv; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
else
  for tool in cmake pkg-config c++ make kcat hey; do
    command -v "$tool" >/dev/null || log "warning: $tool not found; install it with your package manager"
  done
fi

venv="$repo/.cache/venv"
if [ ! -x "$venv/bin/python" ]; then
  log "creating $venv"
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import confluent_kafka, fastavro, yaml, confluent_kafka.schema_registry.avro, kubernetes_validate' 2>/dev/null; then
  log "installing Python packages (confluent-kafka, fastavro, pyyaml, kubernetes-validate)"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$repo/scripts/requirements.txt"
fi

# The Node.js producer example's packages, exactly as its package-lock.json pins them
# (tests/integration/examples.rs runs the example); again when the lock file changed.
node_example="$repo/examples/producers/node"
installed="$node_example/node_modules/.package-lock.json"
if ! command -v npm >/dev/null; then
  log "warning: npm not found: install Node.js 20.19+ with npm, or the Node.js example's test fails"
elif [ ! -e "$installed" ] || [ "$node_example/package-lock.json" -nt "$installed" ]; then
  log "installing the Node.js example's packages (npm ci)"
  (cd "$node_example" && npm ci --no-audit --no-fund --loglevel=error)
fi
