package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

func TestCollectErrors(t *testing.T) {
	cli, err := client.New(client.WithHost("unix://" + filepath.Join(t.TempDir(), "gone.sock")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	tests := []struct {
		name string
		cli  *client.Client
		want error
	}{
		{"nil client", nil, nil},
		{"engine not answering", cli, ErrUnreachable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			host, samples, err := Collector{}.Collect(t.Context(), tc.cli, nil)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("Collect = %v, want error wrapping %v", err, tc.want)
			}
			if samples != nil || host != (HostSample{}) {
				t.Errorf("Collect returned data with an error: %+v %v", host, samples)
			}
		})
	}
}

func TestCollectorParallelism(t *testing.T) {
	tests := []struct{ in, want int }{{0, DefaultParallelism}, {-1, DefaultParallelism}, {1, 1}, {32, 32}}
	for _, tc := range tests {
		if got := (Collector{Parallelism: tc.in}).parallelism(); got != tc.want {
			t.Errorf("Collector{Parallelism: %d}.parallelism() = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// fakeStatsEngine is an HTTP engine on a unix socket that lists n running
// containers and holds every stats read until release is closed, counting
// the reads in flight, as an engine whose collector pass has not come yet.
type fakeStatsEngine struct {
	n        int
	release  chan struct{}
	mu       sync.Mutex
	inFlight int
	peak     int
	oneShot  map[string]bool // container ID -> read with one-shot=true
	arrived  chan struct{}   // one value per stats read received
}

func (f *fakeStatsEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Api-Version", "1.41")
	w.Header().Set("Content-Type", "application/json")
	path := r.URL.Path
	switch {
	case strings.HasSuffix(path, "/_ping"):
		_, _ = io.WriteString(w, "OK")
	case strings.HasSuffix(path, "/containers/json"):
		items := make([]map[string]any, f.n)
		for i := range items {
			items[i] = map[string]any{"Id": fakeID(i), "Names": []string{"/c" + strconv.Itoa(i)}, "State": "running"}
		}
		_ = json.NewEncoder(w).Encode(items)
	case strings.HasSuffix(path, "/info"):
		_, _ = io.WriteString(w, `{"NCPU":2,"MemTotal":4000000000}`)
	case strings.HasSuffix(path, "/stats"):
		id := strings.TrimSuffix(path[strings.Index(path, "/containers/")+len("/containers/"):], "/stats")
		f.mu.Lock()
		f.inFlight++
		f.peak = max(f.peak, f.inFlight)
		f.oneShot[id] = r.URL.Query().Get("one-shot") == "true"
		f.mu.Unlock()
		f.arrived <- struct{}{}
		select {
		case <-f.release:
		case <-r.Context().Done():
		}
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
		now := time.Now().UTC().Format(time.RFC3339Nano)
		pre := time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)
		fmt.Fprintf(w, `{"id":%q,"name":"/n","read":%q,"preread":%q,`+
			`"cpu_stats":{"cpu_usage":{"total_usage":2000000000},"system_cpu_usage":20000000000,"online_cpus":2},`+
			`"precpu_stats":{"cpu_usage":{"total_usage":1500000000},"system_cpu_usage":18000000000,"online_cpus":2},`+
			`"memory_stats":{"usage":1000,"limit":4000000000}}`, id, now, pre)
	default:
		http.NotFound(w, r)
	}
}

func fakeID(i int) string { return fmt.Sprintf("%064x", i+1) }

// TestCollectReadsAllAtOnce checks, against a fake engine that answers no
// stats read before all the expected ones have arrived, that Collect puts
// every read in flight at once under the default cap, at most Parallelism
// otherwise, and that it picks one-shot reads exactly for the containers it
// has counters for.
func TestCollectReadsAllAtOnce(t *testing.T) {
	tests := []struct {
		name        string
		n, parallel int
		wantPeak    int
	}{
		{"default cap, 50 containers", 50, 0, 50},
		{"cap 10, 25 containers", 25, 10, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeStatsEngine{n: tc.n, release: make(chan struct{}), oneShot: map[string]bool{}, arrived: make(chan struct{}, tc.n)}
			sock := filepath.Join(t.TempDir(), "engine.sock")
			ln, err := net.Listen("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: f}
			go func() { _ = srv.Serve(ln) }()
			t.Cleanup(func() { _ = srv.Close() })
			cli, err := client.New(client.WithHost("unix://" + sock))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cli.Close() })

			// Every other container has counters: one-shot for those.
			prev := map[string]CPUCounters{}
			for i := 0; i < tc.n; i += 2 {
				prev[fakeID(i)] = CPUCounters{TotalUsage: 1_000_000_000, SystemUsage: 10_000_000_000, OnlineCPUs: 2}
			}
			type result struct {
				samples []ContainerSample
				err     error
			}
			done := make(chan result, 1)
			go func() {
				_, s, err := Collector{Parallelism: tc.parallel}.Collect(t.Context(), cli, prev)
				done <- result{s, err}
			}()
			// Let the first wave arrive, then release every read.
			timeout := time.After(10 * time.Second)
			for range tc.wantPeak {
				select {
				case <-f.arrived:
				case <-timeout:
					t.Fatalf("stats reads in flight stayed below %d", tc.wantPeak)
				}
			}
			time.Sleep(50 * time.Millisecond) // room for a read beyond the cap to show up
			close(f.release)
			res := <-done
			if res.err != nil {
				t.Fatalf("Collect: %v", res.err)
			}
			if len(res.samples) != tc.n {
				t.Fatalf("Collect returned %d samples, want %d", len(res.samples), tc.n)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.peak != tc.wantPeak {
				t.Errorf("peak stats reads in flight = %d, want %d", f.peak, tc.wantPeak)
			}
			for i, s := range res.samples {
				id := fakeID(i)
				_, known := prev[id]
				if s.ID != id || f.oneShot[id] != known {
					t.Errorf("sample %d: ID %s one-shot %v, want ID %s one-shot %v", i, s.ID, f.oneShot[id], id, known)
				}
				if !s.CPUKnown || s.CPUPercent <= 0 {
					t.Errorf("sample %d: CPU %v known %v, want > 0", i, s.CPUPercent, s.CPUKnown)
				}
			}
		})
	}
}
