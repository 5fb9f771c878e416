package main

import (
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/windflow/monitor/internal/netpolicy"
	"github.com/windflow/monitor/internal/notify"
)

func TestOutboundPolicy(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///run/user/1000/docker.sock")
	t.Setenv("WINDFLOW_OUTBOUND_ALLOW", "") // restores the variable after the test
	os.Unsetenv("WINDFLOW_OUTBOUND_ALLOW")  // unset: the command's default applies

	refused := func(err error) bool { return errors.Is(err, netpolicy.ErrRefused) }
	tests := []struct {
		name                                   string
		args                                   []string
		devDefault                             string
		loopback, private, docker, otherSocket bool
	}{
		{name: "worker default", loopback: false, private: false, docker: true},
		{name: "dev default", devDefault: devOutboundDefault, loopback: true, docker: true},
		{name: "flag private", args: []string{"-outbound-allow", "private"}, devDefault: devOutboundDefault, private: true, docker: true},
		{name: "flag set empty overrides the dev default", args: []string{"-outbound-allow", ""}, devDefault: devOutboundDefault, docker: true},
		{name: "flag unix", args: []string{"-outbound-allow", "unix,127.0.0.1/32"}, loopback: true, docker: true, otherSocket: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := loadWith(t, tt.args...)
			if err := cfg.validate(); err != nil {
				t.Fatal(err)
			}
			p, err := outboundPolicy(cfg, tt.devDefault)
			if err != nil {
				t.Fatal(err)
			}
			if got := !refused(p.CheckEndpoint("tcp://127.0.0.1:2375")); got != tt.loopback {
				t.Errorf("loopback allowed = %v, want %v (%s)", got, tt.loopback, p)
			}
			if got := !refused(p.CheckURL("generic://10.1.2.3/hook")); got != tt.private {
				t.Errorf("private allowed = %v, want %v (%s)", got, tt.private, p)
			}
			if got := !refused(p.CheckEndpoint("unix:///run/user/1000/docker.sock")); got != tt.docker {
				t.Errorf("DOCKER_HOST socket allowed = %v, want %v (%s)", got, tt.docker, p)
			}
			if got := !refused(p.CheckEndpoint("unix:///run/containerd/containerd.sock")); got != tt.otherSocket {
				t.Errorf("other socket allowed = %v, want %v (%s)", got, tt.otherSocket, p)
			}
			if !refused(p.CheckEndpoint("tcp://169.254.169.254:80")) {
				t.Errorf("the metadata address is allowed (%s)", p)
			}
		})
	}
}

func TestOutboundPolicyTCPDockerHost(t *testing.T) {
	t.Setenv("DOCKER_HOST", "tcp://127.0.0.1:2375")
	t.Setenv("WINDFLOW_OUTBOUND_ALLOW", "")
	p, err := outboundPolicy(loadWith(t), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckEndpoint("tcp://127.0.0.1:2375"); err != nil {
		t.Errorf("the configured tcp:// DOCKER_HOST is refused: %v", err)
	}
	if err := p.CheckEndpoint("tcp://127.0.0.2:2375"); !errors.Is(err, netpolicy.ErrRefused) {
		t.Errorf("another loopback address is allowed: %v", err)
	}
}

func TestOutboundAllowValidated(t *testing.T) {
	t.Setenv("WINDFLOW_OUTBOUND_ALLOW", "loopback,10.0.0.0/33")
	err := loadWith(t).validate()
	if err == nil || !strings.Contains(err.Error(), "WINDFLOW_OUTBOUND_ALLOW") {
		t.Fatalf("validate() = %v, want the bad allow-list named", err)
	}
}

// installOutbound polices the process-wide HTTP client, which some
// notification services can only use: their schemes are accepted once it
// is installed, and refused before.
func TestInstallOutboundAcceptsProcessClientSchemes(t *testing.T) {
	t.Setenv("WINDFLOW_OUTBOUND_ALLOW", "")
	os.Unsetenv("WINDFLOW_OUTBOUND_ALLOW")
	savedTransport, savedClient, savedPolicy := http.DefaultTransport, *http.DefaultClient, netpolicy.Default()
	t.Cleanup(func() {
		http.DefaultTransport, *http.DefaultClient = savedTransport, savedClient
		netpolicy.SetDefault(savedPolicy)
	})
	const slack = "slack://xoxb:123456789012-1234567890123-4567890123456789abcdefgh@C0123456789"
	cfg := loadWith(t)
	p, err := outboundPolicy(cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := notify.CheckScheme(p, slack); err == nil {
		t.Fatal("slack accepted while the process-wide client is not policed")
	}
	if err := installOutbound(cfg, false); err != nil {
		t.Fatal(err)
	}
	if err := notify.CheckScheme(netpolicy.Default(), slack); err != nil {
		t.Fatalf("slack refused once the process-wide client is policed: %v", err)
	}
	if !slices.Contains(notify.AcceptedSchemes(netpolicy.Default()), "teams") {
		t.Errorf("accepted schemes %v lack teams", notify.AcceptedSchemes(netpolicy.Default()))
	}
}
