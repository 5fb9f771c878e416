package agenthub_test

import (
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/agent"
	"github.com/windflow/monitor/internal/agenthub"
	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/settings"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
)

// hubFixture is a hub on a real store behind an httptest server, with one
// agent-placed environment and a token of it.
type hubFixture struct {
	st    *store.Store
	srv   *httptest.Server
	envID uuid.UUID
	token string
}

func newHubFixture(t *testing.T) *hubFixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, storetest.NewSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	env, err := st.CreateEnvironment(ctx, store.Environment{Name: "edge", Endpoint: engine.AgentEndpoint, Settings: settings.Default()})
	if err != nil {
		t.Fatal(err)
	}
	token := "wfa_" + strings.Repeat("x", 43)
	if _, err := st.CreateAgentToken(ctx, store.AgentToken{EnvironmentID: env.ID, Hash: store.HashAgentToken(token), Hint: token[:10]}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	hub, err := agenthub.New(st, agenthub.Config{RelayURL: "http://" + srv.Listener.Addr().String(), CheckInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /agent/v1/connect", hub.ServeConnect)
	mux.HandleFunc("GET /agent/v1/relay/{id}", func(w http.ResponseWriter, r *http.Request) {
		hub.ServeRelay(w, r, uuid.MustParse(r.PathValue("id")))
	})
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(hub.Close)
	return &hubFixture{st: st, srv: srv, envID: env.ID, token: token}
}

func (f *hubFixture) get(t *testing.T, path string, header http.Header) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// TestRefusals: no token, a wrong token, the relay without its secret or
// its Upgrade, and an environment whose agent is not connected.
func TestRefusals(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	f := newHubFixture(t)
	relay := "/agent/v1/relay/" + f.envID.String()
	secret, err := f.st.RelaySecret(context.Background())
	if err != nil || len(secret) != 32 {
		t.Fatalf("relay secret: %d bytes, %v", len(secret), err)
	}
	upgrade := http.Header{"Connection": {"Upgrade"}, "Upgrade": {"windflow-relay"}}
	withAuth := func(h http.Header, v string) http.Header {
		out := h.Clone()
		if out == nil {
			out = http.Header{}
		}
		out.Set("Authorization", v)
		return out
	}
	cases := []struct {
		name   string
		path   string
		header http.Header
		want   int
	}{
		{"connect without a token", "/agent/v1/connect", nil, http.StatusUnauthorized},
		{"connect with an unknown token", "/agent/v1/connect", withAuth(nil, "Bearer wfa_unknown"), http.StatusUnauthorized},
		{"relay without the secret", relay, upgrade, http.StatusUnauthorized},
		{"relay with the enrolment token", relay, withAuth(upgrade, "Bearer "+f.token), http.StatusUnauthorized},
		{"relay without Upgrade", relay, withAuth(nil, "Bearer "+hex.EncodeToString(secret)), http.StatusBadRequest},
		{"relay to an agent not connected", relay, withAuth(upgrade, "Bearer "+hex.EncodeToString(secret)), http.StatusNotFound},
	}
	for _, c := range cases {
		if got := f.get(t, c.path, c.header); got != c.want {
			t.Errorf("%s: status %d, want %d", c.name, got, c.want)
		}
	}
	_, err = agenthub.NewDialer(f.st).DialAgent(context.Background(), f.envID)
	if !errors.Is(err, agenthub.ErrNotConnected) {
		t.Fatalf("dial with no agent: %v, want ErrNotConnected", err)
	}
}

// TestRevokeEndsSession: an agent connects (its session is recorded with
// a round trip), its token is revoked, and the hub ends the session at its
// next check and forgets it.
func TestRevokeEndsSession(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	f := newHubFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	refused := make(chan time.Duration, 16)
	go func() {
		_ = agent.Run(ctx, agent.Config{ServerURL: f.srv.URL, Token: f.token, Engine: "unix:///nonexistent.sock", Version: "t",
			Sleep: func(ctx context.Context, d time.Duration) error {
				select {
				case refused <- d:
				default:
				}
				<-ctx.Done()
				return ctx.Err()
			}})
	}()
	var sess store.AgentSession
	waitFor(t, "the session with a round trip", func() bool {
		var err error
		sess, err = f.st.AgentSession(ctx, f.envID)
		return err == nil && sess.RTT > 0
	})
	if sess.AgentVersion != "t" || !strings.HasPrefix(sess.RelayURL, "http://127.0.0.1:") {
		t.Fatalf("session = %+v", sess)
	}
	if _, err := f.st.RevokeAgentToken(ctx, f.envID, sess.TokenID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-refused: // the agent's session ended: it waits before trying again
	case <-time.After(10 * time.Second):
		t.Fatal("the revoked agent's session did not end")
	}
	if _, err := f.st.AgentSession(ctx, f.envID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session after revoke: %v, want none", err)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
