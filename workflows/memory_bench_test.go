package workflows

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/windflow/monitor/internal/temporaltest"
)

// BenchmarkCachedWorkflowMemory measures what an environment workflow in
// the worker's cache costs the worker, on a real Temporal server: 300
// environments in stream mode (the stream a stub that blocks until
// cancelled, as cheap as a stream can be), after their first cycles, the
// worker's goroutine stacks, live heap and goroutines per environment
// (after a GC), with the event collection in the main loop (what new runs
// do), in a goroutine of its own (runs without the "events-in-loop"
// version), and without events (what the workflow alone costs).
func BenchmarkCachedWorkflowMemory(b *testing.B) {
	addr := temporaltest.Address(b)
	for _, v := range []struct {
		name           string
		inLoop, events bool
	}{{"events-in-loop", true, true}, {"events-goroutine", false, true}, {"events-off", true, false}} {
		b.Run(v.name, func(b *testing.B) {
			saved := eventsInLoop
			eventsInLoop = v.inLoop
			defer func() { eventsInLoop = saved }()
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
	namespace := os.Getenv("TEMPORAL_NAMESPACE")
	if namespace == "" {
		namespace = "default"
	}
	logger := sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	c, err := client.Dial(client.Options{HostPort: addr, Namespace: namespace, Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()

	var streaming, collected atomic.Int64
	collect := func(_ context.Context, in CollectMetricsInput) (MetricsSummary, error) {
		collected.Add(1)
		return MetricsSummary{CollectedAt: in.CycleAt, ContainersRunning: 10, CPUPercent: 12, MemoryPercent: 40, Stored: true}, nil
	}
	stream := func(ctx context.Context, in StreamEventsInput) (StreamProgress, error) {
		streaming.Add(1)
		defer streaming.Add(-1)
		<-ctx.Done()
		return StreamProgress{Cursor: in.Cursor}, nil
	}
	stubs := &serverStubs{changed: make(chan struct{}, 1)}
	taskQueue := fmt.Sprintf("workflows-memory-%d", time.Now().UnixNano())
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
		defer wk.Stop()
	}

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
	var ids []string
	defer func() {
		for _, id := range ids {
			_ = c.TerminateWorkflow(context.Background(), id, "", "benchmark over")
		}
	}()
	for i := range envs {
		envID := fmt.Sprintf("memory-%s-%d", taskQueue, i)
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: WorkflowID(envID), TaskQueue: taskQueue},
			WorkflowName, Input{EnvironmentID: envID, Name: envID, Settings: s})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, run.GetID())
	}
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
