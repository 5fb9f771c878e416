package store_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/store"
)

// cycle returns a host metric and two container metrics of one cycle.
func cycle(envID uuid.UUID, at time.Time) (store.HostMetric, []store.ContainerMetric) {
	host := store.HostMetric{
		EnvironmentID:     envID,
		CycleAt:           at,
		CollectedAt:       at.Add(1500 * time.Millisecond),
		CPUPercent:        12.5,
		MemoryPercent:     40.25,
		MemoryUsed:        4 << 30,
		MemoryTotal:       10 << 30,
		ContainersRunning: 2,
	}
	containers := []store.ContainerMetric{
		{ContainerID: "c-web", ContainerName: "web", CPUPercent: 7.5, MemoryUsed: 100, MemoryLimit: 1000,
			NetRx: 1, NetTx: 2, BlockRead: 3, BlockWrite: 4, CPUTotalUsage: 5000, SystemCPUUsage: 90000, OnlineCPUs: 4},
		{ContainerID: "c-db", ContainerName: "db", CPUPercent: 5, MemoryUsed: 200, MemoryLimit: 2000,
			NetRx: 10, NetTx: 20, BlockRead: 30, BlockWrite: 40, CPUTotalUsage: 6000, SystemCPUUsage: 90000, OnlineCPUs: 4},
	}
	return host, containers
}

// baseTime is a fixed cycle time with no sub-microsecond part.
var baseTime = time.Date(2025, 3, 14, 15, 9, 0, 0, time.UTC)

func TestInsertMetricsIsIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")

	host, containers := cycle(env.ID, baseTime)
	inserted, err := b.store.InsertMetrics(b.ctx, host, containers)
	if err != nil || !inserted {
		t.Fatalf("first InsertMetrics = %v, %v; want true, nil", inserted, err)
	}

	// A retried activity sends the same cycle, possibly with other readings.
	retryHost, retryContainers := cycle(env.ID, baseTime)
	retryHost.CPUPercent = 99
	retryContainers = append(retryContainers, store.ContainerMetric{ContainerID: "c-new", ContainerName: "new"})
	inserted, err = b.store.InsertMetrics(b.ctx, retryHost, retryContainers)
	if err != nil || inserted {
		t.Fatalf("second InsertMetrics = %v, %v; want false, nil", inserted, err)
	}

	if n := b.count(t, "host_metrics"); n != 1 {
		t.Fatalf("host_metrics rows = %d, want 1", n)
	}
	if n := b.count(t, "container_metrics"); n != 2 {
		t.Fatalf("container_metrics rows = %d, want 2", n)
	}
	points, err := b.store.HostSeries(b.ctx, env.ID, baseTime, baseTime.Add(time.Hour), time.Hour)
	if err != nil {
		t.Fatalf("HostSeries: %v", err)
	}
	if len(points) != 1 || points[0].CPUPercent != 12.5 {
		t.Fatalf("HostSeries = %+v, want the first insert's reading", points)
	}
}

// A check run again by a retried workflow task has a later CycleAt but
// the same schedule slot: stored once. Cycles without a slot are keyed by
// CycleAt alone.
func TestInsertMetricsIsIdempotentPerSlot(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")

	host, containers := cycle(env.ID, baseTime.Add(200*time.Millisecond))
	host.DueAt = baseTime
	if inserted, err := b.store.InsertMetrics(b.ctx, host, containers); err != nil || !inserted {
		t.Fatalf("first InsertMetrics = %v, %v; want true, nil", inserted, err)
	}
	again, againContainers := cycle(env.ID, baseTime.Add(11*time.Second))
	again.DueAt = baseTime
	if inserted, err := b.store.InsertMetrics(b.ctx, again, againContainers); err != nil || inserted {
		t.Fatalf("the same slot again = %v, %v; want false, nil", inserted, err)
	}
	next, nextContainers := cycle(env.ID, baseTime.Add(30*time.Second))
	next.DueAt = baseTime.Add(30 * time.Second)
	if inserted, err := b.store.InsertMetrics(b.ctx, next, nextContainers); err != nil || !inserted {
		t.Fatalf("the next slot = %v, %v; want true, nil", inserted, err)
	}
	for _, at := range []time.Duration{40 * time.Second, 41 * time.Second} { // no slot
		h, c := cycle(env.ID, baseTime.Add(at))
		if inserted, err := b.store.InsertMetrics(b.ctx, h, c); err != nil || !inserted {
			t.Fatalf("a cycle without a slot = %v, %v; want true, nil", inserted, err)
		}
	}
	if n := b.count(t, "host_metrics"); n != 4 {
		t.Fatalf("host_metrics rows = %d, want 4", n)
	}
	if n := b.count(t, "container_metrics"); n != 8 {
		t.Fatalf("container_metrics rows = %d, want 8", n)
	}
}

func TestInsertMetricsRejectsBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")

	tests := []struct {
		name   string
		modify func(*store.HostMetric, []store.ContainerMetric) []store.ContainerMetric
		want   error
	}{
		{"host cpu NaN", func(h *store.HostMetric, c []store.ContainerMetric) []store.ContainerMetric {
			h.CPUPercent = math.NaN()
			return c
		}, store.ErrInvalid},
		{"host memory +Inf", func(h *store.HostMetric, c []store.ContainerMetric) []store.ContainerMetric {
			h.MemoryPercent = math.Inf(1)
			return c
		}, store.ErrInvalid},
		{"container cpu -Inf", func(h *store.HostMetric, c []store.ContainerMetric) []store.ContainerMetric {
			c[1].CPUPercent = math.Inf(-1)
			return c
		}, store.ErrInvalid},
		{"container cpu NaN", func(h *store.HostMetric, c []store.ContainerMetric) []store.ContainerMetric {
			c[0].CPUPercent = math.NaN()
			return c
		}, store.ErrInvalid},
		{"no environment ID", func(h *store.HostMetric, c []store.ContainerMetric) []store.ContainerMetric {
			h.EnvironmentID = uuid.Nil
			return c
		}, store.ErrInvalid},
		{"no cycle time", func(h *store.HostMetric, c []store.ContainerMetric) []store.ContainerMetric {
			h.CycleAt = time.Time{}
			return c
		}, store.ErrInvalid},
		{"container of another cycle", func(h *store.HostMetric, c []store.ContainerMetric) []store.ContainerMetric {
			c[0].CycleAt = h.CycleAt.Add(time.Second)
			return c
		}, store.ErrInvalid},
		{"container of another environment", func(h *store.HostMetric, c []store.ContainerMetric) []store.ContainerMetric {
			c[0].EnvironmentID = unknownID
			return c
		}, store.ErrInvalid},
		{"container without ID", func(h *store.HostMetric, c []store.ContainerMetric) []store.ContainerMetric {
			c[0].ContainerID = ""
			return c
		}, store.ErrInvalid},
		{"unknown environment", func(h *store.HostMetric, c []store.ContainerMetric) []store.ContainerMetric {
			h.EnvironmentID = unknownID
			return nil
		}, store.ErrNotFound},
		{"duplicate container", func(h *store.HostMetric, c []store.ContainerMetric) []store.ContainerMetric {
			return append(c, c[0])
		}, store.ErrInvalid},
		// The host row is written before the container rows fail to encode:
		// the rollback removes it.
		{"container rows fail after the host row", func(h *store.HostMetric, c []store.ContainerMetric) []store.ContainerMetric {
			c[1].OnlineCPUs = math.MaxInt32 + 1
			return c
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host, containers := cycle(env.ID, baseTime)
			containers = tt.modify(&host, containers)
			inserted, err := b.store.InsertMetrics(b.ctx, host, containers)
			if err == nil || inserted {
				t.Fatalf("InsertMetrics = %v, %v; want an error", inserted, err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			if n := b.count(t, "host_metrics") + b.count(t, "container_metrics"); n != 0 {
				t.Fatalf("%d metric rows written, want none", n)
			}
		})
	}
}

func TestSchemaRejectsNonFiniteFloats(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")

	for _, v := range []string{"NaN", "Infinity", "-Infinity"} {
		_, err := b.store.Pool().Exec(b.ctx, `
			INSERT INTO host_metrics (environment_id, cycle_at, collected_at, cpu_percent,
				memory_percent, memory_used, memory_total, containers_running)
			VALUES ($1, now(), now(), $2::float8, 0, 0, 0, 0)`, env.ID, v)
		if err == nil {
			t.Errorf("host_metrics accepted cpu_percent %s", v)
		}
	}
	if n := b.count(t, "host_metrics"); n != 0 {
		t.Fatalf("host_metrics rows = %d, want 0", n)
	}
}

func TestDeleteEnvironmentCascades(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "doomed")
	keep := b.createEnv(t, "kept")

	for _, id := range []uuid.UUID{env.ID, keep.ID} {
		host, containers := cycle(id, baseTime)
		if _, err := b.store.InsertMetrics(b.ctx, host, containers); err != nil {
			t.Fatalf("InsertMetrics: %v", err)
		}
		if _, _, err := b.store.RecordStatus(b.ctx, store.StatusChange{EnvironmentID: id, Online: true, ChangedAt: baseTime}, nil); err != nil {
			t.Fatalf("RecordStatus: %v", err)
		}
	}

	if err := b.store.DeleteEnvironment(b.ctx, env.ID); err != nil {
		t.Fatalf("DeleteEnvironment: %v", err)
	}
	for table, want := range map[string]int{
		"environments": 1, "host_metrics": 1, "container_metrics": 2, "environment_status": 1,
	} {
		if n := b.count(t, table); n != want {
			t.Errorf("%s rows = %d after delete, want %d (the kept environment's)", table, n, want)
		}
	}
}
