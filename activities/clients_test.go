package activities

import (
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/engine"
)

// countingBuild returns a build function that makes real (unconnected)
// clients for endpoint and counts its calls.
func countingBuild(t *testing.T, endpoint string, calls *int) func() (*client.Client, error) {
	t.Helper()
	return func() (*client.Client, error) {
		*calls++
		return engine.NewClient(endpoint, nil)
	}
}

func TestClientCacheReusesPerEnvironment(t *testing.T) {
	var c clientCache
	defer c.closeAll()
	a, b := uuid.New(), uuid.New()
	var builds int
	build := countingBuild(t, "tcp://127.0.0.1:2375", &builds)

	first, release1, err := c.acquire(a, clientKey("tcp://127.0.0.1:2375", nil), build)
	if err != nil {
		t.Fatal(err)
	}
	second, release2, err := c.acquire(a, clientKey("tcp://127.0.0.1:2375", nil), build)
	if err != nil {
		t.Fatal(err)
	}
	release1()
	release2()
	release2() // a second release of the same acquisition is a no-op
	if first != second || builds != 1 {
		t.Fatalf("want one client built and shared, got %d builds (same: %t)", builds, first == second)
	}
	other, release3, err := c.acquire(b, clientKey("tcp://127.0.0.1:2375", nil), build)
	if err != nil {
		t.Fatal(err)
	}
	release3()
	if other == first || builds != 2 || c.len() != 2 {
		t.Fatalf("another environment gets its own client: builds %d, cached %d", builds, c.len())
	}
	if e := c.entries[a]; e.refs != 0 {
		t.Fatalf("refs after release = %d, want 0", e.refs)
	}
}

func TestClientCacheReplacesOnEndpointOrTLSChange(t *testing.T) {
	var c clientCache
	defer c.closeAll()
	id := uuid.New()
	var builds int
	build := countingBuild(t, "tcp://127.0.0.1:2375", &builds)

	old, releaseOld, err := c.acquire(id, clientKey("tcp://127.0.0.1:2375", nil), build)
	if err != nil {
		t.Fatal(err)
	}
	oldEntry := c.entries[id]
	// The TLS material changed while a stream still holds the old client.
	withTLS, release, err := c.acquire(id, clientKey("tcp://127.0.0.1:2375", []byte("sealed")), build)
	if err != nil {
		t.Fatal(err)
	}
	release()
	if withTLS == old || builds != 2 {
		t.Fatalf("want a new client after the material changed, builds %d", builds)
	}
	if !oldEntry.stale || oldEntry.refs != 1 {
		t.Fatalf("the old client is retired but kept for its holder: stale %t refs %d", oldEntry.stale, oldEntry.refs)
	}
	releaseOld()
	if oldEntry.refs != 0 {
		t.Fatalf("refs = %d", oldEntry.refs)
	}
	// Same endpoint, other material digest: another key.
	if clientKey("tcp://h:1", []byte("a")) == clientKey("tcp://h:1", []byte("b")) || clientKey("tcp://h:1", nil) == clientKey("tcp://h:2", nil) {
		t.Fatal("keys must differ by endpoint and by material")
	}
}

func TestClientCacheSweepsIdleClients(t *testing.T) {
	var c clientCache
	defer c.closeAll()
	idle, busy := uuid.New(), uuid.New()
	var builds int
	build := countingBuild(t, "unix:///var/run/docker.sock", &builds)
	_, releaseIdle, err := c.acquire(idle, "k", build)
	if err != nil {
		t.Fatal(err)
	}
	releaseIdle()
	_, releaseBusy, err := c.acquire(busy, "k", build)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseBusy()

	c.mu.Lock()
	long := time.Now().Add(-2 * clientIdleTTL)
	c.entries[idle].usedAt, c.entries[busy].usedAt = long, long
	c.lastSweep = time.Time{}
	c.sweep(time.Now())
	_, idleKept := c.entries[idle]
	_, busyKept := c.entries[busy]
	c.mu.Unlock()
	if idleKept || !busyKept {
		t.Fatalf("the idle client is closed, the held one kept: idle kept %t, busy kept %t", idleKept, busyKept)
	}
}

func TestClientCacheConcurrentAcquire(t *testing.T) {
	var c clientCache
	defer c.closeAll()
	id := uuid.New()
	var mu sync.Mutex
	clients := map[*client.Client]bool{}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			cli, release, err := c.acquire(id, "k", func() (*client.Client, error) {
				return engine.NewClient("unix:///var/run/docker.sock", nil)
			})
			if err != nil {
				t.Error(err)
				return
			}
			defer release()
			mu.Lock()
			clients[cli] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	c.mu.Lock()
	kept := c.entries[id]
	c.mu.Unlock()
	if kept == nil || kept.refs != 0 || !clients[kept.cli] {
		t.Fatalf("one client cached with no holder left, got %+v", kept)
	}
}
