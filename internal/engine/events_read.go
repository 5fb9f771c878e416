package engine

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/netpolicy"
)

// EventsQuery selects the events ReadEvents reads.
type EventsQuery struct {
	// Since and Until are Unix ns on the engine's clock; 0 leaves them
	// unset. Since is inclusive: an event at exactly Since is returned
	// again. With Until unset the stream stays open for live events.
	Since, Until int64
	// Filtered asks the engine for container events with a kept action
	// only (filters type=container and event=<each of KeptActions>).
	Filtered bool
}

// maxEventLine bounds one line of the event stream that is decoded.
// Longer lines (labels of several MiB) are passed to onMalformed truncated
// and skipped, up to MaxEventLineSkipped: a longer one ends the read.
const maxEventLine = 4 << 20

// errStopReading is returned by ReadRing's callback to end the read after
// more events than an engine can hold.
var errStopReading = errors.New("stop reading")

// ReadEvents reads GET /events with q and calls fn for each decoded event,
// in the order the engine sends them (time order), and onMalformed (when
// not nil) with a copy of each non-empty line that DecodeEvent rejects; such
// a line is skipped, never fatal.
//
// It returns:
//   - nil when the engine ends the stream: with Until set, after the
//     buffered matches; with Until unset, only when the engine (shutting
//     down) or a proxy closes the connection: reconnect from the cursor;
//   - ctx.Err() when ctx is cancelled;
//   - fn's error, unchanged, when fn returns one;
//   - an engine error (wrapping ErrUnreachable when no connection could be
//     made) when the request fails or the connection breaks; one wrapping
//     ErrTooLarge at a line over MaxEventLineSkipped; with Until set, one
//     wrapping ErrTooSlow when the engine has not ended the stream
//     ReplyMargin before ctx's deadline.
//
// It does its own HTTP request on the client's dialer and negotiated API
// version, decoding line by line, because the client's Events stops at the
// first line it cannot decode.
func ReadEvents(ctx context.Context, cli *client.Client, q EventsQuery, fn func(Event) error, onMalformed func(line []byte)) error {
	if q.Until > 0 {
		rctx, cancel, tooSlow := withReplyDeadline(ctx)
		defer cancel()
		return tooSlow("read events", readEvents(rctx, cli, q, fn, onMalformed))
	}
	return readEvents(ctx, cli, q, fn, onMalformed)
}

// readEvents is ReadEvents without the reply deadline.
func readEvents(ctx context.Context, cli *client.Client, q EventsQuery, fn func(Event) error, onMalformed func(line []byte)) error {
	body, err := openEvents(ctx, cli, q)
	if err != nil {
		return err
	}
	defer func() { _ = body.Close() }()
	// A small buffer: readLine copies every line out of it anyway (and
	// accumulates longer ones), and an idle stream (one per environment
	// and worker) should cost little memory.
	r := bufio.NewReaderSize(body, 1<<10)
	for {
		line, tooLong, rerr := readLine(r, maxEventLine, MaxEventLineSkipped)
		if err := ctx.Err(); err != nil {
			return err
		}
		if errors.Is(rerr, ErrTooLarge) {
			return fmt.Errorf("engine: read events: %w", rerr)
		}
		if line = trimEventLine(line); len(line) > 0 {
			ev, derr := DecodeEvent(line)
			if tooLong || derr != nil {
				if onMalformed != nil {
					onMalformed(line) // a fresh slice: readLine copies
				}
			} else if err := fn(ev); err != nil {
				return err
			}
		}
		switch {
		case rerr == nil:
		case errors.Is(rerr, io.EOF):
			return nil
		default:
			if err := ctx.Err(); err != nil {
				return err
			}
			// The connection broke mid-stream (engine gone, proxy reset).
			return fmt.Errorf("engine: read events: %w: %w", ErrUnreachable, rerr)
		}
	}
}

// openEvents sends GET /events and returns the response body of a 200.
func openEvents(ctx context.Context, cli *client.Client, q EventsQuery) (io.ReadCloser, error) {
	// Negotiates the API version if the client has not done it yet (Connect
	// has); either way it checks that the engine answers.
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return nil, engineError("ping", err)
	}
	u, host, err := eventsURL(cli, q)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("engine: events request: %w", err)
	}
	if host != "" {
		req.Host = host
	}
	req.Header.Set("Accept", "application/x-ndjson, application/json;q=0.9")
	// One connection of its own (a worker follows one stream per
	// environment). The client's dialer: unix socket or tcp, with TLS when
	// the client has it (it then returns a TLS connection, so the URL stays
	// http). A small reader under the body: the chunked decoder reads chunk
	// headers through it, and ReadEvents' own buffer takes the data straight
	// from the connection when this one is empty.
	resp, conn, stop, err := sendDirect(ctx, eventsDialer(cli), req, 1<<10)
	if err != nil {
		if errors.Is(err, ErrUnreachable) {
			err = fmt.Errorf("engine: events: %w", err)
		}
		return nil, err // or ctx.Err(), as it is
	}
	body := &eventsBody{ReadCloser: resp.Body, conn: conn, stop: stop}
	// The body holds on to resp for its trailers, and resp to the request
	// and the headers: a stream lives as long as its environment, and needs
	// neither.
	resp.Request, resp.Header = nil, nil
	if resp.StatusCode != http.StatusOK {
		defer func() { _ = body.Close() }()
		return nil, fmt.Errorf("engine: events: %s", engineMessage(resp))
	}
	return body, nil
}

// eventsBody is the body of an events response on its own connection:
// closing it closes the connection.
type eventsBody struct {
	io.ReadCloser
	conn net.Conn
	stop func() bool
}

func (b *eventsBody) Close() error {
	b.stop()
	// The connection first: closing the body of a response read with
	// http.ReadResponse drains it, which never ends on a live stream.
	err := b.conn.Close()
	_ = b.ReadCloser.Close()
	return err
}

// eventsDialer returns the dialer of the raw events request. For a client
// of ConnectTLS it dials TLS itself, under the client's outbound policy,
// bounded by ctx and a 10 s connect and handshake timeout: the moby
// client's Dialer does TLS too, but with tls.Dial, which ignores ctx and
// the policy, so a stalled handshake would hang the stream activity past
// its cancellation. Otherwise it is the client's Dialer: for a client of
// newClient, the transport's policed dialer (unix socket or plain tcp,
// which follows ctx).
func eventsDialer(cli *client.Client) func(context.Context) (net.Conn, error) {
	d := dialOf(cli)
	if d.tls == nil {
		return cli.Dialer()
	}
	return func(ctx context.Context) (net.Conn, error) {
		hu, err := client.ParseHostURL(cli.DaemonHost())
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		raw, err := d.policy.DialContext(ctx, "tcp", hu.Host)
		if err != nil {
			return nil, err
		}
		cfg := d.tls
		if cfg.ServerName == "" {
			cfg = cfg.Clone()
			cfg.ServerName, _, _ = net.SplitHostPort(hu.Host)
		}
		conn := tls.Client(raw, cfg)
		if err := conn.HandshakeContext(ctx); err != nil {
			_ = raw.Close()
			return nil, err
		}
		return conn, nil
	}
}

// eventsURL returns the URL of GET /events for q and the Host header to
// send ("" = the URL's host).
func eventsURL(cli *client.Client, q EventsQuery) (string, string, error) {
	v := url.Values{}
	if q.Since > 0 {
		v.Set("since", formatEventTime(q.Since))
	}
	if q.Until > 0 {
		v.Set("until", formatEventTime(q.Until))
	}
	if q.Filtered {
		v.Set("filters", keptFilters())
	}
	return apiURL(cli, "/events", v)
}

// apiURL returns the URL of path (e.g. "/events") with query v on the
// client's engine and negotiated API version, for a request written on a
// connection of its own, and the Host header to send ("" = the URL's host).
func apiURL(cli *client.Client, path string, v url.Values) (string, string, error) {
	hu, err := client.ParseHostURL(cli.DaemonHost())
	if err != nil {
		return "", "", fmt.Errorf("%w: %s: %w", ErrBadEndpoint, cli.DaemonHost(), err)
	}
	host, header := hu.Host, ""
	if hu.Scheme == "unix" || hu.Scheme == "npipe" {
		host, header = "docker", client.DummyHost
	}
	u := url.URL{
		Scheme:   "http",
		Host:     host,
		Path:     strings.TrimSuffix(hu.Path, "/") + "/v" + strings.TrimPrefix(cli.ClientVersion(), "v") + path,
		RawQuery: v.Encode(),
	}
	return u.String(), header, nil
}

// formatEventTime formats Unix ns as the API's "<sec>.<9-digit ns>".
func formatEventTime(ns int64) string {
	return fmt.Sprintf("%d.%09d", ns/int64(time.Second), ns%int64(time.Second))
}

// keptFilters returns the JSON of the server-side filters type=container
// and event=<each of KeptActions>. The engine matches "health_status"
// against "health_status: healthy|unhealthy" too: when the event filter
// holds health_status, exec_create or exec_start it compares every event
// value by prefix (moby daemon/events/filter.go, moby#25798; checked on
// dockerd 20.10, see testdata/events). No kept action is a prefix of an
// action that is not kept, so the prefix match lets nothing else through.
func keptFilters() string {
	ev := make(map[string]bool, len(KeptActions))
	for _, a := range KeptActions {
		ev[a] = true
	}
	b, _ := json.Marshal(map[string]map[string]bool{
		"type":  {"container": true},
		"event": ev,
	})
	return string(b)
}

// readLine reads one line (with its '\n', if any) of at most limit bytes.
// When the line is longer, it returns its first limit bytes with tooLong set,
// having consumed the rest, up to maxSkipped bytes in all: past them, err
// is a *TooLargeError. Otherwise err is the reader's error after the line
// (io.EOF at the end of the stream).
func readLine(r *bufio.Reader, limit, maxSkipped int) (line []byte, tooLong bool, err error) {
	consumed := 0
	for {
		chunk, err := r.ReadSlice('\n')
		if consumed += len(chunk); consumed > maxSkipped {
			return line, true, &TooLargeError{What: "an event line", Limit: int64(maxSkipped)}
		}
		if room := limit - len(line); len(chunk) > room {
			tooLong = true
			chunk = chunk[:max(room, 0)]
		}
		line = append(line, chunk...)
		if !errors.Is(err, bufio.ErrBufferFull) {
			return line, tooLong, err
		}
	}
}

// trimEventLine trims spaces and the record separator of a json-seq stream.
func trimEventLine(line []byte) []byte {
	return bytes.TrimSpace(bytes.TrimLeft(bytes.TrimSpace(line), "\x1e"))
}

// SystemTime returns the engine's clock: GET /info SystemTime.
func SystemTime(ctx context.Context, cli *client.Client) (time.Time, error) {
	info, err := Info(ctx, cli)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, info.SystemTime)
	if err != nil {
		return time.Time{}, fmt.Errorf("engine: info: SystemTime %q: %w", netpolicy.RemoteText(info.SystemTime), err)
	}
	return t, nil
}

// RingCapacity is how many events an engine keeps for replay (moby
// daemon/events eventsLimit), all types together, lost when it restarts.
const RingCapacity = 256

// Ring describes an engine's replay buffer at one moment.
type Ring struct {
	// Oldest is the timeNano of the oldest event it can still replay (0 when empty).
	Oldest int64
	// Len is how many events it holds (at most RingCapacity).
	Len int
	// EngineNow is the engine time (Unix ns) the read ended at.
	EngineNow int64
}

// ReadRing reads the engine's whole replay buffer: GET
// /events?since=1&until=<engine now> without filters (the buffer is shared by
// all event types); the daemon sends what it holds, then closes the stream.
// Undecodable lines count as events.
func ReadRing(ctx context.Context, cli *client.Client) (Ring, error) {
	now, err := SystemTime(ctx, cli)
	if err != nil {
		return Ring{}, err
	}
	r := Ring{EngineNow: now.UnixNano()}
	err = ReadEvents(ctx, cli, EventsQuery{Since: int64(time.Second), Until: r.EngineNow},
		func(e Event) error {
			if r.Len == 0 {
				r.Oldest = e.TimeNano
			}
			r.Len++
			if r.Len > RingCapacity {
				return errStopReading // not a replay buffer: an engine that keeps streaming
			}
			return nil
		}, func([]byte) { r.Len++ })
	if err != nil && !errors.Is(err, errStopReading) {
		return Ring{}, err
	}
	return r, nil
}
