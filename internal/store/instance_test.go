package store_test

import (
	"testing"

	"github.com/google/uuid"
)

func TestInstanceID(t *testing.T) {
	t.Parallel()
	a, b := setup(t), setup(t)
	idA, err := a.store.InstanceID(a.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := uuid.Parse(idA); err != nil {
		t.Fatalf("instance id %q is not a UUID: %v", idA, err)
	}
	again, err := a.store.InstanceID(a.ctx)
	if err != nil || again != idA {
		t.Fatalf("instance id changed: %q then %q (%v)", idA, again, err)
	}
	// Another database (schema) has another ID.
	if idB, err := b.store.InstanceID(b.ctx); err != nil || idB == idA {
		t.Fatalf("two databases share instance id %q (%v)", idA, err)
	}
	if _, err := a.store.Pool().Exec(a.ctx, `INSERT INTO windflow_instance DEFAULT VALUES`); err == nil {
		t.Fatal("a second instance row was accepted")
	}
}
