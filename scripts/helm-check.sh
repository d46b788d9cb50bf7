#!/usr/bin/env bash
# Lint and test the orderflow Helm chart (helm/orderflow).
#
#   scripts/helm-check.sh
#
# 1. Finds helm, or builds the pinned version once (scripts/helm-bin.sh).
# 2. `helm lint --strict` with the default values and every example profile
#    under helm/orderflow/examples/.
# 3. Checks that the chart's README is what helm-docs makes of values.yaml
#    (scripts/helm-docs.sh --check).
# 4. Renders the chart with many value sets and checks the manifests
#    (helm/tests/test_chart.py, Python 3 + PyYAML).
# 5. Tests the alert rules of the PrometheusRule with promtool (the pinned version,
#    scripts/promtool-bin.sh): `promtool check rules`, then the cases of
#    helm/tests/alerts.test.yaml with `promtool test rules`.
# 6. Validates every profile's manifests strictly (unknown fields refused)
#    against the Kubernetes API schemas of the oldest and newest supported
#    versions, and the custom resources against the pinned KEDA and Prometheus
#    Operator CRDs (helm/tests/test_schemas.py; kubernetes-validate, and Go to
#    fetch the CRDs' modules).
#
# Settings (environment): HELM, HELM_VERSION (see scripts/helm-bin.sh), PROMTOOL,
# PROMTOOL_VERSION (see scripts/promtool-bin.sh).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
chart="$repo/helm/orderflow"
log() { printf 'helm-check: %s\n' "$*" >&2; }
die() { printf 'helm-check: error: %s\n' "$*" >&2; exit 1; }

helm=$(bash "$repo/scripts/helm-bin.sh")
log "using $("$helm" version --short 2>/dev/null || echo "$helm")"

log "helm lint --strict (default values)"
"$helm" lint --strict "$chart"

profiles=("$chart"/examples/*.yaml)
[ -e "${profiles[0]}" ] || die "no example profiles under helm/orderflow/examples"
for profile in "${profiles[@]}"; do
  log "helm lint --strict -f examples/$(basename "$profile")"
  "$helm" lint --strict "$chart" -f "$profile"
done

log "the chart's README is what helm-docs makes of values.yaml"
bash "$repo/scripts/helm-docs.sh" --check

python="$repo/.cache/venv/bin/python"
[ -x "$python" ] || python=python3
if ! "$python" -c 'import yaml, kubernetes_validate, jsonschema' 2>/dev/null; then
  log "installing PyYAML, kubernetes-validate and jsonschema for the manifest tests"
  # The versions pinned for the project's venv (scripts/requirements.txt).
  mapfile -t pins < <(grep -E '^(pyyaml|kubernetes-validate|jsonschema)==' "$repo/scripts/requirements.txt")
  "$python" -m pip install -q "${pins[@]}"
fi

log "rendered-manifest tests"
HELM="$helm" "$python" "$repo/helm/tests/test_chart.py"

log "alert rules: promtool check rules, promtool test rules (helm/tests/alerts.test.yaml)"
promtool=$(bash "$repo/scripts/promtool-bin.sh")
rules_dir=$(mktemp -d)
trap 'rm -rf "$rules_dir"' EXIT
# The rules as the chart renders them with the default thresholds, in the namespace
# and release the test cases name.
"$helm" template orderflow "$chart" --namespace orderflow-test --set prometheusRule.enabled=true \
  --show-only templates/prometheusrule.yaml |
  "$python" -c 'import sys, yaml; yaml.safe_dump({"groups": yaml.safe_load(sys.stdin)["spec"]["groups"]}, sys.stdout, sort_keys=False)' \
  >"$rules_dir/rules.yaml"
cp "$repo/helm/tests/alerts.test.yaml" "$rules_dir/"
"$promtool" check rules "$rules_dir/rules.yaml"
"$promtool" test rules "$rules_dir/alerts.test.yaml"

command -v go >/dev/null || die "Go is needed to fetch the pinned CRDs (go mod download)"
log "strict schema validation of every profile"
HELM="$helm" "$python" "$repo/helm/tests/test_schemas.py"
