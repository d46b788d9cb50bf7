#!/usr/bin/env bash
# Prints the path of the helm binary the chart checks use (scripts/helm-check.sh,
# scripts/k8s-check.sh): $HELM if set, else the pinned version cached in
# ~/.cache/orderflow/bin (outside the checkout, so fresh clones reuse it), built
# there with `go install` first when missing (needs Go and the Go module proxy;
# a few minutes the first time).
#
# Settings (environment):
#   HELM          helm binary to use instead of the pinned one
#   HELM_VERSION  pinned helm version to build (default v3.22.0)
set -euo pipefail

helm_version=${HELM_VERSION:-v3.22.0}
bin_dir="${XDG_CACHE_HOME:-$HOME/.cache}/orderflow/bin/helm-$helm_version"

die() { printf 'helm: error: %s\n' "$*" >&2; exit 1; }

if [ -n "${HELM:-}" ]; then
  helm=$HELM
  [ -x "$helm" ] || helm=$(command -v "$helm") || die "HELM=$HELM is not an executable"
elif [ -x "$bin_dir/helm" ]; then
  helm="$bin_dir/helm"
else
  command -v go >/dev/null || die "helm is missing and Go is not installed to build it (or set HELM=/path/to/helm)"
  printf 'helm: building helm %s into %s (go install; first run only)\n' "$helm_version" "$bin_dir" >&2
  # Like helm's release builds, tell it its version and the Kubernetes release of
  # its client-go (v0.X.Y -> 1.X): without that a plain `go install` build
  # renders and lints for Kubernetes 1.20, which fails the chart's kubeVersion.
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  gomod=$(cd "$tmp" && go mod download -json "helm.sh/helm/v3@$helm_version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  kube_minor=$(awk '$1 == "k8s.io/client-go" { split($2, v, "."); print v[2] }' "$gomod")
  [ -n "$kube_minor" ] || die "no k8s.io/client-go in helm $helm_version's go.mod"
  ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$helm_version -X helm.sh/helm/v3/internal/version.metadata="
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$kube_minor"
  done
  mkdir -p "$bin_dir"
  GOBIN="$bin_dir" nice -n 10 go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$helm_version" >&2
  helm="$bin_dir/helm"
fi
printf '%s\n' "$helm"
