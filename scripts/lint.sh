#!/usr/bin/env bash
# lint.sh is `make lint`: golangci-lint at a pinned version with the rules
# of .golangci.yml. It builds the linter into bin/ with this machine's Go
# toolchain when bin/golangci-lint is missing or at another version (a
# couple of minutes, once). Extra arguments go to `golangci-lint run`.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
GOLANGCI_LINT_VERSION=v2.15.0
LINT="$ROOT/bin/golangci-lint"
mkdir -p "$ROOT/bin"
if ! "$LINT" version 2>/dev/null | grep -q "version ${GOLANGCI_LINT_VERSION#v} "; then
  echo "lint: building golangci-lint $GOLANGCI_LINT_VERSION into bin/" >&2
  GOBIN="$ROOT/bin" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_LINT_VERSION"
fi
exec "$LINT" run "$@" ./...
