package netpolicy

import "net/netip"

// metadataAddrs are cloud metadata services: AWS/GCP/Azure/OpenStack/Oracle
// (169.254.169.254), AWS over IPv6 (fd00:ec2::254), Alibaba
// (100.100.100.200) and Azure's wire server (168.63.129.16).
var metadataAddrs = map[netip.Addr]bool{
	netip.MustParseAddr("169.254.169.254"): true,
	netip.MustParseAddr("fd00:ec2::254"):   true,
	netip.MustParseAddr("100.100.100.200"): true,
	netip.MustParseAddr("168.63.129.16"):   true,
}

// metadataNames are host names of metadata services, refused before any
// lookup (they resolve to a metadata address where they resolve at all).
var metadataNames = map[string]bool{
	"metadata.google.internal":   true,
	"metadata":                   true,
	"metadata.goog":              true,
	"instance-data":              true,
	"instance-data.ec2.internal": true,
}

type namedRange struct {
	prefix netip.Prefix
	rule   Rule
}

// ranges are checked in order; the first match decides.
var ranges = []namedRange{
	{netip.MustParsePrefix("169.254.0.0/16"), RuleLinkLocal},
	{netip.MustParsePrefix("fe80::/10"), RuleLinkLocal},
	{netip.MustParsePrefix("0.0.0.0/8"), RuleNotUnicast},
	{netip.MustParsePrefix("224.0.0.0/4"), RuleNotUnicast},
	{netip.MustParsePrefix("255.255.255.255/32"), RuleNotUnicast},
	{netip.MustParsePrefix("240.0.0.0/4"), RuleReserved},
	{netip.MustParsePrefix("::/128"), RuleNotUnicast},
	{netip.MustParsePrefix("ff00::/8"), RuleNotUnicast},
	{netip.MustParsePrefix("127.0.0.0/8"), RuleLoopback},
	{netip.MustParsePrefix("::1/128"), RuleLoopback},
	{netip.MustParsePrefix("10.0.0.0/8"), RulePrivate},
	{netip.MustParsePrefix("172.16.0.0/12"), RulePrivate},
	{netip.MustParsePrefix("192.168.0.0/16"), RulePrivate},
	{netip.MustParsePrefix("100.64.0.0/10"), RulePrivate},
	{netip.MustParsePrefix("198.18.0.0/15"), RulePrivate},
	{netip.MustParsePrefix("fc00::/7"), RulePrivate},
	// NAT64 for a local network (RFC 8215): the IPv4 address it reaches
	// depends on the operator's translator, so it is judged as private.
	{netip.MustParsePrefix("64:ff9b:1::/48"), RulePrivate},
}

// classify returns the rule that governs a (empty: public) and the range it
// falls in.
func classify(a netip.Addr) (Rule, string) {
	if metadataAddrs[a] {
		return RuleMetadata, ""
	}
	for _, r := range ranges {
		if r.prefix.Contains(a) {
			return r.rule, r.prefix.String()
		}
	}
	return "", ""
}

// nat64 is the well-known NAT64 prefix: its addresses reach the IPv4
// address in their last 32 bits.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// sixToFour is the 6to4 prefix: 2002:AABB:CCDD::/48 reaches the IPv4
// address AA.BB.CC.DD through a relay.
var sixToFour = netip.MustParsePrefix("2002::/16")

// embeddedIPv4 returns the IPv4 address that a reaches when it is an
// IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::a.b.c.d) or 6to4
// (2002:aabb:ccdd::) address, else a.
func embeddedIPv4(a netip.Addr) netip.Addr {
	a = a.Unmap()
	switch b := a.As16(); {
	case a.Is6() && nat64.Contains(a):
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	case a.Is6() && sixToFour.Contains(a):
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})
	}
	return a
}

// hostPrefix is the single-address prefix of target, for hints.
func hostPrefix(target string) string {
	a, err := netip.ParseAddr(target)
	if err != nil {
		return target
	}
	a = embeddedIPv4(a)
	return netip.PrefixFrom(a, a.BitLen()).String()
}
