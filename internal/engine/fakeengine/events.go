package fakeengine

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ringSize is dockerd's replay buffer (daemon/events eventsLimit).
const ringSize = 256

// subBuffer is a live subscriber's buffer (dockerd's is 1024 too); a full
// buffer loses events here instead of blocking the emitter.
const subBuffer = 1024

// event is one engine event with its encoded line.
type event struct {
	typ, action string
	actorID     string
	attrs       map[string]string // immutable once emitted
	timeNano    int64
	line        []byte // JSON + "\n"
}

type subscriber struct {
	ch chan *event // closed by Restart
}

// eventLog is an engine's replay ring and live subscribers.
type eventLog struct {
	mu   sync.Mutex
	ring [ringSize]*event
	head int // index of the oldest event
	n    int
	last int64 // the last timeNano handed out
	subs map[*subscriber]struct{}
}

// wireEvent is the JSON of an event, as dockerd 20.10 writes it.
type wireEvent struct {
	Status string    `json:"status,omitempty"`
	ID     string    `json:"id,omitempty"`
	From   string    `json:"from,omitempty"`
	Type   string    `json:"Type"`
	Action string    `json:"Action"`
	Actor  wireActor `json:"Actor"`
	Scope  string    `json:"scope"`
	Time   int64     `json:"time"`
	Nano   int64     `json:"timeNano"`
}

type wireActor struct {
	ID         string            `json:"ID"`
	Attributes map[string]string `json:"Attributes"`
}

// Emit appends a container event to the engine's ring and sends it to the
// live subscribers. action is the full action ("start", "health_status:
// healthy", "exec_start: sh -c true"…). Attributes are the container's
// labels, name and image; a "die" carries exitCode "0" and a "kill" signal
// "15". It panics when containerIndex is not in [0, Containers).
func (e *Engine) Emit(containerIndex int, action string) {
	if containerIndex < 0 || containerIndex >= len(e.containers) {
		panic(fmt.Sprintf("fakeengine: Emit: container %d of %d", containerIndex, len(e.containers)))
	}
	e.emit(&e.containers[containerIndex], action, nil)
}

// emit builds the event of container c and publishes it.
func (e *Engine) emit(c *fakeContainer, action string, extra map[string]string) {
	attrs := make(map[string]string, len(c.labels)+4)
	maps.Copy(attrs, c.labels)
	attrs["name"] = c.name
	attrs["image"] = c.image
	switch strings.TrimSpace(strings.SplitN(action, ":", 2)[0]) {
	case "die":
		attrs["exitCode"] = "0"
	case "kill":
		attrs["signal"] = "15"
	}
	maps.Copy(attrs, extra)
	x := &event{typ: "container", action: action, actorID: c.id, attrs: attrs}

	ev := &e.ev
	ev.mu.Lock()
	defer ev.mu.Unlock()
	now := time.Now().UnixNano()
	if now <= ev.last {
		now = ev.last + 1
	}
	ev.last = now
	x.timeNano = now
	line, _ := json.Marshal(wireEvent{
		Status: action, ID: c.id, From: c.image,
		Type: x.typ, Action: action, Actor: wireActor{ID: c.id, Attributes: attrs},
		Scope: "local", Time: now / int64(time.Second), Nano: now,
	})
	x.line = append(line, '\n')
	if ev.n < ringSize {
		ev.ring[(ev.head+ev.n)%ringSize] = x
		ev.n++
	} else {
		ev.ring[ev.head] = x
		ev.head = (ev.head + 1) % ringSize
	}
	for s := range ev.subs {
		select {
		case s.ch <- x:
		default: // lagging subscriber: dropped
		}
	}
}

// Restart simulates a daemon restart: the event ring is emptied and the
// live event streams end (their responses complete, as when dockerd shuts
// down). Listeners, containers and counters stay.
func (e *Engine) Restart() {
	ev := &e.ev
	ev.mu.Lock()
	defer ev.mu.Unlock()
	clear(ev.ring[:])
	ev.head, ev.n = 0, 0
	for s := range ev.subs {
		close(s.ch)
		delete(ev.subs, s)
	}
}

// subscribe returns the buffered events matching since/until/f and, when
// live, a subscriber registered in the same critical section.
func (ev *eventLog) subscribe(since, until eventTime, f *filter, live bool) ([]*event, *subscriber) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	var buffered []*event
	if since.set || until.set {
		for i := range ev.n {
			x := ev.ring[(ev.head+i)%ringSize]
			if since.set && x.timeNano < since.ns {
				continue
			}
			if until.set && x.timeNano > until.ns {
				continue
			}
			if f.match(x) {
				buffered = append(buffered, x)
			}
		}
	}
	if !live {
		return buffered, nil
	}
	s := &subscriber{ch: make(chan *event, subBuffer)}
	ev.subs[s] = struct{}{}
	return buffered, s
}

func (ev *eventLog) unsubscribe(s *subscriber) {
	if s == nil {
		return
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	delete(ev.subs, s) // Restart closed it when it is no longer there
}

// serveEvents answers GET /events as dockerd's getEvents does.
func (e *Engine) serveEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	since, err := parseEventTime(q.Get("since"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	until, err := parseEventTime(q.Get("until"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var (
		timeout  <-chan time.Time
		pastOnly bool
	)
	if until.set {
		if since.set && until.ns < since.ns {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("`since` time (%s) cannot be after `until` time (%s)", q.Get("since"), q.Get("until")))
			return
		}
		now := time.Now().UnixNano()
		pastOnly = until.ns < now
		if !pastOnly {
			t := time.NewTimer(time.Duration(until.ns - now))
			defer t.Stop()
			timeout = t.C
		}
	}
	f, err := parseFilters(q.Get("filters"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	buffered, sub := e.ev.subscribe(since, until, f, !pastOnly)
	defer e.ev.unsubscribe(sub)

	setHeaders(w.Header(), hdrJSON)
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	flush := func() {
		if flusher != nil {
			flusher.Flush()
		}
	}
	flush()
	for _, x := range buffered {
		if _, err := w.Write(x.line); err != nil {
			return
		}
	}
	flush()
	if pastOnly {
		return
	}
	ctx := r.Context()
	for {
		select {
		case x, ok := <-sub.ch:
			if !ok {
				return // Restart
			}
			if !f.match(x) {
				continue
			}
			if _, err := w.Write(x.line); err != nil {
				return
			}
			flush()
		case <-timeout:
			return
		case <-ctx.Done():
			return
		case <-e.done:
			return
		}
	}
}

// eventTime is a since/until parameter.
type eventTime struct {
	ns  int64
	set bool
}

// parseEventTime parses dockerd's "seconds[.nanoseconds]"; "" and -1 are
// unset, as in dockerd's eventTime.
func parseEventTime(s string) (eventTime, error) {
	if s == "" {
		return eventTime{}, nil
	}
	secStr, fracStr, hasFrac := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(secStr, 10, 64)
	if err != nil {
		return eventTime{}, fmt.Errorf("invalid timestamp %q: %w", s, err)
	}
	var nsec int64
	if hasFrac {
		nsec, err = strconv.ParseInt(fracStr, 10, 64)
		if err != nil {
			return eventTime{}, fmt.Errorf("invalid timestamp %q: %w", s, err)
		}
		nsec = int64(float64(nsec) * math.Pow(10, float64(9-len(fracStr))))
	}
	if sec == -1 && !hasFrac {
		return eventTime{}, nil
	}
	return eventTime{ns: sec*int64(time.Second) + nsec, set: true}, nil
}

// filter is the subset of dockerd's event filters modelled here. A nil set
// constrains nothing.
type filter struct {
	types, events, containers, images, labels, scopes map[string]bool
	fuzzyEvent                                        bool
}

// parseFilters parses the filters parameter in both JSON shapes:
// {"key":{"value":true}} and the legacy {"key":["value"]}.
func parseFilters(s string) (*filter, error) {
	f := &filter{}
	if s == "" {
		return f, nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, fmt.Errorf("invalid filter: %w", err)
	}
	for k, v := range raw {
		set := map[string]bool{}
		var m map[string]bool
		if err := json.Unmarshal(v, &m); err == nil {
			for val, on := range m {
				if on {
					set[val] = true
				}
			}
		} else {
			var l []string
			if err := json.Unmarshal(v, &l); err != nil {
				return nil, errors.New("invalid filter: values of " + k + " are neither an object nor a list")
			}
			for _, val := range l {
				set[val] = true
			}
		}
		switch k {
		case "type":
			f.types = set
		case "event":
			f.events = set
			f.fuzzyEvent = set["health_status"] || set["exec_create"] || set["exec_start"]
		case "container":
			f.containers = set
		case "image":
			f.images = set
		case "label":
			f.labels = set
		case "scope":
			f.scopes = set
		default: // daemon, network, volume, …: no such events here
		}
	}
	return f, nil
}

// match tells whether x passes every filter.
func (f *filter) match(x *event) bool {
	if f.types != nil && !f.types[x.typ] {
		return false
	}
	if f.events != nil {
		ok := f.events[x.action]
		if !ok && f.fuzzyEvent {
			for v := range f.events {
				if strings.HasPrefix(x.action, v) {
					ok = true
					break
				}
			}
		}
		if !ok {
			return false
		}
	}
	if f.containers != nil && !f.containers[x.attrs["name"]] {
		ok := false
		for v := range f.containers {
			if strings.HasPrefix(x.actorID, v) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if f.images != nil && !f.images[x.attrs["image"]] {
		return false
	}
	if f.scopes != nil && !f.scopes["local"] {
		return false
	}
	for l := range f.labels {
		k, v, hasValue := strings.Cut(l, "=")
		got, ok := x.attrs[k]
		if !ok || hasValue && got != v {
			return false
		}
	}
	return true
}

// scheduleFirstEvent draws the engine's first synthetic event time in
// [start, start+EventEvery).
func (e *Engine) scheduleFirstEvent(start time.Time) {
	every := e.f.opts.EventEvery
	e.nextEvent = start.Add(time.Duration(e.evRand.Int64N(int64(every))) + 1)
}

// syntheticDue emits the engine's synthetic restart sequence when due and
// draws the next time, EventEvery × [0.5, 1.5) later. Ticker goroutine only.
func (e *Engine) syntheticDue(now time.Time) {
	if len(e.containers) == 0 || now.Before(e.nextEvent) {
		return
	}
	select {
	case <-e.done:
		return
	default:
	}
	every := e.f.opts.EventEvery
	e.nextEvent = now.Add(every/2 + time.Duration(e.evRand.Int64N(int64(every))))
	c := &e.containers[e.evRand.IntN(len(e.containers))]
	exit := "0"
	if e.evRand.IntN(3) == 0 {
		exit = "143"
	}
	e.emit(c, "kill", map[string]string{"signal": "15"})
	e.emit(c, "die", map[string]string{"exitCode": exit})
	e.emit(c, "stop", nil)
	e.emit(c, "start", nil)
	e.emit(c, "restart", nil)
}
