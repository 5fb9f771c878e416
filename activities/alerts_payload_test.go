package activities

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"

	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/workflows"
)

// payloadLimit is the bound both payloads must stay under, a quarter of
// Temporal's 2 MB payload limit.
const payloadLimit = 512 << 10

// payloadSize is the size of v as the SDK's default data converter sends
// it.
func payloadSize(t *testing.T, v any) int {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayloads(v)
	if err != nil {
		t.Fatal(err)
	}
	return proto.Size(p)
}

// capsRules are rules at the maximum caps: every rule of both scopes,
// per-container, each with the longest pattern and its labels at both
// label caps; all match containers that carry labels.
func capsRules(caps workflows.AlertCaps, labels map[string]string) []workflows.AlertRule {
	var rules []workflows.AlertRule
	for i := range caps.GlobalRules + caps.EnvironmentRules {
		rec := -1.0
		rules = append(rules, workflows.AlertRule{ID: fmt.Sprintf("%08d-0000-4000-8000-000000000000", i),
			Metric: workflows.AlertContainerMemory, Op: workflows.AlertAbove, Threshold: 0, Recovery: &rec,
			ContainerPattern: strings.Repeat("*", maxPatternBytes), Labels: labels})
	}
	return rules
}

// maxPatternBytes is the longest container pattern the API accepts.
const maxPatternBytes = 256

// TestAlertPayloadsAtCaps builds, at the maximum caps with 1,000 containers
// all breaching every rule, the largest local-activity marker of a cycle
// (a CollectMetrics result with the rules, the figures and the adopted
// firing alerts) and the largest continue-as-new input (the State with
// every container alert and host alert firing and the most transitions
// waiting to be recorded), and checks both stay under 512 KB.
func TestAlertPayloadsAtCaps(t *testing.T) {
	caps := workflows.MaxAlertCaps()
	labels := map[string]string{}
	per := caps.RuleLabelBytes / caps.RuleLabels // bytes of a key and its value
	for i := range caps.RuleLabels {
		k := fmt.Sprintf("k%02d-", i)
		labels[k+strings.Repeat("k", per/2-len(k))] = strings.Repeat("v", per-per/2)
	}
	rules := capsRules(caps, labels)
	at := time.Date(2026, 12, 7, 20, 0, 0, 123_000_000, time.UTC)
	host := engine.HostSample{CPUPercent: 97.123456789, MemoryPercent: 88.987654321, MemoryTotal: 64 << 30}
	samples := make([]engine.ContainerSample, 1000)
	for i := range samples {
		samples[i] = engine.ContainerSample{ID: fmt.Sprintf("%064x", i+1), Name: fmt.Sprintf("project-with-a-long-name-service-%04d-replica", i),
			Labels: labels, CPUPercent: 123.456789, MemoryUsed: 987_654_321, MemoryLimit: 1 << 30}
	}
	in := workflows.CollectMetricsInput{CycleAt: at, AdoptAlerts: true}
	cycle := alertCycle(rules, in, host, samples, nil, caps.ContainerAlerts)
	if len(cycle.Rules) != len(rules) || len(cycle.Figures.Containers) != caps.ContainerAlerts {
		t.Fatalf("marker: %d rules, %d containers; want %d and %d", len(cycle.Rules), len(cycle.Figures.Containers), len(rules), caps.ContainerAlerts)
	}
	for i := range caps.ContainerAlerts + caps.GlobalRules + caps.EnvironmentRules { // adopted: at most this many
		cycle.Firing = append(cycle.Firing, workflows.AlertState{RuleID: rules[i%len(rules)].ID, Target: samples[i%len(samples)].Name,
			Phase: workflows.AlertFiring, Since: at, Value: 123.456789})
	}
	cycle.Adopted = true
	marker := workflows.MetricsSummary{CollectedAt: at, ContainersRunning: len(samples), CPUPercent: host.CPUPercent,
		MemoryPercent: host.MemoryPercent, Stored: true, Alerts: cycle}

	states, transitions := workflows.EvaluateAlerts(rules, nil, cycle.Figures)
	if len(states) != caps.ContainerAlerts || len(transitions) != caps.ContainerAlerts {
		t.Fatalf("evaluation: %d states, %d transitions; want %d of each (the cap)", len(states), len(transitions), caps.ContainerAlerts)
	}
	for _, r := range rules { // host alerts: one per rule at most
		states = append(states, workflows.AlertState{RuleID: r.ID, Phase: workflows.AlertFiring, Since: at, Value: 97.123456789})
	}
	var pending []workflows.AlertTransition
	for len(pending) < 500 { // maxPendingAlerts
		tr := transitions[len(pending)%len(transitions)]
		tr.Reason = "the container was renamed from " + samples[0].Name
		pending = append(pending, tr)
	}
	state := workflows.State{EnvironmentID: "0b7f6c1e-0000-4000-8000-000000000000", Name: strings.Repeat("n", 100),
		Settings: workflows.DefaultSettings(), Status: workflows.StatusOnline, StatusSince: at, LastCycle: &workflows.MetricsSummary{
			CollectedAt: at, ContainersRunning: 1000, CPUPercent: 97.1, MemoryPercent: 88.9, Stored: true},
		LastCycleAt: at, Cycles: 1 << 40, NextCycleAt: at, Alerts: states, PendingAlerts: pending}
	input := workflows.Input{EnvironmentID: state.EnvironmentID, Name: state.Name, Settings: state.Settings, State: &state}

	markerBytes, inputBytes := payloadSize(t, marker), payloadSize(t, input)
	t.Logf("payload: marker %.1f KB (%d rules, %d containers, %d adopted); continue-as-new input %.1f KB (%d alerts, %d transitions waiting)",
		float64(markerBytes)/1024, len(cycle.Rules), len(cycle.Figures.Containers), len(cycle.Firing),
		float64(inputBytes)/1024, len(state.Alerts), len(state.PendingAlerts))
	if markerBytes >= payloadLimit || inputBytes >= payloadLimit {
		t.Fatalf("marker %d bytes, input %d bytes; want both under %d", markerBytes, inputBytes, payloadLimit)
	}
}
