package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/engine/enginetest"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/workflows"
)

// A workflow that lost its state (terminated, started again fresh by the
// reconciler) takes over the alerts the history shows as firing: the one
// whose rule was deleted meanwhile resolves with the reason, the one still
// breaching goes on without a second firing.
func TestEndToEnd_AlertsTakenOverAfterLostState(t *testing.T) {
	enginetest.Client(t)
	b := setupUnlimited(t)
	ctx := context.Background()
	env := b.createEnvironment(t, "adopt-"+uuid.NewString()[:8], 10)
	envID := uuid.MustParse(env.ID)
	rule := func(name, metric string) ruleJSON {
		var r ruleJSON
		body := `{"name":"` + name + `","environmentId":"` + env.ID + `","metric":"` + metric + `","op":"above","threshold":-1}`
		if code := b.call(t, http.MethodPost, "/api/v1/alert-rules", body, &r); code != http.StatusCreated {
			t.Fatalf("create rule %s: %d", name, code)
		}
		return r
	}
	kept := rule("kept-"+uuid.NewString()[:8], "host_cpu_percent")
	deleted := rule("deleted-"+uuid.NewString()[:8], "host_memory_percent")
	list := func() store.AlertList {
		l, err := b.store.ListAlerts(ctx, &envID, 50)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	eventually(t, 60*time.Second, "both alerts firing", func() bool { return len(list().Firing) == 2 })

	if err := b.temporal.TerminateWorkflow(ctx, workflows.WorkflowID(env.ID), "", "test: the state is lost"); err != nil {
		t.Fatal(err)
	}
	if code := b.call(t, http.MethodDelete, "/api/v1/alert-rules/"+deleted.ID, "", nil); code != http.StatusNoContent {
		t.Fatalf("delete rule: %d", code)
	}
	if err := b.controller().Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the deleted rule's alert resolved", func() bool {
		l := list()
		return len(l.Firing) == 1 && l.Firing[0].RuleID.String() == kept.ID
	})
	// Two more cycles: the kept alert is not fired again.
	cycles := len(b.cycleTimes(t, env.ID))
	eventually(t, 60*time.Second, "two more cycles", func() bool { return len(b.cycleTimes(t, env.ID)) >= cycles+2 })
	var firings, resolved []store.Alert
	for _, a := range list().Recent {
		switch {
		case a.Phase == store.AlertFiring:
			firings = append(firings, a)
		case a.RuleID.String() == deleted.ID:
			resolved = append(resolved, a)
		}
	}
	if len(firings) != 2 || len(resolved) != 1 || resolved[0].Reason != "the rule was removed" {
		t.Fatalf("history: firings %+v, resolutions %+v; want one firing each, the deleted rule's resolved with the reason", firings, resolved)
	}
}
