package workflows

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	envsettings "github.com/windflow/monitor/internal/settings"
	"github.com/windflow/monitor/internal/temporaltest"
)

// BenchmarkCachedWorkflowMemory measures what an environment workflow in
// the worker's cache costs the worker, on a real Temporal server: 300
// environments in stream mode (the stream a stub that blocks until
// cancelled, as cheap as a stream can be), after their first cycles, the
// worker's goroutine stacks, live heap and goroutines per environment
// (after a GC), with events and without (what the workflow alone costs).
func BenchmarkCachedWorkflowMemory(b *testing.B) {
	addr := temporaltest.Address(b)
	for _, v := range []struct {
		name   string
		events bool
	}{{"events", true}, {"events-off", false}} {
		b.Run(v.name, func(b *testing.B) {
			for range b.N {
				stack, heap, goroutines := cachedWorkflowMemory(b, addr, 300, v.events)
				b.ReportMetric(stack, "stack-B/env")
				b.ReportMetric(heap, "heap-B/env")
				b.ReportMetric(goroutines, "goroutines/env")
			}
		})
	}
}

// cachedWorkflowMemory starts envs environment workflows on a worker of
// its own and returns the growth of the process's stacks, live heap and
// goroutines per environment once every one streams (events on) and has run
// a cycle.
func cachedWorkflowMemory(b *testing.B, addr string, envs int, events bool) (stack, heap, goroutines float64) {
	b.Helper()
	var streaming, collected atomic.Int64
	collect := func(_ context.Context, in CollectMetricsInput) (MetricsSummary, error) {
		collected.Add(1)
		return MetricsSummary{CollectedAt: in.CycleAt, ContainersRunning: 10, CPUPercent: 12, MemoryPercent: 40, Stored: true}, nil
	}
	c, taskQueue := startMemoryWorkers(b, addr, "memory", envs, collect, &streaming)

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	goroutinesBefore := runtime.NumGoroutine()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := DefaultSettings()
	s.MetricsInterval = 30 * time.Second
	s.EventMode = EventModeStream
	s.EventsEnabled = events
	wantStreams := int64(envs)
	if !events {
		wantStreams = 0
	}
	startEnvironments(ctx, b, c, taskQueue, "memory", envs, s)
	for streaming.Load() < wantStreams || collected.Load() < int64(envs) {
		select {
		case <-ctx.Done():
			b.Fatalf("%d streams, %d cycles of %d environments", streaming.Load(), collected.Load(), envs)
		case <-time.After(100 * time.Millisecond):
		}
	}
	// Let the last workflow tasks finish, then measure what stays.
	time.Sleep(2 * time.Second)
	var after runtime.MemStats
	runtime.GC()
	runtime.GC() // more GCs shrink the stacks the first one found too big
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	n := float64(envs)
	return (float64(after.StackInuse) - float64(before.StackInuse)) / n,
		(float64(after.HeapAlloc) - float64(before.HeapAlloc)) / n,
		float64(runtime.NumGoroutine()-goroutinesBefore) / n
}

// BenchmarkWorkflowMemoryPerCycle measures what a cached environment
// workflow keeps per cycle it runs, on a real Temporal server: 150
// environments at a 2 s interval (stream mode, the stream a stub), the
// worker's live heap and stacks after their first cycles and again 60
// cycles later, per environment and cycle (about ±150 B of noise here). A workflow that keeps nothing
// per cycle reports about 0; one that keeps, say, each cycle's timer
// context until the run ends (MaxCyclesPerRun cycles, hours at the
// defaults) reports what that costs, multiplied in production by 500.
func BenchmarkWorkflowMemoryPerCycle(b *testing.B) {
	addr := temporaltest.Address(b)
	defer envsettings.LowerMetricsIntervalFloor(time.Second)()
	for range b.N {
		heap, stack := workflowMemoryPerCycle(b, addr, 150, 60)
		b.ReportMetric(heap, "heap-B/env/cycle")
		b.ReportMetric(stack, "stack-B/env/cycle")
	}
}

// workflowMemoryPerCycle runs envs environments at a 2 s interval on a
// worker of its own and returns the growth of the live heap and stacks
// per environment and cycle over cycles cycles, measured once every
// environment has run 3 cycles.
func workflowMemoryPerCycle(b *testing.B, addr string, envs, cycles int) (heap, stack float64) {
	b.Helper()
	var mu sync.Mutex
	perEnv := map[string]int{}
	collect := func(_ context.Context, in CollectMetricsInput) (MetricsSummary, error) {
		mu.Lock()
		perEnv[in.EnvironmentID]++
		mu.Unlock()
		return MetricsSummary{CollectedAt: in.CycleAt, ContainersRunning: 10, CPUPercent: 12, MemoryPercent: 40, Stored: true}, nil
	}
	// The fewest cycles any environment has run.
	fewest := func() int {
		mu.Lock()
		defer mu.Unlock()
		if len(perEnv) < envs {
			return 0
		}
		least := -1
		for _, n := range perEnv {
			if least < 0 || n < least {
				least = n
			}
		}
		return least
	}
	c, taskQueue := startMemoryWorkers(b, addr, "cycles", envs, collect, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := DefaultSettings()
	s.MetricsInterval = 2 * time.Second
	s.EventMode = EventModeStream
	startEnvironments(ctx, b, c, taskQueue, "cycles", envs, s)
	waitFor := func(n int) {
		for fewest() < n {
			select {
			case <-ctx.Done():
				b.Fatalf("the slowest of %d environments ran %d cycles, not %d", envs, fewest(), n)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	// The least of 5 readings 300 ms apart: cycles keep running, and what
	// the tasks in flight hold at one instant is noise here.
	measure := func() (heap, stack uint64) {
		for i := range 5 {
			time.Sleep(300 * time.Millisecond)
			var m runtime.MemStats
			for range 4 { // more GCs shrink the stacks the first one found too big
				runtime.GC()
			}
			runtime.ReadMemStats(&m)
			if i == 0 || m.HeapAlloc < heap {
				heap = m.HeapAlloc
			}
			if i == 0 || m.StackInuse < stack {
				stack = m.StackInuse
			}
		}
		return heap, stack
	}
	waitFor(3)
	first := fewest()
	heapBefore, stackBefore := measure()
	waitFor(first + cycles)
	heapAfter, stackAfter := measure()
	n := float64(envs * cycles)
	return (float64(heapAfter) - float64(heapBefore)) / n, (float64(stackAfter) - float64(stackBefore)) / n
}

// startMemoryWorkers starts, on a client and task queue of their own that
// end with the benchmark, a worker running the environment workflow with
// collect and stubs for the other activities, and a streams worker whose
// stream blocks until cancelled (counted in streaming when not nil).
func startMemoryWorkers(b *testing.B, addr, name string, envs int,
	collect func(context.Context, CollectMetricsInput) (MetricsSummary, error), streaming *atomic.Int64,
) (client.Client, string) {
	b.Helper()
	namespace := os.Getenv("TEMPORAL_NAMESPACE")
	if namespace == "" {
		namespace = "default"
	}
	logger := sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	c, err := client.Dial(client.Options{HostPort: addr, Namespace: namespace, Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	stream := func(ctx context.Context, in StreamEventsInput) (StreamProgress, error) {
		if streaming != nil {
			streaming.Add(1)
			defer streaming.Add(-1)
		}
		<-ctx.Done()
		return StreamProgress{Cursor: in.Cursor}, nil
	}
	stubs := &serverStubs{changed: make(chan struct{}, 1)}
	taskQueue := fmt.Sprintf("workflows-%s-%d", name, time.Now().UnixNano())
	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(EnvironmentWorkflow, workflow.RegisterOptions{Name: WorkflowName})
	w.RegisterActivityWithOptions(collect, activity.RegisterOptions{Name: ActivityCollectMetrics})
	w.RegisterActivityWithOptions(stubs.checkEngine, activity.RegisterOptions{Name: ActivityCheckEngine})
	w.RegisterActivityWithOptions(stubs.recordStatus, activity.RegisterOptions{Name: ActivityRecordStatus})
	w.RegisterActivityWithOptions(stubs.checkDisk, activity.RegisterOptions{Name: ActivityCheckDisk})
	w.RegisterActivityWithOptions(stubs.recordDiskWarning, activity.RegisterOptions{Name: ActivityRecordDiskWarning})
	streams := worker.New(c, StreamsTaskQueue(taskQueue), worker.Options{MaxConcurrentActivityExecutionSize: envs + 10})
	streams.RegisterActivityWithOptions(stream, activity.RegisterOptions{Name: ActivityStreamEvents})
	for _, wk := range []worker.Worker{w, streams} {
		if err := wk.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(wk.Stop)
	}
	return c, taskQueue
}

// startEnvironments starts envs environment workflows with settings s on
// taskQueue, terminated when the benchmark ends.
func startEnvironments(ctx context.Context, b *testing.B, c client.Client, taskQueue, prefix string, envs int, s Settings) {
	b.Helper()
	var ids []string
	b.Cleanup(func() {
		for _, id := range ids {
			_ = c.TerminateWorkflow(context.Background(), id, "", "benchmark over")
		}
	})
	for i := range envs {
		envID := fmt.Sprintf("%s-%s-%d", prefix, taskQueue, i)
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: WorkflowID(envID), TaskQueue: taskQueue},
			WorkflowName, Input{EnvironmentID: envID, Name: envID, Settings: s})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, run.GetID())
	}
}
