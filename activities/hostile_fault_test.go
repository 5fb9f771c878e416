package activities_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/testsuite"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/windflow/monitor/activities"
	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/engine/enginetest"
	"github.com/windflow/monitor/internal/engine/fakeengine"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
	"github.com/windflow/monitor/workflows"
)

// hostileGrowthLimit is how far the Go heap in use may rise above its level
// before a hostile case. The largest bounds are 32 MiB (a containers list, a
// disk usage body): reading one whole allocates up to twice that as its
// buffer doubles, and the collector lets garbage grow to the live heap's
// size before it runs (GOGC 100): 4 × 32 MiB. The fake engine runs in this
// process and allocates too: 64 MiB more. An unbounded read would pass
// 1 GiB.
const hostileGrowthLimit = 4*engine.MaxListBody + 64<<20

// hostileAttemptTimeout is the activities' deadline in this test: a
// cycle's attempt timeout, also for the disk check (its environment's disk
// timeout is 5 s) and the event poll (60 s in the workflow, shortened here).
const hostileAttemptTimeout = workflows.CheckAttemptTimeout

// TestFaultHostileEngine is a case of the fault suite: engines that answer
// one request with a 1 GiB body, a body that never ends, a slow drip, JSON
// that does not parse, or 100,000 containers, against the real activities
// (CollectMetrics, CheckDisk, PollEvents) and the real Postgres.
//
// Proves: each case fails with a clear error (the text the environment
// shows as its last error), within the activity's deadline, nothing is
// stored, and the worker's Go heap in use stays within hostileGrowthLimit
// of where it was (its RSS is printed too; the race detector's shadow
// memory inflates it). Malformed event lines are skipped and counted, not
// an error.
func TestFaultHostileEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("fault suite: about a minute")
	}
	enginetest.Client(t) // skips without the stack
	st, err := store.Open(context.Background(), storetest.NewSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	acts := &activities.Activities{Store: st, Collector: engine.Collector{Parallelism: 4}}
	t.Cleanup(func() { activities.CloseClients(acts) })

	type hostileCase struct {
		activity string
		target   fakeengine.HostileTarget
		mode     fakeengine.HostileMode
		want     string // in the error; "" = no error, malformed lines counted
	}
	var cases []hostileCase
	for _, a := range []struct {
		activity string
		targets  []fakeengine.HostileTarget
	}{
		{"CollectMetrics", []fakeengine.HostileTarget{fakeengine.HostileList, fakeengine.HostileInfo, fakeengine.HostileStats}},
		{"CheckDisk", []fakeengine.HostileTarget{fakeengine.HostileDf}},
		{"PollEvents", []fakeengine.HostileTarget{fakeengine.HostileEvents}},
	} {
		for _, target := range a.targets {
			for _, mode := range []fakeengine.HostileMode{fakeengine.HostileHuge, fakeengine.HostileEndless, fakeengine.HostileDrip, fakeengine.HostileMalformed} {
				cases = append(cases, hostileCase{a.activity, target, mode, hostileWant(target, mode)})
			}
		}
	}
	cases = append(cases, hostileCase{"CollectMetrics", fakeengine.HostileList, fakeengine.HostileMany,
		"engine sent a containers list of more than 10,000 running containers"})

	start := memNow()
	var worstHeap, worstRSS int64
	for _, tc := range cases {
		name := fmt.Sprintf("%s %s %s", tc.activity, tc.target, tc.mode)
		h, err := fakeengine.StartHostile(tc.mode, tc.target)
		if err != nil {
			t.Fatal(err)
		}
		set := workflows.DefaultSettings()
		env, err := st.CreateEnvironment(context.Background(), store.Environment{
			Name: "hostile-" + uuid.NewString()[:8], Endpoint: h.Endpoint(),
			Settings: workflows.Settings{MetricsInterval: set.MetricsInterval, CollectMetrics: true, OfflineAfter: set.OfflineAfter,
				DiskTimeout: 5 * time.Second},
		})
		if err != nil {
			t.Fatal(err)
		}
		before := memNow()
		sampler := sampleMem()
		began := time.Now()
		res, err := runHostile(acts, tc.activity, env.ID.String())
		took := time.Since(began)
		peak := sampler()
		_ = h.Close()
		heapUp, rssUp := peak.heap-before.heap, peak.rss-before.rss
		worstHeap, worstRSS = max(worstHeap, heapUp), max(worstRSS, rssUp)
		t.Logf("%s: engine sent %s in %.1f s, heap in use +%s, RSS +%s: %v%s",
			name, mib(h.Sent()), took.Seconds(), mib(heapUp), mib(rssUp), err, res)

		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v, want malformed lines skipped", name, err)
		case tc.want == "" && !strings.Contains(res, "3 malformed"):
			t.Errorf("%s: %s, want 3 malformed lines counted", name, res)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one with %q", name, err, tc.want)
		}
		if took > hostileAttemptTimeout {
			t.Errorf("%s: took %s, over the attempt's %s", name, took, hostileAttemptTimeout)
		}
		if heapUp > hostileGrowthLimit {
			t.Errorf("%s: heap in use rose by %s, over %s", name, mib(heapUp), mib(hostileGrowthLimit))
		}
		n, _ := st.CountHostMetrics(context.Background(), env.ID, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
		if n != 0 {
			t.Errorf("%s: %d cycles stored", name, n)
		}
	}
	end := memNow()
	if end.heap-start.heap > hostileGrowthLimit/4 {
		t.Errorf("heap in use %s after the cases, %s before: not given back", mib(end.heap), mib(start.heap))
	}
	t.Logf("faults: hostile engine: %d cases (1 GiB, endless, slow drip, malformed on list/info/stats/df/events; %d containers), "+
		"each a clear error within %s; worst rise of heap in use %s (limit %s), of RSS %s; heap %s -> %s, RSS %s -> %s after",
		len(cases), fakeengine.HostileContainers, hostileAttemptTimeout, mib(worstHeap), mib(hostileGrowthLimit), mib(worstRSS),
		mib(start.heap), mib(end.heap), mib(start.rss), mib(end.rss))
}

// hostileWant is the error a hostile target and mode give.
func hostileWant(target fakeengine.HostileTarget, mode fakeengine.HostileMode) string {
	what := map[fakeengine.HostileTarget]string{
		fakeengine.HostileList: "a containers list", fakeengine.HostileInfo: "an info body",
		fakeengine.HostileStats: "a stats body", fakeengine.HostileDf: "a disk usage body", fakeengine.HostileEvents: "an event line",
	}[target]
	bound := map[fakeengine.HostileTarget]int64{
		fakeengine.HostileList: engine.MaxListBody, fakeengine.HostileInfo: engine.MaxInfoBody,
		fakeengine.HostileStats: engine.MaxStatsBody, fakeengine.HostileDf: engine.MaxDiskUsageBody, fakeengine.HostileEvents: engine.MaxEventLineSkipped,
	}[target]
	switch mode {
	case fakeengine.HostileDrip:
		if target == fakeengine.HostileDf {
			return "no complete answer within 5s"
		}
		return "engine too slow: no complete answer within"
	case fakeengine.HostileMalformed:
		if target == fakeengine.HostileEvents {
			return ""
		}
		if target == fakeengine.HostileStats {
			what = "a stats record"
		}
		return "engine sent malformed JSON for " + what
	default:
		return fmt.Sprintf("engine sent %s over %d MiB", what, bound>>20)
	}
}

// runHostile runs one activity on environment id under the attempt
// deadline, in a Temporal activity environment as a worker runs it; res
// describes a poll's outcome.
func runHostile(acts *activities.Activities, activity, id string) (res string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), hostileAttemptTimeout)
	defer cancel()
	var suite testsuite.WorkflowTestSuite
	tenv := suite.NewTestActivityEnvironment()
	tenv.SetWorkerOptions(sdkworker.Options{BackgroundActivityContext: ctx})
	tenv.RegisterActivity(acts.CollectMetrics)
	tenv.RegisterActivity(acts.CheckDisk)
	tenv.RegisterActivity(acts.PollEvents)
	switch activity {
	case "CollectMetrics":
		_, err = tenv.ExecuteActivity(acts.CollectMetrics, workflows.CollectMetricsInput{EnvironmentID: id, CycleAt: time.Now()})
	case "CheckDisk":
		_, err = tenv.ExecuteActivity(acts.CheckDisk, workflows.CheckDiskInput{EnvironmentID: id, CheckAt: time.Now()})
	default:
		val, perr := tenv.ExecuteActivity(acts.PollEvents, workflows.PollEventsInput{EnvironmentID: id})
		err = perr
		var out workflows.PollEventsResult
		if err == nil && val.Get(&out) == nil {
			res = fmt.Sprintf(" (%d stored, %d malformed)", out.Stored, out.Malformed)
		}
	}
	return res, errors.Unwrap(err) // the activity's own error, not the SDK's wrapper
}

// memFigures is the Go heap in use and the process's resident set, in bytes.
type memFigures struct{ heap, rss int64 }

// memNow collects garbage, returns freed memory to the system, and reads
// the figures.
func memNow() memFigures {
	runtime.GC()
	debug.FreeOSMemory()
	return readMem()
}

func readMem() memFigures {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memFigures{heap: int64(ms.HeapInuse), rss: vmRSS()}
}

// sampleMem samples the figures every 20 ms until the returned function is
// called, which returns their peaks.
func sampleMem() func() memFigures {
	var (
		mu   sync.Mutex
		peak memFigures
		stop = make(chan struct{})
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			m := readMem()
			mu.Lock()
			peak.heap, peak.rss = max(peak.heap, m.heap), max(peak.rss, m.rss)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return func() memFigures {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// vmRSS is VmRSS of /proc/self/status in bytes (0 when unreadable).
func vmRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// mib formats bytes in MiB.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
