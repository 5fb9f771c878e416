package store_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/windflow/monitor/internal/store"
)

// overviewEnd is the end of the overview tests' data: two hours of 10 s
// cycles before it; the sparkline starts an hour before it.
var overviewEnd = time.Date(2025, 3, 14, 16, 0, 0, 0, time.UTC)

// overviewCycle is the host row of cycle i of the busy environment,
// collected 3 s into its slot.
func overviewCycle(envID uuid.UUID, i int) store.HostMetric {
	at := overviewEnd.Add(-2*time.Hour + time.Duration(i)*10*time.Second)
	return store.HostMetric{
		EnvironmentID: envID, CycleAt: at, DueAt: at, CollectedAt: at.Add(3 * time.Second),
		CPUPercent: float64(i%9) * 2.5, MemoryPercent: 30 + float64(i%4),
		MemoryUsed: int64(1000 + i), MemoryTotal: 8000, ContainersRunning: 1 + i%3,
	}
}

// TestOverview: three environments (no data; offline with an error; two
// hours of metrics, disk samples and a status) come back ordered by name
// with their settings, latest status, latest cycle, latest disk sample
// and the 1-minute averages of the last hour only.
func TestOverview(t *testing.T) {
	t.Parallel()
	b := setup(t)

	busy := b.createEnv(t, "c-busy")
	empty := b.createEnv(t, "a-empty")
	offlineEnv := validEnvironment("b-offline")
	offlineEnv.Endpoint = "tcp://10.0.0.5:2376"
	offlineEnv.Settings.Paused, offlineEnv.Settings.EventsEnabled, offlineEnv.Settings.EventMode = true, true, "poll"
	offlineEnv.Settings.MetricsInterval = time.Minute
	offline, err := b.store.CreateEnvironment(b.ctx, offlineEnv)
	if err != nil {
		t.Fatal(err)
	}

	for _, c := range []store.StatusChange{
		{EnvironmentID: offline.ID, Online: true, ChangedAt: overviewEnd.Add(-3 * time.Hour)},
		{EnvironmentID: offline.ID, Online: false, Error: "dial tcp 10.0.0.5:2376: connection refused", ChangedAt: overviewEnd.Add(-90 * time.Minute)},
		{EnvironmentID: busy.ID, Online: false, Error: "timeout", ChangedAt: overviewEnd.Add(-3 * time.Hour)},
		{EnvironmentID: busy.ID, Online: true, ChangedAt: overviewEnd.Add(-2 * time.Hour)},
	} {
		if _, _, err := b.store.RecordStatus(b.ctx, c, nil); err != nil {
			t.Fatalf("RecordStatus: %v", err)
		}
	}

	const cycles = 2 * 360
	type sums struct {
		cpu, mem float64
		n        int
	}
	perMinute := map[time.Time]*sums{}
	for i := range cycles {
		host := overviewCycle(busy.ID, i)
		c := store.ContainerMetric{ContainerID: "c1", ContainerName: "web", CPUPercent: host.CPUPercent}
		if _, err := b.store.InsertMetrics(b.ctx, host, []store.ContainerMetric{c}); err != nil {
			t.Fatalf("InsertMetrics %d: %v", i, err)
		}
		minute := host.CollectedAt.Truncate(time.Minute)
		if perMinute[minute] == nil {
			perMinute[minute] = &sums{}
		}
		s := perMinute[minute]
		s.cpu, s.mem, s.n = s.cpu+host.CPUPercent, s.mem+host.MemoryPercent, s.n+1
	}
	for _, d := range []store.DiskSample{
		{EnvironmentID: busy.ID, CheckAt: overviewEnd.Add(-10 * time.Minute), TotalBytes: 10, CapacityBytes: 100, Percent: 10},
		{EnvironmentID: busy.ID, CheckAt: overviewEnd.Add(-5 * time.Minute), CheckedAt: overviewEnd.Add(-5*time.Minute + 2*time.Second),
			ImagesBytes: 50, ContainersBytes: 20, VolumesBytes: 15, BuildCacheBytes: 7, TotalBytes: 92,
			CapacityBytes: 100, CapacitySource: "configured", Percent: 92, Warned: true},
	} {
		if _, err := b.store.InsertDiskSample(b.ctx, d); err != nil {
			t.Fatalf("InsertDiskSample: %v", err)
		}
	}

	since := overviewEnd.Add(-time.Hour)
	got, err := b.store.Overview(b.ctx, since)
	if err != nil {
		t.Fatalf("Overview: %v", err)
	}
	if len(got) != 3 || got[0].ID != empty.ID || got[1].ID != offline.ID || got[2].ID != busy.ID {
		t.Fatalf("Overview = %d environments %v, want a-empty, b-offline, c-busy", len(got), overviewNames(got))
	}

	// No data at all.
	if e := got[0]; e.Name != "a-empty" || e.Status != nil || e.Latest != nil || e.Disk != nil || len(e.Sparkline) != 0 {
		t.Errorf("a-empty = %+v, want no status, metrics, disk or sparkline", e)
	}

	// Offline, its settings from the stored row.
	o := got[1]
	if o.Endpoint != "tcp://10.0.0.5:2376" || !o.Settings.Paused || !o.Settings.EventsEnabled || o.Settings.EventMode != "poll" ||
		o.Settings.MetricsInterval != time.Minute || o.Version != 1 {
		t.Errorf("b-offline settings = %+v", o.Environment)
	}
	if o.Status == nil || o.Status.Online || o.Status.Error != "dial tcp 10.0.0.5:2376: connection refused" ||
		!o.Status.ChangedAt.Equal(overviewEnd.Add(-90*time.Minute)) || o.Status.EnvironmentID != offline.ID {
		t.Errorf("b-offline status = %+v, want the offline transition", o.Status)
	}
	if o.Latest != nil || o.Disk != nil || len(o.Sparkline) != 0 {
		t.Errorf("b-offline has data: %+v %+v %v", o.Latest, o.Disk, o.Sparkline)
	}

	// Busy: the latest of everything.
	e := got[2]
	if e.Status == nil || !e.Status.Online || e.Status.Error != "" || !e.Status.ChangedAt.Equal(overviewEnd.Add(-2*time.Hour)) {
		t.Errorf("c-busy status = %+v, want online since 2 h", e.Status)
	}
	want := overviewCycle(busy.ID, cycles-1)
	if e.Latest == nil || *e.Latest != want {
		t.Errorf("c-busy latest = %+v, want %+v", e.Latest, want)
	}
	if d := e.Disk; d == nil || !d.CheckAt.Equal(overviewEnd.Add(-5*time.Minute)) ||
		!d.CheckedAt.Equal(overviewEnd.Add(-5*time.Minute+2*time.Second)) || d.TotalBytes != 92 || d.CapacityBytes != 100 ||
		d.Percent != 92 || !d.Warned || d.CapacitySource != "configured" || d.ImagesBytes != 50 || d.BuildCacheBytes != 7 {
		t.Errorf("c-busy disk = %+v, want the sample of 5 min ago", d)
	}
	if len(e.Sparkline) != 60 {
		t.Fatalf("c-busy sparkline has %d points, want the 60 minutes of the last hour", len(e.Sparkline))
	}
	for i, p := range e.Sparkline {
		s := perMinute[p.Time]
		if !p.Time.Equal(since.Add(time.Duration(i)*time.Minute)) || s == nil || p.Time.Location() != time.UTC {
			t.Fatalf("sparkline point %d at %s, want %s (UTC)", i, p.Time, since.Add(time.Duration(i)*time.Minute))
		}
		if !near(p.CPUPercent, s.cpu/float64(s.n)) || !near(p.MemoryPercent, s.mem/float64(s.n)) {
			t.Fatalf("sparkline point %s = %+v, want cpu %v mem %v", p.Time, p, s.cpu/float64(s.n), s.mem/float64(s.n))
		}
	}

	// No environment: empty, not an error.
	if envs, err := setup(t).store.Overview(b.ctx, since); err != nil || len(envs) != 0 {
		t.Fatalf("Overview of no environment = %v, %v", envs, err)
	}
}

func overviewNames(envs []store.OverviewEnvironment) []string {
	var names []string
	for _, e := range envs {
		names = append(names, e.Name)
	}
	return names
}

// TestOverviewStatementsDoNotGrow: Overview sends as many statements for
// 25 environments with data as for 1 (no query per environment), counted
// on the wire by a proxy in front of PostgreSQL.
func TestOverviewStatementsDoNotGrow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	counter, st := b.countedStore(t)

	addEnvironments := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			env := b.createEnv(t, fmt.Sprintf("env-%02d", i))
			host := overviewCycle(env.ID, 700)
			if _, err := b.store.InsertMetrics(b.ctx, host, nil); err != nil {
				t.Fatal(err)
			}
			if _, _, err := b.store.RecordStatus(b.ctx, store.StatusChange{EnvironmentID: env.ID, Online: true, ChangedAt: host.CycleAt}, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := b.store.InsertDiskSample(b.ctx, store.DiskSample{EnvironmentID: env.ID, CheckAt: host.CycleAt}); err != nil {
				t.Fatal(err)
			}
		}
	}
	statements := func(wantEnvs int) int64 {
		t.Helper()
		counter.n.Store(0)
		envs, err := st.Overview(b.ctx, overviewEnd.Add(-time.Hour))
		if err != nil {
			t.Fatalf("Overview: %v", err)
		}
		if len(envs) != wantEnvs || envs[len(envs)-1].Latest == nil || len(envs[len(envs)-1].Sparkline) != 1 {
			t.Fatalf("Overview = %d environments (%v), want %d with data", len(envs), overviewNames(envs), wantEnvs)
		}
		return counter.n.Load()
	}
	addEnvironments(0, 1)
	one := statements(1)
	addEnvironments(1, 25)
	many := statements(25)
	t.Logf("statements sent: %d for 1 environment, %d for 25", one, many)
	if one != many || one == 0 || one > 8 { // BEGIN, six queries, COMMIT
		t.Fatalf("statements sent: %d for 1 environment, %d for 25; want the same, at most 8", one, many)
	}
}

// statementCounter is a TCP proxy in front of PostgreSQL that counts the
// statements its clients send: simple-protocol queries ('Q') except the
// pool's liveness pings, and extended-protocol executions ('E'); and, in
// syncs, the extended-protocol Syncs ('S'): the round trips of a client that
// pipelines (a pgx.Batch sends one).
type statementCounter struct {
	ln     net.Listener
	target string
	n      atomic.Int64
	syncs  atomic.Int64
}

// countedStore is a store on b's schema through a new statementCounter,
// closed when the test ends.
func (b *testBundle) countedStore(t *testing.T) (*statementCounter, *store.Store) {
	t.Helper()
	counter := newStatementCounter(t, b.url)
	proxied, err := counter.url(b.url)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(b.ctx, proxied)
	if err != nil {
		t.Fatalf("Open through the proxy: %v", err)
	}
	t.Cleanup(st.Close)
	return counter, st
}

func newStatementCounter(t *testing.T, databaseURL string) *statementCounter {
	t.Helper()
	cfg, err := pgconn.ParseConfig(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(cfg.Host, "/") {
		t.Skip("DATABASE_URL names a unix socket: the statement counter proxies TCP only")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &statementCounter{ln: ln, target: net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))}
	t.Cleanup(func() { _ = ln.Close() })
	go c.accept()
	return c
}

// url is databaseURL through the proxy.
func (c *statementCounter) url(databaseURL string) (string, error) {
	host, port, _ := net.SplitHostPort(c.ln.Addr().String())
	if !strings.HasPrefix(databaseURL, "postgres://") && !strings.HasPrefix(databaseURL, "postgresql://") {
		return databaseURL + " host=" + host + " port=" + port, nil
	}
	u, err := url.Parse(databaseURL)
	if err != nil {
		return "", err
	}
	u.Host = net.JoinHostPort(host, port)
	return u.String(), nil
}

func (c *statementCounter) accept() {
	for {
		client, err := c.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", c.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		go func() {
			_, _ = io.Copy(client, server)
			_ = client.Close()
		}()
		go func() {
			_ = c.count(client, server)
			_ = server.Close()
		}()
	}
}

// count forwards the client's side of one connection to server message by
// message: untyped messages (SSL or GSS requests, then the startup message),
// then typed ones. A statement is counted before it is forwarded, so the
// count is complete once its answer has reached the client.
func (c *statementCounter) count(r io.Reader, server io.Writer) error {
	var head [8]byte
	for {
		if _, err := io.ReadFull(r, head[:8]); err != nil {
			return err
		}
		n := binary.BigEndian.Uint32(head[:4])
		code := binary.BigEndian.Uint32(head[4:8])
		if _, err := server.Write(head[:8]); err != nil {
			return err
		}
		if _, err := io.CopyN(server, r, int64(n)-8); err != nil {
			return err
		}
		if code != 80877103 && code != 80877104 { // not an SSL or GSS request
			break
		}
	}
	for {
		if _, err := io.ReadFull(r, head[:5]); err != nil {
			return err
		}
		body := make([]byte, binary.BigEndian.Uint32(head[1:5])-4)
		if _, err := io.ReadFull(r, body); err != nil {
			return err
		}
		switch head[0] {
		case 'E':
			c.n.Add(1)
		case 'S':
			c.syncs.Add(1)
		case 'Q':
			if !strings.HasPrefix(string(body), "-- ping") {
				c.n.Add(1)
			}
		}
		if _, err := server.Write(head[:5]); err != nil {
			return err
		}
		if _, err := server.Write(body); err != nil {
			return err
		}
		if head[0] == 'X' {
			return errors.New("terminated")
		}
	}
}
