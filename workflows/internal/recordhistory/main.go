// Command recordhistory records the history that the replay test of the
// environment workflow replays (workflows/testdata/environment_history.json).
//
// It needs a running Temporal dev server, for example:
//
//	bin/temporal server start-dev --headless --port 7299 --http-port 7298 --metrics-port 0 --db-filename /tmp/wf-record.db
//	go run ./workflows/internal/recordhistory -address localhost:7299
//
// It runs a worker with stub activities, starts an environment workflow with a
// 10 s interval, sends an accepted and a rejected configure update and two
// configure signals (one invalid), lets the workflow run checks of which one
// fails (online → offline → online), cancels it and writes its history.
// Re-record whenever the workflow changes in a way that is meant to be
// incompatible with running workflows; otherwise keep the old history: that is
// what the replay test is for.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/windflow/monitor/workflows"
)

func main() {
	address := flag.String("address", "localhost:7299", "Temporal frontend address")
	namespace := flag.String("namespace", "default", "Temporal namespace")
	out := flag.String("out", "workflows/testdata/environment_history.json", "where to write the history")
	flag.Parse()
	if err := run(*address, *namespace, *out); err != nil {
		fmt.Fprintln(os.Stderr, "recordhistory:", err)
		os.Exit(1)
	}
}

// stubEngine implements the activities; the check of the second cycle fails
// (both attempts), the others succeed.
type stubEngine struct {
	mu     sync.Mutex
	cycles []time.Time
}

func (s *stubEngine) collect(_ context.Context, in workflows.CollectMetricsInput) (workflows.MetricsSummary, error) {
	s.mu.Lock()
	n := 0
	for i, at := range s.cycles {
		if at.Equal(in.CycleAt) {
			n = i + 1
		}
	}
	if n == 0 {
		s.cycles = append(s.cycles, in.CycleAt)
		n = len(s.cycles)
	}
	s.mu.Unlock()
	if n == 2 {
		return workflows.MetricsSummary{}, errors.New("engine unreachable: dial unix /var/run/docker.sock: connect: connection refused")
	}
	return workflows.MetricsSummary{CollectedAt: in.CycleAt, ContainersRunning: 3, CPUPercent: 7.5, MemoryPercent: 42.1, Stored: true}, nil
}

func (s *stubEngine) checkEngine(context.Context, workflows.CheckEngineInput) error { return nil }

func (s *stubEngine) recordStatus(_ context.Context, in workflows.RecordStatusInput) error {
	slog.Info("status recorded", "online", in.Online, "changedAt", in.ChangedAt, "error", in.Error)
	return nil
}

func run(address, namespace, out string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	c, err := client.Dial(client.Options{
		HostPort:  address,
		Namespace: namespace,
		Logger:    sdklog.NewStructuredLogger(slog.Default()),
	})
	if err != nil {
		return fmt.Errorf("connect to %s: %w", address, err)
	}
	defer c.Close()

	const taskQueue = "windflow-recordhistory"
	stub := &stubEngine{}
	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(workflows.EnvironmentWorkflow, workflow.RegisterOptions{Name: workflows.WorkflowName})
	w.RegisterActivityWithOptions(stub.collect, activity.RegisterOptions{Name: workflows.ActivityCollectMetrics})
	w.RegisterActivityWithOptions(stub.checkEngine, activity.RegisterOptions{Name: workflows.ActivityCheckEngine})
	w.RegisterActivityWithOptions(stub.recordStatus, activity.RegisterOptions{Name: workflows.ActivityRecordStatus})
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	defer w.Stop()

	envID := fmt.Sprintf("recorded-%d", time.Now().Unix())
	settings := workflows.DefaultSettings()
	settings.MetricsInterval = 10 * time.Second
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:            workflows.WorkflowID(envID),
		TaskQueue:     taskQueue,
		StaticSummary: "environment local (unix:///var/run/docker.sock)",
	}, workflows.WorkflowName, workflows.Input{EnvironmentID: envID, Name: "local", Settings: settings})
	if err != nil {
		return fmt.Errorf("start workflow: %w", err)
	}
	slog.Info("started", "workflowID", run.GetID(), "runID", run.GetRunID())

	if _, err := waitForState(ctx, c, run, func(s workflows.State) bool { return s.Status == workflows.StatusOnline }); err != nil {
		return err
	}

	// Accepted: a one-failure threshold (so that the failed cycle turns the
	// environment offline) and a new interval, which re-arms the timer.
	state, err := configure(ctx, c, run, workflows.SettingsPatch{OfflineAfter: intp(1), MetricsIntervalSeconds: intp(12)})
	if err != nil {
		return fmt.Errorf("accepted update: %w", err)
	}
	slog.Info("update accepted", "settings", state.Settings)

	// Rejected: out of range; leaves no trace in the history.
	_, err = configure(ctx, c, run, workflows.SettingsPatch{MetricsIntervalSeconds: intp(5)})
	if err == nil {
		return errors.New("the out-of-range update was accepted")
	}
	slog.Info("update rejected", "error", err)

	// Signals: an invalid one (ignored) and a valid one (back to 10 s).
	if err := c.SignalWorkflow(ctx, run.GetID(), run.GetRunID(), workflows.SignalConfigure, workflows.SettingsPatch{MetricsIntervalSeconds: intp(1)}); err != nil {
		return fmt.Errorf("signal: %w", err)
	}
	if err := c.SignalWorkflow(ctx, run.GetID(), run.GetRunID(), workflows.SignalConfigure, workflows.SettingsPatch{MetricsIntervalSeconds: intp(10)}); err != nil {
		return fmt.Errorf("signal: %w", err)
	}

	// Cycle 2 fails (offline), cycle 3 recovers (online), cycle 4 is plain.
	final, err := waitForState(ctx, c, run, func(s workflows.State) bool { return s.Cycles >= 4 })
	if err != nil {
		return err
	}
	slog.Info("ran", "cycles", final.Cycles, "status", final.Status, "settings", final.Settings)
	if final.Status != workflows.StatusOnline || final.Settings.MetricsInterval != 10*time.Second {
		return fmt.Errorf("unexpected final state %+v", final)
	}

	if err := c.CancelWorkflow(ctx, run.GetID(), run.GetRunID()); err != nil {
		return fmt.Errorf("cancel: %w", err)
	}
	var canceled *temporal.CanceledError
	if err := run.Get(ctx, nil); !errors.As(err, &canceled) {
		return fmt.Errorf("want the workflow canceled, got %v", err)
	}

	var hist historypb.History
	iter := c.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		event, err := iter.Next()
		if err != nil {
			return fmt.Errorf("read history: %w", err)
		}
		hist.Events = append(hist.Events, event)
	}
	data, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(&hist)
	if err != nil {
		return fmt.Errorf("encode history: %w", err)
	}
	if err := os.WriteFile(out, append(data, '\n'), 0o644); err != nil {
		return err
	}
	slog.Info("history written", "file", out, "events", len(hist.Events))
	return nil
}

func configure(ctx context.Context, c client.Client, run client.WorkflowRun, patch workflows.SettingsPatch) (workflows.State, error) {
	handle, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   run.GetID(),
		RunID:        run.GetRunID(),
		UpdateName:   workflows.UpdateConfigure,
		Args:         []any{patch},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return workflows.State{}, err
	}
	var state workflows.State
	err = handle.Get(ctx, &state)
	return state, err
}

func waitForState(ctx context.Context, c client.Client, run client.WorkflowRun, done func(workflows.State) bool) (workflows.State, error) {
	for {
		v, err := c.QueryWorkflow(ctx, run.GetID(), run.GetRunID(), workflows.QueryState)
		if err != nil {
			return workflows.State{}, fmt.Errorf("query: %w", err)
		}
		var s workflows.State
		if err := v.Get(&s); err != nil {
			return workflows.State{}, err
		}
		if done(s) {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return s, fmt.Errorf("waiting for the workflow: %w (last state %+v)", ctx.Err(), s)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func intp(v int) *int { return &v }
