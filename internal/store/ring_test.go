package store_test

import (
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/store"
)

func TestRingSeen(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "ring")

	if seen, err := b.store.RingSeen(b.ctx, env.ID); err != nil || seen {
		t.Fatalf("never looked at: seen %v, %v; want false", seen, err)
	}
	if err := b.store.SetRingSeen(b.ctx, env.ID, true); err != nil {
		t.Fatal(err)
	}
	if seen, err := b.store.RingSeen(b.ctx, env.ID); err != nil || !seen {
		t.Fatalf("after SetRingSeen(true): %v, %v", seen, err)
	}
	// Moving the cursor keeps the flag; setting the flag keeps the cursor.
	if _, err := b.store.InsertEvents(b.ctx, env.ID, nil, 42); err != nil {
		t.Fatal(err)
	}
	if seen, _ := b.store.RingSeen(b.ctx, env.ID); !seen {
		t.Fatal("InsertEvents cleared ring_seen")
	}
	if err := b.store.SetRingSeen(b.ctx, env.ID, false); err != nil {
		t.Fatal(err)
	}
	if cursor, err := b.store.EventCursor(b.ctx, env.ID); err != nil || cursor != 42 {
		t.Fatalf("cursor after SetRingSeen = %d, %v; want 42", cursor, err)
	}
	if seen, _ := b.store.RingSeen(b.ctx, env.ID); seen {
		t.Fatal("SetRingSeen(false) did not clear it")
	}
	if err := b.store.SetRingSeen(b.ctx, uuid.New(), true); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown environment: %v, want ErrNotFound", err)
	}
}
