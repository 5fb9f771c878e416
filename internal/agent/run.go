package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/hashicorp/yamux"

	"github.com/windflow/monitor/internal/agentproto"
)

// ErrTokenRefused is wrapped by the error of a connection attempt the API
// answered with 401: the token is revoked or unknown.
var ErrTokenRefused = errors.New("token refused: revoked or unknown; create a new one with POST /api/v1/environments/{id}/agent-tokens")

// handshakeTimeout bounds one connection attempt (dial, TLS, upgrade).
const handshakeTimeout = 30 * time.Second

// Run connects to the API and serves its Engine API requests until ctx
// ends, reconnecting after every failure with the backoff of
// TransientSchedule or RefusedSchedule. It returns ctx.Err() then, or an
// error wrapping ErrBadConfig at once for a configuration it cannot use.
func Run(ctx context.Context, cfg Config) error {
	wsURL, err := cfg.connectURL()
	if err != nil {
		return err
	}
	if cfg.Token == "" {
		return fmt.Errorf("%w: no token", ErrBadConfig)
	}
	ea, err := parseEngine(cfg.Engine)
	if err != nil {
		return err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	sleep := cfg.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	a := &runner{cfg: cfg, wsURL: wsURL, log: log, proxy: newProxy(ea, log), httpClient: dialClient(cfg.TLSClientConfig)}
	log.Info("agent starting", "server", cfg.ServerURL, "engine", ea.network+"://"+ea.addr, "version", cfg.Version)
	var b backoff
	for attempt := 1; ; attempt++ {
		lived, err := a.session(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		delay := b.next(err, lived)
		if errors.Is(err, ErrTokenRefused) {
			log.Error("agent connection refused", "attempt", attempt, "err", err, "retry_in", delay.Round(time.Second).String())
		} else {
			log.Warn("agent disconnected", "attempt", attempt, "err", err, "connected_for", lived.Round(time.Millisecond).String(),
				"retry_in", delay.Round(time.Millisecond).String())
		}
		if err := sleep(ctx, delay); err != nil {
			return err
		}
	}
}

// runner is one agent's connection loop.
type runner struct {
	cfg        Config
	wsURL      string
	log        *slog.Logger
	proxy      *proxy
	httpClient *http.Client
}

// session makes one connection and serves it until it ends. It returns
// how long the session lived (0: never established) and why it ended.
func (a *runner) session(ctx context.Context) (time.Duration, error) {
	dialCtx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	c, resp, err := websocket.Dial(dialCtx, a.wsURL, &websocket.DialOptions{
		HTTPClient: a.httpClient,
		HTTPHeader: http.Header{
			"Authorization":          {"Bearer " + a.cfg.Token},
			agentproto.HeaderVersion: {a.cfg.Version},
		},
	})
	cancel()
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusUnauthorized {
			return 0, ErrTokenRefused
		}
		if resp != nil {
			return 0, fmt.Errorf("connect: the server answered %s", resp.Status)
		}
		return 0, fmt.Errorf("connect: %w", err)
	}
	start := time.Now()
	sessCtx, stop := context.WithCancel(ctx)
	defer stop()
	conn := websocket.NetConn(sessCtx, c, websocket.MessageBinary)
	sess, err := yamux.Server(conn, agentproto.YamuxConfig(a.log))
	if err != nil {
		_ = conn.Close()
		return time.Since(start), fmt.Errorf("yamux: %w", err)
	}
	a.log.Info("agent connected", "server", a.cfg.ServerURL)
	srv := &http.Server{
		Handler:           a.proxy,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return sessCtx },
	}
	go func() {
		select {
		case <-ctx.Done():
		case <-sess.CloseChan():
		}
		_ = sess.Close()
	}()
	err = srv.Serve(sess)
	_ = srv.Close()
	_ = sess.Close()
	if ctx.Err() != nil {
		return time.Since(start), ctx.Err()
	}
	return time.Since(start), fmt.Errorf("session ended: %w", err)
}

// dialClient is the HTTP client of the upgrade, verifying the server with
// tlsCfg (nil: system roots): a proxy from the environment (HTTPS_PROXY) is
// honoured, and redirects are not followed, so the token is sent to the
// configured server only. The upgrade is always HTTP/1.1 (net/http offers
// no HTTP/2 to a request that asks for a WebSocket).
func dialClient(tlsCfg *tls.Config) *http.Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns, transport.IdleConnTimeout = 1, 10*time.Second
	if tlsCfg != nil {
		transport.TLSClientConfig = tlsCfg.Clone()
	}
	return &http.Client{
		Transport:     transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
