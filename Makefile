# The two commands of the README: `make dev` runs Windflow on this machine's
# Docker engine, `make test` runs every test on a real stack. Both bring up
# what is missing (Docker engine, PostgreSQL, Temporal dev server) first.
SHELL := /bin/bash
GO ?= go
BIN := bin

.PHONY: dev test stack build unit vet bench down

build:
	$(GO) build -o $(BIN)/windflow ./cmd/windflow

stack:
	scripts/stack.sh

dev: stack build
	source .data/stack.env && $(BIN)/windflow migrate && exec $(BIN)/windflow dev

# Every test, with the race detector, against the real Docker engine,
# PostgreSQL and Temporal dev server. Stops afterwards what it had to start.
test:
	scripts/test.sh

vet:
	$(GO) vet ./...

bench: stack
	source .data/stack.env && $(GO) test -run '^$$' -bench . -benchtime 20x ./internal/engine/...

down:
	scripts/stack.sh down
