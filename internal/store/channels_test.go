package store_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/notify"
	"github.com/windflow/monitor/internal/store"
)

func TestDefaultKindsMirrorNotify(t *testing.T) {
	if !slices.Equal(store.DefaultKinds, notify.DefaultKinds) {
		t.Fatalf("store.DefaultKinds = %v, notify.DefaultKinds = %v", store.DefaultKinds, notify.DefaultKinds)
	}
}

// createChannel stores a channel named name with the given subscription.
func (b *testBundle) createChannel(t *testing.T, name string, enabled bool, envs []uuid.UUID, kinds []string) store.Channel {
	t.Helper()
	c, err := b.store.CreateChannel(b.ctx, store.Channel{
		Name: name, URL: "generic://127.0.0.1:9/" + name + "?disabletls=yes", Enabled: enabled,
		Environments: envs, Kinds: kinds,
	})
	if err != nil {
		t.Fatalf("CreateChannel(%q): %v", name, err)
	}
	return c
}

func TestChannelCRUD(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")

	// Empty: a non-nil empty list.
	list, err := b.store.ListChannels(b.ctx)
	if err != nil || list == nil || len(list) != 0 {
		t.Fatalf("ListChannels (empty) = %#v, %v", list, err)
	}

	created, err := b.store.CreateChannel(b.ctx, store.Channel{
		Name: "ops", URL: "ntfy://ntfy.sh/secret-topic", Enabled: true,
		Environments: []uuid.UUID{env.ID, env.ID}, Kinds: []string{"container_oom", "container_oom", "environment_offline"},
	})
	if err != nil {
		t.Fatalf("CreateChannel: %v", err)
	}
	if created.ID == uuid.Nil || created.CreatedAt.IsZero() || !created.UpdatedAt.Equal(created.CreatedAt) {
		t.Fatalf("CreateChannel = %+v: want an ID and equal timestamps", created)
	}
	if created.Name != "ops" || created.URL != "ntfy://ntfy.sh/secret-topic" || !created.Enabled ||
		!slices.Equal(created.Environments, []uuid.UUID{env.ID}) ||
		!slices.Equal(created.Kinds, []string{"container_oom", "environment_offline"}) {
		t.Fatalf("CreateChannel = %+v (duplicates must be dropped)", created)
	}
	got, err := b.store.GetChannel(b.ctx, created.ID)
	if err != nil || !equalChannels(got, created) {
		t.Fatalf("GetChannel = %+v, %v; want %+v", got, err, created)
	}

	// Nil lists are stored empty; the ID given is kept.
	given := uuid.New()
	all, err := b.store.CreateChannel(b.ctx, store.Channel{ID: given, Name: "all", URL: "ntfy://ntfy.sh/x"})
	if err != nil || all.ID != given || all.Enabled || all.Environments == nil || len(all.Environments) != 0 ||
		all.Kinds == nil || len(all.Kinds) != 0 {
		t.Fatalf("CreateChannel(nil lists) = %+v, %v", all, err)
	}

	// Name taken, on create and on update.
	if _, err := b.store.CreateChannel(b.ctx, store.Channel{Name: "ops", URL: "ntfy://ntfy.sh/y"}); !errors.Is(err, store.ErrNameTaken) {
		t.Fatalf("CreateChannel(taken name) error = %v, want ErrNameTaken", err)
	}
	rename := all
	rename.Name = "ops"
	if _, err := b.store.UpdateChannel(b.ctx, rename); !errors.Is(err, store.ErrNameTaken) {
		t.Fatalf("UpdateChannel(taken name) error = %v, want ErrNameTaken", err)
	}
	// Invalid values.
	for _, c := range []store.Channel{
		{Name: "", URL: "ntfy://ntfy.sh/x"},
		{Name: strings.Repeat("n", 101), URL: "ntfy://ntfy.sh/x"},
		{Name: "no-url", URL: ""},
	} {
		if _, err := b.store.CreateChannel(b.ctx, c); !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("CreateChannel(%q, %q) error = %v, want ErrInvalid", c.Name, c.URL, err)
		}
	}

	// Update replaces everything but the ID and CreatedAt.
	time.Sleep(2 * time.Millisecond)
	update := created
	update.Name, update.URL, update.Enabled = "ops-2", "discord://token@id", false
	update.Environments, update.Kinds = nil, []string{"container_started"}
	updated, err := b.store.UpdateChannel(b.ctx, update)
	if err != nil {
		t.Fatalf("UpdateChannel: %v", err)
	}
	if updated.Name != "ops-2" || updated.URL != "discord://token@id" || updated.Enabled ||
		len(updated.Environments) != 0 || !slices.Equal(updated.Kinds, []string{"container_started"}) ||
		!updated.CreatedAt.Equal(created.CreatedAt) || !updated.UpdatedAt.After(created.UpdatedAt) {
		t.Fatalf("UpdateChannel = %+v", updated)
	}
	missing := update
	missing.ID = uuid.New()
	if _, err := b.store.UpdateChannel(b.ctx, missing); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateChannel(unknown) error = %v, want ErrNotFound", err)
	}

	list, err = b.store.ListChannels(b.ctx)
	if err != nil || len(list) != 2 || list[0].Name != "all" || list[1].Name != "ops-2" {
		t.Fatalf("ListChannels = %+v, %v; want all, ops-2", list, err)
	}

	if err := b.store.DeleteChannel(b.ctx, created.ID); err != nil {
		t.Fatalf("DeleteChannel: %v", err)
	}
	if err := b.store.DeleteChannel(b.ctx, created.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("DeleteChannel again error = %v, want ErrNotFound", err)
	}
	if _, err := b.store.GetChannel(b.ctx, created.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetChannel after delete error = %v, want ErrNotFound", err)
	}
}

// equalChannels compares two channels, times with Equal.
func equalChannels(a, b store.Channel) bool {
	return a.ID == b.ID && a.Name == b.Name && a.URL == b.URL && a.Enabled == b.Enabled &&
		slices.Equal(a.Environments, b.Environments) && slices.Equal(a.Kinds, b.Kinds) &&
		a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}
