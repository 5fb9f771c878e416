package netpolicy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// fakeResolver answers from a table; every lookup is counted.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][]string
	lookups int
}

func (r *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lookups++
	var out []netip.Addr
	for _, a := range r.answers[host] {
		out = append(out, netip.MustParseAddr(a))
	}
	if len(out) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return out, nil
}

// recordingConnect records the addresses a policy let through and
// connects nowhere.
type recordingConnect struct {
	mu    sync.Mutex
	addrs []string
}

var errNotConnected = errors.New("test: not connected")

func (c *recordingConnect) connect(_ context.Context, _, address string) (net.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.addrs = append(c.addrs, address)
	return nil, errNotConnected
}

// TestDialJudgesResolvedAddresses: a name is judged on what it resolves
// to (every address), and only judged addresses are dialed.
func TestDialJudgesResolvedAddresses(t *testing.T) {
	r := &fakeResolver{answers: map[string][]string{
		"private.test": {"10.0.0.1"},
		"mixed.test":   {"93.184.216.34", "127.0.0.1"},
		"meta.test":    {"169.254.169.254"},
		"public.test":  {"93.184.216.34"},
		"mapped.test":  {"::ffff:10.0.0.1"},
		"sixfour.test": {"2002:a00:1::"},
	}}
	rec := &recordingConnect{}
	strict := mustParse(t, "").WithResolver(r).WithConnect(rec.connect)
	for host, rule := range map[string]Rule{
		"private.test": RulePrivate, "mixed.test": RuleLoopback, "meta.test": RuleMetadata,
		"mapped.test": RulePrivate, "sixfour.test": RulePrivate,
	} {
		_, err := strict.DialContext(t.Context(), "tcp", net.JoinHostPort(host, "80"))
		refused, ok := errors.AsType[*RefusedError](err)
		if !ok || refused.Rule != rule || refused.Name != host {
			t.Errorf("dial %s: %v, want refused by %q naming the host", host, err, rule)
		}
		if err := strict.CheckResolved(t.Context(), host); !errors.Is(err, ErrRefused) {
			t.Errorf("CheckResolved(%s) = %v, want refused", host, err)
		}
	}
	if len(rec.addrs) != 0 {
		t.Fatalf("refused dials connected to %v", rec.addrs)
	}
	if _, err := strict.DialContext(t.Context(), "tcp", "public.test:443"); !errors.Is(err, errNotConnected) {
		t.Fatalf("dial public.test: %v", err)
	}
	if len(rec.addrs) != 1 || rec.addrs[0] != "93.184.216.34:443" {
		t.Fatalf("connected to %v, want the judged address", rec.addrs)
	}
	if err := strict.CheckResolved(t.Context(), "unknown.test"); err != nil {
		t.Errorf("CheckResolved(unresolvable) = %v, want nil (the dial fails on its own)", err)
	}
	allowed := mustParse(t, "private").WithResolver(r).WithConnect(rec.connect)
	if _, err := allowed.DialContext(t.Context(), "tcp", "mapped.test:80"); !errors.Is(err, errNotConnected) {
		t.Fatalf("dial mapped.test allowing private: %v", err)
	}
	if got := rec.addrs[len(rec.addrs)-1]; got != "10.0.0.1:80" {
		t.Fatalf("connected to %s, want the unmapped judged address", got)
	}
}

// TestDialRebinding: a name that answers a public address to the check
// and a loopback one to the next lookup is dialed only at an address that
// was judged.
func TestDialRebinding(t *testing.T) {
	r := &rebinding{}
	rec := &recordingConnect{}
	p := mustParse(t, "").WithResolver(r).WithConnect(rec.connect)
	if err := p.CheckResolved(t.Context(), "rebind.test"); err != nil {
		t.Fatalf("first answer is public: %v", err)
	}
	_, err := p.DialContext(t.Context(), "tcp", "rebind.test:80")
	if !errors.Is(err, ErrRefused) || len(rec.addrs) != 0 {
		t.Fatalf("dial after rebinding: %v, connected to %v; want refused, nothing dialed", err, rec.addrs)
	}
}

// rebinding answers 93.184.216.34 to its first lookup, 127.0.0.1 after.
type rebinding struct {
	mu sync.Mutex
	n  int
}

func (r *rebinding) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	if r.n == 1 {
		return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
	}
	return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
}

// TestPoliceClient: a library's client is policed in place (its TLS
// settings kept), and PolicyOf names the policy of a policed transport.
func TestPoliceClient(t *testing.T) {
	rec := &recordingConnect{}
	p := mustParse(t, "").WithConnect(rec.connect)
	own := &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConns: 7}
	c := &http.Client{Transport: own}
	if !p.Police(c, 2*time.Second) {
		t.Fatal("Police refused an *http.Transport")
	}
	if own.Proxy != nil || own.MaxIdleConns != 7 || c.Timeout != 2*time.Second || c.CheckRedirect == nil {
		t.Fatalf("policed client: proxy %v, idle %d, timeout %s", own.Proxy != nil, own.MaxIdleConns, c.Timeout)
	}
	if PolicyOf(own) != p || PolicyOf(http.DefaultTransport) == p || PolicyOf(nil) != nil {
		t.Fatal("PolicyOf does not tell the policed transport")
	}
	resp, err := c.Get("http://127.0.0.1:9/")
	if err == nil {
		_ = resp.Body.Close()
	}
	if !errors.Is(err, ErrRefused) || len(rec.addrs) != 0 {
		t.Fatalf("GET loopback through the policed client: %v (connected to %v), want refused", err, rec.addrs)
	}
	if (&Policy{}).Police(&http.Client{Transport: roundTripFunc(nil)}, time.Second) {
		t.Fatal("Police accepted a transport it cannot police")
	}
	nilTransport := &http.Client{}
	if !p.Police(nilTransport, time.Second) || PolicyOf(nilTransport.Transport) != p {
		t.Fatal("a nil transport should get a policed one")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
