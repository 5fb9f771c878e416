package notify

import (
	"slices"
	"testing"
)

func TestKinds(t *testing.T) {
	if len(AllKinds) != 11 || AllKinds[0] != KindEnvironmentOffline || AllKinds[8] != KindContainerStopped ||
		AllKinds[9] != KindAlertFiring || AllKinds[10] != KindAlertResolved {
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
		{KindAlertFiring, true},
		{KindAlertResolved, true},
		{"alert", false},
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
