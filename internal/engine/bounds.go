package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Bounds of what the monitor reads from an engine. Each is several times
// what a large real engine sends (docs/guarantees.md, "Hostile
// engines"); an engine past one gets a clear error, never a truncated
// result, so a cycle's totals are never computed from part of a host.
const (
	// MaxStatsBody bounds one container's stats record (a real one is
	// 2 to 5 KB; hundreds of networks make it about 100 KB).
	MaxStatsBody = 1 << 20
	// MaxInfoBody bounds GET /info (a real one is 2 to 50 KB).
	MaxInfoBody = 4 << 20
	// MaxListBody bounds GET /containers/json: MaxContainers entries of
	// 3 KB (a compose container's entry is 1 to 2 KB).
	MaxListBody = 32 << 20
	// MaxContainers bounds the running containers one environment may
	// list: a cycle reads every one's stats.
	MaxContainers = 10_000
	// MaxDiskUsageBody bounds GET /system/df, which on engines before API
	// 1.52 lists every image, container, volume and build-cache record
	// (about 1 KB each).
	MaxDiskUsageBody = 32 << 20
	// MaxEventLineSkipped bounds an event line that is skipped: a longer
	// one (or a line that never ends) fails the read.
	MaxEventLineSkipped = 64 << 20
	// ReplyMargin is how long before its caller's deadline a bounded read
	// gives up, so that the caller returns the engine's error rather than
	// its own timeout.
	ReplyMargin = time.Second
)

// ErrTooLarge is wrapped by the errors of an engine answer over one of the
// bounds above.
var ErrTooLarge = errors.New("engine answer over the monitor's bound")

// ErrTooSlow is wrapped by the errors of an engine that did not complete
// an answer before the reply deadline (see ReplyMargin).
var ErrTooSlow = errors.New("engine too slow")

// TooLargeError is an engine answer past a bound: What ("a stats body")
// over Limit bytes, or over Limit items when Items is set.
type TooLargeError struct {
	What  string
	Limit int64
	Items string
}

func (e *TooLargeError) Error() string {
	if e.Items != "" {
		return fmt.Sprintf("engine sent %s of more than %s %s", e.What, groupDigits(e.Limit), e.Items)
	}
	return fmt.Sprintf("engine sent %s over %s", e.What, formatSize(e.Limit))
}

// Is makes every TooLargeError match ErrTooLarge.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// groupDigits formats n with a comma every three digits (10,000).
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// formatSize is n bytes in MiB or KiB when exact, else in bytes.
func formatSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}

// boundedReader reads at most limit bytes of r; a byte more is a
// *TooLargeError, not an end: an answer cut at the bound would decode as
// a shorter valid one.
type boundedReader struct {
	r     io.Reader
	left  int64
	limit int64
	what  string
}

func newBoundedReader(r io.Reader, limit int64, what string) *boundedReader {
	return &boundedReader{r: r, left: limit, limit: limit, what: what}
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		n, err := b.r.Read(one[:])
		if n > 0 {
			return 0, &TooLargeError{What: b.what, Limit: b.limit}
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

// decodeError is the error of decoding what from an engine: JSON that
// does not parse or does not fit says so; a bound or a broken read is
// kept as it is.
func decodeError(what string, err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	if errors.As(err, &syntax) || errors.As(err, &typ) || errors.Is(err, errShape) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("engine sent malformed JSON for %s: %w", what, err)
	}
	return err
}

// withReplyDeadline returns ctx with a deadline ReplyMargin before ctx's
// own (none when ctx has none or less than twice the margin is left), and
// tooSlow, which turns an error of a read under it into one wrapping
// ErrTooSlow when that deadline, not ctx's, ended it.
func withReplyDeadline(ctx context.Context) (context.Context, context.CancelFunc, func(op string, err error) error) {
	deadline, ok := ctx.Deadline()
	if !ok || time.Until(deadline) < 2*ReplyMargin {
		return ctx, func() {}, func(_ string, err error) error { return err }
	}
	rctx, cancel := context.WithDeadline(ctx, deadline.Add(-ReplyMargin))
	within := time.Until(deadline.Add(-ReplyMargin)).Round(100 * time.Millisecond)
	tooSlow := func(op string, err error) error {
		if err == nil || ctx.Err() != nil || !errors.Is(rctx.Err(), context.DeadlineExceeded) {
			return err
		}
		return fmt.Errorf("engine: %s: %w: no complete answer within %s", op, ErrTooSlow, within)
	}
	return rctx, cancel, tooSlow
}
