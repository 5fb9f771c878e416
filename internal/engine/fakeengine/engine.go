package fakeengine

import (
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Engine is one fake Docker engine of a fleet.
type Engine struct {
	f        *Fleet
	idx      int
	solo     bool // a fleet of one: Close closes the fleet
	ln       net.Listener
	srv      *http.Server
	endpoint string
	served   chan struct{} // closed when the accept loop ended
	serving  bool          // serve was called

	containers []fakeContainer
	byKey      map[string]int // full ID and name → index
	sysBase    uint64         // system_cpu_usage at the fleet's start

	listJSON    []byte
	versionJSON []byte
	dfJSON      []byte
	infoHead    []byte // /info up to the SystemTime value
	infoTail    []byte // after it

	reqs [nRoutes]atomic.Int64

	// phase delays this engine's stats answers after each tick (Options.Phases).
	phase time.Duration

	done      chan struct{} // closed by close: ends streams and pending reads
	mu        sync.Mutex
	closed    bool
	handlers  sync.WaitGroup
	closeOnce sync.Once
	closeErr  error

	ev eventLog

	// Synthetic events; touched by the ticker goroutine only.
	evRand    *rand.Rand
	nextEvent time.Time
}

// ContainerFigures are the figures a container's stats give, as `docker
// stats` shows them.
type ContainerFigures struct {
	ID, Name    string
	CPUPercent  float64 // cpuDelta/sysDelta×online×100: 100 = one full CPU
	MemoryUsed  uint64  // usage − inactive_file
	MemoryLimit uint64  // the container's limit, or MemTotal when it has none
}

// DiskFigures are the totals the moby client's DiskUsage computes from an
// engine's /system/df answer.
type DiskFigures struct {
	Images     int64 // LayersSize
	Containers int64 // sum of SizeRw
	Volumes    int64 // sum of the known UsageData.Size
	BuildCache int64 // sum of the non-shared records' Size
}

// fakeContainer is one running container and its precomputed bodies.
type fakeContainer struct {
	id, name, image, kind string
	labels                map[string]string
	pct                   float64
	cpuBase               uint64
	memUsage, memInactive uint64
	memLimit              uint64
	rxBase, txBase        uint64
	rxRate, txRate        uint64 // bytes/s
	rdBase, wrBase        uint64
	rdRate, wrRate        uint64 // bytes/s

	head []byte // `,"pids_stats":…"op":"read","value":`
	mem  []byte // `,"memory_stats":{…},"name":"/…","id":"…","networks":{"eth0":{"rx_bytes":`
}

// Route indexes of the request counters.
const (
	rPing = iota
	rVersion
	rInfo
	rContainers
	rStats
	rEvents
	rDf
	rNotFound
	nRoutes
)

var routeNames = [nRoutes]string{"ping", "version", "info", "containers", "stats", "events", "df", "notfound"}

// Fixed /system/df sizes of every engine.
const (
	DiskLayersSize      int64 = 1_234_567_168 // Images total (LayersSize)
	DiskContainerSizeRw int64 = 4 << 20       // SizeRw of each container
	DiskVolumesSize     int64 = 330 << 20     // known volume sizes (one more volume is -1: unknown)
	DiskBuildCacheSize  int64 = 96 << 20      // non-shared build cache records (one shared record is not counted)
)

var kinds = [...]struct{ kind, image string }{
	{"web", "nginx:1.27"},
	{"db", "postgres:16"},
	{"cache", "redis:7"},
	{"worker", "busybox:1.36"},
	{"proxy", "traefik:3.1"},
}

func newEngine(f *Fleet, idx int) (*Engine, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	e := &Engine{
		f:        f,
		idx:      idx,
		ln:       ln,
		endpoint: "tcp://" + ln.Addr().String(),
		served:   make(chan struct{}),
		done:     make(chan struct{}),
		evRand:   rand.New(rand.NewPCG(uint64(f.opts.Seed)^0x5eed, uint64(idx)*2+1)),
		phase:    enginePhase(f.opts, idx),
	}
	e.ev.subs = map[*subscriber]struct{}{}
	e.build()
	e.srv = &http.Server{
		Handler:           http.HandlerFunc(e.serveHTTP),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       5 * time.Minute,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	return e, nil
}

// Handler is the engine's Engine API, to serve on connections of the
// caller's own (a fake agent's streams) besides its listener.
func (e *Engine) Handler() http.Handler { return http.HandlerFunc(e.serveHTTP) }

// serve starts the engine's accept loop.
func (e *Engine) serve() {
	e.serving = true
	go func() {
		defer close(e.served)
		_ = e.srv.Serve(e.ln)
	}()
}

// build draws the containers' figures from Options.Seed and precomputes the
// static bodies.
func (e *Engine) build() {
	o := e.f.opts
	r := rand.New(rand.NewPCG(uint64(o.Seed), uint64(e.idx)*2))
	ncpu := uint64(o.NCPU)
	e.sysBase = ncpu * uint64(time.Second) * uint64(86400+r.IntN(30*86400))
	e.byKey = make(map[string]int, 2*o.Containers)
	for i := range o.Containers {
		var raw [32]byte
		for j := 0; j < 32; j += 8 {
			v := r.Uint64()
			for k := range 8 {
				raw[j+k] = byte(v >> (8 * k))
			}
		}
		k := kinds[r.IntN(len(kinds))]
		c := fakeContainer{
			id:    hex.EncodeToString(raw[:]),
			name:  fmt.Sprintf("e%d-%s-%d", e.idx, k.kind, i),
			image: k.image,
			kind:  k.kind,
			labels: map[string]string{
				"com.docker.compose.project": fmt.Sprintf("e%d", e.idx),
				"com.docker.compose.service": k.kind,
			},
			pct:     math.Round((0.5+r.Float64()*79.5)*100) / 100,
			cpuBase: uint64(r.Int64N(1e12)),
			rxBase:  uint64(r.Int64N(1 << 30)),
			txBase:  uint64(r.Int64N(1 << 30)),
			rxRate:  uint64(1000 + r.IntN(500_000)),
			txRate:  uint64(1000 + r.IntN(200_000)),
			rdBase:  uint64(r.Int64N(1 << 32)),
			wrBase:  uint64(r.Int64N(1 << 32)),
			rdRate:  uint64(r.IntN(100_000)),
			wrRate:  uint64(r.IntN(300_000)),
		}
		limits := [...]uint64{0, 256 << 20, 512 << 20, 1 << 30, 2 << 30}
		c.memLimit = limits[r.IntN(len(limits))]
		if c.memLimit == 0 || c.memLimit > uint64(o.MemTotal) {
			c.memLimit = uint64(o.MemTotal)
		}
		maxUsed := min(c.memLimit*6/10, 1<<30)
		used := (4<<20 + uint64(r.Int64N(int64(maxUsed-4<<20)))) &^ 4095
		c.memInactive = uint64(r.Int64N(int64(used/3))) &^ 4095
		c.memUsage = used + c.memInactive
		c.precompute()
		e.byKey[c.id] = i
		e.byKey[c.name] = i
		e.containers = append(e.containers, c)
	}
	e.buildStatic()
}

// Endpoint returns the engine's address, "tcp://127.0.0.1:PORT".
func (e *Engine) Endpoint() string { return e.endpoint }

// Close closes the engine: its listener, its connections, its event streams
// and pending stats reads. For an engine of Start it closes the fleet.
// Another engine of a fleet keeps running; its ticker stops with
// Fleet.Close.
func (e *Engine) Close() error {
	if e.solo {
		return e.f.Close()
	}
	return e.close()
}

func (e *Engine) close() error {
	e.closeOnce.Do(func() {
		e.mu.Lock()
		e.closed = true
		e.mu.Unlock()
		close(e.done)
		e.closeErr = e.srv.Close()
		if e.serving {
			<-e.served
		}
		e.handlers.Wait()
	})
	return e.closeErr
}

// Expected returns each container's figures, in list order.
func (e *Engine) Expected() []ContainerFigures {
	out := make([]ContainerFigures, len(e.containers))
	for i, c := range e.containers {
		out[i] = ContainerFigures{
			ID: c.id, Name: c.name, CPUPercent: c.pct,
			MemoryUsed: c.memUsage - c.memInactive, MemoryLimit: c.memLimit,
		}
	}
	return out
}

// ExpectedDisk returns the totals of the engine's /system/df as the moby
// client's DiskUsage computes them.
func (e *Engine) ExpectedDisk() DiskFigures {
	return DiskFigures{
		Images:     DiskLayersSize,
		Containers: int64(len(e.containers)) * DiskContainerSizeRw,
		Volumes:    DiskVolumesSize,
		BuildCache: DiskBuildCacheSize,
	}
}

// Requests returns the number of requests served by route name: "ping",
// "version", "info", "containers", "stats", "events", "df" and "notfound".
func (e *Engine) Requests() map[string]int64 {
	m := make(map[string]int64, nRoutes)
	for i, name := range routeNames {
		m[name] = e.reqs[i].Load()
	}
	return m
}

// Shared header values (never mutated by net/http).
var (
	hdrAPIVersion   = []string{"1.41"}
	hdrServer       = []string{"Docker/20.10.24 (linux)"}
	hdrOSType       = []string{"linux"}
	hdrExperimental = []string{"false"}
	hdrJSON         = []string{"application/json"}
	hdrText         = []string{"text/plain; charset=utf-8"}
	hdrNoCache      = []string{"no-cache, no-store, must-revalidate"}
	hdrPragma       = []string{"no-cache"}
	hdrZero         = []string{"0"}
	hdrBuilder      = []string{"2"}
)

func setHeaders(h http.Header, contentType []string) {
	h["Api-Version"] = hdrAPIVersion
	h["Server"] = hdrServer
	h["Ostype"] = hdrOSType
	h["Docker-Experimental"] = hdrExperimental
	if contentType != nil {
		h["Content-Type"] = contentType
	}
}

var (
	bodyNotFound = []byte(`{"message":"page not found"}` + "\n")
	bodyOK       = []byte("OK")
)

// serveHTTP routes one request.
func (e *Engine) serveHTTP(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	e.handlers.Add(1)
	e.mu.Unlock()
	defer e.handlers.Done()

	p := stripVersion(r.URL.Path)
	get := r.Method == http.MethodGet
	switch {
	case p == "/_ping" && (get || r.Method == http.MethodHead):
		e.reqs[rPing].Add(1)
		h := w.Header()
		setHeaders(h, hdrText)
		h["Cache-Control"] = hdrNoCache
		h["Pragma"] = hdrPragma
		h["Builder-Version"] = hdrBuilder
		if !get {
			h["Content-Length"] = hdrZero
			w.WriteHeader(http.StatusOK)
			return
		}
		_, _ = w.Write(bodyOK)
	case p == "/version" && get:
		e.reqs[rVersion].Add(1)
		writeJSON(w, http.StatusOK, e.versionJSON)
	case p == "/info" && get:
		e.reqs[rInfo].Add(1)
		e.serveInfo(w)
	case p == "/containers/json" && get:
		e.reqs[rContainers].Add(1)
		writeJSON(w, http.StatusOK, e.listJSON)
	case p == "/events" && get:
		e.reqs[rEvents].Add(1)
		e.serveEvents(w, r)
	case p == "/system/df" && get:
		e.reqs[rDf].Add(1)
		writeJSON(w, http.StatusOK, e.dfJSON)
	case get && strings.HasPrefix(p, "/containers/") && strings.HasSuffix(p, "/stats"):
		id := p[len("/containers/") : len(p)-len("/stats")]
		if id == "" || strings.IndexByte(id, '/') >= 0 {
			e.notFound(w)
			return
		}
		e.reqs[rStats].Add(1)
		e.serveStats(w, r, id)
	default:
		e.notFound(w)
	}
}

func (e *Engine) notFound(w http.ResponseWriter) {
	e.reqs[rNotFound].Add(1)
	writeJSON(w, http.StatusNotFound, bodyNotFound)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	setHeaders(w.Header(), hdrJSON)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeError answers {"message": msg}.
func writeError(w http.ResponseWriter, status int, msg string) {
	b := getBuf()
	*b = append(*b, `{"message":`...)
	*b = appendJSONString(*b, msg)
	*b = append(*b, "}\n"...)
	writeJSON(w, status, *b)
	putBuf(b)
}

// stripVersion removes a leading /v1.NN from an API path.
func stripVersion(p string) string {
	if len(p) < 3 || p[0] != '/' || p[1] != 'v' {
		return p
	}
	i := 2
	for i < len(p) && (p[i] >= '0' && p[i] <= '9' || p[i] == '.') {
		i++
	}
	if i == 2 || i == len(p) || p[i] != '/' {
		return p
	}
	return p[i:]
}

// queryValue returns the first value of key in a raw query, unescaped only
// for the common %-escapes the moby client produces; "" when absent.
func queryValue(raw, key string) (string, bool) {
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(kv, "=")
		if k == key {
			return v, true
		}
	}
	return "", false
}

// boolValue is dockerd's httputils.BoolValue: "", 0, no, false, none are
// false, anything else true.
func boolValue(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "0", "no", "false", "none":
		return false
	}
	return true
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() *[]byte { b := bufPool.Get().(*[]byte); *b = (*b)[:0]; return b }

func putBuf(b *[]byte) {
	if cap(*b) <= 64<<10 {
		bufPool.Put(b)
	}
}

// enginePhase is the delay of engine idx's stats answers after a tick: the
// golden-ratio sequence spreads any number of engines evenly over the tick.
func enginePhase(o Options, idx int) time.Duration {
	if !o.Phases {
		return 0
	}
	_, frac := math.Modf(float64(idx) * 0.6180339887498949)
	return time.Duration(frac * float64(o.StatsTick))
}
