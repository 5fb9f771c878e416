package activities

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/moby/moby/client"
)

// clientIdleTTL is how long a Docker client no activity uses stays open.
const clientIdleTTL = 10 * time.Minute

// clientCache keeps one Docker client per environment for the life of the
// worker, so that a cycle costs no connection setup, no TLS handshake and no
// ping: the HTTP transport keeps its connections alive between cycles and
// the client negotiates the API version once, on its first request.
//
// An entry is keyed by what the client was built from (the endpoint and a
// digest of the sealed TLS material): when either changes, the next
// activity builds a new client and the old one is closed once no activity
// uses it any more. Clients unused for clientIdleTTL are closed (a deleted
// environment's, say), checked at most once a minute.
type clientCache struct {
	mu        sync.Mutex
	entries   map[uuid.UUID]*cachedClient
	lastSweep time.Time
}

// cachedClient is one client and how many activities hold it.
type cachedClient struct {
	key    string
	cli    *client.Client
	refs   int
	usedAt time.Time
	// stale is set when a newer client replaced this one: it is closed when
	// the last holder releases it.
	stale bool
	// dropIdle closes the client's idle connections at each release: a
	// plain engine's connection costs little to open again next cycle, and
	// kept alive it would hold two goroutines and two buffers per
	// environment between cycles. TLS engines keep theirs (handshakes).
	dropIdle bool
}

// clientKey identifies what a client is built from, without keeping the
// sealed material itself.
func clientKey(endpoint string, sealedTLS []byte) string {
	if len(sealedTLS) == 0 {
		return endpoint
	}
	sum := sha256.Sum256(sealedTLS)
	return endpoint + "#" + hex.EncodeToString(sum[:8])
}

// keyHasTLS reports whether a clientKey was built with TLS material (an
// endpoint never holds "#": ValidateEndpoint refuses fragments).
func keyHasTLS(key string) bool { return strings.Contains(key, "#") }

// acquire returns the cached client of id built from key, or builds one
// with build and caches it. release gives it back.
func (c *clientCache) acquire(id uuid.UUID, key string, build func() (*client.Client, error)) (*client.Client, func(), error) {
	c.mu.Lock()
	now := time.Now()
	c.sweep(now)
	if e, ok := c.entries[id]; ok && e.key == key && !e.stale {
		e.refs++
		e.usedAt = now
		c.mu.Unlock()
		return e.cli, c.releaser(e), nil
	}
	c.mu.Unlock()

	// Built outside the lock: building never talks to the engine, but a
	// custom Connect may.
	cli, err := build()
	if err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[uuid.UUID]*cachedClient)
	}
	if old, ok := c.entries[id]; ok {
		if old.key == key && !old.stale {
			// Another activity built the same client meanwhile: use theirs.
			old.refs++
			old.usedAt = now
			_ = cli.Close()
			return old.cli, c.releaser(old), nil
		}
		c.retire(old)
	}
	e := &cachedClient{key: key, cli: cli, refs: 1, usedAt: now, dropIdle: !keyHasTLS(key)}
	c.entries[id] = e
	return cli, c.releaser(e), nil
}

// releaser returns the release function of one acquisition of e.
func (c *clientCache) releaser(e *cachedClient) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			e.refs--
			e.usedAt = time.Now()
			if (e.stale && e.refs == 0) || e.dropIdle {
				// Close closes idle connections only: the client stays usable.
				_ = e.cli.Close()
			}
		})
	}
}

// retire marks e replaced and closes it if nobody holds it. c.mu is held.
func (c *clientCache) retire(e *cachedClient) {
	e.stale = true
	if e.refs == 0 {
		_ = e.cli.Close()
	}
}

// sweep closes the clients unused for clientIdleTTL. c.mu is held.
func (c *clientCache) sweep(now time.Time) {
	if now.Sub(c.lastSweep) < time.Minute {
		return
	}
	c.lastSweep = now
	for id, e := range c.entries {
		if e.refs == 0 && now.Sub(e.usedAt) > clientIdleTTL {
			delete(c.entries, id)
			_ = e.cli.Close()
		}
	}
}

// closeAll closes every cached client (tests, worker shutdown).
func (c *clientCache) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, e := range c.entries {
		delete(c.entries, id)
		c.retire(e)
	}
}

// len returns how many clients are cached.
func (c *clientCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
