package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/windflow/monitor/internal/store"
)

// Writers through LockEnvironment take turns and each sees the others'
// changes: none is lost, and every save counts one version.
func TestLockEnvironmentSerializesWriters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "locked")
	const writers, rounds = 8, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				err := b.store.LockEnvironment(b.ctx, env.ID, func(ctx context.Context, tx *store.EnvironmentTx) error {
					e := tx.Environment()
					// Read-modify-write of one field per writer, and a shared counter.
					if w%2 == 0 {
						e.Name = fmt.Sprintf("locked-%d-%d", w, r)
					}
					e.Settings.OfflineAfter = e.Settings.OfflineAfter%20 + 1
					_, err := tx.Save(ctx, e)
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got, err := b.store.GetEnvironment(b.ctx, env.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := env.Version + writers*rounds; got.Version != want {
		t.Fatalf("version %d after %d saves from %d, want %d", got.Version, writers*rounds, env.Version, want)
	}
	if want := (env.Settings.OfflineAfter-1+writers*rounds)%20 + 1; got.Settings.OfflineAfter != want {
		t.Fatalf("offlineAfter %d, want %d: a read-modify-write was lost", got.Settings.OfflineAfter, want)
	}
}

// A failing fn rolls back; the pending mark is found by PendingEnvironments
// and changes no version; a row deleted under the lock is not found by the
// next writer.
func TestLockEnvironmentRollbackPendingDelete(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "pending")
	boom := errors.New("boom")
	err := b.store.LockEnvironment(b.ctx, env.ID, func(ctx context.Context, tx *store.EnvironmentTx) error {
		e := tx.Environment()
		e.Settings.MetricsInterval = time.Minute
		if _, err := tx.Save(ctx, e); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("LockEnvironment = %v, want fn's error", err)
	}
	if got, _ := b.store.GetEnvironment(b.ctx, env.ID); got.Settings.MetricsInterval != env.Settings.MetricsInterval || got.Version != env.Version {
		t.Fatalf("after a rollback: %s, version %d", got.Settings.MetricsInterval, got.Version)
	}

	if ids, err := b.store.PendingEnvironments(b.ctx, 10); err != nil || len(ids) != 0 {
		t.Fatalf("PendingEnvironments = %v, %v; want none", ids, err)
	}
	err = b.store.LockEnvironment(b.ctx, env.ID, func(ctx context.Context, tx *store.EnvironmentTx) error {
		return tx.SetSettingsPending(ctx, true)
	})
	if err != nil {
		t.Fatal(err)
	}
	if ids, err := b.store.PendingEnvironments(b.ctx, 10); err != nil || len(ids) != 1 || ids[0] != env.ID {
		t.Fatalf("PendingEnvironments = %v, %v; want [%s]", ids, err, env.ID)
	}
	if got, _ := b.store.GetEnvironment(b.ctx, env.ID); !got.SettingsPending || got.Version != env.Version {
		t.Fatalf("after the mark: pending %t, version %d (want %d)", got.SettingsPending, got.Version, env.Version)
	}

	err = b.store.LockEnvironment(b.ctx, env.ID, func(ctx context.Context, tx *store.EnvironmentTx) error { return tx.Delete(ctx) })
	if err != nil {
		t.Fatal(err)
	}
	called := false
	err = b.store.LockEnvironment(b.ctx, env.ID, func(context.Context, *store.EnvironmentTx) error { called = true; return nil })
	if !errors.Is(err, store.ErrNotFound) || called {
		t.Fatalf("LockEnvironment after delete = %v (fn called %t), want ErrNotFound", err, called)
	}
}
