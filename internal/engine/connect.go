package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"weak"

	"github.com/moby/moby/client"

	"github.com/windflow/monitor/internal/netpolicy"
)

// ErrBadEndpoint is wrapped by every error about an endpoint URL that cannot
// be used: unknown scheme, missing socket path, host or port.
var ErrBadEndpoint = errors.New("bad engine endpoint")

// ErrUnreachable is wrapped by errors that mean the engine did not answer
// (connection refused, socket missing, timeout), as opposed to an engine
// that answered with an error.
var ErrUnreachable = errors.New("engine unreachable")

// ValidateEndpoint checks that endpoint is a Docker endpoint URL:
// unix:///absolute/path.sock, tcp://host:port[/base-path], or AgentEndpoint
// (reached through its agent: NewAgentClient). Any other form returns an
// error wrapping ErrBadEndpoint.
func ValidateEndpoint(endpoint string) error {
	_, err := parseEndpoint(endpoint)
	return err
}

// Connect returns a client for a Docker endpoint URL (see ValidateEndpoint).
// It pings the engine once so that the API version is negotiated down to the
// engine's own (API 1.41, Docker 20.10, and later all work); an engine that
// does not answer gives an error wrapping ErrUnreachable. The client has no
// client-wide timeout, since one would cut streams: callers bound each
// request with ctx. The caller closes the client.
func Connect(ctx context.Context, endpoint string) (*client.Client, error) {
	return ConnectTLS(ctx, endpoint, nil)
}

// ConnectTLS is Connect with TLS material for a tcp:// endpoint; nil
// material is plain Connect. The TLS configuration is built in memory (no
// file is written): TLS 1.2 or later, the engine verified against m.CA (or
// the system roots when m has no CA) under the endpoint's host name or IP
// address, and m's client certificate presented when it has one. Material
// with a unix:// endpoint gives ErrBadEndpoint, unusable material
// ErrBadTLS; neither error includes the material. A failed handshake (wrong
// CA, missing client certificate) is an engine error like an unreachable
// engine's.
//
// ReadEvents works on the client: its raw stream dials with the same TLS
// configuration.
func ConnectTLS(ctx context.Context, endpoint string, m *TLSMaterial) (*client.Client, error) {
	cli, ep, err := newClient(endpoint, m, netpolicy.Default())
	if err != nil {
		return nil, err
	}
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		_ = cli.Close()
		return nil, engineError(fmt.Sprintf("ping %s", ep.host), err)
	}
	return cli, nil
}

// NewClient returns a client for a Docker endpoint URL (see
// ValidateEndpoint) with TLS material m (nil: none), without talking to the
// engine: the client negotiates the API version on its first request, and
// an engine that does not answer fails that request (wrapping
// ErrUnreachable through the callers' engineError). Errors are those of
// ConnectTLS before its ping. The caller closes the client.
//
// Every connection of the client obeys the process's outbound policy
// (netpolicy.Default, taken when the client is built): see
// NewClientWithPolicy.
func NewClient(endpoint string, m *TLSMaterial) (*client.Client, error) {
	return NewClientWithPolicy(endpoint, m, netpolicy.Default())
}

// NewClientWithPolicy is NewClient under outbound policy p: an endpoint
// whose literal host or socket p refuses gives the *netpolicy.RefusedError
// at once, and every connection the client (and ReadEvents on it) makes is
// judged again on the address actually dialed, after DNS resolution,
// before it is made. A refusal at dial time is an engine error wrapping
// ErrUnreachable and netpolicy.ErrRefused.
func NewClientWithPolicy(endpoint string, m *TLSMaterial, p *netpolicy.Policy) (*client.Client, error) {
	cli, _, err := newClient(endpoint, m, p)
	return cli, err
}

// Connection reuse of a client (see newClient). An idle connection costs
// about 25 KB of worker memory (two goroutines, two 4 KB buffers) for as
// long as it is kept; a new plain one costs a TCP connect, a new TLS one a
// handshake. So the connections to a plain engine (unix socket or tcp://)
// are reused within a cycle (the client's pings; its list, info and stats
// reads have connections of their own, see getBounded and readStatsDirect)
// and closed two seconds after it (at 1,000 environments every second an
// idle connection is kept costs ~1 MB), and a TLS engine keeps up to
// IdleConnsPerTLSEngine of them between cycles, in the client's transport
// (pings, stats) and in the pooled one of its bounded reads (clientDial),
// so that a cycle costs few handshakes. Requests are a few hundred
// bytes: a 1 KB write buffer instead of 4 KB per connection.
const (
	IdleConnsPerEngine    = 2
	IdleConnTimeout       = 2 * time.Second
	connWriteBufferSize   = 1 << 10
	IdleConnsPerTLSEngine = 8
	IdleTLSConnTimeout    = 90 * time.Second
)

// newClient returns a client for endpoint with m (nil: no TLS) under
// policy p, without talking to the engine.
func newClient(endpoint string, m *TLSMaterial, p *netpolicy.Policy) (*client.Client, endpoint, error) {
	ep, err := parseEndpoint(endpoint)
	if err != nil {
		return nil, ep, err
	}
	if ep.scheme == "agent" {
		return nil, ep, fmt.Errorf("%w: %s is reached through its agent's relay (NewAgentClient)", ErrBadEndpoint, endpoint)
	}
	if err := p.CheckEndpoint(endpoint); err != nil {
		return nil, ep, fmt.Errorf("engine: %w", err)
	}
	// API-version negotiation is the default of this client version (the
	// WithAPIVersionNegotiation option is a deprecated no-op), so nothing
	// pins a version here.
	tlsCfg, err := tlsConfigFor(ep, endpoint, m)
	if err != nil {
		return nil, ep, err
	}
	// Before WithHost, which configures the transport it finds (its dialer
	// for unix sockets, proxies from the environment for tcp://). A
	// transport with TLSClientConfig makes the client use https (and its
	// Dialer tls.Dial). The moby default keeps 6 idle connections in all,
	// so a cycle that reads every container at once would dial (and, with
	// TLS, handshake) most of them again every cycle: keep up to
	// IdleConnsPerEngine alive for IdleConnTimeout, longer than the default
	// 30 s cycle.
	//
	// A non-nil, empty TLSNextProto turns HTTP/2 off (dockerd speaks
	// HTTP/1.1): otherwise cloning the transport, as WithHTTPClient does,
	// sets up HTTP/2 and fills in a TLSClientConfig, from which the moby
	// client would guess https and its Dialer would dial TLS, even for a
	// plain tcp:// engine. The scheme is also set explicitly.
	idle, idleFor := IdleConnsPerEngine, IdleConnTimeout
	if tlsCfg != nil {
		idle, idleFor = IdleConnsPerTLSEngine, IdleTLSConnTimeout
	}
	transport := &http.Transport{
		// MaxIdleConns set too: WithHost replaces IdleConnTimeout with 30 s
		// on a transport whose MaxIdleConns is 0 (go-connections).
		MaxIdleConns:        idle,
		MaxIdleConnsPerHost: idle,
		IdleConnTimeout:     idleFor,
		WriteBufferSize:     connWriteBufferSize,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	scheme := "http"
	if tlsCfg != nil {
		transport.TLSClientConfig = tlsCfg
		transport.TLSHandshakeTimeout = 10 * time.Second
		scheme = "https"
	}
	opts := []client.Opt{
		client.WithHTTPClient(&http.Client{Transport: transport, CheckRedirect: client.CheckRedirect}),
		client.WithHost(ep.host),
		// After WithHost, which sets the transport's dialer.
		client.WithDialContext(policedDial(ep, p)),
		client.WithScheme(scheme),
	}
	cli, err := client.New(opts...)
	if err != nil {
		return nil, ep, fmt.Errorf("%w: %s: %w", ErrBadEndpoint, endpoint, err)
	}
	if tlsCfg != nil {
		// A plain client's Dialer is the transport's (policedDial).
		rememberDial(cli, ep, tlsCfg, p)
	}
	return cli, ep, nil
}

// policedDial is the transport's dialer for ep under p: the socket of a
// unix:// endpoint, or the address the transport asks for. When that is
// not the endpoint's own (a proxy from the environment), the endpoint's
// host is judged too, on the addresses it resolves to, since the proxy
// dials it unjudged.
func policedDial(ep endpoint, p *netpolicy.Policy) func(context.Context, string, string) (net.Conn, error) {
	if ep.scheme == "unix" {
		socket := strings.TrimPrefix(ep.host, "unix://")
		return func(ctx context.Context, _, _ string) (net.Conn, error) {
			return p.DialContext(ctx, "unix", socket)
		}
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr != ep.addr {
			if err := p.CheckResolved(ctx, ep.hostname); err != nil {
				return nil, err
			}
		}
		return p.DialContext(ctx, network, addr)
	}
}

// endpoint is a validated endpoint in the canonical form the moby client
// expects ("unix:///path" or "tcp://host:port/base").
type endpoint struct {
	scheme string
	host   string
	// hostname is the host name or IP address of a tcp:// endpoint,
	// without brackets and port: the name its TLS certificate must carry.
	hostname string
	// addr is the host:port of a tcp:// endpoint.
	addr string
}

// tlsConfigFor returns the TLS configuration of m for ep, nil for no TLS.
func tlsConfigFor(ep endpoint, raw string, m *TLSMaterial) (*tls.Config, error) {
	if m == nil {
		return nil, nil
	}
	if ep.scheme != "tcp" {
		return nil, fmt.Errorf("%w: %q: TLS material needs a tcp:// endpoint", ErrBadEndpoint, raw)
	}
	return m.tlsConfig(ep.hostname)
}

// clientDials remembers, for ReadEvents' raw dial, the TLS configuration
// and the outbound policy of the TLS clients newClient made: the moby client
// keeps its configuration to itself, and its own Dialer for TLS (tls.Dial)
// ignores the context and the policy. Entries are keyed weakly and dropped
// when the client is garbage collected.
var clientDials = struct {
	sync.Mutex
	m map[weak.Pointer[client.Client]]clientDial
}{m: map[weak.Pointer[client.Client]]clientDial{}}

// clientDial is what ReadEvents needs to dial like the client.
type clientDial struct {
	tls    *tls.Config // nil: no TLS
	policy *netpolicy.Policy
	// pooled sends the bounded requests of get.go to a TLS engine: a
	// transport like the client's own (which it keeps to itself), so that
	// they reuse connections instead of a handshake each.
	pooled *http.Client
}

func rememberDial(cli *client.Client, ep endpoint, cfg *tls.Config, p *netpolicy.Policy) {
	k := weak.Make(cli)
	transport := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         policedDial(ep, p),
		MaxIdleConns:        IdleConnsPerTLSEngine,
		MaxIdleConnsPerHost: IdleConnsPerTLSEngine,
		IdleConnTimeout:     IdleTLSConnTimeout,
		WriteBufferSize:     connWriteBufferSize,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
		TLSClientConfig:     cfg,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	clientDials.Lock()
	clientDials.m[k] = clientDial{tls: cfg, policy: p,
		pooled: &http.Client{Transport: transport, CheckRedirect: client.CheckRedirect}}
	clientDials.Unlock()
	runtime.AddCleanup(cli, func(k weak.Pointer[client.Client]) {
		clientDials.Lock()
		d := clientDials.m[k]
		delete(clientDials.m, k)
		clientDials.Unlock()
		if d.pooled != nil {
			d.pooled.CloseIdleConnections()
		}
	}, k)
}

// dialOf returns what newClient remembered for cli; a plain client, or
// one made elsewhere, gets no TLS and the process's policy.
func dialOf(cli *client.Client) clientDial {
	clientDials.Lock()
	d, ok := clientDials.m[weak.Make(cli)]
	clientDials.Unlock()
	if !ok {
		return clientDial{policy: netpolicy.Default()}
	}
	return d
}

// clientTLS returns the TLS configuration ConnectTLS gave cli, or nil.
func clientTLS(cli *client.Client) *tls.Config { return dialOf(cli).tls }

// parseEndpoint validates endpoint and returns its canonical form.
func parseEndpoint(raw string) (endpoint, error) {
	bad := func(why string) (endpoint, error) {
		return endpoint{}, fmt.Errorf("%w: %q: %s", ErrBadEndpoint, raw, why)
	}
	if raw == "" {
		return bad("empty")
	}
	if strings.TrimSpace(raw) != raw {
		return bad("surrounding spaces")
	}
	if !strings.Contains(raw, "://") {
		return bad("want scheme://address")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, fmt.Errorf("%w: %q: %w", ErrBadEndpoint, raw, err)
	}
	if u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return bad("only scheme, host and path are allowed")
	}
	switch u.Scheme {
	case "unix":
		if u.Host != "" || !strings.HasPrefix(u.Path, "/") || strings.HasSuffix(u.Path, "/") {
			return bad("want unix:///absolute/path/to/socket")
		}
		return endpoint{scheme: "unix", host: "unix://" + u.Path}, nil
	case "tcp":
		host, port := u.Hostname(), u.Port()
		if host == "" {
			return bad("missing host")
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return bad("want tcp://host:port with a port between 1 and 65535")
		}
		return endpoint{scheme: "tcp", host: "tcp://" + u.Host + strings.TrimSuffix(u.Path, "/"), hostname: host, addr: u.Host}, nil
	case "agent":
		if raw != AgentEndpoint {
			return bad("an agent-placed engine's endpoint is exactly " + AgentEndpoint)
		}
		return endpoint{scheme: "agent"}, nil
	case "":
		return bad("missing scheme (want unix:// or tcp://)")
	default:
		return bad(fmt.Sprintf("scheme %q not supported (want unix:// or tcp://)", u.Scheme))
	}
}
