package scale

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func TestPercentile(t *testing.T) {
	hundred := make([]float64, 100)
	for i := range hundred {
		hundred[i] = float64(100 - i) // 100 … 1, unsorted on purpose
	}
	for _, tc := range []struct {
		name string
		xs   []float64
		p    float64
		want float64
	}{
		{"empty", nil, 50, 0},
		{"one", []float64{7}, 99, 7},
		{"median of odd", []float64{3, 1, 2}, 50, 2},
		{"median of even is the lower middle", []float64{4, 1, 3, 2}, 50, 2},
		{"p99 of 1..100", hundred, 99, 99},
		{"p100", hundred, 100, 100},
		{"p0 is the minimum", hundred, 0, 1},
		{"p99 of few is the max", []float64{0.1, 0.2, 5}, 99, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.xs)
			if got := Percentile(tc.xs, tc.p); got != tc.want {
				t.Errorf("Percentile(%v, %v) = %v, want %v", tc.xs, tc.p, got, tc.want)
			}
			if !slices.Equal(in, tc.xs) {
				t.Errorf("Percentile reordered its input")
			}
		})
	}
}

func TestCountCycles(t *testing.T) {
	from := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	const interval = 30 * time.Second
	to := from.Add(2 * time.Minute) // 4 cycles due per environment
	at := func(s float64) Cycle {
		c := from.Add(time.Duration(s * float64(time.Second)))
		return Cycle{At: c, CollectedAt: c.Add(time.Second)}
	}
	onTime, missing, none, extra, late := uuid.New(), uuid.New(), uuid.New(), uuid.New(), uuid.New()
	cycles := map[uuid.UUID][]Cycle{
		// before the window (gives the first lateness), 4 in it, one at `to` (outside).
		onTime: {at(-20), at(10), at(40), at(70), at(100), at(130)},
		// misses the cycle at 40: 3 stored, one lateness of a whole interval.
		missing: {at(70), at(10), at(100), at(-20)},
		// none: registered, never collected.
		// extra: 6 cycles in the window (a settings change re-armed it): credited 4.
		extra: {at(0), at(20), at(40), at(60), at(80), at(100)},
		// late: its first cycle in the window comes 2.5 s late, the rest on the new beat.
		late: {at(-25), at(7.5), at(37.5), at(67.5), at(97.5)},
		// An environment that is not registered does not count.
		uuid.New(): {at(1), at(2)},
	}
	st := CountCycles([]uuid.UUID{onTime, missing, none, extra, late}, cycles, from, to, interval)

	if st.Environments != 5 || st.Due != 20 {
		t.Errorf("environments %d due %v, want 5 and 20", st.Environments, st.Due)
	}
	if want := 4 + 3 + 0 + 6 + 4; st.Stored != want {
		t.Errorf("stored = %d, want %d", st.Stored, want)
	}
	if want := float64(4 + 3 + 0 + 4 + 4); st.Credited != want {
		t.Errorf("credited = %v, want %v", st.Credited, want)
	}
	if want := 100 * 15.0 / 20; math.Abs(st.Percent-want) > 1e-9 {
		t.Errorf("percent = %v, want %v", st.Percent, want)
	}
	if st.WithoutCycle != 1 {
		t.Errorf("without cycle = %d, want 1", st.WithoutCycle)
	}
	// Lateness: onTime 4 × 0; missing 0, 30, 0; extra: first has none before
	// it, then 5 × −10; late: 2.5, 0, 0, 0.
	want := []float64{0, 0, 0, 0, 0, 30, 0, -10, -10, -10, -10, -10, 2.5, 0, 0, 0}
	if st.Lateness.N != len(want) {
		t.Errorf("lateness n = %d, want %d", st.Lateness.N, len(want))
	}
	if st.Lateness.Max != 30 || st.Lateness.P50 != Percentile(want, 50) || st.Lateness.P99 != 30 {
		t.Errorf("lateness = %+v, want p50 %v p99 30 max 30", st.Lateness, Percentile(want, 50))
	}
	if st.Collect.N != 17 || st.Collect.P50 != 1 || st.Collect.Max != 1 {
		t.Errorf("collect = %+v, want 17 samples of 1 s", st.Collect)
	}
}

func TestCountCyclesNoEnvironmentCycles(t *testing.T) {
	from := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	envs := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	st := CountCycles(envs, nil, from, from.Add(45*time.Second), 30*time.Second)
	if st.Due != 4.5 || st.Stored != 0 || st.Percent != 0 || st.WithoutCycle != 3 || st.Lateness.N != 0 {
		t.Errorf("got %+v, want 4.5 due, nothing stored, 3 without a cycle", st)
	}
}

func withProcRoot(t *testing.T, dir string) {
	t.Helper()
	saved := procRoot
	procRoot = dir
	t.Cleanup(func() { procRoot = saved })
}

func TestProcParsing(t *testing.T) {
	read := func(p string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "proc", p))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		pid   string
		ticks uint64
		rss   uint64
	}{
		{"4242", 1500 + 250, 123456 * 1024}, // command name with spaces and parentheses
		{"77", 40 + 10, 20000 * 1024},
		{"78", 0 + 5, 0}, // a kernel thread has no VmRSS
	} {
		ticks, err := ParseStatCPU(read(tc.pid + "/stat"))
		if err != nil || ticks != tc.ticks {
			t.Errorf("pid %s: ticks %d, %v; want %d", tc.pid, ticks, err, tc.ticks)
		}
		rss, err := ParseStatusRSS(read(tc.pid + "/status"))
		if err != nil || rss != tc.rss {
			t.Errorf("pid %s: rss %d, %v; want %d", tc.pid, rss, err, tc.rss)
		}
	}
	busy, total, err := ParseProcStat(read("stat"))
	if err != nil || busy != 1000+20+300+7+3 || total != 1000+20+300+5000+100+7+3 {
		t.Errorf("/proc/stat: busy %d total %d %v", busy, total, err)
	}
	for _, bad := range []string{"", "12 no-paren S 1", "12 (x) S 1 2 3"} {
		if _, err := ParseStatCPU([]byte(bad)); err == nil {
			t.Errorf("ParseStatCPU(%q) accepted it", bad)
		}
	}
	if _, err := ParseStatusRSS([]byte("VmRSS:\t12 MB\n")); err == nil {
		t.Errorf("ParseStatusRSS accepted a unit other than kB")
	}
	if _, _, err := ParseProcStat([]byte("intr 1\n")); err == nil {
		t.Errorf("ParseProcStat accepted a file without a cpu line")
	}
}

func TestProcDiscovery(t *testing.T) {
	withProcRoot(t, filepath.Join("testdata", "proc"))
	if got := PostgresPIDs(); !slices.Equal(got, []int{77}) {
		t.Errorf("PostgresPIDs = %v, want [77]", got)
	}
	if got := TemporalPID(filepath.Join("testdata", "temporal.pid")); got != 4242 {
		t.Errorf("TemporalPID(pid file) = %d, want 4242", got)
	}
	// A pid file naming another process: found by its command line instead.
	stale := filepath.Join(t.TempDir(), "temporal.pid")
	if err := os.WriteFile(stale, []byte("77\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := TemporalPID(stale); got != 4242 {
		t.Errorf("TemporalPID(stale pid file) = %d, want 4242", got)
	}
}

func TestProcSamplerMeasuresThisProcess(t *testing.T) {
	s := NewProcSampler([]ProcGroup{
		{Name: "self", PIDs: func() []int { return []int{os.Getpid()} }},
		{Name: "nobody", PIDs: func() []int { return nil }},
	}, 50*time.Millisecond)
	s.Start()
	// Burn CPU for a while: the group must show it.
	end := time.Now().Add(400 * time.Millisecond)
	x := 0.0
	for time.Now().Before(end) {
		x += math.Sqrt(x + 1)
	}
	usage, machine := s.Stop()
	if x == 0 || len(usage) != 2 {
		t.Fatalf("usage = %+v", usage)
	}
	self, nobody := usage[0], usage[1]
	if self.CPUPercent < 20 || self.CPUPercent > 100*float64(len(usage))*4 {
		t.Errorf("self CPU = %.1f %%, want a busy core's worth", self.CPUPercent)
	}
	if self.RSSMax == 0 || self.RSSMean == 0 || self.RSSMean > self.RSSMax || self.Processes != 1 {
		t.Errorf("self = %+v", self)
	}
	if nobody.CPUPercent != 0 || nobody.RSSMax != 0 || nobody.Processes != 0 {
		t.Errorf("empty group = %+v", nobody)
	}
	if machine < self.CPUPercent*0.5 {
		t.Errorf("machine CPU %.1f %% below this process's %.1f %%", machine, self.CPUPercent)
	}
}

const metricsText = `# HELP temporal_request_total Temporal requests
# TYPE temporal_request_total counter
temporal_request_total{client_name="temporal_go",namespace="default",operation="RecordActivityTaskHeartbeat",otel_scope_name="go.temporal.io/sdk"} 40
temporal_request_total{client_name="temporal_go",namespace="default",operation="RecordActivityTaskHeartbeatById"} 2
temporal_request_total{namespace="default",operation="PollActivityTaskQueue"} 1000 1700000000000
temporal_request_latency_seconds_bucket{operation="RecordActivityTaskHeartbeat",le="+Inf"} 42
windflow_label_escapes{path="a\"b\\c\nd",empty=""} -1.5e+2
process_start_time_seconds 1.7e+09
`

func TestParsePrometheus(t *testing.T) {
	samples, err := ParsePrometheus(metricsText)
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 6 {
		t.Fatalf("%d samples, want 6", len(samples))
	}
	esc := samples[4]
	if esc.Name != "windflow_label_escapes" || esc.Labels["path"] != "a\"b\\c\nd" || esc.Labels["empty"] != "" || esc.Value != -150 {
		t.Errorf("escaped sample = %+v", esc)
	}
	if samples[3].Labels["le"] != "+Inf" || samples[5].Value != 1.7e9 || len(samples[5].Labels) != 0 {
		t.Errorf("samples = %+v", samples)
	}
	if n, ok := Heartbeats(samples); !ok || n != 42 {
		t.Errorf("Heartbeats = %v, %v; want 42 (both operations, no histogram)", n, ok)
	}
	if n, ok := Sum(samples, "temporal_request_total", map[string]string{"namespace": "default"}); !ok || n != 1042 {
		t.Errorf("Sum(namespace=default) = %v, %v; want 1042", n, ok)
	}
	if _, ok := Heartbeats(nil); ok {
		t.Errorf("Heartbeats of nothing was found")
	}
	for _, bad := range []string{
		`x{a="1"`,      // unterminated labels
		`x{a="1} 2`,    // unterminated value
		`x{a=1} 2`,     // unquoted value
		`x`,            // no value
		`x 1 2 3`,      // too many fields
		`x{a="1"} one`, // not a number
	} {
		if _, err := ParsePrometheus(bad + "\n"); err == nil {
			t.Errorf("ParsePrometheus(%q) accepted it", bad)
		}
	}
}

// loadHistory reads a recorded history of the workflows package.
func loadHistory(t *testing.T, name string) []*historypb.HistoryEvent {
	t.Helper()
	h, err := client.HistoryFromJSON(mustOpen(t, filepath.Join("..", "..", "workflows", "testdata", name)), client.HistoryJSONOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return h.Events
}

func mustOpen(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// wtStarted returns the times of the WorkflowTaskStarted events with the
// given IDs: the workflow times at which the recorded cycles started.
func wtStarted(t *testing.T, events []*historypb.HistoryEvent, ids ...int64) []time.Time {
	t.Helper()
	var out []time.Time
	for _, e := range events {
		if slices.Contains(ids, e.GetEventId()) {
			if e.GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED {
				t.Fatalf("event %d is %s", e.GetEventId(), e.GetEventType())
			}
			out = append(out, e.GetEventTime().AsTime())
		}
	}
	return out
}

func TestCountActionsRecordedHistory(t *testing.T) {
	events := loadHistory(t, "environment_history_continue.json")
	// Steady cycles start at the WorkflowTaskStarted events 31, 37, 43, 49
	// and 55 (after the metrics timer's firings): each is one timer and one
	// workflow task that runs the check as a local activity (one marker).
	cycles := wtStarted(t, events, 31, 37, 43, 49, 55)
	w := CountActions(events, cycles[0], cycles[4])
	want := map[string]int{"timer": 4, "local activities (per workflow task)": 4}
	if w.Total != 8 || !mapsEqual(w.ByKind, want) {
		t.Errorf("window: %+v, want 8: %v", w, want)
	}
	if got := CountEvents(events, cycles[0], cycles[4]); got != 24 {
		t.Errorf("events in the window = %d, want 24", got)
	}
	// TimerFired, WorkflowTaskScheduled/Started/Completed, MarkerRecorded,
	// TimerStarted: 6 events a steady cycle.
	if got := EventsPerCycle(events, cycles, time.Time{}, time.Time{}); !slices.Equal(got, []int{6, 6, 6, 6}) {
		t.Errorf("EventsPerCycle = %v, want [6 6 6 6]", got)
	}
	// Cycles outside [from, to) do not bound an interval.
	if got := EventsPerCycle(events, cycles, cycles[1], cycles[3]); !slices.Equal(got, []int{6}) {
		t.Errorf("EventsPerCycle(window) = %v, want [6]", got)
	}
}

func TestCountActionsFreeMarkers(t *testing.T) {
	events := loadHistory(t, "environment_history.json")
	a := CountActions(events, time.Time{}, time.Time{})
	// Local-activity markers cost one action per workflow task, never one
	// per marker, and nothing counts as a side effect or an upsert.
	markers, perTask := 0, a.ByKind["local activities (per workflow task)"]
	for _, e := range events {
		if e.GetEventType() == enumspb.EVENT_TYPE_MARKER_RECORDED {
			markers++
		}
	}
	if perTask == 0 || perTask > markers {
		t.Errorf("local activities counted %d times for %d markers", perTask, markers)
	}
	if a.ByKind["side effect"] != 0 || a.ByKind["search attributes"] != 0 {
		t.Errorf("markers counted as other actions: %v", a.ByKind)
	}
	if a.ByKind["workflow started"] != 1 || a.ByKind["activity"] == 0 || a.ByKind["update"] != 1 || a.ByKind["signal"] == 0 {
		t.Errorf("actions = %v", a.ByKind)
	}
}

func TestCountActionsLocalActivitiesPerWorkflowTask(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	id := int64(0)
	ev := func(typ enumspb.EventType, attrs func(*historypb.HistoryEvent)) *historypb.HistoryEvent {
		id++
		e := &historypb.HistoryEvent{EventId: id, EventType: typ, EventTime: timestamppb.New(t0.Add(time.Duration(id) * time.Second))}
		if attrs != nil {
			attrs(e)
		}
		return e
	}
	marker := func(name string, wtCompleted int64) *historypb.HistoryEvent {
		return ev(enumspb.EVENT_TYPE_MARKER_RECORDED, func(e *historypb.HistoryEvent) {
			e.Attributes = &historypb.HistoryEvent_MarkerRecordedEventAttributes{MarkerRecordedEventAttributes: &historypb.MarkerRecordedEventAttributes{
				MarkerName: name, WorkflowTaskCompletedEventId: wtCompleted,
			}}
		})
	}
	events := []*historypb.HistoryEvent{
		ev(enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, nil), // 1
		marker("LocalActivity", 1),
		marker("LocalActivity", 1),
		marker("LocalActivity", 1),
		ev(enumspb.EVENT_TYPE_TIMER_STARTED, nil),
		ev(enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED, nil), // 6
		marker("LocalActivity", 6),
		marker("SideEffect", 6),
		marker("Version", 6),
		ev(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW, nil), // the new run's Started counts
	}
	a := CountActions(events, time.Time{}, time.Time{})
	want := map[string]int{"local activities (per workflow task)": 2, "side effect": 1, "timer": 1}
	if a.Total != 4 || !mapsEqual(a.ByKind, want) {
		t.Errorf("got %+v, want 4: %v", a, want)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestReportDerivedFigures(t *testing.T) {
	r := &Report{
		Config:        ReportConfig{Registered: 10, WindowSeconds: 60},
		Heartbeats:    HeartbeatStats{Count: 30},
		History:       HistoryStats{Workflows: 2, EventsInWindow: 44, CyclesInWindow: 4, Actions: Actions{Total: 20}, PerCycle: Dist{N: 2, P50: 11}},
		Cycles:        CycleStats{Percent: 99.4, Lateness: Dist{N: 5, P99: 1.5}},
		Updates:       UpdateStats{Latency: Dist{N: 3, P99: 0.5}, Non2xx: 1},
		Processes:     []ProcUsage{{Name: "api", RSSMax: 900 * mb}, {Name: "worker", RSSMax: 100 * mb}},
		WorkerBaseRSS: 50 * mb,
	}
	r.finish()
	// (20 actions / 2 workflows + 30 heartbeats / 10 environments) per minute, × 1,440 minutes.
	if r.HistoryActionsPerEnvPerDay != 14400 || r.HeartbeatsPerEnvPerDay != 4320 || r.ActionsPerEnvPerDay != 18720 {
		t.Errorf("actions per env per day: history %v heartbeats %v total %v; want 14400 + 4320 = 18720",
			r.HistoryActionsPerEnvPerDay, r.HeartbeatsPerEnvPerDay, r.ActionsPerEnvPerDay)
	}
	if r.EventsPerCycleMean != 11 || r.WorkerRSSPerEnv != 5*mb {
		t.Errorf("events per cycle mean %v, worker RSS per env %v", r.EventsPerCycleMean, r.WorkerRSSPerEnv)
	}
	met := map[string]bool{}
	for _, tg := range r.Targets {
		met[tg.Name] = tg.Met
	}
	want := map[string]bool{
		"due cycles stored": false, // 99.4 < 99.5
		"lateness p99":      true,
		"Update p99":        false, // fast, but one answer was not 2xx
		"history events per steady cycle (median)": false,
		"Temporal actions per environment per day": false,
		"worker RSS max (MB)":                      true, // the worker's, not the api's 900 MB
		"worker RSS growth per environment (KB)":   false,
	}
	for name, w := range want {
		if got, ok := met[name]; !ok || got != w {
			t.Errorf("target %q met = %v (present %v), want %v", name, got, ok, w)
		}
	}
}

// TestCountCyclesEdges: a cycle that a little lateness pushes past the
// window's end is not a missed slot; an environment that stops cycling
// misses every slot after its last cycle.
func TestCountCyclesEdges(t *testing.T) {
	from := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	const interval = 30 * time.Second
	to := from.Add(2 * time.Minute) // 4 slots
	at := func(s float64) Cycle { return Cycle{At: from.Add(time.Duration(s * float64(time.Second)))} }
	pushed, stuck, lateStart := uuid.New(), uuid.New(), uuid.New()
	cycles := map[uuid.UUID][]Cycle{
		pushed:    {at(-0.5), at(29.5), at(59.5), at(89.5), at(120.5)}, // the slot at 119.5 started 1 s late
		stuck:     {at(10), at(40)},
		lateStart: {at(50), at(80), at(110)}, // the slots at ~20 s (and before) missed
	}
	st := CountCycles([]uuid.UUID{pushed, stuck, lateStart}, cycles, from, to, interval)
	if st.Stored != 3+2+3 {
		t.Errorf("stored = %d, want 8", st.Stored)
	}
	if want := 1.0 + 2; st.MissedSlots != want { // pushed 0, stuck 2 (70, 100), lateStart 1 (20)
		t.Errorf("missed slots = %v, want %v", st.MissedSlots, want)
	}
	if want := 12.0 - 3; st.Credited != want {
		t.Errorf("credited = %v, want %v", st.Credited, want)
	}
}

// TestDevServerDB: the dev server's SQLite file, from its command line
// (absolute, or relative to its working directory), with its size.
func TestDevServerDB(t *testing.T) {
	root := t.TempDir()
	withProcRoot(t, root)
	work := t.TempDir()
	db := filepath.Join(work, "temporal.db")
	if err := os.WriteFile(db, make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	proc := func(pid, cmdline string) {
		dir := filepath.Join(root, pid)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "cmdline"), []byte(cmdline), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(work, filepath.Join(dir, "cwd")); err != nil {
			t.Fatal(err)
		}
	}
	proc("10", "temporal\x00server\x00start-dev\x00--db-filename\x00"+db+"\x00")
	proc("11", "temporal\x00server\x00start-dev\x00--db-filename=temporal.db\x00")
	proc("12", "temporal\x00server\x00start-dev\x00")
	for pid, want := range map[int]struct {
		path string
		size int64
	}{10: {db, 4096}, 11: {db, 4096}, 12: {"", 0}, 13: {"", 0}} {
		if path, size := DevServerDB(pid); path != want.path || size != want.size {
			t.Errorf("DevServerDB(%d) = %q, %d; want %q, %d", pid, path, size, want.path, want.size)
		}
	}
}
