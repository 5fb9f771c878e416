package e2e_test

import (
	"context"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/engine/enginetest"
	"github.com/windflow/monitor/workflows"
)

// busyContainer starts a container named wf-busy-… that keeps a CPU busy
// (~100 % in docker stats terms, its limit; more than half of it even on
// this 2-core machine under a test run's load) until stopLoad, then idles. It returns the container ID and stopLoad.
func busyContainer(t *testing.T, d *enginetest.Daemon, cli *client.Client) (string, func()) {
	t.Helper()
	id := enginetest.CreateContainer(t, cli, "wf-busy", func(_ *container.Config, h *container.HostConfig) {
		h.NanoCPUs = 1_000_000_000
	}, "sh", "-c", "while [ ! -e /tmp/stop ]; do :; done; exec sleep 3600")
	startContainer(t, cli, id)
	return id, func() {
		t.Helper()
		if out, err := exec.Command("docker", "-H", d.Endpoint, "exec", id, "sh", "-c", ": > /tmp/stop").CombinedOutput(); err != nil {
			t.Fatalf("stop the load: %v: %s", err, out)
		}
	}
}

func startContainer(t *testing.T, cli *client.Client, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		t.Fatalf("start container %s: %v", id[:12], err)
	}
}

func sleeper(t *testing.T, cli *client.Client, name string, labels map[string]string) {
	t.Helper()
	id := enginetest.CreateContainer(t, cli, name, func(c *container.Config, _ *container.HostConfig) {
		for k, v := range labels {
			c.Labels[k] = v
		}
	}, "sleep", "3600")
	startContainer(t, cli, id)
}

// TestAlertsEndToEnd: on a private engine, a busy container above a 50 %
// CPU rule for a minute fires exactly one alert_firing to a webhook
// receiver, not before the minute; stopping its load resolves it exactly
// once; a memory rule with a label selector fires for the labelled
// container only.
func TestAlertsEndToEnd(t *testing.T) {
	d := enginetest.StartDaemon(t)
	cli := d.Client(t)
	b := newBundle(t, 1)
	r := newReceiver(t)
	b.createChannel(t, r)
	envID := b.createEnvironment(t, d.Endpoint, map[string]any{"metricsIntervalSeconds": 10, "eventsEnabled": false})

	cpuRule := b.createRule(t, map[string]any{
		"name": "busy cpu", "environmentId": envID, "metric": "container_cpu_percent",
		"op": "above", "threshold": 50, "forSeconds": 60, "containerPattern": "wf-busy-*", "severity": "critical",
	})
	memRule := b.createRule(t, map[string]any{
		"name": "web memory", "environmentId": envID, "metric": "container_memory_bytes",
		"op": "above", "threshold": 1, "forSeconds": 0, "labels": map[string]string{"app": "web"},
	})
	sleeper(t, cli, "wf-web", map[string]string{"app": "web"})
	sleeper(t, cli, "wf-other", map[string]string{"app": "db"})
	_, stopLoad := busyContainer(t, d, cli)

	// The label selector: the labelled container only, at once (For 0).
	eventually(t, 60*time.Second, "the memory alert of the labelled container", func() bool {
		return len(b.alerts(t, envID).transitions(memRule)) > 0
	})
	// The CPU rule: one firing, a minute or more after the breach began.
	eventually(t, 3*time.Minute, "the CPU alert firing", func() bool {
		return len(b.alerts(t, envID).transitions(cpuRule)) > 0
	}, b.stateOnTimeout(envID))
	a := b.alerts(t, envID)
	mem := a.transitions(memRule)
	if len(mem) != 1 || mem[0].Phase != "firing" || !strings.HasPrefix(mem[0].Target, "wf-web-") {
		t.Fatalf("memory rule transitions = %+v, want one firing for wf-web-…", mem)
	}
	cpu := a.transitions(cpuRule)
	if len(cpu) != 1 || cpu[0].Phase != "firing" || !strings.HasPrefix(cpu[0].Target, "wf-busy-") || cpu[0].Value <= 50 {
		t.Fatalf("CPU rule transitions = %+v, want one firing for wf-busy-… above 50", cpu)
	}
	if held := cpu[0].At.Sub(cpu[0].Since); held < time.Minute {
		t.Fatalf("fired %s after the breach began, want at least the rule's minute", held)
	}
	eventually(t, 60*time.Second, "the alert_firing of the CPU rule delivered", func() bool {
		return r.count("busy cpu") == 1
	})

	stopLoad()
	eventually(t, 60*time.Second, "the CPU alert resolved", func() bool {
		return len(b.alerts(t, envID).transitions(cpuRule)) == 2
	})
	// Two more cycles: nothing more fires or resolves.
	time.Sleep(25 * time.Second)
	a = b.alerts(t, envID)
	cpu = a.transitions(cpuRule)
	if len(cpu) != 2 || cpu[1].Phase != "resolved" || cpu[1].Reason != "" || cpu[1].Value > 50 {
		t.Fatalf("CPU rule transitions = %+v, want firing then one resolved (recovered, no reason)", cpu)
	}
	if len(a.transitions(memRule)) != 1 || len(a.Firing) != 1 || a.Firing[0].RuleID != memRule {
		t.Fatalf("alerts = %+v, want only the memory alert firing", a)
	}
	eventually(t, 60*time.Second, "the notifications delivered", func() bool {
		firing, resolved := 0, 0
		for _, n := range b.notifications(t, envID) {
			if n.Status != "delivered" {
				return false
			}
			switch n.Kind {
			case "alert_firing":
				firing++
			case "alert_resolved":
				resolved++
			}
		}
		return firing == 2 && resolved == 1
	})
	if got := r.count("busy cpu"); got != 2 {
		t.Fatalf("the receiver got %d messages of the CPU rule, want 2 (firing, resolved)", got)
	}
	if got := r.count("web memory"); got != 1 {
		t.Fatalf("the receiver got %d messages of the memory rule, want 1", got)
	}
	if got := r.count("wf-other"); got != 0 {
		t.Fatalf("the unlabelled container got %d messages", got)
	}
	t.Logf("alerts: CPU fired %.0f s after the breach began, resolved %.0f s after the load stopped; 3 messages delivered",
		cpu[0].At.Sub(cpu[0].Since).Seconds(), cpu[1].At.Sub(cpu[0].At).Seconds())
}

// TestAlertsSurviveWorkerKill: the worker process is SIGKILLed while a
// CPU rule is pending; the next worker fires the alert once, a minute
// after the breach began (the pending time is not lost, nor counted again).
// The outage stays under two intervals between samples (15 s interval,
// 5 s without a worker): a longer gap restarts pending by design.
func TestAlertsSurviveWorkerKill(t *testing.T) {
	d := enginetest.StartDaemon(t)
	cli := d.Client(t)
	bin := buildWindflow(t)
	b := newBundle(t, 0)
	w := b.startWorker(t, bin, "worker-1")
	r := newReceiver(t)
	b.createChannel(t, r)
	envID := b.createEnvironment(t, d.Endpoint, map[string]any{"metricsIntervalSeconds": 15, "eventsEnabled": false})
	rule := b.createRule(t, map[string]any{
		"name": "busy cpu", "environmentId": envID, "metric": "container_cpu_percent",
		"op": "above", "threshold": 50, "forSeconds": 60, "containerPattern": "wf-busy-*",
	})
	busyContainer(t, d, cli)

	var pendingSince time.Time
	eventually(t, 90*time.Second, "the rule pending", func() bool {
		s, ok := b.state(envID)
		for _, a := range s.Alerts {
			if !ok {
				break
			}
			if a.RuleID == rule && a.Phase == workflows.AlertPending {
				pendingSince = a.Since
				return true
			}
		}
		return false
	}, b.stateOnTimeout(envID))
	// Well inside the minute: kill, and start the next worker before two
	// intervals pass without a sample.
	time.Sleep(15 * time.Second)
	w.kill(syscall.SIGKILL)
	killedAt := time.Now()
	time.Sleep(5 * time.Second)
	b.startWorker(t, bin, "worker-2")

	eventually(t, 2*time.Minute, "the alert firing", func() bool {
		return len(b.alerts(t, envID).transitions(rule)) > 0
	}, b.stateOnTimeout(envID))
	time.Sleep(25 * time.Second) // a few more cycles: no second firing
	got := b.alerts(t, envID).transitions(rule)
	if len(got) != 1 || got[0].Phase != "firing" {
		t.Fatalf("transitions = %+v, want exactly one firing", got)
	}
	// The store keeps microseconds.
	if !got[0].Since.Equal(pendingSince.Truncate(time.Microsecond)) {
		t.Fatalf("fired with the breach beginning at %s, the pending state said %s: the pending time was lost", got[0].Since, pendingSince)
	}
	if held := got[0].At.Sub(got[0].Since); held < time.Minute || held > time.Minute+45*time.Second {
		t.Fatalf("fired %s after the breach began, want the rule's minute (plus a cycle or a worker restart)", held)
	}
	eventually(t, 60*time.Second, "one alert_firing delivered", func() bool {
		n := 0
		for _, x := range b.notifications(t, envID) {
			if x.Kind == "alert_firing" && x.Status == "delivered" {
				n++
			}
		}
		return n == 1 && r.count("busy cpu") == 1
	})
	t.Logf("alerts: worker SIGKILLed %.0f s into a pending minute, down 5 s; fired once, %.0f s after the breach began",
		killedAt.Sub(pendingSince).Seconds(), got[0].At.Sub(got[0].Since).Seconds())
}

// state queries the environment workflow's State.
func (b *bundle) state(envID string) (workflows.State, bool) {
	var s workflows.State
	v, err := b.temporal.QueryWorkflow(context.Background(), workflows.WorkflowID(envID), "", workflows.QueryState)
	if err != nil || v.Get(&s) != nil {
		return s, false
	}
	return s, true
}

// stateOnTimeout says, when a wait times out, what the workflow saw last.
func (b *bundle) stateOnTimeout(envID string) func(t *testing.T) {
	return func(t *testing.T) {
		s, _ := b.state(envID)
		t.Logf("workflow state: status %s, last cycle %+v, last error %q, alerts %+v", s.Status, s.LastCycle, s.LastError, s.Alerts)
	}
}
