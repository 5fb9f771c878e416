package netpolicy

import (
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"time"
	"weak"
)

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
		MaxIdleConns:      4,
		IdleConnTimeout:   30 * time.Second,
		ForceAttemptHTTP2: true,
	}
	c := &http.Client{Transport: transport}
	p.Police(c, timeout)
	return c
}

// Police makes c, a client some library built, connect only through
// DialContext: its *http.Transport keeps its TLS settings but loses any
// proxy and custom dialer, and gets p's dialer, a TLS handshake bound and
// timeout as response-header bound; c gets p's redirect rule and timeout
// as its whole-request bound (0: none). A nil transport becomes a new
// policed one. It returns false, changing nothing, when c's transport is
// not an *http.Transport (it cannot be policed).
func (p *Policy) Police(c *http.Client, timeout time.Duration) bool {
	switch t := c.Transport.(type) {
	case nil:
		c.Transport = p.HTTPClient(timeout).Transport
	case *http.Transport:
		t.Proxy = nil
		t.DialContext = p.DialContext
		t.DialTLS = nil        //nolint:staticcheck // deprecated, still honoured: cleared
		t.DialTLSContext = nil // TLS then runs over a DialContext connection
		t.TLSHandshakeTimeout = DialTimeout
		t.ResponseHeaderTimeout = timeout
		remember(t, p)
	default:
		return false
	}
	c.Timeout = timeout
	c.CheckRedirect = p.checkRedirect
	return true
}

// checkRedirect is the redirect rule of policed clients.
func (p *Policy) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > MaxRedirects {
		return fmt.Errorf("stopped after %d redirects", MaxRedirects)
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return fmt.Errorf("redirect to a %q URL refused", req.URL.Scheme)
	}
	return p.CheckHost(req.URL.Hostname())
}

// policed maps each transport Police policed (weakly: an entry goes with
// its transport) to its policy.
var policed sync.Map // weak.Pointer[http.Transport] → *Policy

func remember(t *http.Transport, p *Policy) {
	key := weak.Make(t)
	if _, loaded := policed.Swap(key, p); !loaded {
		runtime.AddCleanup(t, func(k weak.Pointer[http.Transport]) { policed.Delete(k) }, key)
	}
}

// PolicyOf returns the policy whose dialer rt uses when rt is a transport
// this package policed, else nil. It tells whether a process-wide client
// (http.DefaultTransport) is policed, and by which policy.
func PolicyOf(rt http.RoundTripper) *Policy {
	t, ok := rt.(*http.Transport)
	if !ok || t == nil {
		return nil
	}
	if p, ok := policed.Load(weak.Make(t)); ok {
		return p.(*Policy)
	}
	return nil
}
