package engine

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/moby/moby/client"
)

// ErrBadEndpoint is wrapped by every error about an endpoint URL that cannot
// be used: unknown scheme, missing socket path, host or port.
var ErrBadEndpoint = errors.New("bad engine endpoint")

// ErrUnreachable is wrapped by errors that mean the engine did not answer
// (connection refused, socket missing, timeout), as opposed to an engine
// that answered with an error.
var ErrUnreachable = errors.New("engine unreachable")

// ValidateEndpoint checks that endpoint is a Docker endpoint URL that Connect
// accepts: unix:///absolute/path.sock or tcp://host:port[/base-path]. Any
// other form returns an error wrapping ErrBadEndpoint.
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
	ep, err := parseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	opts := []client.Opt{client.WithHost(ep.host)}
	// API-version negotiation is the default of this client version (the
	// WithAPIVersionNegotiation option is a deprecated no-op), so nothing
	// pins a version here.
	tlsOpts, err := tlsOptions(ep)
	if err != nil {
		return nil, err
	}
	opts = append(opts, tlsOpts...)
	cli, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadEndpoint, endpoint, err)
	}
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		_ = cli.Close()
		return nil, engineError(fmt.Sprintf("ping %s", ep.host), err)
	}
	return cli, nil
}

// endpoint is a validated endpoint in the canonical form the moby client
// expects ("unix:///path" or "tcp://host:port/base").
type endpoint struct {
	scheme string
	host   string
}

// tlsOptions is where TLS settings for tcp:// endpoints will be added
// (client.WithTLSClientConfig or a tls.Config built from the CA, certificate
// and key that the caller loads from the store; the moby client then switches
// its scheme to https). Today no endpoint carries TLS, so it adds nothing.
func tlsOptions(_ endpoint) ([]client.Opt, error) {
	return nil, nil
}

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
		return endpoint{scheme: "tcp", host: "tcp://" + u.Host + strings.TrimSuffix(u.Path, "/")}, nil
	case "":
		return bad("missing scheme (want unix:// or tcp://)")
	default:
		return bad(fmt.Sprintf("scheme %q not supported (want unix:// or tcp://)", u.Scheme))
	}
}
