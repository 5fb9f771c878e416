// Command recordhistory records the histories that the replay test of the
// workflows replays (workflows/testdata/).
//
// It needs a Temporal dev server of its own, for example:
//
//	bin/temporal server start-dev --headless --port 7299 --http-port 7298 --metrics-port 0 \
//	  --dynamic-config-value limit.historyCount.suggestContinueAsNew=80
//	go run ./workflows/internal/recordhistory -address localhost:7299 -scenario environment
//
// It runs a worker with stub activities, starts a workflow, drives it through
// a scenario and writes its history. The environment scenarios use a 10 s
// interval:
//
//   - environment (environment_history.json): events on; an alert rule
//     (host CPU above 50 % for 10 s) pending at cycle 2, firing at 3,
//     resolved at 5; stream → poll by update (the stream hands its cursor to
//     the first poll) and a rejected update; poll → stream by signal (the
//     change stored in Postgres by RecordSettings); cycles
//     7 and 8 fail (offline), 9 recovers (online); cycle 10 is unknown (the
//     monitor unavailable); disk checks every minute with a 2 min cooldown
//     on a 92 % full disk: a warning at cycle 1, the cooldown at cycle 7, a
//     warning at cycle 13; cancelled after 14 cycles.
//   - continue (environment_history_continue.json, then
//     environment_history_continued.json): steady cycles until the server
//     suggests continue-as-new (hence the dynamic config above), then the
//     next run, from the carried state, for two cycles; cancelled.
//   - gone (environment_history_gone.json): cycles 2 and 3 unknown (the
//     monitor unavailable), 4 recovers, 5 finds the environment gone: the
//     stream is cancelled and the workflow completes.
//
// The notification scenarios run to completion (or are cancelled):
//
//   - delivery (notification_delivery_history.json): a delivery whose first
//     two attempts fail (retried with backoff, 5 s then 10 s) and whose third
//     succeeds.
//   - delivery-failed (notification_delivery_failed_history.json): a
//     delivery that fails with a non-retryable error (channel deleted) and
//     is marked failed.
//   - dispatcher (notification_dispatcher_history.json): the dispatcher
//     sweeps at once and 30 s later, then is cancelled.
//
// Re-record only when the workflow changes in a way that is meant to be
// incompatible with running workflows (see docs/versioning.md); otherwise
// keep the old histories: that is what the replay test is for.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
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
	scenario := flag.String("scenario", "environment", "environment, continue, gone, delivery, delivery-failed or dispatcher")
	out := flag.String("out", "", "where to write the history (default workflows/testdata/<the scenario's file>); the continue scenario writes its first run beside it")
	flag.Parse()
	def, ok := scenarios[*scenario]
	if !ok {
		fmt.Fprintf(os.Stderr, "recordhistory: unknown scenario %q\n", *scenario)
		os.Exit(2)
	}
	if *out == "" {
		*out = "workflows/testdata/" + def.file
	}
	if err := run(*address, *namespace, *out, def); err != nil {
		fmt.Fprintln(os.Stderr, "recordhistory:", err)
		os.Exit(1)
	}
}

// taskQueue is the task queue of the recording worker.
const taskQueue = "windflow-recordhistory"

// scenario starts a workflow and drives it; run cancels it (environment
// workflows) or waits for it to complete, and records its history to out.
type scenario func(ctx context.Context, c client.Client, stub *stubEngine, start startFunc, out string) (client.WorkflowRun, error)

// startFunc starts the environment workflow with the given settings.
type startFunc func(ctx context.Context, settings workflows.Settings) (client.WorkflowRun, error)

// scenarioDef is a scenario, the file it writes by default, and whether its
// workflow is cancelled at the end (environment workflows run forever).
type scenarioDef struct {
	record scenario
	file   string
	cancel bool
}

var scenarios = map[string]scenarioDef{
	"environment":     {recordEnvironment, "environment_history.json", true},
	"continue":        {recordContinue, "environment_history_continued.json", true},
	"gone":            {recordGone, "environment_history_gone.json", false},
	"delivery":        {recordDelivery, "notification_delivery_history.json", false},
	"delivery-failed": {recordDeliveryFailed, "notification_delivery_failed_history.json", false},
	"dispatcher":      {recordDispatcher, "notification_dispatcher_history.json", true},
}

// stubEngine implements the activities; checks succeed unless cycleErrors
// says otherwise. The event activities report the worker's clock as the
// engine's.
type stubEngine struct {
	mu     sync.Mutex
	cycles []time.Time
	// cycleErrors: the error of every attempt of the cycle numbered by
	// the key (1-based), when set.
	cycleErrors map[int]error

	streams []*stubStream
	polls   []stubPoll

	// Disk: every check reports 92 GB of 100 GB.
	diskChecks   []time.Time
	diskWarnings []workflows.RecordDiskWarningInput

	// Alerts: with alerts set, every collection brings a host CPU rule
	// (above 50 % for 10 s; the rule itself only until the workflow holds
	// it) and a host CPU of 80 % in cycles 2 to 4, 10 % otherwise;
	// alertRecords holds what RecordAlertTransitions got.
	alerts       bool
	alertRecords []workflows.AlertTransition
	// statuses holds the Online of every RecordStatus call;
	// settingsRecords the patch of every RecordSettings call.
	statuses        []bool
	settingsRecords []workflows.SettingsPatch

	// Notifications: the outcome of each DeliverNotification attempt.
	deliver    func(attempt int32) error
	deliveries []int32
	marked     []workflows.MarkNotificationFailedInput
	dispatches int
}

// stubStream is one StreamEvents attempt.
type stubStream struct {
	in       workflows.StreamEventsInput
	returned int64 // the cursor returned on cancellation
	stopped  bool
}

// stubPoll is one PollEvents attempt.
type stubPoll struct {
	in     workflows.PollEventsInput
	result int64
}

// stream heartbeats until cancelled, then returns its cursor, as the real
// activity does.
func (s *stubEngine) stream(ctx context.Context, in workflows.StreamEventsInput) (workflows.StreamProgress, error) {
	call := &stubStream{in: in}
	s.mu.Lock()
	s.streams = append(s.streams, call)
	s.mu.Unlock()
	slog.Info("stream started", "cursor", in.Cursor)
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	cursor := in.Cursor
	for {
		select {
		case <-ctx.Done():
			s.mu.Lock()
			call.returned, call.stopped = cursor, true
			s.mu.Unlock()
			slog.Info("stream stopped", "cursor", cursor)
			return workflows.StreamProgress{Cursor: cursor, Stored: 3}, nil
		case now := <-ticker.C:
			cursor = max(cursor, now.UnixNano()) // "events" up to now are stored
			activity.RecordHeartbeat(ctx, workflows.StreamProgress{Cursor: cursor, Stored: 3})
		}
	}
}

func (s *stubEngine) poll(_ context.Context, in workflows.PollEventsInput) (workflows.PollEventsResult, error) {
	result := max(in.Cursor, time.Now().UnixNano())
	s.mu.Lock()
	s.polls = append(s.polls, stubPoll{in: in, result: result})
	s.mu.Unlock()
	slog.Info("polled", "since", in.Cursor, "until", result)
	return workflows.PollEventsResult{Cursor: result, Stored: 1}, nil
}

// snapshot returns copies of the stream and poll records.
func (s *stubEngine) snapshot() ([]stubStream, []stubPoll) {
	s.mu.Lock()
	defer s.mu.Unlock()
	streams := make([]stubStream, len(s.streams))
	for i, st := range s.streams {
		streams[i] = *st
	}
	return streams, append([]stubPoll(nil), s.polls...)
}

// waitForStub polls the stub records until done holds.
func waitForStub(ctx context.Context, stub *stubEngine, what string, done func([]stubStream, []stubPoll) bool) error {
	for {
		if done(stub.snapshot()) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
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
	cycleErr := s.cycleErrors[n]
	s.mu.Unlock()
	if cycleErr != nil {
		return workflows.MetricsSummary{}, cycleErr
	}
	out := workflows.MetricsSummary{CollectedAt: in.CycleAt, ContainersRunning: 3, CPUPercent: 7.5, MemoryPercent: 42.1, Stored: true}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.alerts {
		cpu := 10.0
		if n >= 2 && n <= 4 {
			cpu = 80
		}
		out.CPUPercent = cpu
		out.Alerts = &workflows.AlertCycle{
			RulesDigest: "0d7a3c525b1e4c1e",
			Figures:     workflows.CycleFigures{At: in.CycleAt, CPUPercent: cpu, MemoryPercent: out.MemoryPercent},
		}
		// The rules once; then "unchanged", as the activity says when the
		// workflow sends their digest back.
		if in.AlertRulesDigest == out.Alerts.RulesDigest {
			out.Alerts.RulesUnchanged = true
		} else {
			out.Alerts.Rules = []workflows.AlertRule{{
				ID: "0d7a3c52-5b1e-4c1e-9a55-3f1f2a6b7c80", Metric: workflows.AlertHostCPU,
				Op: workflows.AlertAbove, Threshold: 50, For: 10 * time.Second,
			}}
		}
	}
	return out, nil
}

func (s *stubEngine) recordAlerts(_ context.Context, in workflows.RecordAlertTransitionsInput) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.alertRecords = append(s.alertRecords, in.Transitions...)
	return nil
}

func (s *stubEngine) recordSettings(_ context.Context, in workflows.RecordSettingsInput) error {
	s.mu.Lock()
	s.settingsRecords = append(s.settingsRecords, in.Patch)
	s.mu.Unlock()
	return nil
}

func (s *stubEngine) checkEngine(context.Context, workflows.CheckEngineInput) error { return nil }

func (s *stubEngine) checkDisk(_ context.Context, in workflows.CheckDiskInput) (workflows.DiskSummary, error) {
	s.mu.Lock()
	if !slices.ContainsFunc(s.diskChecks, in.CheckAt.Equal) {
		s.diskChecks = append(s.diskChecks, in.CheckAt)
	}
	s.mu.Unlock()
	slog.Info("disk check", "checkAt", in.CheckAt)
	const gb = 1_000_000_000
	return workflows.DiskSummary{
		CheckedAt: in.CheckAt, ImagesBytes: 60 * gb, ContainersBytes: 2 * gb, VolumesBytes: 25 * gb, BuildCacheBytes: 5 * gb,
		TotalBytes: 92 * gb, CapacityBytes: 100 * gb, CapacitySource: "configured", Percent: 92,
	}, nil
}

func (s *stubEngine) recordDiskWarning(_ context.Context, in workflows.RecordDiskWarningInput) error {
	s.mu.Lock()
	s.diskWarnings = append(s.diskWarnings, in)
	s.mu.Unlock()
	slog.Info("disk warning recorded", "checkAt", in.CheckAt, "reason", in.Reason)
	return nil
}

func (s *stubEngine) deliverNotification(ctx context.Context, in workflows.DeliverNotificationInput) error {
	attempt := activity.GetInfo(ctx).Attempt
	s.mu.Lock()
	s.deliveries = append(s.deliveries, attempt)
	deliver := s.deliver
	s.mu.Unlock()
	var err error
	if deliver != nil {
		err = deliver(attempt)
	}
	slog.Info("delivery attempt", "notificationID", in.NotificationID, "attempt", attempt, "error", err)
	return err
}

func (s *stubEngine) markNotificationFailed(_ context.Context, in workflows.MarkNotificationFailedInput) error {
	s.mu.Lock()
	s.marked = append(s.marked, in)
	s.mu.Unlock()
	slog.Info("notification marked failed", "notificationID", in.NotificationID, "error", in.Error)
	return nil
}

func (s *stubEngine) dispatchNotifications(context.Context) (workflows.DispatchResult, error) {
	s.mu.Lock()
	s.dispatches++
	n := s.dispatches
	s.mu.Unlock()
	slog.Info("dispatched", "sweep", n)
	return workflows.DispatchResult{Started: n, Pending: 0}, nil
}

func (s *stubEngine) recordStatus(_ context.Context, in workflows.RecordStatusInput) error {
	s.mu.Lock()
	s.statuses = append(s.statuses, in.Online)
	s.mu.Unlock()
	slog.Info("status recorded", "online", in.Online, "changedAt", in.ChangedAt, "error", in.Error)
	return nil
}

func run(address, namespace, out string, def scenarioDef) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
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

	stub := &stubEngine{}
	w := worker.New(c, taskQueue, worker.Options{
		// Cancellation reaches the stream with a heartbeat response; the
		// default throttle (0.8 × 30 s) would make each stop take 24 s.
		MaxHeartbeatThrottleInterval: 200 * time.Millisecond,
	})
	w.RegisterWorkflowWithOptions(workflows.EnvironmentWorkflow, workflow.RegisterOptions{Name: workflows.WorkflowName})
	w.RegisterActivityWithOptions(stub.collect, activity.RegisterOptions{Name: workflows.ActivityCollectMetrics})
	w.RegisterActivityWithOptions(stub.checkEngine, activity.RegisterOptions{Name: workflows.ActivityCheckEngine})
	w.RegisterActivityWithOptions(stub.recordStatus, activity.RegisterOptions{Name: workflows.ActivityRecordStatus})
	w.RegisterActivityWithOptions(stub.stream, activity.RegisterOptions{Name: workflows.ActivityStreamEvents})
	w.RegisterActivityWithOptions(stub.poll, activity.RegisterOptions{Name: workflows.ActivityPollEvents})
	w.RegisterActivityWithOptions(stub.checkDisk, activity.RegisterOptions{Name: workflows.ActivityCheckDisk})
	w.RegisterActivityWithOptions(stub.recordDiskWarning, activity.RegisterOptions{Name: workflows.ActivityRecordDiskWarning})
	w.RegisterActivityWithOptions(stub.recordAlerts, activity.RegisterOptions{Name: workflows.ActivityRecordAlertTransitions})
	w.RegisterActivityWithOptions(stub.recordSettings, activity.RegisterOptions{Name: workflows.ActivityRecordSettings})
	w.RegisterWorkflowWithOptions(workflows.NotificationDeliveryWorkflow, workflow.RegisterOptions{Name: workflows.NotificationDeliveryWorkflowName})
	w.RegisterWorkflowWithOptions(workflows.NotificationDispatcherWorkflow, workflow.RegisterOptions{Name: workflows.NotificationDispatcherWorkflowName})
	w.RegisterActivityWithOptions(stub.deliverNotification, activity.RegisterOptions{Name: workflows.ActivityDeliverNotification})
	w.RegisterActivityWithOptions(stub.markNotificationFailed, activity.RegisterOptions{Name: workflows.ActivityMarkNotificationFailed})
	w.RegisterActivityWithOptions(stub.dispatchNotifications, activity.RegisterOptions{Name: workflows.ActivityDispatchNotifications})
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	defer w.Stop()
	// The streams run on a task queue of their own.
	streams := worker.New(c, workflows.StreamsTaskQueue(taskQueue), worker.Options{MaxHeartbeatThrottleInterval: 200 * time.Millisecond})
	streams.RegisterActivityWithOptions(stub.stream, activity.RegisterOptions{Name: workflows.ActivityStreamEvents})
	if err := streams.Start(); err != nil {
		return fmt.Errorf("start streams worker: %w", err)
	}
	defer streams.Stop()

	start := func(ctx context.Context, settings workflows.Settings) (client.WorkflowRun, error) {
		envID := fmt.Sprintf("recorded-%d", time.Now().Unix())
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID:            workflows.WorkflowID(envID),
			TaskQueue:     taskQueue,
			StaticSummary: "environment local (unix:///var/run/docker.sock)",
		}, workflows.WorkflowName, workflows.Input{EnvironmentID: envID, Name: "local", Settings: settings})
		if err != nil {
			return nil, fmt.Errorf("start workflow: %w", err)
		}
		slog.Info("started", "workflowID", run.GetID(), "runID", run.GetRunID())
		return run, nil
	}
	run, err := def.record(ctx, c, stub, start, out)
	if err != nil {
		return err
	}
	if !def.cancel {
		if err := run.Get(ctx, nil); err != nil {
			return fmt.Errorf("want the workflow completed, got %w", err)
		}
		return writeHistory(ctx, c, run, out)
	}

	if err := c.CancelWorkflow(ctx, run.GetID(), run.GetRunID()); err != nil {
		return fmt.Errorf("cancel: %w", err)
	}
	var canceled *temporal.CanceledError
	if err := run.Get(ctx, nil); err != nil && !errors.As(err, &canceled) {
		// The dispatcher completes without error when cancelled.
		return fmt.Errorf("want the workflow canceled, got %v", err)
	}
	if err := waitForStub(ctx, stub, "every stream stopped", func(streams []stubStream, _ []stubPoll) bool {
		for _, s := range streams {
			if !s.stopped {
				return false
			}
		}
		return true
	}); err != nil {
		return err
	}
	return writeHistory(ctx, c, run, out)
}

// environmentSettings are the settings of the environment scenarios: checks
// every 10 s, the event stream, disk checks every minute with a 2 min
// cooldown against a configured 100 GB.
func environmentSettings() workflows.Settings {
	settings := workflows.DefaultSettings()
	settings.MetricsInterval = 10 * time.Second
	settings.EventsEnabled = true
	settings.EventMode = workflows.EventModeStream
	settings.DiskInterval = time.Minute
	settings.DiskCooldown = 2 * time.Minute
	settings.DiskCapacityBytes = 100_000_000_000
	return settings
}

// monitorUnavailable is the error of a check while Postgres is down.
func monitorUnavailable() error {
	return temporal.NewApplicationError("monitor unavailable: store metrics of local: dial tcp 127.0.0.1:5432: connect: connection refused",
		workflows.ErrTypeMonitorUnavailable)
}

// recordEnvironment is the scenario of environment_history.json.
func recordEnvironment(ctx context.Context, c client.Client, stub *stubEngine, start startFunc, _ string) (client.WorkflowRun, error) {
	engineDown := errors.New("engine unreachable: dial unix /var/run/docker.sock: connect: connection refused")
	stub.mu.Lock()
	stub.alerts = true
	stub.cycleErrors = map[int]error{7: engineDown, 8: engineDown, 10: monitorUnavailable()}
	stub.mu.Unlock()
	run, err := start(ctx, environmentSettings())
	if err != nil {
		return nil, err
	}
	if err := switchEventModes(ctx, c, stub, run); err != nil {
		return nil, err
	}
	final, err := waitForState(ctx, c, run, func(s workflows.State) bool {
		stub.mu.Lock()
		warnings := len(stub.diskWarnings)
		stub.mu.Unlock()
		return s.Cycles >= 14 && s.Status == workflows.StatusOnline && s.PendingDiskWarning == nil &&
			len(s.PendingAlerts) == 0 && warnings == 2
	})
	if err != nil {
		return nil, err
	}
	stub.mu.Lock()
	alerts := append([]workflows.AlertTransition(nil), stub.alertRecords...)
	statuses := append([]bool(nil), stub.statuses...)
	diskChecks, warnings := len(stub.diskChecks), len(stub.diskWarnings)
	settingsRecords := len(stub.settingsRecords)
	stub.mu.Unlock()
	slog.Info("ran", "cycles", final.Cycles, "alerts", len(alerts), "statuses", statuses, "diskChecks", diskChecks, "warnings", warnings)
	switch {
	case len(alerts) != 2 || alerts[0].Phase != workflows.AlertFiring || alerts[1].Phase != workflows.AlertResolved:
		return nil, fmt.Errorf("want one alert firing then resolved, recorded %+v", alerts)
	case !slices.Equal(statuses, []bool{true, false, true}):
		return nil, fmt.Errorf("want online, offline, online recorded, got %v", statuses)
	case final.UnstoredCycles != 1:
		return nil, fmt.Errorf("want one unknown check, got %d", final.UnstoredCycles)
	case diskChecks < 3 || warnings != 2:
		return nil, fmt.Errorf("want two disk warnings a cooldown apart, got %d checks and %d warnings", diskChecks, warnings)
	case final.Settings.EventMode != workflows.EventModeStream:
		return nil, fmt.Errorf("want the stream back, got %+v", final.Settings)
	case settingsRecords != 1:
		return nil, fmt.Errorf("want the signal's change stored once, got %d records", settingsRecords)
	}
	return run, nil
}

// switchEventModes switches the collection stream → poll by update (the
// stream hands its cursor to the first poll; an out-of-range update is
// rejected on the way), then poll → stream by signal (the stream starts from
// the poll's cursor).
func switchEventModes(ctx context.Context, c client.Client, stub *stubEngine, run client.WorkflowRun) error {
	if err := waitForStub(ctx, stub, "the stream", func(s []stubStream, _ []stubPoll) bool { return len(s) == 1 }); err != nil {
		return err
	}
	time.Sleep(time.Second) // a few heartbeats
	poll := workflows.EventModePoll
	if _, err := configure(ctx, c, run, workflows.SettingsPatch{EventMode: &poll}); err != nil {
		return fmt.Errorf("switch to poll: %w", err)
	}
	if _, err := configure(ctx, c, run, workflows.SettingsPatch{MetricsIntervalSeconds: intp(5)}); err == nil {
		return errors.New("the out-of-range update was accepted")
	}
	if err := waitForStub(ctx, stub, "the first poll", func(_ []stubStream, p []stubPoll) bool { return len(p) == 1 }); err != nil {
		return err
	}
	streams, polls := stub.snapshot()
	if !streams[0].stopped || streams[0].returned == 0 || polls[0].in.Cursor != streams[0].returned {
		return fmt.Errorf("stream → poll: the poll started from %d, the stream returned %d (stopped %t)",
			polls[0].in.Cursor, streams[0].returned, streams[0].stopped)
	}
	stream := workflows.EventModeStream
	if err := c.SignalWorkflow(ctx, run.GetID(), run.GetRunID(), workflows.SignalConfigure, workflows.SettingsPatch{EventMode: &stream}); err != nil {
		return fmt.Errorf("signal: %w", err)
	}
	if err := waitForStub(ctx, stub, "the second stream", func(s []stubStream, _ []stubPoll) bool { return len(s) == 2 }); err != nil {
		return err
	}
	streams, polls = stub.snapshot()
	if streams[1].in.Cursor != polls[0].result {
		return fmt.Errorf("poll → stream: the stream started from %d, the poll returned %d", streams[1].in.Cursor, polls[0].result)
	}
	slog.Info("stream → poll → stream handed over", "cursor", streams[1].in.Cursor)
	return nil
}

// recordContinue is the scenario of environment_history_continue.json (the
// first run, written beside out) and environment_history_continued.json
// (the next run, which run cancels and writes to out).
func recordContinue(ctx context.Context, c client.Client, _ *stubEngine, start startFunc, out string) (client.WorkflowRun, error) {
	first, err := start(ctx, environmentSettings())
	if err != nil {
		return nil, err
	}
	for {
		d, err := c.DescribeWorkflow(ctx, first.GetID(), first.GetRunID())
		if err != nil {
			return nil, fmt.Errorf("describe: %w", err)
		}
		if d.RawResponse.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for continue-as-new (is the server's limit.historyCount.suggestContinueAsNew set?): %w", ctx.Err())
		case <-time.After(time.Second):
		}
	}
	if err := writeHistory(ctx, c, first, filepath.Join(filepath.Dir(out), "environment_history_continue.json")); err != nil {
		return nil, err
	}
	next := c.GetWorkflow(ctx, first.GetID(), "")
	carried, err := waitForState(ctx, c, next, func(workflows.State) bool { return true })
	if err != nil {
		return nil, err
	}
	final, err := waitForState(ctx, c, next, func(s workflows.State) bool { return s.Cycles >= carried.Cycles+2 })
	if err != nil {
		return nil, err
	}
	slog.Info("continued", "cycles", final.Cycles, "status", final.Status, "cursor", final.EventCursorAt)
	if final.Status != workflows.StatusOnline || final.LastDisk == nil {
		return nil, fmt.Errorf("the next run lost the carried state: %+v", final)
	}
	return next, nil
}

// recordGone is the scenario of environment_history_gone.json.
func recordGone(ctx context.Context, c client.Client, stub *stubEngine, start startFunc, _ string) (client.WorkflowRun, error) {
	stub.mu.Lock()
	stub.cycleErrors = map[int]error{
		2: monitorUnavailable(),
		3: monitorUnavailable(),
		5: temporal.NewNonRetryableApplicationError("environment recorded-gone not found", workflows.ErrTypeEnvironmentNotFound, nil),
	}
	stub.mu.Unlock()
	run, err := start(ctx, environmentSettings())
	if err != nil {
		return nil, err
	}
	mid, err := waitForState(ctx, c, run, func(s workflows.State) bool { return s.UnstoredCycles >= 2 })
	if err != nil {
		return nil, err
	}
	if mid.Status != workflows.StatusOnline || mid.MonitorUnavailableSince.IsZero() {
		return nil, fmt.Errorf("after two unknown checks: %+v; want online, the outage shown", mid)
	}
	if err := run.Get(ctx, nil); err != nil {
		return nil, fmt.Errorf("want the workflow completed once its environment is gone, got %w", err)
	}
	stub.mu.Lock()
	cycles, streams := len(stub.cycles), len(stub.streams)
	stub.mu.Unlock()
	if cycles != 5 || streams != 1 {
		return nil, fmt.Errorf("%d cycles, %d streams; want 5 and 1", cycles, streams)
	}
	return run, nil
}

// recordDelivery is the scenario of notification_delivery_history.json.
func recordDelivery(ctx context.Context, c client.Client, stub *stubEngine, _ startFunc, _ string) (client.WorkflowRun, error) {
	stub.mu.Lock()
	stub.deliver = func(attempt int32) error {
		if attempt <= 2 {
			return errors.New("generic://127.0.0.1:8080/***: got HTTP 503 Service Unavailable")
		}
		return nil
	}
	stub.mu.Unlock()
	return startNotification(ctx, c, workflows.NotificationDeliveryWorkflowName,
		workflows.NotificationWorkflowID("recordhistory", time.Now().Unix()), workflows.DeliverNotificationInput{NotificationID: time.Now().Unix()})
}

// recordDeliveryFailed is the scenario of notification_delivery_failed_history.json.
func recordDeliveryFailed(ctx context.Context, c client.Client, stub *stubEngine, _ startFunc, _ string) (client.WorkflowRun, error) {
	stub.mu.Lock()
	stub.deliver = func(int32) error {
		return temporal.NewNonRetryableApplicationError("channel deleted", "ChannelNotFound", nil)
	}
	stub.mu.Unlock()
	return startNotification(ctx, c, workflows.NotificationDeliveryWorkflowName,
		workflows.NotificationWorkflowID("recordhistory", time.Now().Unix()), workflows.DeliverNotificationInput{NotificationID: time.Now().Unix()})
}

// recordDispatcher is the scenario of notification_dispatcher_history.json.
func recordDispatcher(ctx context.Context, c client.Client, stub *stubEngine, _ startFunc, _ string) (client.WorkflowRun, error) {
	run, err := startNotification(ctx, c, workflows.NotificationDispatcherWorkflowName,
		workflows.NotificationDispatcherID(fmt.Sprintf("recorded-%d", time.Now().Unix())), workflows.DispatcherState{})
	if err != nil {
		return nil, err
	}
	for {
		stub.mu.Lock()
		n := stub.dispatches
		stub.mu.Unlock()
		if n >= 2 {
			return run, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for two sweeps: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func startNotification(ctx context.Context, c client.Client, workflowType, id string, arg any) (client.WorkflowRun, error) {
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: taskQueue}, workflowType, arg)
	if err != nil {
		return nil, fmt.Errorf("start workflow: %w", err)
	}
	slog.Info("started", "workflowID", run.GetID(), "runID", run.GetRunID())
	return run, nil
}

// writeHistory writes the history of run to out as JSON.
func writeHistory(ctx context.Context, c client.Client, run client.WorkflowRun, out string) error {
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
