package activities_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/workflows"
)

// TestRecordSettings stores a signalled change like a PUT: applied to the
// stored settings, one more version, marked pending for the reconciler.
func TestRecordSettings(t *testing.T) {
	b := setup(t, "unix:///var/run/docker.sock")
	twenty := 20
	in := workflows.RecordSettingsInput{EnvironmentID: b.env.ID.String(), Patch: workflows.SettingsPatch{MetricsIntervalSeconds: &twenty}}
	if _, err := b.tenv.ExecuteActivity(b.acts.RecordSettings, in); err != nil {
		t.Fatal(err)
	}
	got, err := b.store.GetEnvironment(t.Context(), b.env.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Settings.MetricsInterval != 20*time.Second || got.Version != b.env.Version+1 || !got.SettingsPending {
		t.Fatalf("stored %+v (version %d, pending %t); want 20s, version %d, pending",
			got.Settings, got.Version, got.SettingsPending, b.env.Version+1)
	}
	if got.Settings.OfflineAfter != b.env.Settings.OfflineAfter || got.Settings.CollectMetrics != b.env.Settings.CollectMetrics {
		t.Errorf("other settings changed: %+v, was %+v", got.Settings, b.env.Settings)
	}

	// The same patch again changes nothing: no new version.
	if _, err := b.tenv.ExecuteActivity(b.acts.RecordSettings, in); err != nil {
		t.Fatal(err)
	}
	if again, err := b.store.GetEnvironment(t.Context(), b.env.ID); err != nil || again.Version != got.Version {
		t.Fatalf("a repeated patch: version %d (err %v), want %d", again.Version, err, got.Version)
	}

	// A deleted environment and a rejected patch fail without retry.
	five := 5
	for name, bad := range map[string]workflows.RecordSettingsInput{
		workflows.ErrTypeEnvironmentNotFound: {EnvironmentID: uuid.NewString(), Patch: in.Patch},
		workflows.ErrTypeInvalidSettings:     {EnvironmentID: b.env.ID.String(), Patch: workflows.SettingsPatch{MetricsIntervalSeconds: &five}},
	} {
		_, err := b.tenv.ExecuteActivity(b.acts.RecordSettings, bad)
		if typ, retryable := errorType(err); typ != name || retryable {
			t.Errorf("%s: got %v (type %q, retryable %t)", name, err, typ, retryable)
		}
	}
}
