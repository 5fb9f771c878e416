#!/usr/bin/env bash
# faults.sh is `make faults`: the fault suite, every case with
# the race detector on the real stack, each printing its figure (a
# "faults: ..." line) and asserting it:
#
#   TestFaultWorkerKill               api         worker process SIGKILLed 5 times mid-stream
#   TestFaultStoreOutage              activities  PostgreSQL cut for 60 s
#   TestFaultEnvironmentDeleted       activities  an environment deleted under its workflow
#   TestFaultTemporalRestart          activities  a (private) Temporal server restarted
#   TestFaultSlowEventConsumer        activities  events dropped for a reader held up: recovered or a gap
#   TestFaultHostileEngine            activities  1 GiB, endless, slow and malformed answers, 100,000 containers
#   TestFaultSlowPeer                 api         100 sends a service to a peer that never answers: goroutines, fds flat
#   TestFaultAgentBehindNAT           api         engine and agent in a network namespace: direct dial fails, collection via the agent works
#   TestEndToEnd_EventsEngineRestart  api         dockerd restarted under a stream: one gap
#   TestHostileRequests               api         1,200 seeded hostile requests: 0 answers >= 500
#
# It brings up what is missing of the stack and stops afterwards only what
# this run started (what an earlier run started is left as it was).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
mkdir -p .data
PATTERN='^(TestFault|TestEndToEnd_EventsEngineRestart$|TestHostile)'
before=$(cat .data/started 2>/dev/null || true)
rm -f .data/started
restore() {
  scripts/stack.sh down
  if [ -n "$before" ]; then printf '%s\n' "$before" > .data/started; fi
}
trap restore EXIT
scripts/stack.sh
source .data/stack.env
export WINDFLOW_REQUIRE_STACK=1
log=$(mktemp)
status=0
go test -race -count=1 -timeout 20m -v -run "$PATTERN" ./api/ ./activities/ >"$log" 2>&1 || status=$?
grep -E '^(=== RUN|--- |\s+[a-z_]+_test\.go:[0-9]+: (faults:|seed )|FAIL|ok |panic)' "$log" || true
if [ "$status" != 0 ]; then
  echo "fault suite failed; full output:" >&2
  cat "$log" >&2
fi
rm -f "$log"
exit "$status"
