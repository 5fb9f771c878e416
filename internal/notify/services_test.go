package notify

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nicholas-fedor/shoutrrr/pkg/router"

	"github.com/windflow/monitor/internal/netpolicy"
)

// key is the credential the redaction tests put in each position, where
// the format takes any text; formats with a fixed shape get their own.
const (
	key       = "Kq7vZx3Lp9Wm2Tn8"
	gotifyKey = "AKq7vZx3Lp9Wm2T"                    // 15 characters, starting with A
	hexKey    = "0f1e2d3c4b5a69780f1e2d3c4b5a6978"   // 32 hex digits (pagerduty)
	bulletKey = "o.Kq7vZx3Lp9Wm2Tn8Kq7vZx3Lp9Wm2Tn8" // 34 characters (pushbullet)
	slackKey  = "Webc4MAvoacrpPakR8phF0zi"
	guidKey   = "9a8b7c6d-4444-4444-8444-cccccccccccc"
)

// secretCase is a URL and the credential in it.
type secretCase struct{ url, secret string }

// secretURLs are, for every scheme the API accepts, URLs of its format with
// a credential in each position that format allows (user, password, a host
// that holds a key, path, query), each accepted by ValidateURL.
var secretURLs = map[string][]secretCase{
	"bark":       {{"bark://:" + key + "@api.day.app/", key}, {"bark://user:x@api.day.app/" + key, key}},
	"discord":    {{"discord://" + key + "@693853386302554172", key}, {"discord://token@" + key, key}},
	"generic":    {{"generic://" + key + ":pw@hooks.example.com/x", key}, {"generic://u:" + key + "@hooks.example.com/x", key}, {"generic://hooks.example.com/" + key + "?template=json", key}, {"generic://hooks.example.com/x?token=" + key, key}, {"generic+https://hooks.example.com/" + key + "?k=" + key, key}},
	"googlechat": {{"googlechat://chat.googleapis.com/v1/spaces/FOO/messages?key=" + key + "&token=t", key}, {"googlechat://chat.googleapis.com/v1/spaces/" + key + "/messages?key=k&token=t", key}},
	"gotify":     {{"gotify://gotify.example.com/" + gotifyKey, gotifyKey}, {"gotify://gotify.example.com/sub/" + gotifyKey + "?priority=1", gotifyKey}},
	"hangouts":   {{"hangouts://chat.googleapis.com/v1/spaces/FOO/messages?key=k&token=" + key, key}},
	"ifttt":      {{"ifttt://" + key + "/?events=evt", key}},
	"join":       {{"join://shoutrrr:" + key + "@join/?devices=d", key}, {"join://shoutrrr:k@join/?devices=" + key, key}},
	"lark":       {{"lark://open.larksuite.com/" + key, key}, {"lark://open.larksuite.com/token?secret=" + key, key}},
	"matrix":     {{"matrix://user:" + key + "@matrix.example.com/?rooms=!room", key}, {"matrix://" + key + ":pw@matrix.example.com/?rooms=!room", key}},
	"mattermost": {{"mattermost://" + key + "@mm.example.com/token/channel", key}, {"mattermost://mm.example.com/" + key + "/channel", key}},
	"notifiarr":  {{"notifiarr://" + key, key}, {"notifiarr://" + key + "?channel=123", key}},
	"ntfy":       {{"ntfy://" + key + ":pw@ntfy.sh/topic", key}, {"ntfy://u:" + key + "@ntfy.sh/topic", key}, {"ntfy://ntfy.sh/" + key, key}},
	"opsgenie":   {{"opsgenie://api.opsgenie.com/" + key, key}},
	"pagerduty":  {{"pagerduty://events.pagerduty.com/" + hexKey, hexKey}},
	"pushbullet": {{"pushbullet://" + bulletKey + "/device", bulletKey}},
	"pushover":   {{"pushover://shoutrrr:" + key + "@userkey/?devices=d", key}, {"pushover://shoutrrr:token@" + key + "/?devices=d", key}},
	"rocketchat": {{"rocketchat://" + key + "@rc.example.com/tokenA/tokenB/channel", key}, {"rocketchat://rc.example.com/" + key + "/tokenB/channel", key}},
	"signal":     {{"signal://u:" + key + "@signal.example.com:8080/+1234567890/+0987654321", key}},
	"slack":      {{"slack://hook:WNA3PBYV6-F20DUQND3RQ-" + slackKey + "@webhook", slackKey}, {"slack://xoxb:123456789012-1234567890123-" + slackKey + "@C001CH4NN3L", slackKey}},
	"smtp":       {{"smtp://u:" + key + "@mail.example.com:587/?fromaddress=a@example.com&toaddresses=b@example.com", key}, {"smtp://" + key + ":pw@mail.example.com:587/?fromaddress=a@example.com&toaddresses=b@example.com", key}},
	"teams":      {{"teams://" + guidKey + "@22222222-4444-4444-8444-cccccccccccc/33333301222222222233333333333344/44444444-4444-4444-8444-cccccccccccc/V2ESyij_gAljSoUQHvZoZYzlpAoAXExyOl26dlf1xHEx05?host=org.webhook.office.com", guidKey}, {"teams://11111111-4444-4444-8444-cccccccccccc@" + guidKey + "/33333301222222222233333333333344/44444444-4444-4444-8444-cccccccccccc/V2ESyij_gAljSoUQHvZoZYzlpAoAXExyOl26dlf1xHEx05?host=org.webhook.office.com", guidKey}},
	"telegram":   {{"telegram://110201543:" + key + "@telegram?chats=1", key}},
	"wecom":      {{"wecom://" + key, key}},
	"zulip":      {{"zulip://bot@example.com:" + key + "@zulip.example.com/?stream=s", key}},
}

// TestEveryServiceKnown: every service shoutrrr's router locates is in
// services (so RedactURL and the policy know it), and has redaction cases.
func TestEveryServiceKnown(t *testing.T) {
	r := &router.ServiceRouter{}
	for _, scheme := range r.ListServices() {
		if _, ok := services[scheme]; !ok {
			t.Errorf("shoutrrr service %q is not in services", scheme)
		}
	}
	for scheme := range services {
		if _, ok := secretURLs[scheme]; !ok && scheme != "logger" {
			t.Errorf("no redaction case for %q", scheme)
		}
	}
}

// TestRedactEveryScheme: RedactURL and ScrubURL hide a credential in every
// position of every accepted scheme's URL format.
func TestRedactEveryScheme(t *testing.T) {
	for scheme, cases := range secretURLs {
		for _, c := range cases {
			if err := ValidateURL(c.url); err != nil {
				t.Errorf("%s: case is not a valid URL: %v", scheme, err)
			}
			if got := RedactURL(c.url); strings.Contains(got, c.secret) || !strings.HasPrefix(got, strings.SplitN(c.url, "://", 2)[0]+"://") {
				t.Errorf("RedactURL(%s…) = %q", scheme, got)
			}
			u, _ := url.Parse(c.url)
			text := "Post \"" + c.url + "\": failed for " + url.QueryEscape(c.secret) + " at https://" + u.Host + "/" + c.secret + " (" + c.url + ")"
			if got := ScrubURL(text, c.url); strings.Contains(got, c.secret) || strings.Contains(got, url.QueryEscape(c.secret)) {
				t.Errorf("ScrubURL(%s…) = %q", scheme, got)
			}
		}
	}
	if got := RedactURL("notifiarr://" + key); got != "notifiarr://***/***" {
		t.Errorf("notifiarr: %q, want its host (the API key) hidden", got)
	}
	if got := RedactURL("gotify://gotify.example.com:8443/A" + key); got != "gotify://gotify.example.com:8443/***" {
		t.Errorf("gotify: %q, want the server shown", got)
	}
	if got := RedactURL("newservice://" + key + "/x"); strings.Contains(got, key) {
		t.Errorf("unknown scheme: %q, want its host hidden", got)
	}
}

// installProcessWide makes http.DefaultTransport and http.DefaultClient
// p's policed client, as the binary does, until the test ends.
func installProcessWide(t *testing.T, p *netpolicy.Policy) {
	t.Helper()
	transport, client := http.DefaultTransport, *http.DefaultClient
	hc := p.HTTPClient(5 * time.Second)
	http.DefaultTransport = hc.Transport
	*http.DefaultClient = *hc
	t.Cleanup(func() { http.DefaultTransport, *http.DefaultClient = transport, client })
}

// TestCheckScheme: the services on the process-wide client are accepted
// only while it is the policy's; an unknown scheme never is.
func TestCheckScheme(t *testing.T) {
	p := mustPolicy(t, "")
	for _, raw := range []string{"ntfy://ntfy.sh/t", "smtp://mail.example.com/?fromaddress=a@b.c&toaddresses=d@e.f", "gotify://g.example.com/Atoken", "logger://"} {
		if err := CheckScheme(p, raw); err != nil {
			t.Errorf("%s: %v, want accepted (policed client)", RedactURL(raw), err)
		}
	}
	zulip := "zulip://bot@example.com:" + key + "@zulip.example.com/?stream=s"
	err := CheckScheme(p, zulip)
	if !errors.Is(err, ErrSchemeRefused) || !strings.Contains(err.Error(), "accepted schemes: discord, generic") ||
		!strings.Contains(err.Error(), "process-wide") || strings.Contains(err.Error(), key) {
		t.Fatalf("zulip without a policed process-wide client: %v", err)
	}
	if slices.Contains(AcceptedSchemes(p), "zulip") {
		t.Fatal("zulip listed as accepted")
	}
	installProcessWide(t, p)
	if err := CheckScheme(p, zulip); err != nil {
		t.Fatalf("zulip with the policy's process-wide client: %v", err)
	}
	if err := CheckScheme(mustPolicy(t, ""), zulip); !errors.Is(err, ErrSchemeRefused) {
		t.Fatalf("another policy than the process-wide one: %v, want refused", err)
	}
	if !slices.Contains(AcceptedSchemes(p), "zulip") {
		t.Fatal("zulip not listed as accepted")
	}
}

// publicResolver answers every name with one public address.
type publicResolver struct{}

func (publicResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
}

// TestSendErrorsCarryNoSecret: a send to every scheme, whose connection
// fails, gives an error free of the URL's credentials, whatever the
// service put in its error.
func TestSendErrorsCarryNoSecret(t *testing.T) {
	var mu sync.Mutex
	dialed := 0
	p := mustPolicy(t, "").WithResolver(publicResolver{}).WithConnect(func(_ context.Context, _, address string) (net.Conn, error) {
		mu.Lock()
		dialed++
		mu.Unlock()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("refused for " + address)}
	})
	installProcessWide(t, p)
	s := Sender{Timeout: 3 * time.Second, Policy: p}
	for scheme, cases := range secretURLs {
		for _, c := range cases {
			err := s.Send(t.Context(), c.url, "title", "message")
			if err == nil {
				t.Errorf("%s: sent through a failing connection", scheme)
				continue
			}
			if strings.Contains(err.Error(), c.secret) || strings.Contains(err.Error(), url.QueryEscape(c.secret)) {
				t.Errorf("%s: error carries a credential: %v", scheme, err)
			}
		}
	}
	if dialed == 0 {
		t.Fatal("no send reached the dial")
	}
}
