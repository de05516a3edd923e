# Tributary build, run and test entry points. `make help` lists them.

GO        ?= go
BIN       := bin/tributary
FUZZTIME  ?= 60s
BENCH     ?= .
BENCHTIME ?= 1s
COUNT     ?= 1
# GOTESTFLAGS adds flags to `make test`; CI passes -count=1 so that no result
# comes from the test cache.
GOTESTFLAGS ?=

SHELL       := bash
.SHELLFLAGS := -eu -o pipefail -c

.PHONY: help build run cluster test test-deps vet fuzz bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## build bin/tributary
	$(GO) build -o $(BIN) ./cmd/tributary

run: build ## build, then run one node with the defaults (data in ./data, MQTT 127.0.0.1:1883, Kafka 127.0.0.1:9092, HTTP 127.0.0.1:8080, raft 127.0.0.1:7946)
	./$(BIN) serve

cluster: build ## build, then run three nodes behind HAProxy on loopback (MQTT via HAProxy 127.0.0.1:1883, Kafka 127.0.0.1:19092/29092/39092; data in ./data-cluster)
	@command -v haproxy >/dev/null || test -x /usr/sbin/haproxy || (echo "make cluster needs HAProxy: apt-get install -y haproxy" >&2; exit 1)
	$(GO) run ./chaos/cmd/localcluster -bin $(BIN) -dir data-cluster

test: test-deps vet ## install missing test dependencies, vet, then run every test with the race detector
	$(GO) test -race -timeout 15m $(GOTESTFLAGS) ./...

test-deps: ## install the Debian packages the tests need, only those missing
	bash .ci/install-test-deps

vet: ## go vet every package
	$(GO) vet ./...

fuzz: ## run every Fuzz target in the repository for FUZZTIME (default 60s) each
	GO=$(GO) FUZZTIME=$(FUZZTIME) bash .ci/fuzz

bench: ## run the benchmarks (BENCH regexp, BENCHTIME, COUNT; use COUNT=10 for benchstat)
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchtime $(BENCHTIME) -count $(COUNT) -benchmem ./...

clean: ## remove build output (never ./data or ./data-cluster: they are nodes' state)
	rm -rf bin
