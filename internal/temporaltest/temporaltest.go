// Package temporaltest finds the Temporal server of tests that need one.
//
// Tests find it through TEMPORAL_ADDRESS. When it is unset they are
// skipped, unless WINDFLOW_REQUIRE_STACK=1, in which case they fail (as
// storetest does for PostgreSQL).
package temporaltest

import (
	"os"
	"testing"
)

// Address returns TEMPORAL_ADDRESS, skipping (or, with
// WINDFLOW_REQUIRE_STACK=1, failing) the test without it. The server has
// SearchAttributes registered.
func Address(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping a test that needs a Temporal server")
	}
	addr := os.Getenv("TEMPORAL_ADDRESS")
	if addr == "" {
		if os.Getenv("WINDFLOW_REQUIRE_STACK") == "1" {
			t.Fatal("TEMPORAL_ADDRESS is not set and WINDFLOW_REQUIRE_STACK=1")
		}
		t.Skip("TEMPORAL_ADDRESS is not set: skipping a test that needs a Temporal server")
	}
	if err := registerSearchAttributes(addr); err != nil {
		t.Fatal(err)
	}
	return addr
}
