package api

// The outbound table: every scheme the API accepts, aimed at loopback,
// private and metadata addresses (as literals, as names that resolve to
// them, as IPv4-mapped IPv6 literals and through an HTTP redirect), is
// refused on create, update and test send under a policy that refuses
// loopback and private addresses, and let through to the dial under one
// that allows them (metadata never). No connection leaves the machine: the
// policy's resolver is a table, and its connect hook records the judged
// address and connects only to a loopback redirector.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/windflow/monitor/internal/netpolicy"
	"github.com/windflow/monitor/internal/notify"
	"github.com/windflow/monitor/internal/store"
	"github.com/windflow/monitor/internal/store/storetest"
)

// obTarget is one destination of the table.
type obTarget struct {
	name   string
	host   string // as written in a URL
	addr   string // the address the policy judges
	always bool   // refused whatever the allow-list (metadata)
}

var obTargets = []obTarget{
	{"localhost", "localhost", "127.0.0.1", false},
	{"127.0.0.2", "127.0.0.2", "127.0.0.2", false},
	{"10.0.0.1", "10.0.0.1", "10.0.0.1", false},
	{"metadata", "169.254.169.254", "169.254.169.254", true},
	{"name to 127.0.0.2", "lo.windflow.test", "127.0.0.2", false},
	{"name to 10.0.0.1", "ten.windflow.test", "10.0.0.1", false},
	{"name to metadata", "meta.windflow.test", "169.254.169.254", true},
	{"IPv4-mapped 10.0.0.1", "[::ffff:10.0.0.1]", "10.0.0.1", false},
	{"IPv4-mapped 127.0.0.1", "[::ffff:127.0.0.1]", "127.0.0.1", false},
}

// redirectorName resolves to redirectorAddr, a public address the connect
// hook sends to the loopback redirector.
const (
	redirectorName = "redirector.windflow.test"
	redirectorAddr = "203.0.113.7"
)

// obScheme is how one scheme's URL is written.
type obScheme struct {
	scheme string
	// url writes a URL aimed at host; for a service whose server is fixed
	// host is ignored (the resolver sends the fixed name to the target).
	url      func(host string) string
	named    bool // the URL names the server: create and update judge it
	redirect bool // plain HTTP: the redirect cases apply
	// forms says whether the service can form a request to host at all
	// (nil: any host); where it cannot, an allowed target is not dialed.
	forms func(host string) bool
}

// noIPv6Literal: the service writes "host:port" without brackets.
func noIPv6Literal(host string) bool { return !strings.Contains(host, ":") }

// domainOnly: the service takes only a domain name.
func domainOnly(host string) bool { return strings.Contains(host, ".windflow.test") }

var obSchemes = []obScheme{
	{"bark", func(h string) string { return "bark://:devicekey@" + h + "/?scheme=http" }, true, true, nil},
	{"generic", func(h string) string { return "generic://" + h + "/hook?disabletls=yes" }, true, true, nil},
	{"generic+http", func(h string) string { return "generic+http://" + h + "/hook" }, true, true, nil},
	{"googlechat", func(h string) string { return "googlechat://" + h + "/v1/spaces/FOO/messages?key=k&token=t" }, true, false, nil},
	{"hangouts", func(h string) string { return "hangouts://" + h + "/v1/spaces/FOO/messages?key=k&token=t" }, true, false, nil},
	{"gotify", func(h string) string { return "gotify://" + h + "/Aabcdefghijklmn?disabletls=yes" }, true, true, nil},
	{"matrix", func(h string) string { return "matrix://user:pass@" + h + "/?rooms=!room&disableTLS=yes" }, true, true, nil},
	{"mattermost", func(h string) string { return "mattermost://" + h + "/token/channel?disabletls=yes" }, true, true, nil},
	{"ntfy", func(h string) string { return "ntfy://" + h + "/topic?scheme=http" }, true, true, nil},
	{"opsgenie", func(h string) string { return "opsgenie://" + h + "/apikey" }, true, false, noIPv6Literal},
	{"pagerduty", func(h string) string { return "pagerduty://" + h + "/0f1e2d3c4b5a69780f1e2d3c4b5a6978" }, true, false, noIPv6Literal},
	{"rocketchat", func(h string) string { return "rocketchat://" + h + "/tokenA/tokenB/channel" }, true, false, noIPv6Literal},
	{"signal", func(h string) string { return "signal://" + h + ":8080/+1234567890/+0987654321" }, true, false, noIPv6Literal},
	{"smtp", func(h string) string {
		return "smtp://" + h + "/?fromaddress=a@example.com&toaddresses=b@example.com&encryption=None"
	}, true, false, nil},
	{"zulip", func(h string) string { return "zulip://bot@example.com:botkey@" + h + "/?stream=s" }, true, false, domainOnly},
	// teams takes only *.webhook.office.com: the resolver sends it to the target.
	{"teams", func(string) string {
		return "teams://11111111-4444-4444-8444-cccccccccccc@22222222-4444-4444-8444-cccccccccccc/33333301222222222233333333333344/44444444-4444-4444-8444-cccccccccccc/V2ESyij_gAljSoUQHvZoZYzlpAoAXExyOl26dlf1xHEx05?host=org.webhook.office.com"
	}, false, false, nil},
	{"discord", func(string) string { return "discord://token@693853386302554172" }, false, false, nil},
	{"ifttt", func(string) string { return "ifttt://webhookid/?events=evt" }, false, false, nil},
	{"join", func(string) string { return "join://shoutrrr:apikey@join/?devices=d" }, false, false, nil},
	{"lark", func(string) string { return "lark://open.larksuite.com/token" }, false, false, nil},
	{"notifiarr", func(string) string { return "notifiarr://apikey" }, false, false, nil},
	{"pushbullet", func(string) string { return "pushbullet://o.Kq7vZx3Lp9Wm2Tn8Kq7vZx3Lp9Wm2Tn8/target" }, false, false, nil},
	{"pushover", func(string) string { return "pushover://shoutrrr:token@userkey/?devices=d" }, false, false, nil},
	{"slack", func(string) string { return "slack://hook:WNA3PBYV6-F20DUQND3RQ-Webc4MAvoacrpPakR8phF0zi@webhook" }, false, false, nil},
	{"telegram", func(string) string { return "telegram://110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw@telegram?chats=1" }, false, false, nil},
	{"wecom", func(string) string { return "wecom://key" }, false, false, nil},
}

// obNet is the table's fake network: names resolve from a table (any
// other name to fixedAddr), and a judged address is recorded; only the
// redirector's address is connected, to the loopback redirector.
type obNet struct {
	mu         sync.Mutex
	fixedAddr  string            // where unknown names (a fixed server) resolve
	redirectTo string            // the redirector's Location
	dialed     map[string]int    // judged addresses connected to
	names      map[string]string // name → address
	redirector string            // "127.0.0.1:port"
}

func (n *obNet) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	addr, ok := n.names[host]
	if !ok {
		addr = n.fixedAddr
	}
	return []netip.Addr{netip.MustParseAddr(addr)}, nil
}

var errObNotConnected = errors.New("test network: not connected")

func (n *obNet) connect(ctx context.Context, network, address string) (net.Conn, error) {
	host, _, _ := net.SplitHostPort(address)
	n.mu.Lock()
	n.dialed[host]++
	redirector := n.redirector
	n.mu.Unlock()
	if host == redirectorAddr {
		var d net.Dialer
		return d.DialContext(ctx, network, redirector)
	}
	return nil, errObNotConnected
}

func (n *obNet) dialedTo(addr string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.dialed[netip.MustParseAddr(addr).Unmap().String()]
}

// obPolicy installs allow (a WINDFLOW_OUTBOUND_ALLOW list) on the fake
// network as the process's policy and its process-wide client, as the
// binary does.
func obPolicy(t *testing.T, n *obNet, allow string) {
	t.Helper()
	p, err := netpolicy.Parse(allow)
	if err != nil {
		t.Fatal(err)
	}
	p = p.WithResolver(n).WithConnect(n.connect)
	netpolicy.SetDefault(p)
	hc := p.HTTPClient(5 * time.Second)
	http.DefaultTransport = hc.Transport
	*http.DefaultClient = *hc
}

func TestChannelOutboundPolicy(t *testing.T) {
	transport, client := http.DefaultTransport, *http.DefaultClient
	t.Cleanup(func() {
		netpolicy.SetDefault(nil)
		http.DefaultTransport, *http.DefaultClient = transport, client
	})
	n := &obNet{dialed: map[string]int{}, names: map[string]string{
		"localhost": "127.0.0.1", redirectorName: redirectorAddr,
		"lo.windflow.test": "127.0.0.2", "ten.windflow.test": "10.0.0.1", "meta.windflow.test": "169.254.169.254",
	}}
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.mu.Lock()
		to := n.redirectTo
		n.mu.Unlock()
		http.Redirect(w, r, to, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)
	n.redirector = redirector.Listener.Addr().String()

	obPolicy(t, n, "")
	covered := map[string]bool{"logger": true} // logger sends nothing over the network
	for _, sc := range obSchemes {
		covered[strings.TrimSuffix(sc.scheme, "+http")] = true
	}
	for _, scheme := range notify.AcceptedSchemes(netpolicy.Default()) {
		if !covered[scheme] {
			t.Errorf("accepted scheme %q is not in the table", scheme)
		}
	}

	b := obSetup(t)
	benign, err := b.store.CreateChannel(t.Context(), store.Channel{Name: "benign", URL: "ntfy://ntfy.sh/topic", Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	statuses := map[string]int{} // test-send answers to refused targets, by status
	for _, sc := range obSchemes {
		for _, tg := range obTargets {
			if !sc.named && (strings.Contains(tg.host, ":") || tg.name == "localhost") {
				continue // a fixed server: one case per address is enough
			}
			n.fixedAddr = tg.addr
			raw := sc.url(tg.host)
			what := sc.scheme + " → " + tg.name
			// A channel stored as is, for the test sends.
			stored, err := b.store.CreateChannel(t.Context(), store.Channel{Name: what, URL: raw, Enabled: true})
			if err != nil {
				t.Fatal(err)
			}
			obPolicy(t, n, "") // refuses loopback and private addresses
			before := n.dialedTo(tg.addr)
			if sc.named {
				obExpect(t, b, what+": create", http.MethodPost, "/api/v1/notification-channels", raw, http.StatusBadRequest)
				obExpect(t, b, what+": update", http.MethodPatch, "/api/v1/notification-channels/"+benign.ID.String(), raw, http.StatusBadRequest)
			}
			status, _ := obTestSend(t, b, what, stored.ID.String(), true)
			statuses[fmt.Sprintf("%d", status)]++
			if got := n.dialedTo(tg.addr); got != before {
				t.Errorf("%s: the refusing policy dialed %s", what, tg.addr)
			}

			obPolicy(t, n, "loopback,private")
			if tg.always {
				if sc.named {
					obExpect(t, b, what+": create (allowed list)", http.MethodPost, "/api/v1/notification-channels", raw, http.StatusBadRequest)
				}
				obTestSend(t, b, what+" (allowed list)", stored.ID.String(), true)
				if got := n.dialedTo(tg.addr); got != before {
					t.Errorf("%s: the metadata address was dialed", what)
				}
				continue
			}
			obExpect(t, b, what+": create (allowed list)", http.MethodPost, "/api/v1/notification-channels", raw, http.StatusCreated)
			obExpect(t, b, what+": update (allowed list)", http.MethodPatch, "/api/v1/notification-channels/"+benign.ID.String(), raw, http.StatusOK)
			_, msg := obTestSend(t, b, what+" (allowed list)", stored.ID.String(), false)
			if sc.forms != nil && !sc.forms(tg.host) {
				continue // the service cannot write a request to this host
			}
			if n.dialedTo(tg.addr) == before {
				t.Errorf("%s: allow-listed, but %s was never dialed (%s)", what, tg.addr, msg)
			}
		}
		if sc.redirect {
			obRedirects(t, b, n, sc)
		}
	}
	t.Logf("test sends refused: by status %v", statuses)
}

// obSetup serves the API on a fresh schema without the mutation rate
// limit (the table sends over a thousand changes), with a short send
// timeout.
func obSetup(t *testing.T) *evtBundle {
	t.Helper()
	b := &evtBundle{ctx: t.Context(), url: storetest.NewSchema(t)}
	b.store = evtOpenStore(t, b.url)
	b.srv = NewTestServer(t, Config{MutationRateLimit: -1}, Deps{Store: b.store, Sender: notify.Sender{Timeout: 3 * time.Second}})
	b.http = httptest.NewServer(b.srv.Routes())
	t.Cleanup(b.http.Close)
	return b
}

// obRedirects: a URL on a public name whose server redirects to each
// target is refused at the redirect unless the target is allow-listed.
func obRedirects(t *testing.T, b *evtBundle, n *obNet, sc obScheme) {
	t.Helper()
	raw := sc.url(redirectorName)
	stored, err := b.store.CreateChannel(t.Context(), store.Channel{Name: sc.scheme + " redirect", URL: raw, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range obTargets {
		what := sc.scheme + " → redirect to " + tg.name
		n.mu.Lock()
		n.redirectTo = "http://" + tg.host + "/landed"
		n.mu.Unlock()
		obPolicy(t, n, "")
		before, hops := n.dialedTo(tg.addr), n.dialedTo(redirectorAddr)
		obTestSend(t, b, what, stored.ID.String(), true)
		if n.dialedTo(redirectorAddr) == hops {
			t.Errorf("%s: the redirector was not reached", what)
		}
		if n.dialedTo(tg.addr) != before {
			t.Errorf("%s: the redirect was followed to %s", what, tg.addr)
		}
		obPolicy(t, n, "loopback,private")
		obTestSend(t, b, what+" (allowed list)", stored.ID.String(), tg.always)
		if followed := n.dialedTo(tg.addr) != before; followed == tg.always {
			t.Errorf("%s (allowed list): followed %v, want %v", what, followed, !tg.always)
		}
	}
}

// obExpect sends a channel create or update with url and wants status;
// a 400 must say which rule refused it.
func obExpect(t *testing.T, b *evtBundle, what, method, path, rawURL string, want int) {
	t.Helper()
	code, raw := ntCall(t, b, method, path, fmt.Sprintf(`{"name":%q,"url":%q}`, what+" "+method, rawURL))
	if code != want {
		t.Errorf("%s: %d %s, want %d", what, code, raw, want)
		return
	}
	if want == http.StatusBadRequest {
		if c, msg := ntErrorCode(t, raw); c != "target_refused" || !strings.Contains(msg, netpolicy.ErrRefused.Error()) {
			t.Errorf("%s: %s %q, want target_refused", what, c, msg)
		}
	}
}

// obTestSend fires a test send and checks that it was refused (a 400
// target_refused), or that it failed at the dial (allowed). It returns the
// status and the message.
func obTestSend(t *testing.T, b *evtBundle, what, id string, refused bool) (int, string) {
	t.Helper()
	code, raw := ntCall(t, b, http.MethodPost, "/api/v1/notification-channels/"+id+"/test", "")
	c, msg := ntErrorCode(t, raw)
	switch {
	case code == http.StatusOK:
		t.Errorf("%s: test send delivered", what)
	case refused && (code != http.StatusBadRequest || c != "target_refused"):
		t.Errorf("%s: test send %d %s %q, want 400 target_refused", what, code, c, msg)
	case !refused && code != http.StatusBadGateway:
		t.Errorf("%s: test send %d %s, want 502 (the dial failed)", what, code, raw)
	}
	return code, msg
}

// TestChannelSchemeRefusedWithoutPolicedProcessClient: a service that only
// uses the process-wide client is refused (400 scheme_refused, naming the
// accepted schemes) while that client is not the policy's.
func TestChannelSchemeRefusedWithoutPolicedProcessClient(t *testing.T) {
	t.Parallel()
	b := evtSetup(t, false)
	tg := "zulip://bot@example.com:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw@zulip.example.com/?stream=s"
	code, raw := ntCall(t, b, http.MethodPost, "/api/v1/notification-channels", fmt.Sprintf(`{"name":"zulip","url":%q}`, tg))
	c, msg := ntErrorCode(t, raw)
	if code != http.StatusBadRequest || c != "scheme_refused" || !strings.Contains(msg, "accepted schemes: discord, generic") {
		t.Fatalf("create zulip: %d %s %q", code, c, msg)
	}
	if strings.Contains(msg, "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw") {
		t.Fatalf("message carries the token: %q", msg)
	}
	stored, err := b.store.CreateChannel(t.Context(), store.Channel{Name: "zulip", URL: tg, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	code, raw = ntCall(t, b, http.MethodPost, "/api/v1/notification-channels/"+stored.ID.String()+"/test", "")
	if c, _ := ntErrorCode(t, raw); code != http.StatusBadRequest || c != "scheme_refused" {
		t.Fatalf("test send zulip: %d %s", code, raw)
	}
}
