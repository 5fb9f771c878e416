package api_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/engine/enginetest"
)

// receiver is a local HTTP endpoint used as a generic-webhook channel. It
// fails the first failFirst requests with 500.
type receiver struct {
	srv       *httptest.Server
	mu        sync.Mutex
	bodies    []string
	failFirst int
	requests  int
}

func newReceiver(t *testing.T, failFirst int) *receiver {
	t.Helper()
	r := &receiver{failFirst: failFirst}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.requests++
		if r.requests <= r.failFirst {
			http.Error(w, "receiver is down", http.StatusInternalServerError)
			return
		}
		r.bodies = append(r.bodies, string(body))
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// url is the receiver as a shoutrrr generic-webhook URL over plain HTTP.
func (r *receiver) url() string {
	return "generic://" + strings.TrimPrefix(r.srv.URL, "http://") + "/hook?disabletls=yes&template=json"
}

func (r *receiver) delivered() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies...)
}

// createChannel registers the receiver as a channel for every default kind.
func (b *testBundle) createChannel(t *testing.T, r *receiver) string {
	t.Helper()
	var ch struct {
		ID          string `json:"id"`
		URLRedacted string `json:"urlRedacted"`
	}
	body := fmt.Sprintf(`{"name":%q,"url":%q}`, "hook-"+uuid.NewString()[:8], r.url())
	if code := b.call(t, http.MethodPost, "/api/v1/notification-channels", body, &ch); code != http.StatusCreated {
		t.Fatalf("create channel: status %d", code)
	}
	if strings.Contains(ch.URLRedacted, "hook?") {
		t.Fatalf("channel answer leaks its URL: %q", ch.URLRedacted)
	}
	return ch.ID
}

type notificationJSON struct {
	ID            int64  `json:"id"`
	EnvironmentID string `json:"environmentId"`
	Kind          string `json:"kind"`
	Status        string `json:"status"`
	Title         string `json:"title"`
	Message       string `json:"message"`
	Attempts      []struct {
		Attempt int    `json:"attempt"`
		OK      bool   `json:"ok"`
		Error   string `json:"error"`
	} `json:"attempts"`
}

// notifications lists the environment's notifications, newest first.
func (b *testBundle) notifications(t *testing.T, envID string) []notificationJSON {
	t.Helper()
	var out struct {
		Notifications []notificationJSON `json:"notifications"`
	}
	if code := b.call(t, http.MethodGet, "/api/v1/notifications?limit=500&environment="+envID, "", &out); code != http.StatusOK {
		t.Fatalf("notifications: status %d", code)
	}
	return out.Notifications
}

func countKind(ns []notificationJSON, kind string) int {
	n := 0
	for _, x := range ns {
		if x.Kind == kind {
			n++
		}
	}
	return n
}

// tcpProxy forwards a loopback TCP port to a unix socket; the test cuts and
// restores it to take an engine off the network and back.
type tcpProxy struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        map[net.Conn]bool
}

func startProxy(t *testing.T, socket string) *tcpProxy {
	t.Helper()
	p := &tcpProxy{target: socket, conns: map[net.Conn]bool{}}
	p.listen(t, "127.0.0.1:0")
	t.Cleanup(p.cut)
	return p
}

func (p *tcpProxy) listen(t *testing.T, addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("unix", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = true, true
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

// cut closes the listener and every open connection.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

func (p *tcpProxy) restore(t *testing.T) { p.listen(t, p.addr) }

// TestEndToEnd_NotifyOfflineOnline cuts an environment's connection and
// restores it: exactly one offline and one online notification, and none for
// a settings change.
func TestEndToEnd_NotifyOfflineOnline(t *testing.T) {
	enginetest.Client(t)
	b := setup(t)
	r := newReceiver(t, 0)
	b.createChannel(t, r)
	proxy := startProxy(t, strings.TrimPrefix(enginetest.Endpoint(), "unix://"))
	env := b.createEnvironmentWith(t, "e2e-net-"+uuid.NewString()[:8], "tcp://"+proxy.addr,
		`{"metricsIntervalSeconds":10,"offlineAfter":2,"eventsEnabled":false}`)
	var status struct{ Stored *struct{ Online bool } }
	eventually(t, 30*time.Second, "online", func() bool {
		b.call(t, http.MethodGet, "/api/v1/environments/"+env.ID+"/status", "", &status)
		return status.Stored != nil && status.Stored.Online
	})
	// The first online of a new environment is not news.
	if ns := b.notifications(t, env.ID); len(ns) != 0 {
		t.Fatalf("notifications before any outage: %+v", ns)
	}
	// A settings change is not a transition either.
	if code := b.call(t, http.MethodPut, "/api/v1/environments/"+env.ID+"/settings", `{"offlineAfter":2,"metricsIntervalSeconds":10}`, nil); code != http.StatusOK {
		t.Fatalf("settings: status %d", code)
	}

	proxy.cut()
	eventually(t, 90*time.Second, "an offline notification delivered", func() bool {
		ns := b.notifications(t, env.ID)
		return countKind(ns, "environment_offline") == 1 && ns[0].Status == "delivered"
	})
	proxy.restore(t)
	eventually(t, 60*time.Second, "an online notification delivered", func() bool {
		ns := b.notifications(t, env.ID)
		return countKind(ns, "environment_online") == 1 && ns[0].Status == "delivered"
	})
	// Two more cycles: nothing repeats.
	restored := time.Now()
	eventually(t, 60*time.Second, "two cycles after the online notification", func() bool {
		return cyclesAfter(b.cycleTimes(t, env.ID), restored) >= 2
	})
	ns := b.notifications(t, env.ID)
	if len(ns) != 2 || countKind(ns, "environment_offline") != 1 || countKind(ns, "environment_online") != 1 {
		t.Fatalf("notifications = %+v, want one offline and one online", ns)
	}
	if got := r.delivered(); len(got) != 2 {
		t.Fatalf("receiver got %d messages, want 2: %q", len(got), got)
	}
}

// TestEndToEnd_NotifyOOMAndRetry: an OOM-killed container gives exactly one
// notification (not a second "died unexpectedly" for its exit 137), and a
// receiver failing its first two requests gets it on the third attempt,
// every attempt recorded.
func TestEndToEnd_NotifyOOMAndRetry(t *testing.T) {
	d, cli := privateEngine(t)
	b := setup(t)
	r := newReceiver(t, 2)
	b.createChannel(t, r)
	env := b.createEnvironmentWith(t, "e2e-oom-"+uuid.NewString()[:8], d.Endpoint, `{"eventMode":"stream"}`)
	warm := enginetest.RunContainer(t, cli, "wf-warm", "sleep", "3600")
	b.waitForContainer(t, env.ID, warm)
	oom := runOOM(t, cli)
	eventually(t, 60*time.Second, "the OOM notification delivered", func() bool {
		ns := b.notifications(t, env.ID)
		return countKind(ns, "container_oom") == 1 && ns[0].Status == "delivered"
	})
	// Events are stored with the notifications they derive, in one
	// transaction: once a later container's events are stored, anything
	// the OOM's events would have derived exists.
	after := enginetest.RunContainer(t, cli, "wf-after-oom", "sleep", "3600")
	b.waitForContainer(t, env.ID, after)
	ns := b.notifications(t, env.ID)
	if len(ns) != 1 || ns[0].Kind != "container_oom" || !strings.Contains(ns[0].Message, oom[:12]) {
		t.Fatalf("notifications = %+v, want exactly one container_oom naming %s", ns, oom[:12])
	}
	n := ns[0]
	if len(n.Attempts) != 3 || n.Attempts[0].OK || n.Attempts[1].OK || !n.Attempts[2].OK || n.Attempts[0].Error == "" {
		t.Fatalf("attempts = %+v, want two failures then a success", n.Attempts)
	}
	for _, a := range n.Attempts {
		if strings.Contains(a.Error, "/hook") {
			t.Fatalf("attempt error leaks the channel URL: %q", a.Error)
		}
	}
	if got := r.delivered(); len(got) != 1 {
		t.Fatalf("receiver accepted %d messages, want 1", len(got))
	}
}

// TestEndToEnd_NotifyDiskWarning: a disk threshold crossed with a configured
// capacity gives one warning, and the next check inside the cooldown none.
func TestEndToEnd_NotifyDiskWarning(t *testing.T) {
	enginetest.Client(t)
	b := setup(t)
	r := newReceiver(t, 0)
	b.createChannel(t, r)
	env := b.createEnvironmentWith(t, "e2e-disk-"+uuid.NewString()[:8], enginetest.Endpoint(),
		`{"eventsEnabled":false,"diskCapacityBytes":1000,"diskIntervalSeconds":60,"diskCooldownSeconds":86400}`)
	defer func() {
		if t.Failed() {
			var status map[string]any
			b.call(t, http.MethodGet, "/api/v1/environments/"+env.ID+"/status", "", &status)
			t.Logf("status after failure: %v", status["live"])
			var all map[string]any
			b.call(t, http.MethodGet, "/api/v1/notifications?limit=50", "", &all)
			t.Logf("all notifications: %v", all)
		}
	}()
	eventually(t, 60*time.Second, "a disk warning delivered", func() bool {
		ns := b.notifications(t, env.ID)
		return countKind(ns, "disk_space_warning") == 1 && ns[0].Status == "delivered"
	})
	eventually(t, 150*time.Second, "a second disk check", func() bool {
		var out struct{ Points []struct{ Samples int } }
		from := time.Now().Add(-10 * time.Minute).UTC().Format(time.RFC3339)
		b.call(t, http.MethodGet, "/api/v1/environments/"+env.ID+"/disk?step=1s&from="+from, "", &out)
		return len(out.Points) >= 2
	})
	// The workflow acts on a disk check before its next metrics cycle.
	checked := time.Now()
	eventually(t, 60*time.Second, "a metrics cycle after the second disk check", func() bool {
		return cyclesAfter(b.cycleTimes(t, env.ID), checked) >= 1
	})
	if n := countKind(b.notifications(t, env.ID), "disk_space_warning"); n != 1 {
		t.Fatalf("%d disk warnings, want 1 within the cooldown", n)
	}
	if got := r.delivered(); len(got) != 1 {
		t.Fatalf("receiver got %d messages, want 1", len(got))
	}
}

// cyclesAfter counts the cycle times after at.
func cyclesAfter(cycles []time.Time, at time.Time) int {
	n := 0
	for _, c := range cycles {
		if c.After(at) {
			n++
		}
	}
	return n
}
