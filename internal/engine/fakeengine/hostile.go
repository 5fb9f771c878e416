package fakeengine

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// HostileMode is how a Hostile engine answers its target path.
type HostileMode string

// The hostile modes.
const (
	// HostileHuge: a well-formed start, then 1 GiB inside one JSON string
	// (an event line: 1 GiB without a newline, then one).
	HostileHuge HostileMode = "1 GiB body"
	// HostileEndless: like HostileHuge with no end.
	HostileEndless HostileMode = "endless body"
	// HostileDrip: the endless body at one byte every 50 ms.
	HostileDrip HostileMode = "slow drip"
	// HostileMalformed: a short body that is not valid JSON (event lines:
	// three of them, then the end of the stream).
	HostileMalformed HostileMode = "malformed JSON"
	// HostileMany: 100,000 running containers, each entry as this package
	// lists a compose container (the target must be HostileList).
	HostileMany HostileMode = "100,000 containers"
)

// HostileTarget is the request a Hostile engine misbehaves on.
type HostileTarget string

// The targets.
const (
	HostileList   HostileTarget = "/containers/json"
	HostileInfo   HostileTarget = "/info"
	HostileStats  HostileTarget = "/stats"
	HostileDf     HostileTarget = "/system/df"
	HostileEvents HostileTarget = "/events"
)

// HostileContainers is how many containers HostileMany lists.
const HostileContainers = 100_000

// hostileSize is the filler of HostileHuge.
const hostileSize = 1 << 30

// Hostile is an engine that answers one target path with a hostile body and
// every other request as a well-behaved one-container Engine.
type Hostile struct {
	mode   HostileMode
	target HostileTarget
	inner  *Engine
	ln     net.Listener
	srv    *http.Server
	sent   atomic.Int64
}

// StartHostile starts a hostile engine on 127.0.0.1.
func StartHostile(mode HostileMode, target HostileTarget) (*Hostile, error) {
	if mode == HostileMany && target != HostileList {
		return nil, fmt.Errorf("fakeengine: %s is a containers list", mode)
	}
	inner, err := Start(Options{Containers: 1, StatsTick: 100 * time.Millisecond})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = inner.Close()
		return nil, err
	}
	h := &Hostile{mode: mode, target: target, inner: inner, ln: ln}
	h.srv = &http.Server{Handler: http.HandlerFunc(h.serveHTTP), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = h.srv.Serve(ln) }()
	return h, nil
}

// Endpoint is the engine's tcp:// endpoint.
func (h *Hostile) Endpoint() string { return "tcp://" + h.ln.Addr().String() }

// Sent is how many bytes of hostile bodies the engine has written.
func (h *Hostile) Sent() int64 { return h.sent.Load() }

// Close stops the engine and its open answers.
func (h *Hostile) Close() error {
	return errors.Join(h.srv.Close(), h.inner.Close())
}

func (h *Hostile) serveHTTP(w http.ResponseWriter, r *http.Request) {
	p := stripVersion(r.URL.Path)
	hit := p == string(h.target) || (h.target == HostileStats && strings.HasSuffix(p, "/stats"))
	if !hit || r.Method != http.MethodGet {
		h.inner.serveHTTP(w, r)
		return
	}
	setHeaders(w.Header(), hdrJSON)
	w.WriteHeader(http.StatusOK)
	switch h.mode {
	case HostileMalformed:
		h.write(w, h.malformed())
	case HostileMany:
		h.writeMany(w)
	default:
		h.writeFiller(w, r)
	}
}

// malformed is the target's body of HostileMalformed.
func (h *Hostile) malformed() []byte {
	switch h.target {
	case HostileList:
		return []byte(`[{"Id":"0123456789ab","Names":["/web"],}]`)
	case HostileInfo:
		return []byte(`{"NCPU":2,"MemTotal":tru}`)
	case HostileStats:
		return []byte(`{"read":"2026-01-02T03:04:05Z","cpu_stats":{"cpu_usage":{"total_usage":12x}}}`)
	case HostileDf:
		return []byte(`{"LayersSize":"a lot","Images":[]}`)
	default:
		return []byte("{not json\n{\"Type\":\n]]]\n")
	}
}

// prefix opens the hostile string of the target's body.
func (h *Hostile) prefix() string {
	switch h.target {
	case HostileList:
		return `[{"Id":"0123456789ab","Names":["/web"],"Labels":{"junk":"`
	case HostileInfo:
		return `{"NCPU":2,"MemTotal":8589934592,"Name":"`
	case HostileStats:
		return `{"read":"2026-01-02T03:04:05Z","name":"/`
	case HostileDf:
		return `{"LayersSize":1,"Images":[{"Id":"`
	default:
		return `{"Type":"container","Action":"start","Actor":{"ID":"`
	}
}

// writeFiller writes the prefix and the filler of HostileHuge, endless
// for HostileEndless, a byte every 50 ms for HostileDrip; it stops when
// the reader goes.
func (h *Hostile) writeFiller(w http.ResponseWriter, r *http.Request) {
	if !h.write(w, []byte(h.prefix())) {
		return
	}
	if h.mode == HostileDrip {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
				if !h.write(w, []byte("a")) {
					return
				}
			}
		}
	}
	chunk := bytes.Repeat([]byte("a"), 64<<10)
	for n := 0; h.mode == HostileEndless || n < hostileSize; n += len(chunk) {
		if !h.write(w, chunk) {
			return
		}
	}
	if h.target == HostileEvents {
		h.write(w, []byte("\"}}\n"))
		return
	}
	h.write(w, []byte(`"}`))
}

// writeMany writes HostileContainers entries shaped as the inner engine's.
func (h *Hostile) writeMany(w http.ResponseWriter) {
	entry := bytes.TrimSuffix(bytes.TrimPrefix(bytes.TrimSpace(h.inner.listJSON), []byte("[")), []byte("]"))
	id := h.inner.containers[0].id
	buf := make([]byte, 0, 64<<10)
	buf = append(buf, '[')
	for i := range HostileContainers {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, bytes.ReplaceAll(entry, []byte(id), fmt.Appendf(nil, "%064x", i))...)
		if len(buf) >= 60<<10 {
			if !h.write(w, buf) {
				return
			}
			buf = buf[:0]
		}
	}
	h.write(w, append(buf, ']'))
}

// EntrySize is the size in bytes of one entry of HostileMany's list.
func (h *Hostile) EntrySize() int {
	return len(bytes.TrimSuffix(bytes.TrimPrefix(bytes.TrimSpace(h.inner.listJSON), []byte("[")), []byte("]")))
}

// write writes b and flushes; false when the reader is gone.
func (h *Hostile) write(w http.ResponseWriter, b []byte) bool {
	n, err := w.Write(b)
	h.sent.Add(int64(n))
	if err != nil {
		return false
	}
	return http.NewResponseController(w).Flush() == nil
}
