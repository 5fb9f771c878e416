package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/windflow/monitor/internal/agenthub"
	"github.com/windflow/monitor/internal/agentproto"
	"github.com/windflow/monitor/internal/engine"
	"github.com/windflow/monitor/internal/store"
)

// Agents: environments whose engine sits behind a windflow-agent (endpoint
// "agent://"). Creating one answers an enrolment token once; the token is
// stored hashed, scoped to its environment and revocable. More tokens can
// be made (rotation: start the agent with the new one, then revoke the old).

// AgentHub serves the agents' connections and the workers' relay
// (*agenthub.Hub).
type AgentHub interface {
	ServeConnect(w http.ResponseWriter, r *http.Request)
	ServeRelay(w http.ResponseWriter, r *http.Request, envID uuid.UUID)
}

// AgentStore is what the agent routes need from PostgreSQL.
type AgentStore interface {
	CreateAgentToken(ctx context.Context, t store.AgentToken) (store.AgentToken, error)
	ListAgentTokens(ctx context.Context, envID uuid.UUID) ([]store.AgentToken, error)
	RevokeAgentToken(ctx context.Context, envID, tokenID uuid.UUID) (store.AgentToken, error)
	AgentSession(ctx context.Context, envID uuid.UUID) (store.AgentSession, error)
}

// agentTokenPrefix starts every enrolment token, so that a leaked one is
// recognisable (secret scanners) and never mistaken for the API token.
const agentTokenPrefix = "wfa_"

// mountAgents routes the agents' WebSocket and the workers' relay; both
// authenticate with tokens of their own, not the API token.
func (s *Server) mountAgents(r chi.Router, sec *security) {
	r = r.With(sec.limitTokenGuesses)
	r.Get(agentproto.ConnectPath, func(w http.ResponseWriter, r *http.Request) {
		if s.agents == nil {
			writeError(w, r, s.noAgents())
			return
		}
		s.agents.ServeConnect(w, r)
	})
	r.Get(agenthub.RelayPath, func(w http.ResponseWriter, r *http.Request) {
		if s.agents == nil {
			writeError(w, r, s.noAgents())
			return
		}
		id, err := uuid.Parse(chi.URLParam(r, "id"))
		if err != nil {
			writeError(w, r, errorf(http.StatusNotFound, "not_found", "no environment %q", shorten(chi.URLParam(r, "id"))))
			return
		}
		s.agents.ServeRelay(w, r, id)
	})
}

// noAgents answers agent connections to a server built without a hub.
func (s *Server) noAgents() error {
	return &Error{Status: http.StatusServiceUnavailable, Code: "agents_not_served", Message: "this process does not serve agents", own: true}
}

// agentRoutes are the agent routes of one environment.
func (s *Server) agentRoutes(r chi.Router) {
	r.Get("/agent", handle(s.getAgent))
	r.Get("/agent-tokens", handle(s.listAgentTokens))
	r.Post("/agent-tokens", handle(s.createAgentToken))
	r.Delete("/agent-tokens/{token}", handle(s.revokeAgentToken))
}

type agentTokenJSON struct {
	ID         uuid.UUID  `json:"id"`
	Hint       string     `json:"hint"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
	RevokedAt  *time.Time `json:"revokedAt"`
}

func agentTokenView(t store.AgentToken) agentTokenJSON {
	return agentTokenJSON{ID: t.ID, Hint: t.Hint, CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt}
}

// agentEnrolmentJSON is a new token, shown once, and how to use it.
type agentEnrolmentJSON struct {
	agentTokenJSON
	Token     string `json:"token"`
	ServerURL string `json:"serverUrl"`
	Command   string `json:"command"`
}

type agentJSON struct {
	Connected      bool       `json:"connected"`
	ConnectedSince *time.Time `json:"connectedSince"`
	Version        string     `json:"version,omitempty"`
	RemoteAddr     string     `json:"remoteAddr,omitempty"`
	RTTMillis      *float64   `json:"rttMs"`
	SeenAt         *time.Time `json:"seenAt"`
}

// agentStaleAfter is how long after its last check a recorded session
// reads as disconnected: its API instance stopped without removing it.
const agentStaleAfter = 35 * time.Second

// agentView is the state of an environment's agent connection, sess its
// recorded session (nil: none).
func agentView(sess *store.AgentSession) agentJSON {
	if sess == nil || time.Since(sess.SeenAt) > agentStaleAfter {
		return agentJSON{}
	}
	out := agentJSON{Connected: true, ConnectedSince: &sess.ConnectedAt, Version: sess.AgentVersion,
		RemoteAddr: sess.RemoteAddr, SeenAt: &sess.SeenAt}
	if sess.RTT > 0 {
		ms := float64(sess.RTT.Microseconds()) / 1000
		out.RTTMillis = &ms
	}
	return out
}

// agentState reads the agent connection of an agent-placed environment;
// nil for other environments.
func (s *Server) agentState(ctx context.Context, env store.Environment) (*agentJSON, error) {
	if !engine.IsAgentEndpoint(env.Endpoint) {
		return nil, nil
	}
	sess, err := s.store.AgentSession(ctx, env.ID)
	if errors.Is(err, store.ErrNotFound) {
		view := agentView(nil)
		return &view, nil
	}
	if err != nil {
		return nil, err
	}
	view := agentView(&sess)
	return &view, nil
}

func (s *Server) getAgent(w http.ResponseWriter, r *http.Request) error {
	env := environmentFrom(r)
	view, err := s.agentState(r.Context(), env)
	if err != nil {
		return err
	}
	if view == nil {
		return errorf(http.StatusNotFound, "not_agent_placed", "environment %s is not behind an agent (its endpoint is not %s)", env.Name, engine.AgentEndpoint)
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}

func (s *Server) listAgentTokens(w http.ResponseWriter, r *http.Request) error {
	env := environmentFrom(r)
	tokens, err := s.store.ListAgentTokens(r.Context(), env.ID)
	if err != nil {
		return err
	}
	out := make([]agentTokenJSON, len(tokens))
	for i, t := range tokens {
		out[i] = agentTokenView(t)
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
	return nil
}

func (s *Server) createAgentToken(w http.ResponseWriter, r *http.Request) error {
	env := environmentFrom(r)
	if !engine.IsAgentEndpoint(env.Endpoint) {
		return errorf(http.StatusConflict, "not_agent_placed", "environment %s is not behind an agent: set its endpoint to %s first", env.Name, engine.AgentEndpoint)
	}
	enrolment, err := s.mintAgentToken(r, env.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, enrolment)
	return nil
}

func (s *Server) revokeAgentToken(w http.ResponseWriter, r *http.Request) error {
	env := environmentFrom(r)
	id, err := uuid.Parse(chi.URLParam(r, "token"))
	if err != nil {
		return errorf(http.StatusNotFound, "not_found", "no agent token %q", shorten(chi.URLParam(r, "token")))
	}
	t, err := s.store.RevokeAgentToken(r.Context(), env.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(http.StatusNotFound, "not_found", "no agent token %s for environment %s", id, env.Name)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, agentTokenView(t))
	return nil
}

// mintAgentToken makes and stores a new enrolment token of envID.
func (s *Server) mintAgentToken(r *http.Request, envID uuid.UUID) (agentEnrolmentJSON, error) {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret) // never fails (crypto/rand)
	token := agentTokenPrefix + base64.RawURLEncoding.EncodeToString(secret)
	t, err := s.store.CreateAgentToken(r.Context(), store.AgentToken{
		EnvironmentID: envID, Hash: store.HashAgentToken(token), Hint: token[:len(agentTokenPrefix)+6]})
	if err != nil {
		return agentEnrolmentJSON{}, err
	}
	server := s.agentServerURL(r)
	return agentEnrolmentJSON{agentTokenJSON: agentTokenView(t), Token: token, ServerURL: server,
		Command: agentCommand(server, token)}, nil
}

// agentServerURL is the URL agents dial: the configured public URL, else
// the one this request came in on.
func (s *Server) agentServerURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimSuffix(s.cfg.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil || (s.cfg.TrustProxyHeaders && r.Header.Get("X-Forwarded-Proto") == "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// agentCommand is the command line that starts the agent. The token is
// passed in the environment, where ps does not show it; a plain-HTTP
// server other than loopback needs the agent's explicit flag.
func agentCommand(server, token string) string {
	cmd := "WINDFLOW_AGENT_TOKEN=" + token + " windflow-agent --server " + server
	if u, err := url.Parse(server); err == nil && u.Scheme == "http" && !agentproto.LoopbackHost(u.Hostname()) {
		cmd += " --allow-plain-http"
	}
	return cmd
}
