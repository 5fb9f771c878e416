package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"sync"
	"weak"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"
)

// The list, /info and /system/df are read here rather than with the moby
// client, which decodes a whole answer of any size into memory: each body
// is read under its bound (bounds.go), and the list and the disk usage
// element by element, so that memory stays that of one element.

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

// getBounded sends GET path?q on a connection of its own (TLS when cli has
// it, see eventsDialer) and returns the body of a 200, bounded to limit
// bytes (what names it in the error); the caller closes it, which closes
// the connection. op names the request in errors.
func getBounded(ctx context.Context, cli *client.Client, op, path string, q url.Values, limit int64, what string) (io.ReadCloser, error) {
	if err := negotiate(ctx, cli); err != nil {
		return nil, err
	}
	u, host, err := apiURL(cli, path, q)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("engine: %s: %w", op, err)
	}
	if host != "" {
		req.Host = host
	}
	req.Close = true
	resp, conn, stop, err := sendDirect(ctx, eventsDialer(cli), req, 4<<10)
	if err != nil {
		return nil, engineError(op, err)
	}
	body := &eventsBody{ReadCloser: resp.Body, conn: conn, stop: stop}
	if resp.StatusCode != http.StatusOK {
		defer func() { _ = body.Close() }()
		return nil, fmt.Errorf("engine: %s: %s", op, engineMessage(resp))
	}
	return struct {
		io.Reader
		io.Closer
	}{newBoundedReader(resp.Body, limit, what), body}, nil
}

// getJSON decodes the bounded body of GET path into out.
func getJSON(ctx context.Context, cli *client.Client, op, path string, limit int64, what string, out any) error {
	body, err := getBounded(ctx, cli, op, path, nil, limit, what)
	if err != nil {
		return err
	}
	defer func() { _ = body.Close() }()
	if err := json.NewDecoder(body).Decode(out); err != nil {
		return engineError(op, decodeError(what, ctxOr(ctx, err)))
	}
	return nil
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
	var info system.Info
	err := getJSON(ctx, cli, "info", "/info", MaxInfoBody, "an info body", &info)
	return info, err
}

// listRunning reads GET /containers/json (the running containers), bounded
// to MaxListBody and MaxContainers.
func listRunning(ctx context.Context, cli *client.Client) ([]container.Summary, error) {
	const op, what = "list containers", "a containers list"
	body, err := getBounded(ctx, cli, op, "/containers/json", nil, MaxListBody, what)
	if err != nil {
		return nil, err
	}
	defer func() { _ = body.Close() }()
	items, err := decodeList(body, MaxContainers)
	if err != nil {
		return nil, engineError(op, decodeError(what, ctxOr(ctx, err)))
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
