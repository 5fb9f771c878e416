package engine

import (
	"errors"
	"path/filepath"
	"testing"

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
