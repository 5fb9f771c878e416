package notify

import (
	"strings"
	"testing"
	"time"
)

func TestAlertMessage(t *testing.T) {
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	links := Links{DashboardURL: "http://windflow.example:8080/", TemporalUIURL: "http://ui.example:8233", Namespace: "ops"}
	base := AlertFacts{EnvironmentID: "6f1c1f0e-0000-4000-8000-000000000000", EnvironmentName: "prod",
		WorkflowID: "environment/6f1c1f0e-0000-4000-8000-000000000000", RuleName: "web memory", Severity: "critical", Target: "web-1",
		Metric: "container_memory_percent", Op: "above", Threshold: 90, For: 5 * time.Minute, Value: 93.46, At: at, Since: at.Add(-5 * time.Minute)}
	tests := []struct {
		name      string
		edit      func(f *AlertFacts)
		links     Links
		wantKind  string
		wantTitle string
		want, not []string
	}{
		{"firing", func(*AlertFacts) {}, links, KindAlertFiring, "[CRITICAL] prod: web memory firing on web-1",
			[]string{`Alert "web memory" (critical) is firing on environment prod, container web-1: memory (of its limit) at 93.5 %.`,
				"Rule: memory (of its limit) above 90 % for 5m.", "Breaching since 2025-06-01 11:55:00 UTC.",
				"Dashboard: http://windflow.example:8080/#/env/6f1c1f0e-0000-4000-8000-000000000000",
				"Workflow: http://ui.example:8233/namespaces/ops/workflows/environment%2F6f1c1f0e-0000-4000-8000-000000000000"},
			[]string{"resolved"}},
		{"resolved on recovery", func(f *AlertFacts) { f.Resolved, f.Value, f.Since = true, 41.2, at.Add(-90*time.Minute) }, links,
			KindAlertResolved, "[CRITICAL] prod: web memory resolved on web-1",
			[]string{"is resolved: memory (of its limit) at 41.2 %.", "Firing since 2025-06-01 10:30:00 UTC (1h30m).", "Time: 2025-06-01 12:00:00 UTC."},
			[]string{"without", "Breaching"}},
		{"resolved without recovery", func(f *AlertFacts) { f.Resolved, f.Reason = true, "the container stopped or is gone" }, Links{},
			KindAlertResolved, "[CRITICAL] prod: web memory resolved on web-1",
			[]string{"resolved without its figure recovering: the container stopped or is gone.", "Last reading: memory (of its limit) at 93.5 %."},
			[]string{"Dashboard", "Workflow"}},
		{"host bytes at once", func(f *AlertFacts) {
			f.Target, f.Metric, f.Threshold, f.Value, f.For, f.Severity = "", "container_memory_bytes", 5e8, 1_234_000_000, 0, "warning"
		}, links, KindAlertFiring, "[WARNING] prod: web memory firing on host",
			[]string{"firing on environment prod: memory at 1.2 GB.", "Rule: memory above 500.0 MB."}, []string{"container", " for "}},
		{"restarts", func(f *AlertFacts) {
			f.Metric, f.Threshold, f.Value, f.For = "container_restarts", 2, 3, 10*time.Minute
		}, links, KindAlertFiring, "[CRITICAL] prod: web memory firing on web-1",
			[]string{"web-1: 3 restarts in the last 10m.", "Rule: more than 2 restarts in the last 10m."}, []string{" %"}},
		{"host cpu below", func(f *AlertFacts) {
			f.Target, f.Metric, f.Op, f.Threshold, f.Value, f.For = "", "host_cpu_percent", "below", 5, 1.25, 90*time.Second
		}, links, KindAlertFiring, "[CRITICAL] prod: web memory firing on host",
			[]string{"host CPU at 1.2 %", "Rule: host CPU below 5 % for 1m30s."}, nil},
		{"hostile names", func(f *AlertFacts) { f.RuleName, f.Target = "r\nInjected: line", "" }, Links{},
			KindAlertFiring, "[CRITICAL] prod: r Injected: line firing on host", []string{`"r Injected: line"`}, []string{"\nInjected"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := base
			tt.edit(&f)
			kind, title, msg := AlertMessage(f, tt.links)
			if kind != tt.wantKind || title != tt.wantTitle {
				t.Errorf("kind, title = %q, %q; want %q, %q", kind, title, tt.wantKind, tt.wantTitle)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q:\n%s", w, msg)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(msg, w) {
					t.Errorf("message has %q:\n%s", w, msg)
				}
			}
		})
	}
}

func TestLinks(t *testing.T) {
	if got := (Links{}).Environment("x"); got != "" {
		t.Errorf("no dashboard URL: %q", got)
	}
	if got := (Links{TemporalUIURL: "http://ui/"}).Workflow("environment/a"); got != "http://ui/namespaces/default/workflows/environment%2Fa" {
		t.Errorf("Workflow = %q", got)
	}
}
