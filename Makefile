# The two commands of the README: `make dev` runs Windflow on this machine's
# Docker engine, `make test` runs every test on a real stack. Both bring up
# what is missing (Docker engine, PostgreSQL, Temporal dev server) first.
SHELL := /bin/bash
GO ?= go
BIN := bin

.PHONY: dev test unit lint faults stack build build-bench vet bench down scale

build:
	$(GO) build -o $(BIN)/windflow ./cmd/windflow
	$(GO) build -o $(BIN)/windflow-agent ./cmd/windflow-agent

# The scale harness, apart from the production binary.
build-bench:
	$(GO) build -o $(BIN)/windflow-bench ./cmd/windflow-bench

stack:
	scripts/stack.sh

dev: stack build
	source .data/stack.env && $(BIN)/windflow migrate && exec $(BIN)/windflow dev

# Lint, the check that test fakes stay out of bin/windflow, then every test
# with the race detector against the real Docker engine, PostgreSQL and
# Temporal dev server. Stops afterwards what it had to start.
test:
	scripts/test.sh

# The tests that need no stack (no Docker, PostgreSQL, Temporal or
# Chromium): -short makes the stack helpers skip. Under a minute.
unit:
	$(GO) test -race -short -count=1 -timeout 5m ./...

# golangci-lint at the version scripts/lint.sh pins (built into bin/ once),
# with the rules of .golangci.yml.
lint:
	scripts/lint.sh

# The fault suite (scripts/faults.sh lists its cases, every test named
# TestFault* and two more by name): the worker SIGKILLed mid-stream x5,
# PostgreSQL cut 60 s, a private Temporal server restarted, dockerd restarted,
# a slow event consumer, 1,200 hostile requests, an environment deleted under
# its workflow, hostile engines, notification peers that never answer. Each
# case prints its figure ("faults: ..."). About 4 minutes;
# make test skips TestFault*, CI (.ci/run) runs this after make test.
faults:
	scripts/faults.sh

vet:
	$(GO) vet ./...

# Benchmarks on the real stack: a collection cycle, direct and through an
# in-process agent and relay (internal/engine: BenchmarkCycle*), and
# the dashboard's charts through the API handler on 30 days of generated
# metrics (api: BenchmarkMetricsCharts, p50/p99 per chart; ~1 min of data
# generation first), and storing one 50-container cycle with its rollups;
# the dashboard in headless Chromium: the overview's first render with 100
# environments, and a container's start event into the live list; what a
# cached environment workflow costs the worker, and what it keeps per cycle
# (~0 B; a leak would show here, not in a 3-minute scale run).
bench: stack
	source .data/stack.env && $(GO) test -run '^$$' -bench . -benchtime 20x ./internal/engine/...
	source .data/stack.env && $(GO) test -run '^$$' -bench 'MetricsCharts|InsertMetrics50Containers' -benchtime 500x ./api/ ./internal/store/
	source .data/stack.env && $(GO) test -run '^$$' -bench 'Dashboard' -benchtime 20x ./api/
	source .data/stack.env && $(GO) test -run '^$$' -bench 'CachedWorkflowMemory|WorkflowMemoryPerCycle' -benchtime 1x ./workflows/

# Scale harness (cmd/windflow-bench): N environments against fake engines,
# with bin/windflow as worker and api, e.g. make scale ENVS=1000 DURATION=3m
# (SCALE_FLAGS: more flags of `bin/windflow-bench scale -h`). Prints the
# figures next to the targets. AGENTS=1 puts every environment behind an
# agent (agent://; one agent per environment in the harness, all connected
# to the one api), e.g. make scale ENVS=1000 AGENTS=1 DURATION=3m.
ENVS ?= 100
CONTAINERS ?= 10
INTERVAL ?= 30s
WARMUP ?= 0
DURATION ?= 2m
EVENT_EVERY ?= 1m
AGENTS ?=
SCALE_FLAGS ?=
scale: stack build build-bench
	source .data/stack.env && $(BIN)/windflow-bench scale -envs $(ENVS) -containers $(CONTAINERS) \
		-interval $(INTERVAL) -warmup $(WARMUP) -duration $(DURATION) -event-every $(EVENT_EVERY) \
		$(if $(filter 1 true yes,$(AGENTS)),-agents) $(SCALE_FLAGS)

down:
	scripts/stack.sh down
