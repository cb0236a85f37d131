// Internal: which network addresses a URL input may reach. A server that fetches user-supplied
// URLs must not become a proxy into its own network (SSRF), so private, loopback, link-local and
// other non-public addresses are refused unless the operator allows them.
#pragma once

#include <sys/socket.h>

namespace clipembed::io {

// True for an address that is not on the public internet: IPv4 0/8, 10/8, 100.64/10, 127/8,
// 169.254/16, 172.16/12, 192.0.0/24, 192.0.2/24, 192.88.99/24, 192.168/16, 198.18/15,
// 198.51.100/24, 203.0.113/24, multicast and reserved (224/3); IPv6 ::, ::1, fc00::/7, fe80::/10,
// fec0::/10, Teredo (2001::/32), local-use NAT64 (64:ff9b:1::/48), multicast, and the
// IPv4-mapped, IPv4-translated, NAT64 (64:ff9b::/96) and 6to4 (2002::/16) forms of non-public
// IPv4. Unknown address families count as non-public.
bool is_non_public_address(const sockaddr* address);

}  // namespace clipembed::io
