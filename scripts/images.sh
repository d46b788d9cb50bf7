#!/usr/bin/env bash
# Builds every image the container tests use, from Debian's packages, Maven Central and
# crates.io only: no image is ever pulled from a container registry.
#
#   scripts/images.sh base      localhost/debian:bookworm, a debootstrap minbase root file
#                               system turned into an image with `docker import`
#   scripts/images.sh kafka     apache/kafka:<KAFKA_VERSION>: Apache Kafka from Maven Central
#                               on the base image, with the start-up contract of the
#                               upstream image that testcontainers relies on (docker/kafka/)
#   scripts/images.sh rust      localhost/rust:<version>-bookworm: the machine's Rust
#                               toolchain on the base image, for the Dockerfile's build stage
#   scripts/images.sh product   orderflow:dev (and orderflow:<the chart's appVersion>, the
#                               chart's default image) from the repository's Dockerfile,
#                               its base images given as build arguments
#   scripts/images.sh all       each of the above that is missing or out of date (a name
#                               given in FORCE, e.g. FORCE=kafka, is rebuilt)
#
# Each base image carries a label with a digest of what it is built from (this script's
# recipe, its Dockerfile directory, the Kafka or Rust version, the base image's id): a
# change to any of them rebuilds it, the same inputs reuse it. The product image is built
# every time: BuildKit's layer and cargo caches make an unchanged tree cost seconds and a
# changed one an incremental build, and a stale orderflow:dev is never tested.
#
# Uses the daemon that answers (DOCKER_HOST, the default socket, or the one
# scripts/docker.sh started); when none does, starts one for the build and stops it
# afterwards. The images stay in its data root.
#
# Settings (environment):
#   DOCKER              the docker client (default: scripts/docker.sh client)
#   KAFKA_VERSION       Apache Kafka version of the kafka image (default 4.3.1, the
#                       local broker's)
#   DEBIAN_MIRROR       Debian archive for debootstrap (default http://deb.debian.org/debian)
#   PRODUCT_IMAGE       tag of the product image (default orderflow:dev)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
kafka_version=${KAFKA_VERSION:-4.3.1}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
base_image=localhost/debian:bookworm
kafka_image=apache/kafka:$kafka_version
rust_version=$(rustc --version | awk '{print $2}')
rust_image=localhost/rust:$rust_version-bookworm
product_image=${PRODUCT_IMAGE:-orderflow:dev}
log() { printf 'images: %s\n' "$*" >&2; }
die() { printf 'images: error: %s\n' "$*" >&2; exit 1; }

scratch=""
started_engine=""
cleanup() {
  if [ -n "$scratch" ]; then
    # debootstrap mounts /proc (and more) inside the root it builds and leaves them
    # mounted when it is stopped half-way: unmount before removing, deepest first.
    awk -v root="$scratch/" 'index($2, root) == 1 { print $2 }' /proc/mounts | sort -r |
      while read -r mount; do umount -l "$mount" || true; done
    rm -rf "$scratch"
  fi
  scratch=""
}
finish() {
  local status=$?
  cleanup
  [ -z "$started_engine" ] || bash scripts/docker.sh down || true
  exit "$status"
}
trap finish EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
new_scratch() { cleanup; scratch=$(mktemp -d "${TMPDIR:-/tmp}/orderflow-image.XXXXXX"); }

# BuildKit for cache mounts; the Dockerfiles carry no `# syntax=` line, because that
# makes BuildKit pull its front-end image from a registry.
build() { DOCKER_BUILDKIT=1 "$docker" build --progress=plain "$@"; }

exists() { "$docker" image inspect "$1" >/dev/null 2>&1; }

inputs_label=org.orderflow.inputs
# The digest of what image $1 (base, kafka, rust) is built from.
inputs() {
  {
    declare -f "$1"
    case $1 in
      base) echo "$mirror" ;;
      kafka) echo "$kafka_version"; tar -C docker/kafka --sort=name --mtime=@0 --owner=0 --group=0 -c . ;;
      rust) rustc --version --verbose; tar -C docker/rust --sort=name --mtime=@0 --owner=0 --group=0 -c . ;;
    esac
    [ "$1" = base ] || "$docker" image inspect -f '{{.Id}}' "$base_image"
  } | sha256sum | cut -c1-16
}
up_to_date() { # what image
  [ "$("$docker" image inspect -f "{{index .Config.Labels \"$inputs_label\"}}" "$2" 2>/dev/null)" = "$(inputs "$1")" ]
}

base() {
  command -v debootstrap >/dev/null || die "debootstrap is missing (scripts/docker.sh up installs it)"
  new_scratch
  local root="$scratch/rootfs"
  log "debootstrap --variant=minbase bookworm from $mirror"
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$scratch/debootstrap.log" 2>&1 ||
    { tail -n 30 "$scratch/debootstrap.log" >&2; die "debootstrap failed"; }
  cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian}/debian-security bookworm-security main
EOF
  # What an image needs that a booted system does not: no downloaded packages or
  # indexes kept, no documentation installed by later apt-get runs, no services
  # started by package scripts during a build.
  cat >"$root/etc/dpkg/dpkg.cfg.d/excludes" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    >"$root/etc/apt/apt.conf.d/90no-recommends"
  # apt's binary caches and downloaded packages would be kept in every layer that runs
  # apt-get (tens of MB each); it rebuilds the caches when it needs them.
  cat >"$root/etc/apt/apt.conf.d/90no-caches" <<'EOF'
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb"; };
EOF
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* \
    "$root"/var/log/* \
    "$root"/usr/share/doc/*/changelog* "$root"/usr/share/man/* "$root"/usr/share/info/*
  # Some package scripts (Java's update-alternatives) link into man1 and fail
  # without the folder, even though the pages themselves are not installed.
  mkdir -p "$root/usr/share/man/man1"
  : >"$root/etc/resolv.conf"
  log "importing $base_image ($(du -sh "$root" | cut -f1))"
  tar --numeric-owner -C "$root" -c . | "$docker" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    --change "LABEL $inputs_label=$(inputs base)" \
    --message "Debian bookworm, debootstrap --variant=minbase" - "$base_image" >/dev/null
  cleanup
}

kafka() {
  ensure base "$base_image"
  new_scratch
  local dist
  dist=$(KAFKA_VERSION=$kafka_version bash scripts/kafka.sh fetch-dir)
  cp -r docker/kafka/. "$scratch/"
  cp -r "$dist/libs" "$scratch/libs"
  log "building $kafka_image ($(find "$scratch/libs" -name "*.jar" | wc -l) jars)"
  build --build-arg BASE_IMAGE="$base_image" --build-arg KAFKA_VERSION="$kafka_version" \
    --label "$inputs_label=$(inputs kafka)" -t "$kafka_image" "$scratch"
  cleanup
}

rust() {
  ensure base "$base_image"
  new_scratch
  local sysroot
  sysroot=$(rustc --print sysroot)
  # The compiler, cargo and the standard library; not the documentation (most of the
  # toolchain's size).
  mkdir -p "$scratch/toolchain"
  local part
  for part in bin lib libexec etc; do
    [ ! -d "$sysroot/$part" ] || cp -a "$sysroot/$part" "$scratch/toolchain/"
  done
  # The certificate authorities this machine adds to Debian's (a TLS-inspecting
  # proxy's, say): cargo in the build stage must trust what this network presents.
  mkdir -p "$scratch/local-ca"
  cp /usr/local/share/ca-certificates/*.crt "$scratch/local-ca/" 2>/dev/null || true
  cp docker/rust/Dockerfile "$scratch/"
  log "building $rust_image from the toolchain at $(basename "$sysroot") ($(du -sh "$scratch/toolchain" | cut -f1))"
  build --build-arg BASE_IMAGE="$base_image" --label "$inputs_label=$(inputs rust)" \
    -t "$rust_image" "$scratch"
  cleanup
}

product() {
  ensure base "$base_image"
  ensure rust "$rust_image"
  # Also tagged orderflow:<the chart's appVersion>, the image the chart runs by default.
  local app_version
  app_version=$(awk -F'"' '/^appVersion:/ { print $2 }' helm/orderflow/Chart.yaml)
  [ -n "$app_version" ] || die "no appVersion in helm/orderflow/Chart.yaml"
  log "building $product_image and orderflow:$app_version"
  build --build-arg RUST_IMAGE="$rust_image" --build-arg RUNTIME_IMAGE="$base_image" \
    -t "$product_image" -t "orderflow:$app_version" .
  log "$product_image: $("$docker" image inspect -f '{{.Size}}' "$product_image" |
    awk '{printf "%.1f MB", $1 / 1000000}')"
}

# Builds $2 when it is missing, out of date or named in FORCE (the product image: always);
# prints how long it took.
ensure() {
  local what=$1 image=$2 start=$SECONDS
  if [ "$what" != product ] && [[ " ${FORCE:-} " != *" $what "* ]] && exists "$image"; then
    if up_to_date "$what" "$image"; then
      log "$image is there and up to date"
      return 0
    fi
    log "$image is out of date: rebuilding it"
  fi
  "$what"
  log "$what image $image built in $((SECONDS - start)) s"
}

cmd=${1:-}
if [ "$cmd" != names ]; then
  if ! DOCKER_HOST=$(bash scripts/docker.sh status 2>/dev/null); then
    started_engine=1
    DOCKER_HOST=$(bash scripts/docker.sh up | tail -n 1)
  fi
  export DOCKER_HOST
  docker=${DOCKER:-$(bash scripts/docker.sh client)}
fi
case $cmd in
  base) ensure base "$base_image" ;;
  kafka) ensure kafka "$kafka_image" ;;
  rust) ensure rust "$rust_image" ;;
  product) ensure product "$product_image" ;;
  all)
    ensure base "$base_image"
    ensure kafka "$kafka_image"
    ensure rust "$rust_image"
    ensure product "$product_image" ;;
  names) printf '%s\n' "$base_image" "$kafka_image" "$rust_image" "$product_image" ;;
  *) sed -n '2,26p' "$0" >&2; exit 2 ;;
esac
