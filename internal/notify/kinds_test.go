package notify

import (
	"slices"
	"testing"
)

func TestKinds(t *testing.T) {
	if len(AllKinds) != 9 || AllKinds[0] != KindEnvironmentOffline || AllKinds[8] != KindContainerStopped {
		t.Fatalf("AllKinds = %v", AllKinds)
	}
	want := slices.DeleteFunc(slices.Clone(AllKinds), func(k string) bool {
		return k == KindContainerStarted || k == KindContainerStopped
	})
	if !slices.Equal(DefaultKinds, want) {
		t.Fatalf("DefaultKinds = %v, want %v", DefaultKinds, want)
	}
	tests := []struct {
		kind string
		want bool
	}{
		{KindEnvironmentOffline, true},
		{KindContainerDiedUnexpectedly, true},
		{KindContainerStopped, true},
		{"", false},
		{"container_OOM", false},
		{"oom", false},
		{" container_oom", false},
	}
	for _, tt := range tests {
		if got := ValidKind(tt.kind); got != tt.want {
			t.Errorf("ValidKind(%q) = %v, want %v", tt.kind, got, tt.want)
		}
	}
}
