package store_test

import (
	"testing"
	"time"
)

func TestStreamLeases_OrphansOfExpiredWorkersOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alive, dead, gone := b.createEnv(t, "held-by-alive"), b.createEnv(t, "held-by-dead"), b.createEnv(t, "held-by-unknown")
	if err := b.store.RenewWorkerLease(b.ctx, "alive", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := b.store.RenewWorkerLease(b.ctx, "dead", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := b.store.HoldStream(b.ctx, alive.ID, "alive", []byte("token-alive")); err != nil {
		t.Fatal(err)
	}
	if err := b.store.HoldStream(b.ctx, dead.ID, "dead", []byte("token-dead")); err != nil {
		t.Fatal(err)
	}
	if err := b.store.HoldStream(b.ctx, gone.ID, "never-leased", []byte("token-gone")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)

	// The dead worker's own sweep never takes its streams; another's takes
	// the streams of expired and unknown leases, once.
	own, err := b.store.TakeOrphanedStreams(b.ctx, "never-leased", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(own) != 1 || own[0].EnvironmentID != dead.ID || string(own[0].TaskToken) != "token-dead" || own[0].WorkerID != "dead" {
		t.Fatalf("sweep by never-leased took %+v, want only the dead worker's stream", own)
	}
	got, err := b.store.TakeOrphanedStreams(b.ctx, "alive", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].EnvironmentID != gone.ID || string(got[0].TaskToken) != "token-gone" {
		t.Fatalf("sweep by alive took %+v, want only the stream of the never-leased worker", got)
	}
	again, err := b.store.TakeOrphanedStreams(b.ctx, "alive", 10)
	if err != nil || len(again) != 0 {
		t.Fatalf("second sweep took %+v (%v), want nothing", again, err)
	}
	if n := b.count(t, "event_stream_holders"); n != 1 {
		t.Fatalf("%d holders left, want the live worker's one", n)
	}

	// A newer attempt replaces the holder; releasing with an older token
	// keeps it, with its own token removes it.
	if err := b.store.HoldStream(b.ctx, alive.ID, "alive", []byte("token-alive-2")); err != nil {
		t.Fatal(err)
	}
	if err := b.store.ReleaseStream(b.ctx, alive.ID, []byte("token-alive")); err != nil {
		t.Fatal(err)
	}
	if n := b.count(t, "event_stream_holders"); n != 1 {
		t.Fatalf("release with a stale token removed the holder (%d left)", n)
	}
	if err := b.store.ReleaseStream(b.ctx, alive.ID, []byte("token-alive-2")); err != nil {
		t.Fatal(err)
	}
	if n := b.count(t, "event_stream_holders"); n != 0 {
		t.Fatalf("%d holders left after release", n)
	}

	// A dropped lease orphans at once.
	if err := b.store.HoldStream(b.ctx, alive.ID, "alive", []byte("token-alive-3")); err != nil {
		t.Fatal(err)
	}
	if err := b.store.DropWorkerLease(b.ctx, "alive"); err != nil {
		t.Fatal(err)
	}
	if got, err := b.store.TakeOrphanedStreams(b.ctx, "other", 10); err != nil || len(got) != 1 {
		t.Fatalf("after the lease was dropped, the sweep took %+v (%v), want the stream", got, err)
	}
}

func TestStreamLeases_BadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "bad-input")
	if err := b.store.RenewWorkerLease(b.ctx, "", time.Second); err == nil {
		t.Error("a lease without a worker ID was accepted")
	}
	if err := b.store.RenewWorkerLease(b.ctx, "w", 0); err == nil {
		t.Error("a lease without a ttl was accepted")
	}
	if err := b.store.HoldStream(b.ctx, env.ID, "w", nil); err == nil {
		t.Error("a holder without a task token was accepted")
	}
	if n := b.count(t, "worker_leases") + b.count(t, "event_stream_holders"); n != 0 {
		t.Errorf("bad input stored %d rows", n)
	}
}
