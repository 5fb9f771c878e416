package envflow

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/workflows"
)

// FullPatch applied to any settings gives the target: the reconciler needs
// nothing but the stored row to bring a workflow in step.
func TestFullPatchGivesTheTarget(t *testing.T) {
	target := workflows.DefaultSettings()
	target.MetricsInterval = 45 * time.Second
	target.Paused = true
	target.CollectMetrics = false
	target.EventsEnabled = false
	target.EventMode = workflows.EventModePoll
	target.PollInterval = 90 * time.Second
	target.DiskThresholdMode = workflows.DiskThresholdBytes
	target.DiskCapacityBytes = -1
	target.DiskCooldown = 2 * time.Hour
	for _, from := range []workflows.Settings{workflows.DefaultSettings(), {MetricsInterval: 5 * time.Minute, OfflineAfter: 20}} {
		got, err := FullPatch(target).Apply(from)
		if err != nil {
			t.Fatal(err)
		}
		if got != target {
			t.Fatalf("FullPatch(target).Apply(%+v) = %+v, want %+v", from, got, target)
		}
	}
	// The round trip through a stored row keeps every field.
	if back := SettingsOf(WithSettings(store.Environment{}, target)); back != target {
		t.Fatalf("SettingsOf(WithSettings(target)) = %+v", back)
	}
}

func TestCheckVersion(t *testing.T) {
	env := store.Environment{ID: uuid.New(), Version: 3}
	for _, tc := range []struct {
		ifMatch []int64
		ok      bool
	}{{nil, true}, {[]int64{3}, true}, {[]int64{1, 3}, true}, {[]int64{2}, false}, {[]int64{-1}, false}} {
		err := checkVersion(env, tc.ifMatch)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrVersionMismatch)) {
			t.Errorf("checkVersion(version 3, %v) = %v, want ok=%t", tc.ifMatch, err, tc.ok)
		}
	}
}
