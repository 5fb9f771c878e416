package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"weak"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
)

// The list, /info and /system/df are read here rather than with the moby
// client, which decodes an answer of any size: each body is read whole
// under its bound (bounds.go), then decoded, the list and the disk usage
// one element at a time (the list also capped at MaxContainers).

// negotiated holds the clients whose API version negotiate settled.
var negotiated sync.Map // weak.Pointer[client.Client] -> struct{}

// negotiate settles cli's API version with the engine once (a ping), as
// the moby client does before its first request: the direct requests
// below name the version in their path.
func negotiate(ctx context.Context, cli *client.Client) error {
	k := weak.Make(cli)
	if _, ok := negotiated.Load(k); ok {
		return nil
	}
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return engineError("ping", err)
	}
	if _, loaded := negotiated.LoadOrStore(k, struct{}{}); !loaded {
		runtime.AddCleanup(cli, func(k weak.Pointer[client.Client]) { negotiated.Delete(k) }, k)
	}
	return nil
}

// getBounded sends GET path?q, on a connection of its own to a plain
// engine (as readStatsDirect) and through the pooled client of a TLS one,
// and returns the body of a 200, bounded to limit bytes (what names it in
// the error); the caller closes it. op names the request in errors.
func getBounded(ctx context.Context, cli *client.Client, op, path string, q url.Values, limit int64, what string) (io.ReadCloser, error) {
	if err := negotiate(ctx, cli); err != nil {
		return nil, err
	}
	u, host, err := apiURL(cli, path, q)
	if err != nil {
		return nil, err
	}
	pooled := dialOf(cli).pooled
	if pooled != nil {
		u = "https" + strings.TrimPrefix(u, "http")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("engine: %s: %w", op, err)
	}
	if host != "" {
		req.Host = host
	}
	var (
		resp *http.Response
		body io.ReadCloser
	)
	if pooled != nil {
		if resp, err = pooled.Do(req); err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return nil, engineError(op, cerr)
			}
			return nil, engineError(op, fmt.Errorf("%w: %w", ErrUnreachable, err))
		}
		// Closed before its end, the body closes its connection.
		body = resp.Body
	} else {
		req.Close = true
		var (
			conn net.Conn
			stop func() bool
		)
		if resp, conn, stop, err = sendDirect(ctx, cli.Dialer(), req, 4<<10); err != nil {
			return nil, engineError(op, err)
		}
		body = &eventsBody{ReadCloser: resp.Body, conn: conn, stop: stop}
	}
	if resp.StatusCode != http.StatusOK {
		defer func() { _ = body.Close() }()
		return nil, fmt.Errorf("engine: %s: %s", op, engineMessage(resp))
	}
	return struct {
		io.Reader
		io.Closer
	}{newBoundedReader(resp.Body, limit, what), body}, nil
}

// readBounded reads the whole bounded body of GET path: a body over the
// bound fails after limit bytes copied, not after limit bytes parsed as
// JSON, which is many times slower. On an error, b is what was read.
func readBounded(ctx context.Context, cli *client.Client, op, path string, limit int64, what string) (b []byte, err error) {
	body, err := getBounded(ctx, cli, op, path, nil, limit, what)
	if err != nil {
		return nil, err
	}
	defer func() { _ = body.Close() }()
	b, err = io.ReadAll(body)
	if err != nil {
		return b, engineError(op, ctxOr(ctx, err))
	}
	return b, nil
}

// ctxOr is ctx's error when ctx ended (a read cut by it), else err.
func ctxOr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

// Info reads GET /info, bounded to MaxInfoBody.
func Info(ctx context.Context, cli *client.Client) (system.Info, error) {
	const op, what = "info", "an info body"
	var info system.Info
	b, err := readBounded(ctx, cli, op, "/info", MaxInfoBody, what)
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, engineError(op, decodeError(what, err))
	}
	return info, nil
}

// listRunning reads GET /containers/json (the running containers), bounded
// to MaxListBody and MaxContainers.
func listRunning(ctx context.Context, cli *client.Client) ([]container.Summary, error) {
	const op, what = "list containers", "a containers list"
	b, err := readBounded(ctx, cli, op, "/containers/json", MaxListBody, what)
	if errors.Is(err, ErrTooLarge) && bytes.Count(b, []byte(`"Id":`)) > MaxContainers {
		// Too many containers rather than too large ones: say so.
		err = engineError(op, &TooLargeError{What: what, Limit: MaxContainers, Items: "running containers"})
	}
	if err != nil {
		return nil, err
	}
	items, err := decodeList(bytes.NewReader(b), MaxContainers)
	if err != nil {
		return nil, engineError(op, decodeError(what, err))
	}
	return items, nil
}

// decodeList decodes a JSON array of containers element by element, failing
// at the element past maxItems.
func decodeList(r io.Reader, maxItems int) ([]container.Summary, error) {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '['); err != nil {
		return nil, err
	}
	var items []container.Summary
	for dec.More() {
		if len(items) == maxItems {
			return nil, &TooLargeError{What: "a containers list", Limit: int64(maxItems), Items: "running containers"}
		}
		var c container.Summary
		if err := dec.Decode(&c); err != nil {
			return nil, err
		}
		items = append(items, c)
	}
	_, err := dec.Token() // ']'
	return items, err
}

// expectDelim reads the next token, which must be delim.
func expectDelim(dec *json.Decoder, delim json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != delim {
		return fmt.Errorf("%w: want %v, got %v", errShape, delim, tok)
	}
	return nil
}

// errShape is JSON that parses but is not the shape the API documents.
var errShape = errors.New("unexpected JSON shape")
