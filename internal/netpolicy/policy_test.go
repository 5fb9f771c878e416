package netpolicy

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func mustParse(t *testing.T, list string) *Policy {
	t.Helper()
	p, err := Parse(list)
	if err != nil {
		t.Fatalf("Parse(%q): %v", list, err)
	}
	return p
}

func TestCheckAddr(t *testing.T) {
	strict := mustParse(t, "")
	loopback := mustParse(t, "loopback")
	private := mustParse(t, "private")
	prefixes := mustParse(t, "10.1.0.0/16, 127.0.0.2, fd12::/16")
	everything := mustParse(t, "loopback,private,unix,169.254.0.0/16,0.0.0.0/0,::/0")
	cases := []struct {
		addr   string
		policy *Policy
		want   Rule // "" = allowed
	}{
		{"93.184.216.34", strict, ""},
		{"2606:4700::1111", strict, ""},
		{"169.254.169.254", everything, RuleMetadata},
		{"::ffff:169.254.169.254", everything, RuleMetadata},
		{"64:ff9b::169.254.169.254", everything, RuleMetadata},
		{"fd00:ec2::254", everything, RuleMetadata},
		{"100.100.100.200", everything, RuleMetadata},
		{"168.63.129.16", everything, RuleMetadata},
		{"169.254.1.1", everything, RuleLinkLocal},
		{"fe80::1", everything, RuleLinkLocal},
		{"fe80::1%eth0", everything, RuleLinkLocal},
		{"::ffff:169.254.1.1", everything, RuleLinkLocal},
		{"0.0.0.0", everything, RuleNotUnicast},
		{"::", everything, RuleNotUnicast},
		{"::ffff:0.0.0.0", everything, RuleNotUnicast},
		{"224.0.0.1", everything, RuleNotUnicast},
		{"255.255.255.255", everything, RuleNotUnicast},
		{"ff02::1", everything, RuleNotUnicast},
		{"127.0.0.1", strict, RuleLoopback},
		{"127.1.2.3", strict, RuleLoopback},
		{"::1", strict, RuleLoopback},
		{"::ffff:127.0.0.1", strict, RuleLoopback},
		{"64:ff9b::127.0.0.1", strict, RuleLoopback},
		{"127.0.0.1", loopback, ""},
		{"::1", loopback, ""},
		{"::ffff:127.0.0.1", loopback, ""},
		{"127.0.0.1", private, RuleLoopback},
		{"10.0.0.5", strict, RulePrivate},
		{"172.16.0.1", strict, RulePrivate},
		{"172.31.255.255", strict, RulePrivate},
		{"172.32.0.1", strict, ""},
		{"192.168.1.1", strict, RulePrivate},
		{"100.64.0.1", strict, RulePrivate},
		{"fc00::1", strict, RulePrivate},
		{"fd12:3456::1", strict, RulePrivate},
		{"::ffff:10.0.0.5", strict, RulePrivate},
		{"10.0.0.5", loopback, RulePrivate},
		{"10.0.0.5", private, ""},
		{"fd12:3456::1", private, ""},
		{"10.1.2.3", prefixes, ""},
		{"::ffff:10.1.2.3", prefixes, ""},
		{"10.2.0.1", prefixes, RulePrivate},
		{"127.0.0.2", prefixes, ""},
		{"127.0.0.1", prefixes, RuleLoopback},
		{"fd12::5", prefixes, ""},
		{"240.0.0.1", everything, RuleReserved},
		{"250.1.2.3", everything, RuleReserved},
		{"198.18.0.1", strict, RulePrivate},
		{"198.19.255.255", strict, RulePrivate},
		{"198.20.0.1", strict, ""},
		{"198.18.0.1", private, ""},
		{"64:ff9b:1::a00:1", strict, RulePrivate},
		{"64:ff9b:1::a00:1", private, ""},
		{"2002:7f00:1::", strict, RuleLoopback},
		{"2002:a9fe:a9fe::1", everything, RuleMetadata},
		{"2002:a00:1::", strict, RulePrivate},
		{"2002:5db8:d822::", strict, ""},
	}
	for _, c := range cases {
		err := c.policy.CheckAddr(netip.MustParseAddr(c.addr))
		if c.want == "" {
			if err != nil {
				t.Errorf("%s under %q: %v, want allowed", c.addr, c.policy, err)
			}
			continue
		}
		refused, ok := errors.AsType[*RefusedError](err)
		if !ok || !errors.Is(err, ErrRefused) {
			t.Errorf("%s under %q: %v, want refused (%s)", c.addr, c.policy, err, c.want)
			continue
		}
		if refused.Rule != c.want {
			t.Errorf("%s under %q: rule %q, want %q", c.addr, c.policy, refused.Rule, c.want)
		}
	}
}

func TestRefusedErrorSaysHowToAllow(t *testing.T) {
	p := mustParse(t, "")
	cases := map[string]string{
		"10.0.0.5":        "WINDFLOW_OUTBOUND_ALLOW=private or a prefix holding it (e.g. 10.0.0.5/32)",
		"127.0.0.1":       "WINDFLOW_OUTBOUND_ALLOW=loopback",
		"169.254.169.254": "cloud metadata address; always refused",
		"fe80::1":         "link-local address (fe80::/10); always refused",
	}
	for addr, want := range cases {
		err := p.CheckAddr(netip.MustParseAddr(addr))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), addr) {
			t.Errorf("%s: %v, want it to name the address and say %q", addr, err, want)
		}
	}
	err := p.CheckSocket("/run/other.sock")
	if err == nil || !strings.Contains(err.Error(), "WINDFLOW_OUTBOUND_ALLOW=unix:///run/other.sock") {
		t.Errorf("socket: %v, want the setting that allows it", err)
	}
}

func TestCheckSocket(t *testing.T) {
	p := mustParse(t, "unix:///var/run/docker.sock,/tmp/x.sock").WithSockets("unix:///run/user/docker.sock", "tcp://1.2.3.4:2375")
	for _, ok := range []string{"/var/run/docker.sock", "/var/run/../run/docker.sock", "/tmp/x.sock", "/run/user/docker.sock"} {
		if err := p.CheckSocket(ok); err != nil {
			t.Errorf("%s: %v, want allowed", ok, err)
		}
	}
	for _, bad := range []string{"/run/docker.sock", "/var/run/docker.sock/x", "relative.sock", ""} {
		if err := p.CheckSocket(bad); !errors.Is(err, ErrRefused) {
			t.Errorf("%s: %v, want refused", bad, err)
		}
	}
	if err := mustParse(t, "unix").CheckSocket("/anything.sock"); err != nil {
		t.Errorf("unix entry: %v, want every socket allowed", err)
	}
	if err := Permissive().CheckSocket("/anything.sock"); err != nil {
		t.Errorf("permissive: %v", err)
	}
}

func TestParseRejectsBadEntries(t *testing.T) {
	for _, bad := range []string{"loopbak", "10.0.0.0/33", "unix://relative", "example.com", "1.2.3"} {
		if _, err := Parse(bad); err == nil || !strings.Contains(err.Error(), Setting) {
			t.Errorf("Parse(%q) = %v, want an error naming %s", bad, err, Setting)
		}
	}
	p := mustParse(t, " loopback , ,PRIVATE,10.0.0.0/8 ")
	if got := p.String(); got != "loopback,private,10.0.0.0/8" {
		t.Errorf("String() = %q", got)
	}
}

func TestCheckEndpointAndURL(t *testing.T) {
	p := mustParse(t, "").WithSockets("unix:///var/run/docker.sock").WithHost("192.168.5.5")
	cases := []struct {
		check  func(string) error
		target string
		want   Rule
	}{
		{p.CheckEndpoint, "tcp://169.254.169.254:2375", RuleMetadata},
		{p.CheckEndpoint, "tcp://[::ffff:169.254.169.254]:2375", RuleMetadata},
		{p.CheckEndpoint, "tcp://[fe80::1%25eth0]:2375", RuleLinkLocal},
		{p.CheckEndpoint, "tcp://metadata.google.internal:80", RuleMetadata},
		{p.CheckEndpoint, "tcp://METADATA.google.internal.:80", RuleMetadata},
		{p.CheckEndpoint, "tcp://127.0.0.1:2375", RuleLoopback},
		{p.CheckEndpoint, "tcp://10.0.0.7:2376", RulePrivate},
		{p.CheckEndpoint, "tcp://192.168.5.5:2376", ""},
		{p.CheckEndpoint, "tcp://docker.example.com:2376", ""},
		{p.CheckEndpoint, "unix:///var/run/docker.sock", ""},
		{p.CheckEndpoint, "unix:///run/containerd/containerd.sock", RuleSocket},
		{p.CheckURL, "generic://169.254.169.254/latest/meta-data?disabletls=yes", RuleMetadata},
		{p.CheckURL, "generic+http://127.0.0.1:8080/hook", RuleLoopback},
		{p.CheckURL, "ntfy://10.0.0.5/topic", RulePrivate},
		{p.CheckURL, "ntfy://ntfy.sh/topic", ""},
		{p.CheckURL, "generic://[::1]:80/x", RuleLoopback},
	}
	for _, c := range cases {
		err := c.check(c.target)
		refused, _ := errors.AsType[*RefusedError](err)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v, want allowed", c.target, err)
		case c.want != "" && (refused == nil || refused.Rule != c.want):
			t.Errorf("%s: %v, want refused by %q", c.target, err, c.want)
		}
	}
}

func TestRemoteText(t *testing.T) {
	long := strings.Repeat("é", MaxRemoteText) // 2 bytes a rune: cut mid-rune
	got := RemoteText(long)
	if !strings.HasSuffix(got, "…(truncated)") || len(got) > MaxRemoteText+len("…(truncated)") {
		t.Errorf("RemoteText(long) has %d bytes, want at most %d and a mark", len(got), MaxRemoteText)
	}
	if got := RemoteText("a\x00b\nc\xffd"); got != "a b cd" {
		t.Errorf("RemoteText = %q, want control characters as spaces and invalid bytes dropped", got)
	}
	if got := RemoteText("short"); got != "short" {
		t.Errorf("RemoteText(short) = %q", got)
	}
}

func TestDefault(t *testing.T) {
	if Default().CheckSocket("/x.sock") != nil {
		t.Fatal("without SetDefault the policy should be permissive")
	}
	strict := mustParse(t, "")
	SetDefault(strict)
	t.Cleanup(func() { SetDefault(nil) })
	if Default() != strict {
		t.Fatal("Default did not return the installed policy")
	}
}
