#!/usr/bin/env bash
# Writes helm/orderflow/README.md from the chart's Chart.yaml and the `# --` comments of
# its values.yaml, with helm-docs (the pinned version, built with `go install` into
# ~/.cache/orderflow/bin the first time). With --check it writes nothing and fails when
# the committed README differs from what helm-docs makes of the chart (helm-check runs
# that, so a values change without its README fails the tests).
#
# Settings (environment):
#   HELM_DOCS_VERSION  pinned helm-docs version to build (default v1.14.2)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version=${HELM_DOCS_VERSION:-v1.14.2}
bin_dir="${XDG_CACHE_HOME:-$HOME/.cache}/orderflow/bin/helm-docs-$version"
log() { printf 'helm-docs: %s\n' "$*" >&2; }
die() { printf 'helm-docs: error: %s\n' "$*" >&2; exit 1; }

if [ ! -x "$bin_dir/helm-docs" ]; then
  command -v go >/dev/null || die "Go is needed to build helm-docs"
  log "building helm-docs $version into $bin_dir (go install; first run only)"
  mkdir -p "$bin_dir"
  GOBIN="$bin_dir" nice -n 10 go install -trimpath -ldflags "-s -w" \
    "github.com/norwoodj/helm-docs/cmd/helm-docs@$version" >&2
fi

generate() { # $1: a folder holding the chart folder `orderflow`
  "$bin_dir/helm-docs" --chart-search-root "$1" --log-level warning \
    --template-files "$repo/helm/README.md.gotmpl" >&2
}

case ${1:-} in
  --check)
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    cp -r "$repo/helm/orderflow" "$tmp/orderflow"
    generate "$tmp"
    diff -u "$repo/helm/orderflow/README.md" "$tmp/orderflow/README.md" >&2 ||
      die "helm/orderflow/README.md is out of date with the chart: run make helm-docs"
    log "helm/orderflow/README.md is up to date"
    ;;
  "")
    generate "$repo/helm"
    log "wrote helm/orderflow/README.md"
    ;;
  *) die "usage: scripts/helm-docs.sh [--check]" ;;
esac
