package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/windflow/monitor/internal/netpolicy"
)

// devOutboundDefault is the allow-list of `windflow dev` when
// WINDFLOW_OUTBOUND_ALLOW is not set: a laptop's engines, webhook
// receivers and proxies listen on loopback. `worker` and `api` default to
// public addresses only (plus the configured DOCKER_HOST).
const devOutboundDefault = "loopback"

// defaultClientTimeout bounds the requests of notification services that
// send through http.DefaultClient (shoutrrr's opsgenie, googlechat, …).
const defaultClientTimeout = 30 * time.Second

// setOutboundAllow is the -outbound-allow flag.
func (c *config) setOutboundAllow(v string) error {
	c.OutboundAllow, c.OutboundAllowSet = v, true
	return nil
}

// checkOutbound reports an allow-list that cannot be read (for validate).
func (c config) checkOutbound() error {
	_, err := netpolicy.Parse(c.OutboundAllow)
	return err
}

// outboundPolicy builds the process's outbound policy: the allow-list of
// WINDFLOW_OUTBOUND_ALLOW (unset: devDefault), plus DOCKER_HOST — its unix
// socket, or the IP address of a tcp:// one — which is always allowed.
func outboundPolicy(cfg config, devDefault string) (*netpolicy.Policy, error) {
	list := devDefault
	if cfg.OutboundAllowSet {
		list = cfg.OutboundAllow
	}
	p, err := netpolicy.Parse(list)
	if err != nil {
		return nil, err
	}
	if u, err := url.Parse(cfg.DockerHost); err == nil {
		switch u.Scheme {
		case "unix":
			p = p.WithSockets(u.Path)
		case "tcp":
			p = p.WithHost(u.Hostname())
		}
	}
	return p, nil
}

// installOutbound builds the outbound policy and installs it for the whole
// process before any client exists: engine clients and notification sends
// (netpolicy.SetDefault), and http.DefaultClient / http.DefaultTransport,
// which some notification services use (policed, no proxy, with a
// timeout). dev says whether this is `windflow dev` (its default allows
// loopback).
func installOutbound(cfg config, dev bool) error {
	def := ""
	if dev {
		def = devOutboundDefault
	}
	p, err := outboundPolicy(cfg, def)
	if err != nil {
		return fmt.Errorf("outbound policy: %w", err)
	}
	netpolicy.SetDefault(p)
	hc := p.HTTPClient(defaultClientTimeout)
	http.DefaultTransport = hc.Transport
	*http.DefaultClient = *hc
	slog.Info("outbound policy", "allow", p.String(), "setting", netpolicy.Setting)
	return nil
}
