#!/usr/bin/env bash
# test.sh is `make test`: bring up the stack, run every test with the race
# detector (a missing stack part fails the tests instead of skipping them),
# then stop what this run had to start.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
rm -f .data/started
scripts/stack.sh
trap 'scripts/stack.sh down' EXIT
source .data/stack.env
export WINDFLOW_REQUIRE_STACK=1
go vet ./...
# The fault suite (TestFault*, minutes of deliberate outages) is `make faults`,
# which CI runs after this.
go test -race -count=1 -timeout 30m -skip '^TestFault' ./...
