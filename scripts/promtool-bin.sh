#!/usr/bin/env bash
# Prints the path of promtool (Prometheus's rule checker), which scripts/helm-check.sh
# runs on the chart's alert rules: $PROMTOOL if set, else the pinned version cached in
# ~/.cache/orderflow/bin, built there first when missing (needs Go and the Go module
# proxy; several minutes the first time: promtool links every service discovery).
#
# `go install .../cmd/promtool@version` refuses the module (its go.mod has replace
# directives), so the module is fetched with `go mod download` (checked against the Go
# checksum database) and built as its own main module, with its go.mod and go.sum, as
# Prometheus's release builds do.
#
# Settings (environment):
#   PROMTOOL          promtool binary to use instead of the pinned one
#   PROMTOOL_VERSION  pinned Go module version of github.com/prometheus/prometheus
#                     (default v0.315.1, Prometheus 3.15.1)
set -euo pipefail

version=${PROMTOOL_VERSION:-v0.315.1}
bin_dir="${XDG_CACHE_HOME:-$HOME/.cache}/orderflow/bin/promtool-$version"

die() { printf 'promtool: error: %s\n' "$*" >&2; exit 1; }

if [ -n "${PROMTOOL:-}" ]; then
  promtool=$PROMTOOL
  [ -x "$promtool" ] || promtool=$(command -v "$promtool") || die "PROMTOOL=$PROMTOOL is not an executable"
elif [ -x "$bin_dir/promtool" ]; then
  promtool="$bin_dir/promtool"
else
  command -v go >/dev/null || die "promtool is missing and Go is not installed to build it (or set PROMTOOL=/path/to/promtool)"
  printf 'promtool: building promtool %s into %s (first run only)\n' "$version" "$bin_dir" >&2
  tmp=$(mktemp -d)
  trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT
  module=$(cd "$tmp" && go mod download -json "github.com/prometheus/prometheus@$version" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$module" ] || die "go mod download github.com/prometheus/prometheus@$version failed"
  # The module cache is read-only; the build writes nothing there but Go wants a
  # module root it may lock, so it builds in a copy. GOWORK=off: the module's go.work
  # names folders its zip leaves out.
  cp -r "$module" "$tmp/prometheus"
  chmod -R u+w "$tmp/prometheus"
  mkdir -p "$bin_dir"
  (cd "$tmp/prometheus" && GOWORK=off nice -n 10 go build -trimpath -ldflags "-s -w" \
    -o "$bin_dir/promtool" ./cmd/promtool) >&2
  promtool="$bin_dir/promtool"
fi
printf '%s\n' "$promtool"
