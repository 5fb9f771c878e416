package store_test

import (
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/store"
)

// TestAlertRuleCRUD: create, read, list (all, or those of one environment:
// its own and the global ones), replace, delete; a taken name, an unknown
// environment and a refused value are told apart; deleting an environment
// deletes its rules.
func TestAlertRuleCRUD(t *testing.T) {
	t.Parallel()
	b := setup(t)
	env := b.createEnv(t, "env")
	other := b.createEnv(t, "other")
	recovery := 70.0
	global, err := b.store.CreateAlertRule(b.ctx, store.AlertRule{Name: "host cpu", Metric: "host_cpu_percent", Op: "above",
		Threshold: 90, ForSeconds: 120, Recovery: &recovery, Severity: "critical", Enabled: true}, store.AlertRuleCaps{})
	if err != nil {
		t.Fatal(err)
	}
	if global.ID == uuid.Nil || global.Labels == nil || global.EnvironmentID != nil || *global.Recovery != 70 || global.CreatedAt.IsZero() {
		t.Fatalf("created %+v", global)
	}
	own, err := b.store.CreateAlertRule(b.ctx, store.AlertRule{Name: "web leak", EnvironmentID: &env.ID, Metric: "container_memory_bytes",
		Op: "above", Threshold: 5e8, ForSeconds: 300, ContainerPattern: "web-*", Labels: map[string]string{"team": "web"}, Severity: "warning", Enabled: true}, store.AlertRuleCaps{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.store.GetAlertRule(b.ctx, own.ID); err != nil || got.Labels["team"] != "web" || *got.EnvironmentID != env.ID || got.ContainerPattern != "web-*" {
		t.Fatalf("GetAlertRule = %+v, %v", got, err)
	}
	names := func(rules []store.AlertRule) (out []string) {
		for _, r := range rules {
			out = append(out, r.Name)
		}
		return out
	}
	all, err := b.store.ListAlertRules(b.ctx, nil)
	if err != nil || len(all) != 2 || names(all)[0] != "host cpu" {
		t.Fatalf("ListAlertRules(all) = %v, %v", names(all), err)
	}
	if mine, err := b.store.ListAlertRules(b.ctx, &other.ID); err != nil || len(mine) != 1 || mine[0].ID != global.ID {
		t.Fatalf("ListAlertRules(other) = %v, %v; want the global rule only", names(mine), err)
	}

	for name, tc := range map[string]struct {
		rule store.AlertRule
		want error
	}{
		"taken name":          {store.AlertRule{Name: "host cpu", Metric: "host_cpu_percent", Op: "above", Severity: "info"}, store.ErrNameTaken},
		"unknown environment": {store.AlertRule{Name: "x", EnvironmentID: new(uuid.New()), Metric: "host_cpu_percent", Op: "above", Severity: "info"}, store.ErrNotFound},
		"bad severity":        {store.AlertRule{Name: "y", Metric: "host_cpu_percent", Op: "above", Severity: "loud"}, store.ErrInvalid},
		"bad duration":        {store.AlertRule{Name: "z", Metric: "host_cpu_percent", Op: "above", Severity: "info", ForSeconds: -1}, store.ErrInvalid},
	} {
		if _, err := b.store.CreateAlertRule(b.ctx, tc.rule, store.AlertRuleCaps{}); !errors.Is(err, tc.want) {
			t.Errorf("%s: CreateAlertRule = %v; want %v", name, err, tc.want)
		}
	}

	own.Threshold, own.Enabled, own.Labels = 6e8, false, nil
	updated, err := b.store.UpdateAlertRule(b.ctx, own, store.AlertRuleCaps{})
	if err != nil || updated.Threshold != 6e8 || updated.Enabled || len(updated.Labels) != 0 || !updated.UpdatedAt.After(own.UpdatedAt) && !updated.UpdatedAt.Equal(own.UpdatedAt) {
		t.Fatalf("UpdateAlertRule = %+v, %v", updated, err)
	}
	if _, err := b.store.UpdateAlertRule(b.ctx, store.AlertRule{ID: uuid.New(), Name: "q", Metric: "host_cpu_percent", Op: "above", Severity: "info"}, store.AlertRuleCaps{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateAlertRule(unknown) = %v", err)
	}

	if err := b.store.DeleteEnvironment(b.ctx, env.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.GetAlertRule(b.ctx, own.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the environment's rule after its deletion: %v", err)
	}
	if err := b.store.DeleteAlertRule(b.ctx, global.ID); err != nil {
		t.Fatal(err)
	}
	if err := b.store.DeleteAlertRule(b.ctx, global.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete = %v", err)
	}
}
