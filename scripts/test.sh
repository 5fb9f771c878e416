#!/usr/bin/env bash
# test.sh is `make test`: lint, the check that test fakes stay out of the
# production binary, then every test with the race detector on the stack it
# brings up (a missing stack part fails the tests instead of skipping them).
# It stops afterwards what this run had to start.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
go vet ./...
scripts/lint.sh
go test -count=1 -run '^TestBinaryLinksNoTestPackages$' ./cmd/windflow/
rm -f .data/started
scripts/stack.sh
trap 'scripts/stack.sh down' EXIT
source .data/stack.env
export WINDFLOW_REQUIRE_STACK=1
# The fault suite (TestFault*, minutes of deliberate outages) is `make faults`,
# which CI runs after this.
go test -race -count=1 -timeout 30m -skip '^TestFault' ./...
