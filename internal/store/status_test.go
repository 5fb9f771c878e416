package store_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/store"
)

func TestRecordStatusOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")

	change := store.StatusChange{EnvironmentID: env.ID, Online: false, Error: "connection refused", ChangedAt: baseTime}
	inserted, _, err := b.store.RecordStatus(b.ctx, change, nil)
	if err != nil || !inserted {
		t.Fatalf("first RecordStatus = %v, %v; want true, nil", inserted, err)
	}
	retry := change
	retry.Error = "a retry's other error"
	inserted, _, err = b.store.RecordStatus(b.ctx, retry, nil)
	if err != nil || inserted {
		t.Fatalf("second RecordStatus = %v, %v; want false, nil", inserted, err)
	}
	if n := b.count(t, "environment_status"); n != 1 {
		t.Fatalf("environment_status rows = %d, want 1", n)
	}
	got, err := b.store.LatestStatus(b.ctx, env.ID)
	if err != nil {
		t.Fatalf("LatestStatus: %v", err)
	}
	if got.EnvironmentID != change.EnvironmentID || got.Online != change.Online ||
		got.Error != change.Error || !got.ChangedAt.Equal(change.ChangedAt) {
		t.Fatalf("LatestStatus = %+v, want %+v", got, change)
	}
}

func TestRecordStatusErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")

	tests := []struct {
		name   string
		change store.StatusChange
		want   error
	}{
		{"unknown environment", store.StatusChange{EnvironmentID: unknownID, ChangedAt: baseTime}, store.ErrNotFound},
		{"no environment ID", store.StatusChange{ChangedAt: baseTime}, store.ErrInvalid},
		{"no time", store.StatusChange{EnvironmentID: env.ID}, store.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inserted, _, err := b.store.RecordStatus(b.ctx, tt.change, nil)
			if inserted || !errors.Is(err, tt.want) {
				t.Fatalf("RecordStatus = %v, %v; want false, %v", inserted, err, tt.want)
			}
		})
	}
	if n := b.count(t, "environment_status"); n != 0 {
		t.Fatalf("environment_status rows = %d, want 0", n)
	}
}

func TestStatusHistory(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	other := b.createEnv(t, "other")

	if _, err := b.store.LatestStatus(b.ctx, env.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LatestStatus without history error = %v, want ErrNotFound", err)
	}
	history, err := b.store.StatusHistory(b.ctx, env.ID, 10)
	if err != nil || history == nil || len(history) != 0 {
		t.Fatalf("StatusHistory without history = %v, %v; want an empty slice", history, err)
	}

	// Recorded out of order: the history is ordered by ChangedAt.
	for _, c := range []struct {
		id     uuid.UUID
		offset time.Duration
		online bool
	}{
		{env.ID, 2 * time.Minute, true},
		{env.ID, 0, true},
		{env.ID, time.Minute, false},
		{other.ID, time.Hour, false},
	} {
		change := store.StatusChange{EnvironmentID: c.id, Online: c.online, ChangedAt: baseTime.Add(c.offset)}
		if !c.online {
			change.Error = "engine unreachable"
		}
		if _, _, err := b.store.RecordStatus(b.ctx, change, nil); err != nil {
			t.Fatalf("RecordStatus: %v", err)
		}
	}

	tests := []struct {
		limit int
		want  []time.Duration // offsets of ChangedAt, newest first
	}{
		{limit: 0, want: []time.Duration{2 * time.Minute, time.Minute, 0}},
		{limit: 2, want: []time.Duration{2 * time.Minute, time.Minute}},
		{limit: 10, want: []time.Duration{2 * time.Minute, time.Minute, 0}},
	}
	for _, tt := range tests {
		history, err := b.store.StatusHistory(b.ctx, env.ID, tt.limit)
		if err != nil {
			t.Fatalf("StatusHistory(%d): %v", tt.limit, err)
		}
		var got []time.Duration
		for _, c := range history {
			if c.EnvironmentID != env.ID {
				t.Fatalf("StatusHistory(%d) holds a change of %s", tt.limit, c.EnvironmentID)
			}
			got = append(got, c.ChangedAt.Sub(baseTime))
		}
		if !slices.Equal(got, tt.want) {
			t.Fatalf("StatusHistory(%d) offsets = %v, want %v", tt.limit, got, tt.want)
		}
	}

	latest, err := b.store.LatestStatus(b.ctx, env.ID)
	if err != nil || !latest.Online || !latest.ChangedAt.Equal(baseTime.Add(2*time.Minute)) {
		t.Fatalf("LatestStatus = %+v, %v; want online at +2m", latest, err)
	}
}
