package scale

import (
	"context"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/hashicorp/yamux"

	"github.com/windflow/monitor/internal/agentproto"
)

// agentFleet is the harness's agents (Config.Agents): one fake agent per
// environment, in this process, each serving its environment's fake engine
// to the api child.
type agentFleet struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	log    *agentLog
}

func newAgentFleet() *agentFleet {
	ctx, cancel := context.WithCancel(context.Background())
	return &agentFleet{ctx: ctx, cancel: cancel, log: &agentLog{}}
}

// start runs one fake agent for the fake engine engine with token against
// the API at serverURL until stop. It speaks the agent's wire protocol (a
// WebSocket carrying yamux, HTTP/1.1 on each stream, agentproto's
// read-only calls only) but answers from the engine's handler directly,
// without windflow-agent's proxy and its dial to the engine: the
// harness's agents share the measured machine with the API, and the
// budget is the API's. The real agent's own cost is measured apart
// (TestAgentFootprint, BenchmarkCycleAgent).
func (f *agentFleet) start(serverURL, token string, engine http.Handler) {
	wsURL := "ws" + strings.TrimPrefix(serverURL, "http") + agentproto.ConnectPath
	readOnly := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !agentproto.ReadOnlyCall(r.Method, r.URL.EscapedPath()) {
			http.Error(w, `{"message":"refused"}`, http.StatusForbidden)
			return
		}
		engine.ServeHTTP(w, r)
	})
	f.wg.Go(func() {
		for f.ctx.Err() == nil {
			f.serveOnce(wsURL, token, readOnly)
			select {
			case <-f.ctx.Done():
			case <-time.After(time.Second):
			}
		}
	})
}

// serveOnce connects once and serves the session until it ends.
func (f *agentFleet) serveOnce(wsURL, token string, h http.Handler) {
	dialCtx, cancel := context.WithTimeout(f.ctx, 30*time.Second)
	c, resp, err := websocket.Dial(dialCtx, wsURL, &websocket.DialOptions{HTTPHeader: http.Header{
		"Authorization": {"Bearer " + token}, agentproto.HeaderVersion: {"scale"}}})
	cancel()
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusUnauthorized {
			f.log.refused.Add(1)
		}
		f.log.note("connect: " + err.Error())
		return
	}
	conn := websocket.NetConn(f.ctx, c, websocket.MessageBinary)
	sess, err := yamux.Server(conn, agentproto.YamuxConfig(nil))
	if err != nil {
		_ = conn.Close()
		return
	}
	f.log.connects.Add(1)
	defer f.log.disconnects.Add(1)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	stop := context.AfterFunc(f.ctx, func() { _ = sess.Close() })
	defer stop()
	_ = srv.Serve(sess)
	_ = sess.Close()
}

// stop ends every agent and waits for them.
func (f *agentFleet) stop() {
	if f == nil {
		return
	}
	f.cancel()
	f.wg.Wait()
}

// agentLog counts the fake agents' connections, disconnections and
// refusals, and keeps the last error.
type agentLog struct {
	connects, disconnects, refused atomic.Int64
	mu                             sync.Mutex
	last                           string
}

// note keeps msg as the last warning.
func (l *agentLog) note(msg string) {
	l.mu.Lock()
	l.last = msg
	l.mu.Unlock()
}

func (l *agentLog) lastWarning() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

// AgentStats is what the agents of an -agents run did, and what they cost
// in connections.
type AgentStats struct {
	// Started agents, one per registered environment.
	Started int `json:"started"`
	// ConnectedAtStart and ConnectedAtEnd are the environments whose agent
	// GET /api/v1/overview shows connected when the window opened and closed.
	ConnectedAtStart int `json:"connectedAtStart"`
	ConnectedAtEnd   int `json:"connectedAtEnd"`
	// RTT is the round trip of the api's last ping of each agent, at the end
	// (seconds).
	RTT Dist `json:"rtt"`
	// Connects, Disconnects and Refused count the agents' sessions over the
	// whole run (Connects − Started are reconnections); LastWarning is the
	// last warning an agent logged.
	Connects    int64  `json:"connects"`
	Disconnects int64  `json:"disconnects"`
	Refused     int64  `json:"refused"`
	LastWarning string `json:"lastWarning,omitempty"`
	// OpenFiles is the open file descriptors of each process when the
	// window closed, and FileLimit its soft limit (RLIMIT_NOFILE).
	OpenFiles map[string]int `json:"openFiles"`
	FileLimit map[string]int `json:"fileLimit"`
}

// overviewAgents counts the environments GET /api/v1/overview shows with a
// connected agent, and returns their ping round trips in seconds.
func (h *harness) overviewAgents(ctx context.Context) (int, []float64, error) {
	var out struct {
		Environments []struct {
			Agent *struct {
				Connected bool     `json:"connected"`
				RTTMillis *float64 `json:"rttMs"`
			} `json:"agent"`
		} `json:"environments"`
	}
	if _, err := h.request(ctx, http.MethodGet, "/api/v1/overview", nil, &out); err != nil {
		return 0, nil, err
	}
	n := 0
	var rtts []float64
	for _, e := range out.Environments {
		if e.Agent == nil || !e.Agent.Connected {
			continue
		}
		n++
		if e.Agent.RTTMillis != nil {
			rtts = append(rtts, *e.Agent.RTTMillis/1000)
		}
	}
	return n, rtts, nil
}

// openFiles returns the number of open file descriptors of pid, and its
// soft limit on them (0 when unknown).
func openFiles(pid int) (open, limit int) {
	if ents, err := os.ReadDir(procRoot + "/" + strconv.Itoa(pid) + "/fd"); err == nil {
		open = len(ents)
	}
	b, _ := readProc(pid, "limits")
	return open, ParseOpenFilesLimit(b)
}

// ParseOpenFilesLimit returns the soft "Max open files" of the content of
// /proc/<pid>/limits (0 when absent or unlimited).
func ParseOpenFilesLimit(limits []byte) int {
	for line := range strings.SplitSeq(string(limits), "\n") {
		rest, ok := strings.CutPrefix(line, "Max open files")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0
		}
		n, _ := strconv.Atoi(f[0])
		return n
	}
	return 0
}

// agentStats reads what the agents look like when the window closes.
func (h *harness) agentStats(ctx context.Context, connectedAtStart int) (*AgentStats, error) {
	connected, rtts, err := h.overviewAgents(ctx)
	if err != nil {
		return nil, err
	}
	a := &AgentStats{
		Started: len(h.envs), ConnectedAtStart: connectedAtStart, ConnectedAtEnd: connected, RTT: distOf(rtts),
		Connects: h.agents.log.connects.Load(), Disconnects: h.agents.log.disconnects.Load(),
		Refused: h.agents.log.refused.Load(), LastWarning: h.agents.log.lastWarning(),
		OpenFiles: map[string]int{}, FileLimit: map[string]int{},
	}
	for name, pid := range map[string]int{"worker": h.worker.pid(), "api": h.api.pid(), harnessGroup(true): os.Getpid()} {
		a.OpenFiles[name], a.FileLimit[name] = openFiles(pid)
	}
	return a, nil
}

// harnessFilesPerAgent is what one agent and its fake engine hold open in
// this process: the engine's listener, the agent's WebSocket, both ends of
// the event stream's engine connection and of up to 4 idle ones the
// agent keeps to its engine.
const harnessFilesPerAgent = 12

// warnFileLimit warns when this process's limit on open files (which Go
// raises to the hard limit at start) is too low for the agents of the run.
func (h *harness) warnFileLimit() {
	need := harnessFilesPerAgent*h.cfg.Envs + 256
	if _, limit := openFiles(os.Getpid()); limit > 0 && limit < need {
		h.logf("warning: %d agents need about %d open files here, the limit is %d: raise the hard limit (ulimit -Hn) or expect failed connections",
			h.cfg.Envs, need, limit)
	}
}

// harnessGroup names this process in the report.
func harnessGroup(agents bool) string {
	if agents {
		return "harness (fake engines, agents)"
	}
	return "harness (fake engines)"
}
