package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/nicholas-fedor/shoutrrr/pkg/services/chat/discord"
	"github.com/nicholas-fedor/shoutrrr/pkg/services/chat/rocketchat"
	"github.com/nicholas-fedor/shoutrrr/pkg/services/push/pushover"
	"github.com/nicholas-fedor/shoutrrr/pkg/services/specialized/generic"
	"github.com/nicholas-fedor/shoutrrr/pkg/types"

	"github.com/windflow/monitor/internal/netpolicy"
)

// maxResponseRead is how much of a webhook's answer is read (and
// discarded) so that its connection can be reused.
const maxResponseRead = 64 << 10

// errWebhookStatus is wrapped when a webhook answers 4xx or 5xx.
var errWebhookStatus = errors.New("webhook answered")

// sendGeneric sends to a generic webhook as shoutrrr's generic service
// would (same URL, method, headers, payload), but through hc and bound to
// ctx: shoutrrr's own send uses http.DefaultClient without a context.
func sendGeneric(ctx context.Context, hc *http.Client, svc *generic.Service, message string, params types.Params) error {
	cfg := svc.Config
	sendParams := types.Params{}
	for k, v := range params {
		if k == types.TitleKey {
			k = cfg.TitleKey
		}
		sendParams[k] = v
	}
	sendParams[cfg.MessageKey] = message
	payload, err := svc.GetPayload(cfg, sendParams)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, cfg.RequestMethod, cfg.WebhookURL().String(), payload)
	if err != nil {
		return fmt.Errorf("creating the request: %w", err)
	}
	contentType := cfg.ContentType
	if cfg.Template == "" {
		contentType = "text/plain"
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", contentType)
	// The service keeps its "@Header=value" entries to itself; its
	// service URL lists them again, normalised.
	for k, vs := range cfg.GetURL().Query() {
		if name, ok := strings.CutPrefix(k, string(generic.HeaderPrefixChar)); ok && name != "" && len(vs) > 0 {
			req.Header.Set(name, vs[0])
		}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseRead))
	if resp.StatusCode >= http.StatusBadRequest {
		return fmt.Errorf("%w %s", errWebhookStatus, netpolicy.RemoteText(resp.Status))
	}
	return nil
}

// useHTTPClient makes svc send through the policy p before its send: the
// policed client hc where shoutrrr lets a caller choose the client (ntfy,
// pagerduty, discord, rocketchat, pushover), or the service's own client
// policed in place where shoutrrr hands it out (gotify, mattermost: their
// TLS settings are kept). release closes that client's idle connections.
// A service that should have been given one (services says ownClient)
// but was not is an error, never an unpoliced send.
func useHTTPClient(svc types.Service, p *netpolicy.Policy, hc *http.Client) (release func(), err error) {
	release = func() {}
	switch s := svc.(type) {
	case interface{ SetHTTPClient(*http.Client) }:
		s.SetHTTPClient(hc)
	case *discord.Service:
		s.HTTPClient = hc
	case *rocketchat.Service:
		s.Client = hc
	case *pushover.Service:
		s.Client = hc
	case interface{ GetHTTPClient() *http.Client }:
		own := s.GetHTTPClient()
		if own == nil || !p.Police(own, hc.Timeout) {
			return release, fmt.Errorf("%w: %s: its HTTP client cannot be policed", ErrSchemeRefused, svc.GetID())
		}
		release = own.CloseIdleConnections
	default:
		if services[svc.GetID()].client == ownClient {
			return release, fmt.Errorf("%w: %s: no policed client could be given", ErrSchemeRefused, svc.GetID())
		}
	}
	return release, nil
}
