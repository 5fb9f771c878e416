package workflows

import (
	"errors"
	"fmt"
)

// AlertCaps bound what alert rules may make an environment's workflow
// hold, so that its continue-as-new input and a cycle's local-activity
// marker stay far below Temporal's payload limit whatever the rules and
// containers (docs/alerts.md gives the sizes at the maxima).
type AlertCaps struct {
	// GlobalRules is how many rules may apply to every environment.
	GlobalRules int
	// EnvironmentRules is how many rules one environment may have of its
	// own (besides the global ones).
	EnvironmentRules int
	// RuleLabels is how many labels one rule may select on, and
	// RuleLabelBytes the bytes of their keys and values together.
	RuleLabels     int
	RuleLabelBytes int
	// ContainerAlerts is how many container alerts (rule × container,
	// pending or firing) an environment holds: past it, new breaches start
	// no alert until others end.
	ContainerAlerts int
}

// DefaultAlertCaps are the caps when not configured.
func DefaultAlertCaps() AlertCaps {
	return AlertCaps{GlobalRules: 25, EnvironmentRules: 25, RuleLabels: 16, RuleLabelBytes: 512, ContainerAlerts: 200}
}

// MaxAlertCaps are the highest caps a configuration may set: the sizes
// measured at them stay under 512 KB.
func MaxAlertCaps() AlertCaps {
	return AlertCaps{GlobalRules: 50, EnvironmentRules: 50, RuleLabels: 32, RuleLabelBytes: 1024, ContainerAlerts: 500}
}

// WithDefaults is c with its zero fields set to DefaultAlertCaps'.
func (c AlertCaps) WithDefaults() AlertCaps {
	d := DefaultAlertCaps()
	for _, f := range []struct{ v, def *int }{
		{&c.GlobalRules, &d.GlobalRules}, {&c.EnvironmentRules, &d.EnvironmentRules},
		{&c.RuleLabels, &d.RuleLabels}, {&c.RuleLabelBytes, &d.RuleLabelBytes}, {&c.ContainerAlerts, &d.ContainerAlerts},
	} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	return c
}

// Validate reports every cap out of 1..MaxAlertCaps, by its variable.
func (c AlertCaps) Validate() error {
	m := MaxAlertCaps()
	var errs []error
	for _, f := range []struct {
		name    string
		v, most int
	}{
		{"WINDFLOW_ALERT_MAX_GLOBAL_RULES", c.GlobalRules, m.GlobalRules},
		{"WINDFLOW_ALERT_MAX_ENVIRONMENT_RULES", c.EnvironmentRules, m.EnvironmentRules},
		{"WINDFLOW_ALERT_MAX_RULE_LABELS", c.RuleLabels, m.RuleLabels},
		{"WINDFLOW_ALERT_MAX_RULE_LABEL_BYTES", c.RuleLabelBytes, m.RuleLabelBytes},
		{"WINDFLOW_ALERT_MAX_CONTAINER_ALERTS", c.ContainerAlerts, m.ContainerAlerts},
	} {
		if f.v < 1 || f.v > f.most {
			errs = append(errs, fmt.Errorf("%s must be from 1 to %d, got %d", f.name, f.most, f.v))
		}
	}
	return errors.Join(errs...)
}
