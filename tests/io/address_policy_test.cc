#include "io/address_policy.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <string>

namespace clipembed::io {
namespace {

bool non_public(const std::string& text) {
  sockaddr_in v4{};
  sockaddr_in6 v6{};
  if (inet_pton(AF_INET, text.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    return is_non_public_address(reinterpret_cast<const sockaddr*>(&v4));
  }
  EXPECT_EQ(inet_pton(AF_INET6, text.c_str(), &v6.sin6_addr), 1) << text;
  v6.sin6_family = AF_INET6;
  return is_non_public_address(reinterpret_cast<const sockaddr*>(&v6));
}

TEST(AddressPolicyTest, RefusesPrivateLoopbackAndLinkLocal) {
  for (const char* a : {"127.0.0.1",
                        "127.1.2.3",
                        "10.0.0.1",
                        "172.16.0.1",
                        "172.31.255.255",
                        "192.168.1.1",
                        "169.254.169.254",
                        "100.64.0.1",
                        "0.0.0.0",
                        "224.0.0.1",
                        "255.255.255.255",
                        "198.18.0.1",
                        "::1",
                        "::",
                        "fe80::1",
                        "fc00::1",
                        "fd12:3456::1",
                        "ff02::1",
                        "::ffff:127.0.0.1",
                        "::ffff:10.1.2.3",
                        "64:ff9b::a9fe:a9fe"}) {
    EXPECT_TRUE(non_public(a)) << a;
  }
}

// The addresses a hostile client tried (the hardened-server issue's table), all non-public.
TEST(AddressPolicyTest, RefusesDocumentationRelayAndEmbeddedForms) {
  for (const char* a : {"192.0.2.1", "198.51.100.1", "203.0.113.1", "192.88.99.1",
                        "2002:7f00:1::",                            // 6to4 of 127.0.0.1.
                        "2002:a00:1::1",                            // 6to4 of 10.0.0.1.
                        "64:ff9b:1::a00:1",                         // Local-use NAT64.
                        "::ffff:0:7f00:1",                          // IPv4-translated 127.0.0.1.
                        "fec0::1",                                  // Site-local.
                        "2001:0:4136:e378:8000:63bf:3fff:fdd2"}) {  // Teredo.
    EXPECT_TRUE(non_public(a)) << a;
  }
  EXPECT_FALSE(non_public("2002:808:808::1"));  // 6to4 of the public 8.8.8.8.
}

TEST(AddressPolicyTest, AllowsPublicAddresses) {
  for (const char* a :
       {"8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255", "192.169.0.1", "100.128.0.1",
        "2606:4700::1111", "2001:4860:4860::8888", "::ffff:8.8.8.8"}) {
    EXPECT_FALSE(non_public(a)) << a;
  }
}

TEST(AddressPolicyTest, UnknownFamiliesAreRefused) {
  sockaddr unknown{};
  unknown.sa_family = AF_UNIX;
  EXPECT_TRUE(is_non_public_address(&unknown));
}

}  // namespace
}  // namespace clipembed::io
