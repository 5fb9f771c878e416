package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// TestBoundedReader: a body of exactly the bound reads whole; a byte more
// is a TooLargeError naming the body and the bound, never a short read.
func TestBoundedReader(t *testing.T) {
	for _, tc := range []struct {
		size    int
		wantErr bool
	}{{0, false}, {9, false}, {10, false}, {11, true}, {1 << 20, true}} {
		b, err := io.ReadAll(newBoundedReader(strings.NewReader(strings.Repeat("x", tc.size)), 10, "a stats body"))
		if got := errors.Is(err, ErrTooLarge); got != tc.wantErr {
			t.Fatalf("%d bytes: err = %v, want ErrTooLarge %v", tc.size, err, tc.wantErr)
		}
		if tc.wantErr {
			if want := "engine sent a stats body over 10 bytes"; err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
			continue
		}
		if len(b) != tc.size {
			t.Errorf("%d bytes: read %d", tc.size, len(b))
		}
	}
	if got := (&TooLargeError{What: "an info body", Limit: MaxInfoBody}).Error(); got != "engine sent an info body over 4 MiB" {
		t.Errorf("TooLargeError = %q", got)
	}
	if got := (&TooLargeError{What: "a list", Limit: 1234567, Items: "things"}).Error(); got != "engine sent a list of more than 1,234,567 things" {
		t.Errorf("TooLargeError = %q", got)
	}
}

// TestDecodeStatsBounds: a stats body over MaxStatsBody and a malformed one
// give clear errors.
func TestDecodeStatsBounds(t *testing.T) {
	huge := `{"read":"2026-01-02T03:04:05Z","name":"/` + strings.Repeat("a", MaxStatsBody) + `"}`
	_, _, err := decodeStats(t.Context(), strings.NewReader(huge), "c1", nil)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "engine sent a stats body over 1 MiB") {
		t.Fatalf("huge body: %v", err)
	}
	_, _, err = decodeStats(t.Context(), strings.NewReader(`{"read":12x}`), "c1", nil)
	if err == nil || !strings.Contains(err.Error(), "engine sent malformed JSON for a stats record") {
		t.Fatalf("malformed body: %v", err)
	}
}

// TestDecodeList: the list is read element by element and fails past
// maxItems; a value that is not an array is malformed.
func TestDecodeList(t *testing.T) {
	list := func(n int) string {
		items := make([]string, n)
		for i := range items {
			items[i] = fmt.Sprintf(`{"Id":"c%d","Names":["/n%d"],"Labels":{"a":"b"}}`, i, i)
		}
		return "[" + strings.Join(items, ",") + "]"
	}
	items, err := decodeList(strings.NewReader(list(3)), 3)
	if err != nil || len(items) != 3 || items[2].ID != "c2" || items[2].Names[0] != "/n2" {
		t.Fatalf("3 of 3: %+v, %v", items, err)
	}
	if items, err := decodeList(strings.NewReader("[]"), 3); err != nil || len(items) != 0 {
		t.Fatalf("empty: %+v, %v", items, err)
	}
	_, err = decodeList(strings.NewReader(list(4)), 3)
	if !errors.Is(err, ErrTooLarge) || err.Error() != "engine sent a containers list of more than 3 running containers" {
		t.Fatalf("4 of 3: %v", err)
	}
	for _, body := range []string{`{"Id":"c1"}`, `null`, `[{"Id":"c1",}]`, `[{"Id":`} {
		_, err := decodeList(strings.NewReader(body), 3)
		if err == nil || !strings.Contains(decodeError("a containers list", err).Error(), "engine sent malformed JSON for a containers list") {
			t.Errorf("%s: %v", body, err)
		}
	}
}

// TestDecodeDiskUsage: both shapes of /system/df total as the moby client
// does; unknown fields are skipped; a field of the wrong type is malformed.
func TestDecodeDiskUsage(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       DiskTotals
	}{
		{"legacy", `{"LayersSize":1000,"Images":[{"Id":"i1","Size":700},{"Id":"i2","Size":600}],` +
			`"Containers":[{"Id":"c1","SizeRw":10},{"Id":"c2","SizeRw":5}],` +
			`"Volumes":[{"Name":"v1","UsageData":{"Size":100,"RefCount":1}},{"Name":"v2","UsageData":{"Size":-1}},{"Name":"v3"}],` +
			`"BuildCache":[{"ID":"b1","Size":50},{"ID":"b2","Size":70,"Shared":true}],"Extra":{"x":[1,2]}}`,
			DiskTotals{Images: 1000, Containers: 15, Volumes: 100, BuildCache: 50}},
		{"API 1.52", `{"ImageUsage":{"TotalSize":1000,"ActiveCount":1},"ContainerUsage":{"TotalSize":15},` +
			`"VolumeUsage":{"TotalSize":100},"BuildCacheUsage":{"TotalSize":50}}`,
			DiskTotals{Images: 1000, Containers: 15, Volumes: 100, BuildCache: 50}},
		{"nulls", `{"LayersSize":0,"Images":null,"Containers":null,"Volumes":null,"BuildCache":null}`, DiskTotals{}},
	} {
		got, err := decodeDiskUsage(strings.NewReader(tc.body))
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v, %v, want %+v", tc.name, got, err, tc.want)
		}
	}
	for _, body := range []string{`{"LayersSize":"a lot"}`, `{"Containers":{"SizeRw":1}}`, `[]`, `{"Images":[{`} {
		_, err := decodeDiskUsage(strings.NewReader(body))
		if err == nil || !strings.Contains(decodeError("a disk usage body", err).Error(), "malformed JSON") {
			t.Errorf("%s: %v", body, err)
		}
	}
}

// TestReadLineBounds: a line over the decode bound is skipped whole; a line
// over the skip bound (one that never ends) is a TooLargeError.
func TestReadLineBounds(t *testing.T) {
	r := bufio.NewReaderSize(strings.NewReader(strings.Repeat("a", 50)+"\nok\n"), 16)
	line, tooLong, err := readLine(r, 20, 100)
	if err != nil || !tooLong || len(line) != 20 {
		t.Fatalf("long line: %d bytes, tooLong %v, %v", len(line), tooLong, err)
	}
	if line, tooLong, err := readLine(r, 20, 100); err != nil || tooLong || string(line) != "ok\n" {
		t.Fatalf("next line: %q, %v, %v", line, tooLong, err)
	}
	r = bufio.NewReaderSize(strings.NewReader(strings.Repeat("a", 1000)), 16)
	if _, _, err := readLine(r, 20, 100); !errors.Is(err, ErrTooLarge) || err.Error() != "engine sent an event line over 100 bytes" {
		t.Fatalf("endless line: %v", err)
	}
}

// TestReplyDeadline: a read cut by the reply deadline wraps ErrTooSlow; one
// cut by the caller, or an error of its own, is left as it is.
func TestReplyDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*ReplyMargin+50*time.Millisecond)
	defer cancel()
	rctx, rcancel, tooSlow := withReplyDeadline(ctx)
	defer rcancel()
	if d, _ := rctx.Deadline(); time.Until(d) > ReplyMargin+50*time.Millisecond {
		t.Fatalf("reply deadline in %s", time.Until(d))
	}
	other := errors.New("other")
	if got := tooSlow("info", other); got != other {
		t.Fatalf("before the deadline: %v", got)
	}
	<-rctx.Done()
	err := tooSlow("info", fmt.Errorf("engine: info: %w", rctx.Err()))
	if !errors.Is(err, ErrTooSlow) || !strings.Contains(err.Error(), "engine: info: engine too slow: no complete answer within") {
		t.Fatalf("after the reply deadline: %v", err)
	}
	cancel()
	if got := tooSlow("info", ctx.Err()); errors.Is(got, ErrTooSlow) {
		t.Fatalf("cut by the caller: %v", got)
	}
	// No deadline, or too little time left: no reply deadline.
	short, cancelShort := context.WithTimeout(t.Context(), ReplyMargin)
	defer cancelShort()
	for _, c := range []context.Context{t.Context(), short} {
		if rc, _, f := withReplyDeadline(c); rc != c || f("info", other) != other {
			t.Fatal("a reply deadline where none fits")
		}
	}
}

// TestReadStatsDirectEndlessBody: a stats read on a connection of its own
// gives up at the bound and closes the connection, rather than draining an
// endless body.
func TestReadStatsDirectEndlessBody(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "engine.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var sent atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		chunk := []byte(`{"read":"2026-01-02T03:04:05Z","name":"/` + strings.Repeat("a", 32<<10))
		for {
			n, err := w.Write(chunk)
			sent.Add(int64(n))
			if err != nil {
				return
			}
			chunk = chunk[len(chunk)-32<<10:]
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	cli, err := client.New(client.WithHost("unix://"+sock), client.WithAPIVersion("1.41"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, _, err = readStats(ctx, cli, "c1", &CPUCounters{})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("readStats = %v, want ErrTooLarge", err)
	}
	time.Sleep(50 * time.Millisecond) // the server's last write fails
	if n := sent.Load(); n > 64<<20 {
		t.Errorf("the engine wrote %d bytes: the body was drained", n)
	}
}
