# One image with every orderflow binary in /usr/local/bin:
#   order-validator, order-status, notifier, risk-scorer, order-saga (the workers) and
#   orderflow (operator CLI, e.g. `orderflow topics ensure`).
# Each Kubernetes Deployment picks its worker with `command: [<worker>]`.
#
#   docker build -t orderflow:0.1.0 .
#   docker run --rm orderflow:0.1.0                      # orderflow --help
#   docker run --rm orderflow:0.1.0 order-validator --help
#
# Needs BuildKit (the default builder of current Docker, and of buildx; set
# DOCKER_BUILDKIT=1 for older clients) for the cache mounts below; they only
# speed up rebuilds and never hold the final binaries, which are copied out
# within the same RUN step. There is no `# syntax=` line on purpose: it makes
# BuildKit pull its front-end image, and the built-in one is enough here.
#
# Both base images are build arguments. Without a registry, `make image` builds
# them locally (scripts/images.sh): a debootstrap Debian bookworm for the
# runtime and, for the build stage, that image with the machine's Rust
# toolchain, so every step below runs as it does with the registry images.

ARG RUST_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# --------------------------------------------------------------------------
# Build: librdkafka is compiled from source (cmake) by rdkafka-sys and links
# the system OpenSSL and libcurl dynamically, hence the -dev packages here
# and the matching runtime libraries below.
FROM ${RUST_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      cmake pkg-config libssl-dev libcurl4-openssl-dev g++ make \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# The whole workspace (trimmed by .dockerignore): Cargo.lock pins every
# dependency and --locked refuses to build if it is out of date.
COPY . .

# Cache mounts: the crates.io registry, git checkouts and the target dir
# survive between builds. sharing=locked serialises concurrent builds that
# would otherwise corrupt a shared target dir. Binaries are copied to /out
# in this same step because a cache mount is not part of the image. The
# release profile keeps line tables for profiling on a build machine; in the
# image they would be four fifths of each binary, so they are stripped there
# (the symbols stay: backtraces still name functions).
RUN --mount=type=cache,id=orderflow-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=orderflow-cargo-git,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,id=orderflow-target,target=/src/target,sharing=locked \
    cargo build --release --locked --bins \
      -p order-validator -p order-status -p notifier -p risk-scorer -p order-saga -p orderflow \
 && mkdir -p /out \
 && for bin in order-validator order-status notifier risk-scorer order-saga orderflow; do \
      objcopy --strip-debug "target/release/$bin" "/out/$bin" || exit 1; \
    done

# --------------------------------------------------------------------------
# Runtime: Debian bookworm-slim with only the shared libraries the binaries
# link (libssl3, libcurl4) and the CA bundle for TLS to Kafka and the schema
# registry. Same Debian release as the build stage, so the library ABIs match.
FROM ${RUNTIME_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl3 libcurl4 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 orderflow \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin orderflow

COPY --from=build /out/ /usr/local/bin/

# Fail the build, not the first pod, if a shared library is missing, and
# check that every binary starts.
RUN set -e; \
    for bin in order-validator order-status notifier risk-scorer order-saga orderflow; do \
      if ldd "/usr/local/bin/$bin" | grep -q 'not found'; then \
        ldd "/usr/local/bin/$bin"; exit 1; \
      fi; \
      "/usr/local/bin/$bin" --help >/dev/null; \
    done

LABEL org.opencontainers.image.title="orderflow" \
      org.opencontainers.image.description="orderflow stream-processing workers (Kafka, Avro) and operator CLI" \
      org.opencontainers.image.source="https://github.com/orderflow/orderflow" \
      org.opencontainers.image.licenses="Apache-2.0"

# Numeric user so Kubernetes' runAsNonRoot can verify it without /etc/passwd.
USER 10001:10001
# /metrics, /healthz, /readyz (ORDERFLOW_HTTP_ADDR, default 0.0.0.0:9090).
EXPOSE 9090
# No ENTRYPOINT: the command is the binary to run (`docker run IMAGE notifier`).
CMD ["orderflow", "--help"]
