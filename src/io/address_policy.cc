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
         in(0xC0A80000, 16) ||  // 192.168/16, private.
         in(0xC6120000, 15) ||  // Benchmarking.
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
  static const uint8_t kNat64Prefix[12] = {0, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::memcmp(b, kMappedPrefix, 12) == 0 || std::memcmp(b, kNat64Prefix, 12) == 0 ||
      std::memcmp(b, kZero, 12) == 0) {
    // ::a.b.c.d (deprecated compatible form, and :: and ::1) and the mapped and NAT64 forms carry
    // an IPv4 address, judged as IPv4.
    const uint32_t v4 = (uint32_t{b[12]} << 24) | (uint32_t{b[13]} << 16) | (uint32_t{b[14]} << 8) |
                        uint32_t{b[15]};
    return is_non_public_v4(v4) || std::memcmp(b, kZero, 12) == 0;
  }
  return (b[0] & 0xFE) == 0xFC ||                    // fc00::/7, unique local.
         (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) ||  // fe80::/10, link-local.
         b[0] == 0xFF;                               // Multicast.
}

}  // namespace clipembed::io
