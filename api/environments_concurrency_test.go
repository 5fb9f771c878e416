package api_test

// Concurrent edits of one environment on the real stack: a PATCH
// and a PUT /settings both survive, a PATCH that removes TLS material stays
// removed, and a DELETE racing a PUT leaves no workflow running for the
// deleted environment.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"github.com/windflow/monitor/activities"
	"github.com/windflow/monitor/api"
	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/engine/enginetest"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
	"github.com/windflow/monitor/worker"
	"github.com/windflow/monitor/workflows"
)

// setupUnlimited is setup without the mutation rate limit: these tests send
// hundreds of changes a minute from one address.
func setupUnlimited(t *testing.T) *testBundle {
	t.Helper()
	databaseURL := storetest.NewSchema(t)
	st, err := store.Open(context.Background(), databaseURL)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(st.Close)
	taskQueue := "e2e-" + uuid.NewString()
	wc := dial(t, "conc-worker")
	w := worker.New(wc, taskQueue, &activities.Activities{
		Store: st, Collector: engine.Collector{Parallelism: 4}, Temporal: wc, TaskQueue: taskQueue,
	})
	if err := w.Start(); err != nil {
		t.Fatalf("start worker: %v", err)
	}
	t.Cleanup(w.Stop)
	tc := dial(t, "conc-api")
	srv := api.NewTestServer(t, api.Config{Namespace: "default", MutationRateLimit: -1}, api.Deps{Store: st, Flows: api.FlowsFor(st, tc, taskQueue)})
	hs := httptest.NewServer(srv.Routes())
	t.Cleanup(hs.Close)
	return &testBundle{api: hs, store: st, temporal: tc, databaseURL: databaseURL, taskQueue: taskQueue}
}

// answer is a response read whole.
type answer struct {
	code   int
	header http.Header
	body   string
}

// send sends a request with an optional JSON body and extra headers.
func (b *testBundle) send(t *testing.T, method, path, body string, header map[string]string) answer {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, b.api.URL+path, r)
	if err != nil {
		t.Error(err)
		return answer{}
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, path, err)
		return answer{}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return answer{code: resp.StatusCode, header: resp.Header, body: string(raw)}
}

// storedEnvironment reads the environment from Postgres.
func (b *testBundle) storedEnvironment(t *testing.T, id string) store.Environment {
	t.Helper()
	env, err := b.store.GetEnvironment(context.Background(), uuid.MustParse(id))
	if err != nil {
		t.Fatalf("GetEnvironment %s: %v", id, err)
	}
	return env
}

// workflowSettings queries the live settings of the environment's workflow.
func (b *testBundle) workflowSettings(t *testing.T, id string) workflows.Settings {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	val, err := b.temporal.QueryWorkflow(ctx, workflows.WorkflowID(id), "", workflows.QueryState)
	if err != nil {
		t.Fatalf("query state of %s: %v", id, err)
	}
	var state workflows.State
	if err := val.Get(&state); err != nil {
		t.Fatal(err)
	}
	return state.Settings.WithEventDefaults().WithDiskDefaults()
}

// workflowRunning tells whether the environment's workflow runs.
func (b *testBundle) workflowRunning(t *testing.T, id string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	desc, err := b.temporal.DescribeWorkflow(ctx, workflows.WorkflowID(id), "")
	if _, ok := err.(*serviceerror.NotFound); ok {
		return false
	}
	if err != nil {
		t.Fatalf("describe workflow of %s: %v", id, err)
	}
	return desc.RawResponse.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
}

// requireInStep fails unless the workflow runs with the stored settings.
func (b *testBundle) requireInStep(t *testing.T, id string) store.Environment {
	t.Helper()
	env := b.storedEnvironment(t, id)
	if env.SettingsPending {
		t.Fatalf("environment %s still marked pending", id)
	}
	stored := env.Settings
	if got := b.workflowSettings(t, id); got != stored {
		t.Fatalf("workflow settings %+v, stored %+v", got, stored)
	}
	return env
}

// A PATCH of the name and a PUT of the settings at the same moment both
// take effect, many times over.
func TestEnvironments_ConcurrentPatchAndSettings(t *testing.T) {
	enginetest.Client(t)
	b := setupUnlimited(t)
	env := b.createEnvironment(t, "conc-"+uuid.NewString()[:8], 30)
	const iterations = 25
	for i := range iterations {
		name := fmt.Sprintf("conc-%d-%s", i, uuid.NewString()[:6])
		interval := 10 + i
		var wg sync.WaitGroup
		var patch, put answer
		wg.Add(2)
		go func() {
			defer wg.Done()
			patch = b.send(t, http.MethodPatch, "/api/v1/environments/"+env.ID, fmt.Sprintf(`{"name":%q}`, name), nil)
		}()
		go func() {
			defer wg.Done()
			put = b.send(t, http.MethodPut, "/api/v1/environments/"+env.ID+"/settings",
				fmt.Sprintf(`{"metricsIntervalSeconds":%d}`, interval), nil)
		}()
		wg.Wait()
		if patch.code != http.StatusOK || put.code != http.StatusOK {
			t.Fatalf("iteration %d: PATCH %d %s, PUT %d %s", i, patch.code, patch.body, put.code, put.body)
		}
		stored := b.requireInStep(t, env.ID)
		if stored.Name != name || stored.Settings.MetricsInterval != time.Duration(interval)*time.Second {
			t.Fatalf("iteration %d: stored name %q interval %s; want %q and %ds (an update was lost)",
				i, stored.Name, stored.Settings.MetricsInterval, name, interval)
		}
	}
}

// A PATCH that removes the TLS material, concurrent with a PUT of the
// settings: the material stays removed.
func TestEnvironments_TLSRemovalSurvivesSettings(t *testing.T) {
	enginetest.Client(t)
	b := setupUnlimited(t)
	env := b.createEnvironment(t, "tls-rm-"+uuid.NewString()[:8], 30)
	id := uuid.MustParse(env.ID)
	ctx := context.Background()
	for i := range 15 {
		// TLS material as the API would store it (sealed bytes are opaque
		// to the store); the engine is never dialled by these requests.
		withTLS := b.storedEnvironment(t, env.ID)
		withTLS.Endpoint = "tcp://192.0.2.1:2376"
		withTLS.TLS = &store.EnvironmentTLS{Sealed: []byte("sealed"), CA: true}
		if _, err := b.store.UpdateEnvironment(ctx, withTLS); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var patch, put answer
		wg.Add(2)
		go func() {
			defer wg.Done()
			patch = b.send(t, http.MethodPatch, "/api/v1/environments/"+env.ID, `{"tls":null}`, nil)
		}()
		go func() {
			defer wg.Done()
			put = b.send(t, http.MethodPut, "/api/v1/environments/"+env.ID+"/settings",
				fmt.Sprintf(`{"offlineAfter":%d}`, 2+i%5), nil)
		}()
		wg.Wait()
		if patch.code != http.StatusOK || put.code != http.StatusOK {
			t.Fatalf("iteration %d: PATCH %d %s, PUT %d %s", i, patch.code, patch.body, put.code, put.body)
		}
		got, err := b.store.GetEnvironment(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.TLS != nil || got.Settings.OfflineAfter != 2+i%5 {
			t.Fatalf("iteration %d: TLS %v, offlineAfter %d; want no TLS and %d", i, got.TLS, got.Settings.OfflineAfter, 2+i%5)
		}
	}
}

// A DELETE racing a PUT of the settings never leaves a workflow running for
// the deleted environment, also when the PUT finds no workflow and starts
// one (an orphan workflow).
func TestEnvironments_DeleteRacingSettingsLeavesNoWorkflow(t *testing.T) {
	enginetest.Client(t)
	b := setupUnlimited(t)
	ctx := context.Background()
	for i := range 8 {
		env := b.createEnvironment(t, fmt.Sprintf("del-race-%d-%s", i, uuid.NewString()[:6]), 30)
		if i%2 == 1 {
			// No running workflow: the PUT's path that starts one.
			if err := b.temporal.TerminateWorkflow(ctx, workflows.WorkflowID(env.ID), "", "test: no workflow"); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		var del, put answer
		wg.Add(2)
		go func() {
			defer wg.Done()
			put = b.send(t, http.MethodPut, "/api/v1/environments/"+env.ID+"/settings", `{"metricsIntervalSeconds":15}`, nil)
		}()
		go func() {
			defer wg.Done()
			del = b.send(t, http.MethodDelete, "/api/v1/environments/"+env.ID, "", nil)
		}()
		wg.Wait()
		if del.code != http.StatusNoContent {
			t.Fatalf("iteration %d: DELETE %d %s", i, del.code, del.body)
		}
		if put.code != http.StatusOK && put.code != http.StatusNotFound {
			t.Fatalf("iteration %d: PUT %d %s; want 200 (before the delete) or 404 (after)", i, put.code, put.body)
		}
		if b.workflowRunning(t, env.ID) {
			t.Fatalf("iteration %d: the workflow of deleted environment %s is running (PUT %d)", i, env.ID, put.code)
		}
		if code := b.call(t, http.MethodGet, "/api/v1/environments/"+env.ID, "", nil); code != http.StatusNotFound {
			t.Fatalf("iteration %d: GET after delete: %d", i, code)
		}
	}
}

// Out-of-range seconds, overflowing ones included, and JSON nulls answer
// 400 and change nothing, neither in Postgres nor in the workflow.
func TestEnvironments_OverflowAndNullRejected(t *testing.T) {
	enginetest.Client(t)
	b := setupUnlimited(t)
	env := b.createEnvironment(t, "bad-"+uuid.NewString()[:8], 30)
	before := b.requireInStep(t, env.ID)
	fields := []string{"metricsIntervalSeconds", "pollIntervalSeconds", "diskIntervalSeconds", "diskTimeoutSeconds", "diskCooldownSeconds"}
	type bad struct{ method, path, body, code string }
	var cases []bad
	for _, f := range fields {
		for _, v := range []string{"18446744084", "9223372037", "9223372036854775807", "-9223372036854775808", "-1"} {
			cases = append(cases,
				bad{http.MethodPut, "/api/v1/environments/" + env.ID + "/settings", fmt.Sprintf(`{%q:%s}`, f, v), "invalid_settings"},
				bad{http.MethodPost, "/api/v1/environments", fmt.Sprintf(`{"name":"ovf-%s","endpoint":%q,"settings":{%q:%s}}`,
					uuid.NewString()[:8], enginetest.Endpoint(), f, v), "invalid_settings"})
		}
		cases = append(cases, bad{http.MethodPut, "/api/v1/environments/" + env.ID + "/settings", fmt.Sprintf(`{%q:null}`, f), "invalid_json"})
	}
	cases = append(cases,
		bad{http.MethodPut, "/api/v1/environments/" + env.ID + "/settings", `null`, "invalid_json"},
		bad{http.MethodPut, "/api/v1/environments/" + env.ID + "/settings", ` null `, "invalid_json"},
		bad{http.MethodPut, "/api/v1/environments/" + env.ID + "/settings", `[]`, "invalid_json"},
		bad{http.MethodPatch, "/api/v1/environments/" + env.ID, `null`, "invalid_json"},
		bad{http.MethodPatch, "/api/v1/environments/" + env.ID, `{"name":null}`, "invalid_json"},
		bad{http.MethodPatch, "/api/v1/environments/" + env.ID, `{"Endpoint":null}`, "invalid_json"},
		bad{http.MethodPatch, "/api/v1/environments/" + env.ID, `{"tls":{"ca":null}}`, "invalid_json"},
		bad{http.MethodPost, "/api/v1/environments", `null`, "invalid_json"},
		bad{http.MethodPost, "/api/v1/environments", fmt.Sprintf(`{"name":"n","endpoint":%q,"settings":null}`, enginetest.Endpoint()), "invalid_json"},
	)
	for _, c := range cases {
		a := b.send(t, c.method, c.path, c.body, nil)
		var e errorJSON
		_ = json.Unmarshal([]byte(a.body), &e)
		if a.code != http.StatusBadRequest || e.Error.Code != c.code || e.Error.Message == "" {
			t.Errorf("%s %s %s: %d %s; want 400 %s", c.method, c.path, c.body, a.code, a.body, c.code)
		}
	}
	// The overflow error names the field and its range.
	a := b.send(t, http.MethodPut, "/api/v1/environments/"+env.ID+"/settings", `{"metricsIntervalSeconds":18446744084}`, nil)
	if !strings.Contains(a.body, "metricsInterval must be between 10s and 5m0s") {
		t.Errorf("overflow answer %s does not name the field and its range", a.body)
	}
	after := b.requireInStep(t, env.ID)
	if after.Version != before.Version || after.Settings.MetricsInterval != 30*time.Second {
		t.Fatalf("after bad input: version %d → %d, interval %s", before.Version, after.Version, after.Settings.MetricsInterval)
	}
	var list struct{ Environments []environmentJSON }
	b.call(t, http.MethodGet, "/api/v1/environments", "", &list)
	if len(list.Environments) != 1 {
		t.Fatalf("%d environments after bad input, want 1", len(list.Environments))
	}
	// A later PUT still works (it used to answer 500 for good).
	if a := b.send(t, http.MethodPut, "/api/v1/environments/"+env.ID+"/settings", `{"metricsIntervalSeconds":20}`, nil); a.code != http.StatusOK {
		t.Fatalf("PUT after bad input: %d %s", a.code, a.body)
	}
	if got := b.requireInStep(t, env.ID); got.Settings.MetricsInterval != 20*time.Second {
		t.Fatalf("interval %s after the PUT, want 20s", got.Settings.MetricsInterval)
	}
}

// GET answers an ETag; PUT, PATCH and DELETE honour If-Match: 412 for
// another version, nothing changed.
func TestEnvironments_IfMatch(t *testing.T) {
	enginetest.Client(t)
	b := setupUnlimited(t)
	env := b.createEnvironment(t, "etag-"+uuid.NewString()[:8], 30)
	path := "/api/v1/environments/" + env.ID
	get := b.send(t, http.MethodGet, path, "", nil)
	etag := get.header.Get("ETag")
	if get.code != http.StatusOK || etag == "" {
		t.Fatalf("GET: %d, ETag %q", get.code, etag)
	}
	stale := `"999"`
	for _, c := range []struct{ method, path, body string }{
		{http.MethodPut, path + "/settings", `{"metricsIntervalSeconds":20}`},
		{http.MethodPatch, path, `{"name":"etag-renamed"}`},
		{http.MethodDelete, path, ""},
	} {
		if a := b.send(t, c.method, c.path, c.body, map[string]string{"If-Match": stale}); a.code != http.StatusPreconditionFailed ||
			!strings.Contains(a.body, "precondition_failed") {
			t.Fatalf("%s with a stale If-Match: %d %s; want 412", c.method, a.code, a.body)
		}
	}
	if a := b.send(t, http.MethodPut, path+"/settings", `{}`, map[string]string{"If-Match": "3"}); a.code != http.StatusBadRequest {
		t.Fatalf("unquoted If-Match: %d %s; want 400", a.code, a.body)
	}
	if got := b.storedEnvironment(t, env.ID); fmt.Sprintf("%q", fmt.Sprint(got.Version)) != etag || got.Name != env.Name {
		t.Fatalf("after 412s: version %d (ETag was %s), name %q", got.Version, etag, got.Name)
	}
	put := b.send(t, http.MethodPut, path+"/settings", `{"metricsIntervalSeconds":20}`, map[string]string{"If-Match": etag})
	if put.code != http.StatusOK || put.header.Get("ETag") == etag {
		t.Fatalf("PUT with the current ETag: %d, ETag %q → %q", put.code, etag, put.header.Get("ETag"))
	}
	patch := b.send(t, http.MethodPatch, path, `{"name":"etag-`+uuid.NewString()[:8]+`"}`, map[string]string{"If-Match": "W/" + put.header.Get("ETag")})
	if patch.code != http.StatusOK {
		t.Fatalf("PATCH with the current weak ETag: %d %s", patch.code, patch.body)
	}
	if a := b.send(t, http.MethodPut, path+"/settings", `{"paused":true}`, map[string]string{"If-Match": put.header.Get("ETag")}); a.code != http.StatusPreconditionFailed {
		t.Fatalf("PUT with the ETag before the PATCH: %d; want 412", a.code)
	}
	if a := b.send(t, http.MethodDelete, path, "", map[string]string{"If-Match": patch.header.Get("ETag")}); a.code != http.StatusNoContent {
		t.Fatalf("DELETE with the current ETag: %d %s", a.code, a.body)
	}
}
