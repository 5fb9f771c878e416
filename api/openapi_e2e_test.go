package api_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/engine/enginetest"
)

// TestEndToEnd_OpenAPITour calls every route of the API on the real stack,
// with real data (a watched engine, a running container, a channel with a
// delivered notification), through the end-to-end helper, which checks each
// request and answer against api/openapi.json: the routes the other
// end-to-end tests do not reach are held against the document too. Each
// call also asserts its status, so that a documented error answer cannot
// stand in for the success the test expects.
func TestEndToEnd_OpenAPITour(t *testing.T) {
	cli := enginetest.Client(t)
	b := setup(t)
	name := "wf-oa-" + uuid.NewString()[:8]
	containerID := enginetest.RunContainer(t, cli, name, "sleep", "3600")
	env := b.createEnvironment(t, "oa-"+uuid.NewString()[:8], 10)
	envPath := "/api/v1/environments/" + env.ID
	expect := func(method, path, body string, want int) string {
		t.Helper()
		code, raw := b.raw(t, method, path, body)
		if code != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, code, raw, want)
		}
		return raw
	}

	// A first cycle with the container in it; its name (RunContainer adds a
	// suffix) as stored.
	eventually(t, 40*time.Second, "the container in the latest cycle", func() bool {
		var latest struct {
			Containers []struct {
				ContainerID   string `json:"containerId"`
				ContainerName string `json:"containerName"`
			} `json:"containers"`
		}
		b.call(t, http.MethodGet, envPath+"/containers/metrics", "", &latest)
		for _, c := range latest.Containers {
			if c.ContainerID == containerID {
				name = c.ContainerName
				return true
			}
		}
		return false
	})

	// Reads of one environment.
	expect("GET", "/api/v1/environments", "", 200)
	expect("GET", envPath, "", 200)
	expect("GET", envPath+"/status", "", 200)
	for _, q := range []string{"", "step=10s", "step=1m", "step=1h&from=" + url.QueryEscape(time.Now().Add(-48*time.Hour).UTC().Format(time.RFC3339)),
		fmt.Sprintf("from=%d&to=%d&step=30", time.Now().Add(-time.Hour).Unix(), time.Now().Unix())} {
		expect("GET", envPath+"/metrics?"+q, "", 200)
		expect("GET", envPath+"/disk?"+q, "", 200)
	}
	for _, ref := range []string{containerID, containerID[:12], name} {
		raw := expect("GET", envPath+"/containers/"+ref+"/metrics?step=10s", "", 200)
		if !strings.Contains(raw, containerID) {
			t.Errorf("series of %s does not name container %s: %s", ref, containerID, raw)
		}
	}
	expect("GET", envPath+"/containers/no-such-container/metrics", "", 404)
	eventually(t, 30*time.Second, "the container's events", func() bool {
		_, raw := b.raw(t, http.MethodGet, envPath+"/events?container="+name+"&limit=5", "")
		return strings.Contains(raw, containerID)
	})
	expect("GET", envPath+"/events/gaps?limit=10", "", 200)
	expect("GET", "/api/v1/events?environment="+env.ID+"&action=start&limit=1", "", 200)
	expect("GET", "/api/v1/events/gaps", "", 200)

	// Changes of the environment, with and without If-Match.
	var got struct {
		Version int64 `json:"version"`
	}
	b.call(t, "GET", envPath, "", &got)
	expect("PATCH", envPath, fmt.Sprintf(`{"name":"oa-renamed-%s"}`, uuid.NewString()[:8]), 200)
	stale := fmt.Sprintf(`"%d"`, got.Version)
	req, _ := http.NewRequest(http.MethodPut, b.api.URL+envPath+"/settings", strings.NewReader(`{"paused":true}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("If-Match", stale)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPreconditionFailed {
		t.Fatalf("PUT settings with a stale If-Match: %d, want 412", resp.StatusCode)
	}
	if err := checkContract(req, []byte(`{"paused":true}`), resp.StatusCode, resp.Header, body); err != nil {
		t.Errorf("PUT settings with a stale If-Match: api/openapi.json: %v", err)
	}
	expect("PUT", envPath+"/settings", `{"metricsIntervalSeconds":20,"diskThresholdMode":"bytes","diskThresholdBytes":1000000000}`, 200)
	expect("GET", envPath+"/disk", "", 200)
	expect("PUT", envPath+"/settings", `{"metricsIntervalSeconds":5}`, 400)
	expect("PUT", envPath+"/settings", `{"offlineAfter":null}`, 400)
	expect("POST", "/api/v1/environments", `{"name":"bad name","endpoint":"unix:///var/run/docker.sock"}`, 400)
	expect("GET", "/api/v1/environments/not-a-uuid", "", 400)
	expect("GET", "/api/v1/environments/"+uuid.NewString(), "", 404)
	expect("DELETE", "/api/v1/events", "", 405)
	expect("GET", "/api/v1/nowhere", "", 404)
	expect("GET", "/api/v1/events?limit=0", "", 400)

	// Notification channels, a test send, and the history.
	rcv := newReceiver(t, 0)
	ch := b.createChannel(t, rcv)
	chPath := "/api/v1/notification-channels/" + ch
	expect("GET", "/api/v1/notification-channels", "", 200)
	expect("GET", chPath, "", 200)
	expect("PATCH", chPath, `{"enabled":true,"kinds":["environment_offline","container_started"]}`, 200)
	expect("GET", chPath+"/subscription", "", 200)
	expect("PUT", chPath+"/subscription", fmt.Sprintf(`{"environments":[%q]}`, env.ID), 200)
	expect("PUT", chPath+"/subscription", `{"kinds":["no_such_kind"]}`, 400)
	expect("POST", chPath+"/test", "", 200)
	expect("GET", "/api/v1/notifications?channel="+ch+"&limit=10", "", 200)
	expect("GET", "/api/v1/notifications?status=delivered", "", 200)
	expect("DELETE", chPath, "", 204)

	// The open routes and the document itself.
	expect("GET", "/healthz", "", 200)
	expect("GET", "/readyz", "", 200)
	expect("GET", "/api/v1/openapi.json", "", 200)

	expect("DELETE", envPath, "", 204)
	expect("GET", envPath, "", 404)
}
