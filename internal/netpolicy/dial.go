package netpolicy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// DialTimeout bounds the connect of the policy's dialers.
const DialTimeout = 10 * time.Second

// Resolver looks up the addresses of a host name; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// ConnectFunc connects to an address the policy has judged and allowed
// ("ip:port", or a socket path for unix networks).
type ConnectFunc func(ctx context.Context, network, address string) (net.Conn, error)

// WithResolver returns a copy of p whose dials and CheckResolved look names
// up with r (tests give a fake one).
func (p *Policy) WithResolver(r Resolver) *Policy {
	q := *p
	q.resolver = r
	return &q
}

// WithConnect returns a copy of p whose dials connect through c once an
// address has been judged (tests send every allowed connection to a
// loopback listener, so that an allowed private address is never dialed).
func (p *Policy) WithConnect(c ConnectFunc) *Policy {
	q := *p
	q.connect = c
	return &q
}

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
	if isUnix(network) {
		return p.CheckSocket(address)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w %s: not an IP address and port", ErrRefused, address)
	}
	return p.CheckAddr(ap.Addr())
}

func isUnix(network string) bool { return strings.HasPrefix(network, "unix") }

// DialContext dials like net.Dialer.DialContext under the policy: a
// metadata host name is refused before the lookup; the name is resolved
// here and every address it resolves to is judged before any connect, and
// only those judged addresses are dialed, so a name that answers
// differently the next time (DNS rebinding) changes nothing. A refusal
// unwraps to *RefusedError.
func (p *Policy) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if isUnix(network) {
		if err := p.CheckSocket(addr); err != nil {
			return nil, err
		}
		return p.connectTo(ctx, network, addr, "")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	addrs, err := p.judgedAddrs(ctx, network, host)
	if err != nil {
		return nil, err
	}
	var first error
	for _, a := range addrs {
		conn, err := p.connectTo(ctx, network, net.JoinHostPort(a.String(), port), host)
		if err == nil {
			return conn, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// judgedAddrs resolves host (an IP literal is its own address) and judges
// every address: one refused address refuses the host.
func (p *Policy) judgedAddrs(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if err := p.CheckHost(host); err != nil {
		return nil, err
	}
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	addrs, err := p.lookup(ctx, network, host)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("dial %s: no address", host)
	}
	for i, a := range addrs {
		if err := p.CheckAddr(a); err != nil {
			if refused, ok := errors.AsType[*RefusedError](err); ok {
				refused.Name = host
			}
			return nil, err
		}
		addrs[i] = a.Unmap()
	}
	return addrs, nil
}

// lookup resolves host with the policy's resolver, for the IP family of
// network ("tcp4" → "ip4").
func (p *Policy) lookup(ctx context.Context, network, host string) ([]netip.Addr, error) {
	var r Resolver = net.DefaultResolver
	if p.resolver != nil {
		r = p.resolver
	}
	family := "ip"
	switch {
	case strings.HasSuffix(network, "4"):
		family = "ip4"
	case strings.HasSuffix(network, "6"):
		family = "ip6"
	}
	return r.LookupNetIP(ctx, family, host)
}

// connectTo connects to a judged address; name is the host name it came
// from, for the refusal's text.
func (p *Policy) connectTo(ctx context.Context, network, address, name string) (net.Conn, error) {
	if p.connect != nil {
		return p.connect(ctx, network, address)
	}
	conn, err := p.NetDialer().DialContext(ctx, network, address)
	if err != nil {
		// Surface the refusal itself: net's OpError would prefix it
		// with "dial tcp …: " and hide it from a quick read.
		if refused, ok := errors.AsType[*RefusedError](err); ok {
			if name != "" && name != refused.Target && !isUnix(network) {
				if _, lit := netip.ParseAddr(strings.Trim(name, "[]")); lit != nil {
					refused.Name = name
				}
			}
			return nil, refused
		}
		return nil, err
	}
	return conn, nil
}

// CheckResolved judges host and every address it resolves to now, for a
// check before any dial (the API's check of a URL on create). The dial
// judges again: the name may resolve differently a moment later.
func (p *Policy) CheckResolved(ctx context.Context, host string) error {
	if host == "" {
		return p.CheckHost(host)
	}
	_, err := p.judgedAddrs(ctx, "tcp", host)
	if errors.Is(err, ErrRefused) {
		return err
	}
	return nil // a name that does not resolve: the dial fails on its own
}
