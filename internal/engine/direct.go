package engine

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
)

// sendDirect writes req on a connection of its own from dial and reads the
// answer's head through a bufSize reader, without an http.Transport (which
// keeps two goroutines and two buffers per connection): the event stream
// and the stats reads of plain engines. Cancelling ctx closes the
// connection, which ends a blocked read; the caller closes conn and calls
// stop when done with the body. A failure returns ctx.Err() when ctx ended,
// else an error wrapping ErrUnreachable.
func sendDirect(ctx context.Context, dial func(context.Context) (net.Conn, error), req *http.Request, bufSize int) (resp *http.Response, conn net.Conn, stop func() bool, err error) {
	failed := func(err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	conn, err = dial(ctx)
	if err != nil {
		return nil, nil, nil, failed(err)
	}
	stop = context.AfterFunc(ctx, func() { _ = conn.Close() })
	if err = req.Write(conn); err == nil {
		resp, err = http.ReadResponse(bufio.NewReaderSize(conn, bufSize), req)
	}
	if err != nil {
		stop()
		_ = conn.Close()
		return nil, nil, nil, failed(err)
	}
	return resp, conn, stop, nil
}
