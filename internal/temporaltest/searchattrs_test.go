package temporaltest

import (
	"slices"
	"testing"
)

// TestDevServerFlags: the flags name each attribute with the CLI's type name.
func TestDevServerFlags(t *testing.T) {
	if got, want := devServerFlags(), []string{"--search-attribute", "WindflowEnvironment=Keyword"}; !slices.Equal(got, want) {
		t.Fatalf("devServerFlags() = %q, want %q", got, want)
	}
}
