#!/usr/bin/env bash
# Lint and test the orderflow Helm chart (helm/orderflow).
#
#   scripts/helm-check.sh
#
# 1. Finds helm: $HELM if set, else the pinned build cached in
#    ~/.cache/orderflow/bin (outside the checkout, so fresh clones reuse it),
#    else builds the pinned version there with `go install` (needs Go and the
#    Go module proxy; takes a few minutes the first time, cached afterwards).
# 2. `helm lint --strict` with the default values and every example profile
#    under helm/orderflow/examples/.
# 3. Renders the chart with many value sets and checks the manifests
#    (helm/tests/test_chart.py, Python 3 + PyYAML).
#
# Settings (environment):
#   HELM          helm binary to use instead of the pinned one
#   HELM_VERSION  pinned helm version to build (default v3.22.0)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
chart="$repo/helm/orderflow"
helm_version=${HELM_VERSION:-v3.22.0}
bin_dir="${XDG_CACHE_HOME:-$HOME/.cache}/orderflow/bin"

log() { printf 'helm-check: %s\n' "$*" >&2; }
die() { printf 'helm-check: error: %s\n' "$*" >&2; exit 1; }

if [ -n "${HELM:-}" ]; then
  helm=$HELM
  [ -x "$helm" ] || helm=$(command -v "$helm") || die "HELM=$HELM is not an executable"
elif [ -x "$bin_dir/helm" ]; then
  helm="$bin_dir/helm"
else
  command -v go >/dev/null || die "helm is missing and Go is not installed to build it (or set HELM=/path/to/helm)"
  log "building helm $helm_version into $bin_dir (go install; first run only)"
  mkdir -p "$bin_dir"
  GOBIN="$bin_dir" go install "helm.sh/helm/v3/cmd/helm@$helm_version"
  helm="$bin_dir/helm"
fi
log "using $("$helm" version --short 2>/dev/null || echo "$helm")"

log "helm lint --strict (default values)"
"$helm" lint --strict "$chart"

profiles=("$chart"/examples/*.yaml)
[ -e "${profiles[0]}" ] || die "no example profiles under helm/orderflow/examples"
for profile in "${profiles[@]}"; do
  log "helm lint --strict -f examples/$(basename "$profile")"
  "$helm" lint --strict "$chart" -f "$profile"
done

python="$repo/.cache/venv/bin/python"
[ -x "$python" ] || python=python3
if ! "$python" -c 'import yaml' 2>/dev/null; then
  log "installing PyYAML for the manifest tests"
  "$python" -m pip install -q pyyaml
fi

log "rendered-manifest tests"
HELM="$helm" "$python" "$repo/helm/tests/test_chart.py"
