package netpolicy

import (
	"errors"
	"fmt"
)

// Setting is the configuration that extends the allow-list (the binary's
// environment variable; the flag is -outbound-allow). Refusals name it.
const Setting = "WINDFLOW_OUTBOUND_ALLOW"

// ErrRefused is matched (errors.Is) by every *RefusedError.
var ErrRefused = errors.New("outbound target refused")

// Rule names why a target was refused.
type Rule string

// The rules, each named by what it refuses.
const (
	RuleMetadata   Rule = "cloud metadata address"
	RuleLinkLocal  Rule = "link-local address"
	RuleNotUnicast Rule = "not a unicast address"
	RuleReserved   Rule = "reserved address"
	RuleLoopback   Rule = "loopback address"
	RulePrivate    Rule = "private address"
	RuleSocket     Rule = "unix socket not on the allow-list"
)

// Always reports whether the rule refuses whatever the allow-list says.
func (r Rule) Always() bool {
	return r == RuleMetadata || r == RuleLinkLocal || r == RuleNotUnicast || r == RuleReserved
}

// RefusedError is a target the policy refused.
type RefusedError struct {
	// Target is what was refused: an IP address, a host name or a socket path.
	Target string
	// Name is the host name that resolved to Target, when known.
	Name string
	Rule Rule
	// Range is the refused range holding Target ("10.0.0.0/8"), if any.
	Range string
}

func (e *RefusedError) Error() string {
	what := string(e.Rule)
	if e.Range != "" {
		what += " (" + e.Range + ")"
	}
	target := e.Target
	if e.Name != "" {
		target = e.Name + " (" + e.Target + ")"
	}
	msg := fmt.Sprintf("%s %s: %s", ErrRefused, target, what)
	switch {
	case e.Rule.Always():
		return msg + "; always refused"
	case e.Rule == RuleLoopback:
		return msg + fmt.Sprintf("; allow it with %s=loopback or a prefix holding it (e.g. %s)", Setting, hostPrefix(e.Target))
	case e.Rule == RulePrivate:
		return msg + fmt.Sprintf("; allow it with %s=private or a prefix holding it (e.g. %s)", Setting, hostPrefix(e.Target))
	default:
		return msg + fmt.Sprintf("; allow it with %s=unix://%s (or unix for every socket)", Setting, e.Target)
	}
}

// Is makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }
