package netpolicy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// DialTimeout bounds the connect of the policy's dialers.
const DialTimeout = 10 * time.Second

// NetDialer returns a dialer that judges every address it is about to
// connect to (after DNS resolution, for each address tried) and refuses
// before any connection is made: its Control hook runs between socket()
// and connect().
func (p *Policy) NetDialer() *net.Dialer {
	return &net.Dialer{Timeout: DialTimeout, Control: p.control}
}

// control is the net.Dialer.Control hook: address is "ip:port" for TCP and
// UDP, the socket path for unix.
func (p *Policy) control(network, address string, _ syscall.RawConn) error {
	switch network {
	case "unix", "unixgram", "unixpacket":
		return p.CheckSocket(address)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w %s: not an IP address and port", ErrRefused, address)
	}
	return p.CheckAddr(ap.Addr())
}

// DialContext dials like net.Dialer.DialContext under the policy: a
// metadata host name is refused before the lookup, every resolved address
// before its connect. A refusal unwraps to *RefusedError.
func (p *Policy) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "unix", "unixgram", "unixpacket":
	default:
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", addr, err)
		}
		if err := p.CheckHost(host); err != nil {
			return nil, err
		}
	}
	conn, err := p.NetDialer().DialContext(ctx, network, addr)
	if err != nil {
		// Surface the refusal itself: net's OpError would prefix it
		// with "dial tcp …: " and hide it from a quick read.
		if refused, ok := errors.AsType[*RefusedError](err); ok {
			if host, _, _ := net.SplitHostPort(addr); host != refused.Target && !strings.HasPrefix(network, "unix") {
				refused.Name = host
			}
			return nil, refused
		}
		return nil, err
	}
	return conn, nil
}

// MaxRedirects is how many redirects HTTPClient follows.
const MaxRedirects = 3

// HTTPClient returns a client whose every connection goes through
// DialContext (redirects included: a redirect to a refused address fails
// at its dial), with no proxy from the environment (a proxy would dial the
// target in our place, unjudged), at most MaxRedirects redirects to http or
// https, and timeout bounding a whole request (0: none; the caller's
// context still applies).
func (p *Policy) HTTPClient(timeout time.Duration) *http.Client {
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           p.DialContext,
		TLSHandshakeTimeout:   DialTimeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          4,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > MaxRedirects {
				return fmt.Errorf("stopped after %d redirects", MaxRedirects)
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("redirect to a %q URL refused", req.URL.Scheme)
			}
			return p.CheckHost(req.URL.Hostname())
		},
	}
}

// CheckResolved judges host and every address it resolves to, for a target
// that something else will dial (a proxy, a library whose HTTP client
// cannot be replaced). It is weaker than a policed dial — the name may
// resolve differently a moment later — so use it only where no dial can
// be judged.
func (p *Policy) CheckResolved(ctx context.Context, host string) error {
	if err := p.CheckHost(host); err != nil {
		return err
	}
	if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil || host == "" {
		return nil // an IP literal: judged above
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil // nothing to judge: the dial will fail on its own
	}
	for _, a := range addrs {
		if err := p.CheckAddr(a); err != nil {
			refused, _ := errors.AsType[*RefusedError](err)
			refused.Name = host
			return refused
		}
	}
	return nil
}
