package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/netpolicy"
)

// readStats reads one stats record of container id. With prev == nil it asks
// for stream=false, where the daemon waits for one more collector pass
// (about 1 s) and fills precpu_stats; otherwise for a one-shot record, with
// precpu_stats empty, and the CPU % is computed against *prev. A one-shot
// read costs one collector pass on engines that route it through their
// collector (dockerd 20.10: at once if the collector was asleep, else at its
// next pass; see the package doc), milliseconds on newer ones. ok is false when the container vanished between the list
// and this read (404, 409, or the empty record a stopped container gives).
func readStats(ctx context.Context, cli *client.Client, id string, prev *CPUCounters) (s ContainerSample, ok bool, err error) {
	if clientTLS(cli) == nil {
		return readStatsDirect(ctx, cli, id, prev)
	}
	res, err := cli.ContainerStats(ctx, id, client.ContainerStatsOptions{
		Stream:                false,
		IncludePreviousSample: prev == nil,
	})
	if err != nil {
		if cerrdefs.IsNotFound(err) || cerrdefs.IsConflict(err) {
			return ContainerSample{}, false, nil
		}
		return ContainerSample{}, false, engineError(fmt.Sprintf("stats of %s", id), err)
	}
	defer func() { _ = res.Body.Close() }()
	return decodeStats(ctx, res.Body, id, prev)
}

// decodeStats decodes the stats record of container id from body, bounded
// to MaxStatsBody.
func decodeStats(ctx context.Context, body io.Reader, id string, prev *CPUCounters) (ContainerSample, bool, error) {
	var rec container.StatsResponse
	if err := json.NewDecoder(newBoundedReader(body, MaxStatsBody, "a stats body")).Decode(&rec); err != nil {
		if errors.Is(err, io.EOF) && ctx.Err() == nil {
			return ContainerSample{}, false, nil
		}
		return ContainerSample{}, false, engineError(fmt.Sprintf("decode stats of %s", id), decodeError("a stats record", ctxOr(ctx, err)))
	}
	if rec.Read.IsZero() {
		// A container that stopped answers {"id":…,"name":…} at once.
		return ContainerSample{}, false, nil
	}
	return SampleFromStats(rec, prev), true, nil
}

// readStatsDirect is readStats for an engine without TLS, on a connection of
// its own, closed after the record: a cycle reads every container at once,
// so the client's transport would dial most of them anyway, and would keep,
// per connection, two goroutines and two buffers while the read waits for
// the daemon's next pass, and per client between cycles its bookkeeping of
// those dials (~5 KB). A connection to a plain engine costs a TCP connect
// or a unix-socket connect; TLS engines keep the transport and its idle
// connections, which spare handshakes.
func readStatsDirect(ctx context.Context, cli *client.Client, id string, prev *CPUCounters) (ContainerSample, bool, error) {
	op := fmt.Sprintf("stats of %s", id)
	q := url.Values{"stream": {"false"}}
	if prev != nil {
		q.Set("one-shot", "true")
	}
	u, host, err := apiURL(cli, "/containers/"+id+"/stats", q)
	if err != nil {
		return ContainerSample{}, false, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return ContainerSample{}, false, fmt.Errorf("engine: %s: %w", op, err)
	}
	if host != "" {
		req.Host = host
	}
	req.Close = true
	resp, conn, stop, err := sendDirect(ctx, cli.Dialer(), req, 4<<10)
	if err != nil {
		return ContainerSample{}, false, engineError(op, err)
	}
	// The connection first: closing the body of a response read with
	// http.ReadResponse drains it, all of a hostile engine's endless one.
	defer func() {
		stop()
		_ = conn.Close()
		_ = resp.Body.Close()
	}()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound, http.StatusConflict:
		return ContainerSample{}, false, nil // vanished between the list and this read
	default:
		return ContainerSample{}, false, fmt.Errorf("engine: %s: %s", op, engineMessage(resp))
	}
	return decodeStats(ctx, resp.Body, id, prev)
}

// engineMessage is the status and the engine's message ({"message": …} or
// the text) of a failed direct request, bounded: it ends up stored and
// served.
func engineMessage(resp *http.Response) string {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var m struct {
		Message string `json:"message"`
	}
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &m) == nil && m.Message != "" {
		msg = m.Message
	}
	return netpolicy.RemoteText(resp.Status) + ": " + netpolicy.RemoteText(msg)
}
