package notify

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Links builds the links notifications carry: to an environment's page of
// the dashboard and to its workflow in the Temporal Web UI.
type Links struct {
	// DashboardURL is the dashboard's base URL ("http://host:8080/");
	// empty: no dashboard link.
	DashboardURL string
	// TemporalUIURL is the Temporal Web UI's base URL and Namespace the
	// workflows' namespace ("" = default); an empty URL: no workflow link.
	TemporalUIURL, Namespace string
}

// Environment links to the dashboard page of an environment (the
// dashboard's #/env/<id> route), or "".
func (l Links) Environment(envID string) string {
	if l.DashboardURL == "" {
		return ""
	}
	return strings.TrimRight(l.DashboardURL, "/") + "/#/env/" + url.PathEscape(envID)
}

// Workflow links to a workflow in the Temporal Web UI, or "".
func (l Links) Workflow(workflowID string) string {
	if l.TemporalUIURL == "" {
		return ""
	}
	ns := l.Namespace
	if ns == "" {
		ns = "default"
	}
	return strings.TrimRight(l.TemporalUIURL, "/") + "/namespaces/" + url.PathEscape(ns) +
		"/workflows/" + url.PathEscape(workflowID)
}

// AlertFacts are what an alert notification shows: one transition of a
// rule on a target.
type AlertFacts struct {
	EnvironmentID, EnvironmentName string
	// WorkflowID is the environment workflow's ID, for its link.
	WorkflowID         string
	RuleName, Severity string
	// Target is "" for the host, else the container's name.
	Target string
	// Resolved: the alert resolved (else it fired).
	Resolved bool
	// The rule as evaluated: metric, op ("above" or "below"), threshold
	// and duration (restart rules: the window).
	Metric, Op string
	Threshold  float64
	For        time.Duration
	// Value is the figure at At, the transition's cycle. Since is when the
	// breach began (firing) or the alert fired (resolved).
	Value     float64
	At, Since time.Time
	// Reason says why an alert resolved without its figure recovering.
	Reason string
}

// AlertMessage renders an alert transition: its kind (KindAlertFiring or
// KindAlertResolved), a title with the severity, environment, rule and
// target, and a message with the figure and its unit, the comparison and
// threshold, the duration, since when, the reason of a resolution without
// recovery and the links.
func AlertMessage(f AlertFacts, links Links) (kind, title, message string) {
	env := envLabel(f.EnvironmentName)
	rule := orUnknown(cleanText(f.RuleName, maxFieldRunes))
	severity := orUnknown(cleanText(f.Severity, 20))
	target := "host"
	where := "environment " + env
	if name := cleanText(f.Target, maxFieldRunes); name != "" {
		target = name
		where += ", container " + name
	}
	kind, verb := KindAlertFiring, "firing"
	if f.Resolved {
		kind, verb = KindAlertResolved, "resolved"
	}
	title = fmt.Sprintf("[%s] %s: %s %s on %s", strings.ToUpper(severity), env, rule, verb, target)

	var b strings.Builder
	condition, now := ruleCondition(f), reading(f)
	switch {
	case !f.Resolved:
		fmt.Fprintf(&b, "Alert %q (%s) is firing on %s: %s.", rule, severity, where, now)
		fmt.Fprintf(&b, "\nRule: %s.", condition)
		if !f.Since.IsZero() {
			fmt.Fprintf(&b, "\nBreaching since %s.", utc(f.Since))
		}
	case f.Reason != "":
		fmt.Fprintf(&b, "Alert %q (%s) on %s is resolved without its figure recovering: %s.",
			rule, severity, where, cleanText(f.Reason, maxErrorRunes))
		fmt.Fprintf(&b, "\nRule: %s. Last reading: %s.", condition, now)
	default:
		fmt.Fprintf(&b, "Alert %q (%s) on %s is resolved: %s.", rule, severity, where, now)
		fmt.Fprintf(&b, "\nRule: %s.", condition)
	}
	if f.Resolved && !f.Since.IsZero() {
		fmt.Fprintf(&b, "\nFiring since %s", utc(f.Since))
		if f.At.After(f.Since) {
			fmt.Fprintf(&b, " (%s)", shortDuration(f.At.Sub(f.Since).Round(time.Second)))
		}
		b.WriteString(".")
	}
	if !f.At.IsZero() {
		fmt.Fprintf(&b, "\nTime: %s.", utc(f.At))
	}
	if link := links.Environment(f.EnvironmentID); link != "" {
		b.WriteString("\nDashboard: " + link)
	}
	if link := links.Workflow(f.WorkflowID); link != "" {
		b.WriteString("\nWorkflow: " + link)
	}
	return kind, title, b.String()
}

// reading is the figure of f: "memory (of its limit) at 93.5 %", "3
// restarts in the last 10m".
func reading(f AlertFacts) string {
	if f.Metric == "container_restarts" {
		return formatFigure(f.Metric, f.Value, false) + " restarts" + durationPhrase(f.Metric, f.For)
	}
	return figureName(f.Metric) + " at " + formatFigure(f.Metric, f.Value, false)
}

// ruleCondition is the rule of f: "memory (of its limit) above 90 % for
// 5m", "more than 2 restarts in the last 10m".
func ruleCondition(f AlertFacts) string {
	if f.Metric == "container_restarts" {
		more := "more than"
		if f.Op == "below" {
			more = "fewer than"
		}
		return more + " " + formatFigure(f.Metric, f.Threshold, true) + " restarts" + durationPhrase(f.Metric, f.For)
	}
	return figureName(f.Metric) + " " + opWord(f.Op) + " " + formatFigure(f.Metric, f.Threshold, true) + durationPhrase(f.Metric, f.For)
}

// figureName says what a metric measures.
func figureName(metric string) string {
	switch metric {
	case "host_cpu_percent":
		return "host CPU"
	case "host_memory_percent":
		return "host memory"
	case "container_cpu_percent":
		return "CPU"
	case "container_memory_percent":
		return "memory (of its limit)"
	case "container_memory_host_percent":
		return "memory (of the host's)"
	case "container_memory_bytes":
		return "memory"
	case "container_restarts":
		return "restarts"
	}
	return orUnknown(cleanText(metric, 64))
}

// formatFigure writes v in the metric's unit: percent, bytes (humanized) or
// a count. A threshold keeps its digits as given; a reading one decimal.
func formatFigure(metric string, v float64, threshold bool) string {
	switch metric {
	case "container_memory_bytes":
		return HumanBytes(int64(v))
	case "container_restarts":
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	if threshold {
		return strconv.FormatFloat(v, 'f', -1, 64) + " %"
	}
	return fmt.Sprintf("%.1f %%", v)
}

// opWord is the comparison in words.
func opWord(op string) string {
	if op == "below" {
		return "below"
	}
	return "above"
}

// durationPhrase is the rule's duration: " in the last 10m" for a restart
// window, " for 5m", or "" when the rule fires at once.
func durationPhrase(metric string, d time.Duration) string {
	switch {
	case metric == "container_restarts":
		return " in the last " + shortDuration(d)
	case d > 0:
		return " for " + shortDuration(d)
	}
	return ""
}

// shortDuration is d without zero trailing units: 5m, 1h30m, 45s, 1h.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// utc formats t for a message.
func utc(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05 MST")
}
