package notify

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/nicholas-fedor/shoutrrr/pkg/router"

	"github.com/windflow/monitor/internal/netpolicy"
)

// ErrSchemeRefused is wrapped when a URL's service cannot be sent to under
// the outbound policy (its connections could not be policed, or it is not
// a service this package knows).
var ErrSchemeRefused = errors.New("notification service refused")

// clientKind says how a service's connections are put under the policy.
type clientKind int

const (
	// ownClient: each send gives the service the policed HTTP client or
	// dialer (or sends in its place: generic, smtp, telegram).
	ownClient clientKind = iota + 1
	// processClient: the service sends through http.DefaultClient or
	// http.DefaultTransport, which no caller can replace per send; it is
	// policed only when the process installed the policy's client there.
	processClient
	// noNetwork: the service sends nothing over the network (logger).
	noNetwork
)

// serviceInfo is what this package knows of one shoutrrr service.
type serviceInfo struct {
	client clientKind
	// hostIsServer: the URL's host is the server dialed, shown by
	// RedactURL and judged by CheckTarget; otherwise it holds a
	// credential or a fixed name and is hidden.
	hostIsServer bool
	// targetQuery names a query parameter holding the server dialed.
	targetQuery string
}

// services lists every shoutrrr service the API accepts, by scheme.
var services = map[string]serviceInfo{
	"bark":       {client: processClient, hostIsServer: true},
	"discord":    {client: ownClient},
	"generic":    {client: ownClient, hostIsServer: true},
	"googlechat": {client: processClient, hostIsServer: true},
	"gotify":     {client: ownClient, hostIsServer: true},
	"hangouts":   {client: processClient, hostIsServer: true},
	"ifttt":      {client: processClient},
	"join":       {client: processClient},
	"lark":       {client: processClient, hostIsServer: true},
	"logger":     {client: noNetwork},
	"matrix":     {client: processClient, hostIsServer: true},
	"mattermost": {client: ownClient, hostIsServer: true},
	"notifiarr":  {client: processClient},
	"ntfy":       {client: ownClient, hostIsServer: true},
	"opsgenie":   {client: processClient, hostIsServer: true},
	"pagerduty":  {client: ownClient, hostIsServer: true},
	"pushbullet": {client: processClient},
	"pushover":   {client: ownClient},
	"rocketchat": {client: ownClient, hostIsServer: true},
	"signal":     {client: processClient, hostIsServer: true},
	"slack":      {client: processClient},
	"smtp":       {client: ownClient, hostIsServer: true},
	"teams":      {client: processClient, targetQuery: "host"},
	"telegram":   {client: ownClient},
	"wecom":      {client: processClient},
	"zulip":      {client: processClient, hostIsServer: true},
}

// AcceptedSchemes lists the schemes whose sends p polices in this process,
// sorted: the services given the policed client always, the services on
// the process-wide client when it is p's.
func AcceptedSchemes(p *netpolicy.Policy) []string {
	var out []string
	for scheme, info := range services {
		if info.client != processClient || processPoliced(p) {
			out = append(out, scheme)
		}
	}
	slices.Sort(out)
	return out
}

// CheckScheme refuses a URL whose service would not dial through p: an
// unknown service, or one that uses the process-wide HTTP client while
// that client is not p's. The error wraps ErrSchemeRefused, names the
// reason and the accepted schemes, and never contains the URL.
func CheckScheme(p *netpolicy.Policy, rawURL string) error {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil {
		return nil // syntax is ValidateURL's job
	}
	scheme := serviceScheme(u)
	info, known := services[scheme]
	if _, err := (&router.ServiceRouter{}).NewService(scheme); err != nil && !known {
		return nil // not a service at all: ValidateURL's job
	}
	switch {
	case !known:
		return fmt.Errorf("%w: %q cannot be sent through the outbound policy; accepted schemes: %s",
			ErrSchemeRefused, truncateRunes(cleanText(scheme, 40), 40), strings.Join(AcceptedSchemes(p), ", "))
	case info.client == processClient && !processPoliced(p):
		return fmt.Errorf("%w: %s sends through the process-wide HTTP client, which does not dial through the outbound policy in this process; accepted schemes: %s",
			ErrSchemeRefused, scheme, strings.Join(AcceptedSchemes(p), ", "))
	}
	return nil
}

// processPoliced reports whether http.DefaultTransport, and
// http.DefaultClient's transport when it has its own, dial through p.
func processPoliced(p *netpolicy.Policy) bool {
	if netpolicy.PolicyOf(http.DefaultTransport) != p {
		return false
	}
	t := http.DefaultClient.Transport
	return t == nil || netpolicy.PolicyOf(t) == p
}

// targetHost is the server a URL names, as CheckTarget judges it: its host
// for services whose host is the server, a query parameter for others, ""
// when the URL names no server (the service's is fixed).
func targetHost(u *url.URL) string {
	info := services[serviceScheme(u)]
	switch {
	case info.hostIsServer:
		return u.Hostname()
	case info.targetQuery != "":
		return u.Query().Get(info.targetQuery)
	}
	return ""
}

// hostHidden reports whether u's host holds a credential or an identifier
// (not a server): RedactURL and error scrubbing hide it. The host of an
// http(s) URL (a request URL a service derived, quoted in its error) is
// the server.
func hostHidden(u *url.URL) bool {
	scheme := serviceScheme(u)
	return scheme != "http" && scheme != "https" && !services[scheme].hostIsServer
}
