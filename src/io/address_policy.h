// Internal: which network addresses a URL input may reach. A server that fetches user-supplied
// URLs must not become a proxy into its own network (SSRF), so private, loopback, link-local and
// other non-public addresses are refused unless the operator allows them.
#pragma once

#include <sys/socket.h>

namespace clipembed::io {

// True for an address that is not on the public internet: IPv4 0/8, 10/8, 100.64/10, 127/8,
// 169.254/16, 172.16/12, 192.0.0/24, 192.168/16, 198.18/15, multicast and reserved (224/3);
// IPv6 ::, ::1, fc00::/7, fe80::/10, multicast, and IPv4-mapped or NAT64 forms of the above.
// Unknown address families count as non-public.
bool is_non_public_address(const sockaddr* address);

}  // namespace clipembed::io
