// Package netpolicy decides which outbound targets this process may dial:
// Docker engines (tcp:// and unix:// endpoints), webhooks and other
// notification services. It exists so that a user of the API cannot point
// the monitor at the cloud's metadata service, at the machine's own
// loopback services or at the private network behind it (SSRF).
//
// Rules, checked on the address actually dialed (after DNS resolution, for
// every connection, redirects included), in this order:
//
//   - always refused: cloud metadata addresses (169.254.169.254,
//     fd00:ec2::254, 100.100.100.200, 168.63.129.16, and the names
//     metadata.google.internal / metadata), link-local addresses
//     (169.254.0.0/16, fe80::/10), addresses that are not unicast
//     (0.0.0.0/8, ::, multicast, broadcast) and reserved ones (240.0.0.0/4);
//   - loopback (127.0.0.0/8, ::1): only when the allow-list says
//     "loopback" or holds a prefix containing the address;
//   - private (10/8, 172.16/12, 192.168/16, 100.64/10 CGNAT, 198.18/15,
//     fc00::/7, local NAT64 64:ff9b:1::/48):
//     only when the allow-list says "private" or holds a prefix containing
//     the address;
//   - unix sockets: only the paths on the allow-list (or any with "unix");
//   - everything else (public addresses) is allowed.
//
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d), NAT64 addresses
// (64:ff9b::a.b.c.d) and 6to4 addresses (2002:aabb:ccdd::) are judged as
// the IPv4 address they carry.
//
// A dial resolves the name itself (Resolver, net.DefaultResolver unless
// WithResolver gave another), judges every address, then connects to a
// judged address: a name cannot resolve to another address between the
// check and the connect (DNS rebinding).
//
// A refusal is a *RefusedError (errors.Is(err, ErrRefused)) naming the rule
// and how to allow the target (the WINDFLOW_OUTBOUND_ALLOW setting).
//
// The process-wide policy is Default: Permissive until the binary installs
// the configured one with SetDefault at startup.
package netpolicy
