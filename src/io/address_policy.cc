#include "io/address_policy.h"

#include <netinet/in.h>

#include <cstdint>
#include <cstring>

namespace clipembed::io {
namespace {

// `a` in host byte order.
bool is_non_public_v4(uint32_t a) {
  auto in = [a](uint32_t net, int bits) { return (a >> (32 - bits)) == (net >> (32 - bits)); };
  return in(0x00000000, 8) ||   // "This network".
         in(0x0A000000, 8) ||   // 10/8, private.
         in(0x64400000, 10) ||  // 100.64/10, carrier-grade NAT.
         in(0x7F000000, 8) ||   // Loopback.
         in(0xA9FE0000, 16) ||  // Link-local (and cloud metadata at 169.254.169.254).
         in(0xAC100000, 12) ||  // 172.16/12, private.
         in(0xC0000000, 24) ||  // IETF protocol assignments.
         in(0xC0000200, 24) ||  // 192.0.2/24, documentation (TEST-NET-1).
         in(0xC0586300, 24) ||  // 192.88.99/24, the retired 6to4 relay anycast.
         in(0xC0A80000, 16) ||  // 192.168/16, private.
         in(0xC6120000, 15) ||  // Benchmarking.
         in(0xC6336400, 24) ||  // 198.51.100/24, documentation (TEST-NET-2).
         in(0xCB007100, 24) ||  // 203.0.113/24, documentation (TEST-NET-3).
         in(0xE0000000, 3);     // Multicast, reserved and broadcast.
}

}  // namespace

bool is_non_public_address(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    return is_non_public_v4(ntohl(v4->sin_addr.s_addr));
  }
  if (address->sa_family != AF_INET6) return true;
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address);
  const uint8_t* b = v6->sin6_addr.s6_addr;
  static const uint8_t kZero[16] = {0};
  static const uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  static const uint8_t kTranslatedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0};
  static const uint8_t kNat64Prefix[12] = {0, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0};
  auto v4_at = [b](int i) {
    return (uint32_t{b[i]} << 24) | (uint32_t{b[i + 1]} << 16) | (uint32_t{b[i + 2]} << 8) |
           uint32_t{b[i + 3]};
  };
  if (std::memcmp(b, kMappedPrefix, 12) == 0 || std::memcmp(b, kTranslatedPrefix, 12) == 0 ||
      std::memcmp(b, kNat64Prefix, 12) == 0 || std::memcmp(b, kZero, 12) == 0) {
    // ::a.b.c.d (the deprecated compatible form, and :: and ::1), the mapped (::ffff:0:0/96),
    // translated (::ffff:0:0:0/96) and NAT64 (64:ff9b::/96) forms carry an IPv4 address, judged
    // as IPv4.
    return is_non_public_v4(v4_at(12)) || std::memcmp(b, kZero, 12) == 0;
  }
  if (b[0] == 0x20 && b[1] == 0x02) return is_non_public_v4(v4_at(2));  // 6to4, 2002::/16.
  return (b[0] & 0xFE) == 0xFC ||                                       // fc00::/7, unique local.
         (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) ||                     // fe80::/10, link-local.
         (b[0] == 0xFE && (b[1] & 0xC0) == 0xC0) ||                     // fec0::/10, site-local.
         (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) ||    // 2001::/32, Teredo.
         (b[0] == 0 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B && b[4] == 0 &&
          b[5] == 1) ||  // 64:ff9b:1::/48, local-use NAT64.
         b[0] == 0xFF;   // Multicast.
}

}  // namespace clipembed::io
