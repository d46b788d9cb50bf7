# orderflow: `make run` starts the dev stack, `make test` runs every test suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo
FUZZ_SECONDS ?= 600
E2E_ORDERS ?= 10000
SCENARIO ?= broker
N ?= 10
LOAD ?= 2

.PHONY: help run test lint fmt deps build schema-check helm-check helm-docs k8s-check fuzz e2e bench bench-gateway bench-micro profile chaos chaos-repeat \
	kafka-up kafka-down kafka-cluster kafka-logs registry-up registry-down \
	test-containers image docker-up docker-down

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

run: deps ## the dev stack: embedded broker, every worker, generated traffic, live view
	$(CARGO) run --locked -p orderflow -- dev

test: ## every test suite against a real Apache Kafka (started if needed)
	bash scripts/test.sh

test-containers: deps ## the integration suite through testcontainers, then the image's smoke test (starts Docker if needed)
	bash scripts/test.sh --containers

image: ## build orderflow:dev from the Dockerfile, base images built locally (no container registry)
	bash scripts/images.sh product

docker-up: ## start a Docker Engine with its state in ~/.cache/orderflow/docker unless one answers; prints DOCKER_HOST
	@bash scripts/docker.sh up >/dev/null && echo "export DOCKER_HOST=$$(bash scripts/docker.sh status)"

docker-down: ## stop the Docker Engine docker-up started
	bash scripts/docker.sh down

lint: deps ## rustfmt and clippy, warnings denied
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --all-features --locked -- -D warnings

fmt: ## format the code
	$(CARGO) fmt --all

deps: ## install missing system and Python packages
	bash scripts/deps.sh

build: deps ## build every binary (release)
	$(CARGO) build --release --locked --bins

schema-check: ## prove every schema backward- and forward-compatible with its earlier versions
	$(CARGO) build --workspace --bins --locked
	$${CARGO_TARGET_DIR:-target}/debug/orderflow schemas check --dir schemas
	$${CARGO_TARGET_DIR:-target}/debug/orderflow schemas check --dir examples/temperature-alerts/schemas

helm-check: deps ## helm lint --strict, rendered-manifest tests, strict Kubernetes and CRD schemas
	bash scripts/helm-check.sh

helm-docs: ## write the chart's README (helm/orderflow/README.md) from its values' comments
	bash scripts/helm-docs.sh

k8s-check: deps ## install, upgrade, test and uninstall the chart in a real kube-apiserver
	bash scripts/k8s-check.sh

fuzz: ## fuzz the decoder for FUZZ_SECONDS (default 600)
	bash scripts/fuzz.sh $(FUZZ_SECONDS)

bench: deps ## throughput, CPU, memory and latency: passthrough vs workers vs Kafka Streams
	bash scripts/bench.sh

profile: deps ## callgrind profiles of the bare client loop and order-status at steady state
	bash scripts/profile.sh

bench-gateway: deps ## HTTP load test of the gateway with hey: requests/s, p50/p99; results in bench/results/gateway.md
	bash scripts/bench-gateway.sh

bench-micro: ## Criterion: codec against other Avro crates, each worker's function; table in bench/results/micro.md
	rm -rf $${CARGO_TARGET_DIR:-target}/criterion
	$(CARGO) bench --locked -p orderflow-events --features registry-double --bench codec
	$(CARGO) bench --locked -p orderflow --bench workers
	python3 bench/micro.py $${CARGO_TARGET_DIR:-target}/criterion bench/results/micro.md

chaos: deps ## the failure suite at full size; report in docs/chaos-report.md
	rm -f target/chaos-report.jsonl
	ORDERFLOW_CHAOS=full TEST_FILTER=chaos:: TEST_THREADS=1 bash scripts/test.sh
	.cache/venv/bin/python scripts/chaos-report.py target/chaos-report.jsonl docs/chaos-report.md

chaos-repeat: deps ## one scenario N times under load: SCENARIO=broker|leader|sigkill|... N=10 LOAD=2
	bash scripts/chaos-repeat.sh $(SCENARIO) $(N) $(LOAD)

e2e: deps ## the end-to-end test with E2E_ORDERS orders (default 10000)
	ORDERFLOW_E2E_ORDERS=$(E2E_ORDERS) TEST_FILTER=e2e:: bash scripts/test.sh

kafka-up: ## start a local Apache Kafka broker on 127.0.0.1:9092
	bash scripts/kafka.sh up

kafka-cluster: ## start a local three-broker Apache Kafka cluster on 127.0.0.1:9092-9094
	bash scripts/kafka.sh up --brokers 3

kafka-down: ## stop the local Apache Kafka broker(s)
	bash scripts/kafka.sh down

kafka-logs: ## print the local brokers' logs
	bash scripts/kafka.sh logs

registry-up: ## start Apicurio Registry (Confluent-compatible API) on 127.0.0.1:8081
	bash scripts/registry.sh up

registry-down: ## stop the local schema registry
	bash scripts/registry.sh down
