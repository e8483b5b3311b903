// Which network addresses count as public, for refusing server-side requests to private networks
// (SSRF): a feed or audio URL added through the API must not make the coordinator or a worker
// fetch from the machine itself, its LAN or a cloud metadata service.
//
// Not public: unspecified (0.0.0.0, ::), loopback (127/8, ::1), private (10/8, 172.16/12,
// 192.168/16), shared CGNAT (100.64/10), link-local (169.254/16, fe80::/10, which holds cloud
// metadata services), unique-local (fc00::/7), site-local (fec0::/10), multicast and broadcast,
// the documentation and benchmarking ranges, 0/8, 192.0.0/24, 240/4, and IPv6 addresses that
// embed a non-public IPv4 one (::ffff:a.b.c.d, ::a.b.c.d, 64:ff9b::a.b.c.d).
//
// Thread safety: all functions may be called concurrently.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

struct sockaddr;

namespace podfleet {

// Whether an IPv4 or IPv6 socket address is public. Other families are not.
bool IsPublicAddress(const sockaddr* address);
// The same for an address literal ("10.0.0.1", "::1"); false when `literal` is not an address.
bool IsPublicAddress(std::string_view literal);
// The numeric form of a socket address ("10.0.0.1", "fe80::1"), for messages.
std::string AddressText(const sockaddr* address);

// Resolves `host` (a name or an address literal, IPv6 without brackets) and checks every
// address it has. kInvalidArgument naming the first address that is not public, or when the name
// does not resolve. A check at add time only: the connection must check again (DNS can change).
Result<void> RequirePublicHost(const std::string& host);
// RequirePublicHost for the host of an http(s) URL. kInvalidArgument for a URL without a host.
Result<void> RequirePublicUrlHost(const std::string& url);

}  // namespace podfleet
