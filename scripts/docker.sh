#!/usr/bin/env bash
# A Docker Engine for the container tests and the image build, when none answers.
#
#   scripts/docker.sh up       install Debian's docker.io if missing, start dockerd with its
#                              state under ~/.cache/orderflow/docker (outside the checkout,
#                              like the Kafka jars: built images and the build cache serve
#                              every clone), wait until it answers; prints the
#                              DOCKER_HOST to use (the last line of standard output)
#   scripts/docker.sh down     stop the dockerd that `up` started (and its containers)
#   scripts/docker.sh status   print DOCKER_HOST when a daemon answers, else fail
#   scripts/docker.sh host     print the DOCKER_HOST of the daemon `up` starts
#
# A daemon that already answers (DOCKER_HOST, or the default socket) is used as it is:
# `up` prints its address and starts nothing, `down` leaves it alone.
#
# Callers export DOCKER_HOST (the testcontainers crate and the docker client both honour
# it) and run the client named by DOCKER: the docker.io package's /usr/bin/docker when
# present, because a newer client first on the PATH may want the buildx plugin for
# BuildKit builds, which the docker.io client does itself.
#
# Settings (environment):
#   DOCKER_STATE_DIR          data root, logs (default ~/.cache/orderflow/docker)
#   DOCKER_START_TIMEOUT      seconds to wait for the daemon to answer (default 60)
#   DOCKER_STORAGE_DRIVER     storage driver (default: dockerd's choice; vfs where
#                             overlay mounts are refused)
set -euo pipefail

state=${DOCKER_STATE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/orderflow/docker}
log() { printf 'docker: %s\n' "$*" >&2; }
die() { printf 'docker: error: %s\n' "$*" >&2; exit 1; }

# Unix socket paths are limited to 108 bytes, and dockerd puts containerd's sockets
# below its exec root: a deep checkout gets a short run directory under /run instead.
run_dir="$state/run"
if [ "${#run_dir}" -gt 60 ]; then
  run_dir="/run/orderflow-docker-$(printf '%s' "$state" | md5sum | cut -c1-12)"
fi
socket="$run_dir/docker.sock"
pidfile="$run_dir/dockerd.pid"
our_host="unix://$socket"

client() {
  if [ -n "${DOCKER:-}" ]; then echo "$DOCKER"
  elif [ -x /usr/bin/docker ]; then echo /usr/bin/docker
  else command -v docker || echo /usr/bin/docker
  fi
}

answers() { # DOCKER_HOST value ("" = the client's default)
  local host=$1 cli
  cli=$(client)
  [ -x "$cli" ] || command -v "$cli" >/dev/null || return 1
  if [ -n "$host" ]; then
    DOCKER_HOST=$host timeout 10 "$cli" version --format '{{.Server.Version}}' >/dev/null 2>&1
  else
    env -u DOCKER_HOST timeout 10 "$cli" version --format '{{.Server.Version}}' >/dev/null 2>&1
  fi
}

ours_alive() {
  local pid
  pid=$(cat "$pidfile" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# The daemon already answering, if any: ours, then DOCKER_HOST, then the default socket.
existing_host() {
  if ours_alive && answers "$our_host"; then echo "$our_host"; return 0; fi
  if [ -n "${DOCKER_HOST:-}" ] && answers "$DOCKER_HOST"; then echo "$DOCKER_HOST"; return 0; fi
  if answers ""; then echo "unix:///var/run/docker.sock"; return 0; fi
  return 1
}

as_root() {
  [ "$(id -u)" = 0 ] || die "starting a Docker Engine needs root (dockerd creates namespaces, \
cgroups and iptables rules); run as root, or start Docker yourself and set DOCKER_HOST"
}

install_engine() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  [ -x /usr/bin/docker ] || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  [ ${#missing[@]} -gt 0 ] || return 0
  command -v apt-get >/dev/null || die "no dockerd and no apt-get to install it: install a Docker Engine and set DOCKER_HOST"
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  log "installing ${missing[*]} (Debian packages)"
  # Installing docker.io must not start the system's own daemon on /var/run/docker.sock:
  # policy-rc.d answering 101 tells the package scripts to start no service.
  local policy=/usr/sbin/policy-rc.d made_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
  fi
  local status=0
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null; } || status=$?
  [ -z "$made_policy" ] || rm -f "$policy"
  [ "$status" = 0 ] || die "apt-get could not install ${missing[*]}"
}

check_namespaces() {
  unshare --mount --net --pid --uts --ipc --fork true 2>/dev/null ||
    die "this environment refuses to create namespaces (unshare failed), so dockerd cannot \
run containers here; run the tests without Docker (make test) or point DOCKER_HOST at an engine elsewhere"
}

up() {
  local host
  if host=$(existing_host); then
    log "a Docker daemon answers at $host"
    echo "$host"
    return 0
  fi
  as_root
  install_engine
  check_namespaces
  mkdir -p "$state/data" "$run_dir"
  rm -f "$socket" "$pidfile"
  local driver=()
  [ -z "${DOCKER_STORAGE_DRIVER:-}" ] || driver=(--storage-driver "$DOCKER_STORAGE_DRIVER")
  log "starting dockerd (data root $state/data, socket $socket)"
  # --ip: ports that containers publish without naming an address (testcontainers,
  # `docker run -p 9092`) listen on loopback only, never on the machine's network.
  # setsid: the daemon outlives this script (callers stop it with `down`), and a
  # Ctrl-C in the caller's terminal reaches the caller's trap, not the daemon.
  setsid dockerd \
    --data-root "$state/data" \
    --exec-root "$run_dir/exec" \
    --pidfile "$pidfile" \
    --host "$our_host" \
    --ip 127.0.0.1 \
    "${driver[@]}" \
    >"$state/dockerd.log" 2>&1 </dev/null &
  local deadline=$((SECONDS + ${DOCKER_START_TIMEOUT:-60})) pid=$!
  until answers "$our_host"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$state/dockerd.log" >&2 || true
      die "dockerd exited during start (log: $state/dockerd.log)"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 30 "$state/dockerd.log" >&2 || true
      kill -TERM "$pid" 2>/dev/null || true
      die "dockerd did not answer within ${DOCKER_START_TIMEOUT:-60} s (log: $state/dockerd.log)"
    fi
    sleep 0.5
  done
  log "dockerd $(DOCKER_HOST=$our_host "$(client)" version --format '{{.Server.Version}}'), storage driver \
$(DOCKER_HOST=$our_host "$(client)" info --format '{{.Driver}}'), answers at $our_host"
  echo "$our_host"
}

down() {
  local pid
  if ! ours_alive; then
    log "no dockerd started by this script is running"
    rm -f "$pidfile"
    return 0
  fi
  pid=$(cat "$pidfile")
  # dockerd stops its containers on SIGTERM (10 s each at most) and its containerd with it.
  kill -TERM "$pid"
  local deadline=$((SECONDS + 60))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "dockerd did not stop within 60 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      # dockerd bind-mounts its data root onto itself and undoes it only when it stops
      # cleanly; left mounted, the cache could not be removed.
      umount -l "$state/data" 2>/dev/null || true
      break
    fi
    sleep 0.3
  done
  rm -f "$pidfile" "$socket"
  log "stopped dockerd"
}

cmd=${1:-}
case $cmd in
  up) up ;;
  down) down ;;
  status) existing_host || { log "no Docker daemon answers"; exit 1; } ;;
  host) echo "$our_host" ;;
  client) client ;;
  *) sed -n '2,22p' "$0" >&2; exit 2 ;;
esac
