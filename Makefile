# orderflow: `make run` starts the dev stack, `make test` runs every test suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo

.PHONY: help run test lint fmt deps build kafka-up kafka-down kafka-cluster kafka-logs

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

run: deps ## the dev stack: embedded broker, every worker, generated traffic
	$(CARGO) run --release --locked -p orderflow -- dev

test: ## every test suite against a real Apache Kafka (started if needed)
	bash scripts/test.sh

lint: deps ## rustfmt and clippy, warnings denied
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt: ## format the code
	$(CARGO) fmt --all

deps: ## install missing system and Python packages
	bash scripts/deps.sh

build: deps ## build every binary (release)
	$(CARGO) build --release --locked --bins

kafka-up: ## start a local Apache Kafka broker on 127.0.0.1:9092
	bash scripts/kafka.sh up

kafka-cluster: ## start a local three-broker Apache Kafka cluster on 127.0.0.1:9092-9094
	bash scripts/kafka.sh up --brokers 3

kafka-down: ## stop the local Apache Kafka broker(s)
	bash scripts/kafka.sh down

kafka-logs: ## print the local brokers' logs
	bash scripts/kafka.sh logs
