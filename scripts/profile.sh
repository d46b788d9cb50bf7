#!/usr/bin/env bash
# `make profile`: release builds, a local Apache Kafka broker of its own, then
# bench/profile.py (callgrind profiles of R and S at steady state in bench/results/).
#
# Settings: PROFILE_EVENTS (200000), PROFILE_VARIANTS (R,S), PROFILE_LABEL (latest).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
log() { printf '\n==> %s\n' "$*" >&2; }

PROFILE_VARIANTS=${PROFILE_VARIANTS:-R,S}
bash scripts/deps.sh
if ! command -v valgrind >/dev/null; then
  log "installing valgrind"
  if [ "$(id -u)" = 0 ]; then sudo=(); else sudo=(sudo); fi
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
fi
venv="$repo/.cache/venv"
"$venv/bin/python" -c 'import hdrh, matplotlib' 2>/dev/null || "$venv/bin/pip" install -q -r bench/requirements.txt

log "release build"
packages=()
for variant in ${PROFILE_VARIANTS//,/ }; do
  case $variant in
    R) packages+=(-p kafka-floor) ;;
    P) packages+=(-p orderflow) ;;
    S) packages+=(-p order-status) ;;
    W) packages+=(-p order-validator) ;;
    *) echo "unknown variant $variant (R, P, S or W)" >&2; exit 2 ;;
  esac
done
# The load generator is the CLI's.
cargo build --release --locked --bins -p orderflow "${packages[@]}"

export KAFKA_STATE_DIR="$repo/.cache/kafka-profile"
export KAFKA_PORT=${PROFILE_KAFKA_PORT:-19492}
trap 'bash scripts/kafka.sh down >/dev/null 2>&1 || true' EXIT
bootstrap=$(bash scripts/kafka.sh up | tail -n 1)

log "profile"
"$venv/bin/python" bench/profile.py --bootstrap "$bootstrap" --events "${PROFILE_EVENTS:-200000}" \
  --variants "$PROFILE_VARIANTS" --label "${PROFILE_LABEL:-latest}"
