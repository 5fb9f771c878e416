package netpolicy

import (
	"fmt"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"strings"
)

// Policy is an outbound policy: the always-refused rules plus an
// allow-list. The zero value allows no loopback, no private address and no
// unix socket. A Policy is immutable once built and safe for concurrent use.
type Policy struct {
	loopback, private, anySocket bool
	prefixes                     []netip.Prefix
	sockets                      []string    // cleaned absolute paths
	resolver                     Resolver    // nil: net.DefaultResolver
	connect                      ConnectFunc // nil: a net.Dialer with the Control hook
}

// Permissive returns the policy of a process that installed none: only the
// always-refused rules apply (loopback, private addresses and every unix
// socket are allowed). Tests and libraries get it; the binary installs the
// configured policy.
func Permissive() *Policy {
	return &Policy{loopback: true, private: true, anySocket: true}
}

// Parse builds a policy from a comma-separated allow-list. Entries:
// "loopback", "private", "unix" (every unix socket), an IP address or CIDR
// prefix (allowed even when loopback or private), and a socket as
// unix:///path or /path. Empty entries are ignored; an empty list allows
// only public addresses. Prefixes cannot open an always-refused range.
func Parse(list string) (*Policy, error) {
	p := &Policy{}
	for _, entry := range strings.Split(list, ",") {
		entry = strings.TrimSpace(entry)
		if err := p.add(entry); err != nil {
			return nil, fmt.Errorf("%s: entry %q: %w", Setting, entry, err)
		}
	}
	return p, nil
}

// WithSockets returns a copy of p that also allows the unix sockets at
// paths (unix:///path or /path; other entries are ignored), e.g. the
// configured local Docker socket.
func (p *Policy) WithSockets(paths ...string) *Policy {
	q := *p
	q.sockets = slices.Clone(p.sockets)
	for _, s := range paths {
		if sock, ok := socketPath(s); ok {
			q.sockets = append(q.sockets, sock)
		}
	}
	return &q
}

// WithHost returns a copy of p that also allows host when it is an IP
// address (e.g. the host of a configured tcp:// DOCKER_HOST); names are
// ignored (they are judged on the addresses they resolve to).
func (p *Policy) WithHost(host string) *Policy {
	q := *p
	q.prefixes = slices.Clone(p.prefixes)
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		a = a.Unmap().WithZone("")
		q.prefixes = append(q.prefixes, netip.PrefixFrom(a, a.BitLen()))
	}
	return &q
}

func (p *Policy) add(entry string) error {
	switch strings.ToLower(entry) {
	case "":
		return nil
	case "loopback":
		p.loopback = true
		return nil
	case "private":
		p.private = true
		return nil
	case "unix":
		p.anySocket = true
		return nil
	}
	if strings.HasPrefix(entry, "unix://") || strings.HasPrefix(entry, "/") {
		sock, ok := socketPath(entry)
		if !ok {
			return fmt.Errorf("want unix:///absolute/path")
		}
		p.sockets = append(p.sockets, sock)
		return nil
	}
	if strings.Contains(entry, "/") {
		pfx, err := netip.ParsePrefix(entry)
		if err != nil {
			return fmt.Errorf("want loopback, private, unix, an IP address, a CIDR prefix or unix:///path")
		}
		p.prefixes = append(p.prefixes, pfx.Masked())
		return nil
	}
	a, err := netip.ParseAddr(entry)
	if err != nil {
		return fmt.Errorf("want loopback, private, unix, an IP address, a CIDR prefix or unix:///path")
	}
	a = a.Unmap().WithZone("")
	p.prefixes = append(p.prefixes, netip.PrefixFrom(a, a.BitLen()))
	return nil
}

// socketPath returns the cleaned absolute path of "unix:///path" or "/path".
func socketPath(s string) (string, bool) {
	s = strings.TrimPrefix(s, "unix://")
	if !strings.HasPrefix(s, "/") {
		return "", false
	}
	return path.Clean(s), true
}

// String describes the allow-list ("loopback,unix:///var/run/docker.sock").
func (p *Policy) String() string {
	var parts []string
	if p.loopback {
		parts = append(parts, "loopback")
	}
	if p.private {
		parts = append(parts, "private")
	}
	if p.anySocket {
		parts = append(parts, "unix")
	}
	for _, pfx := range p.prefixes {
		parts = append(parts, pfx.String())
	}
	for _, s := range p.sockets {
		parts = append(parts, "unix://"+s)
	}
	if len(parts) == 0 {
		return "public addresses only"
	}
	return strings.Join(parts, ",")
}

// CheckAddr judges one IP address (the address about to be dialed).
func (p *Policy) CheckAddr(a netip.Addr) error {
	a = a.WithZone("")
	v4 := embeddedIPv4(a)
	rule, rng := classify(v4)
	if rule == "" {
		return nil
	}
	if rule.Always() {
		return &RefusedError{Target: a.String(), Rule: rule, Range: rng}
	}
	if (rule == RuleLoopback && p.loopback) || (rule == RulePrivate && p.private) {
		return nil
	}
	for _, pfx := range p.prefixes {
		if pfx.Contains(v4) || pfx.Contains(a) {
			return nil
		}
	}
	return &RefusedError{Target: a.String(), Rule: rule, Range: rng}
}

// CheckSocket judges a unix socket path.
func (p *Policy) CheckSocket(socket string) error {
	sock, ok := socketPath(socket)
	if !ok {
		return &RefusedError{Target: socket, Rule: RuleSocket}
	}
	if p.anySocket || slices.Contains(p.sockets, sock) {
		return nil
	}
	return &RefusedError{Target: sock, Rule: RuleSocket}
}

// CheckHost judges a host as written (no DNS lookup): an IP literal by
// CheckAddr, a metadata host name is refused, any other name passes (its
// addresses are judged when it is dialed). Brackets and a zone are
// accepted ("[fe80::1%eth0]").
func (p *Policy) CheckHost(host string) error {
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if a, err := netip.ParseAddr(host); err == nil {
		return p.CheckAddr(a)
	}
	if metadataNames[host] {
		return &RefusedError{Target: host, Rule: RuleMetadata}
	}
	return nil
}

// CheckEndpoint judges a Docker endpoint as written: unix:///path by
// CheckSocket, tcp://host:port by CheckHost. It is the check for the API
// on create and update (a refused literal → 400); the dial checks again
// after DNS resolution. An endpoint of another form gives nil: syntax is
// engine.ValidateEndpoint's job.
func (p *Policy) CheckEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil
	}
	switch u.Scheme {
	case "unix":
		return p.CheckSocket(u.Path)
	case "tcp":
		return p.CheckHost(u.Hostname())
	}
	return nil
}

// CheckURL judges the host of a URL as written (a webhook, a notification
// service URL) by CheckHost. Unparsable URLs give nil: syntax is the
// caller's job.
func (p *Policy) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	return p.CheckHost(u.Hostname())
}
