#include "net/public_address.h"

#include <gtest/gtest.h>

namespace podfleet {
namespace {

TEST(PublicAddress, PrivateLoopbackAndLinkLocalIPv4AreNotPublic) {
  for (const char* a :
       {"127.0.0.1", "127.255.1.2", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
        "169.254.169.254", "100.64.0.1", "0.0.0.0", "0.1.2.3", "224.0.0.1", "255.255.255.255",
        "240.0.0.1", "192.0.2.5", "198.18.0.1", "198.51.100.7", "203.0.113.9", "192.0.0.8"}) {
    EXPECT_FALSE(IsPublicAddress(std::string_view(a))) << a;
  }
}

TEST(PublicAddress, OrdinaryIPv4IsPublic) {
  for (const char* a : {"1.1.1.1", "8.8.8.8", "93.184.216.34", "172.15.255.255", "172.32.0.1",
                        "100.63.255.255", "100.128.0.1", "192.169.0.1", "169.253.1.1"}) {
    EXPECT_TRUE(IsPublicAddress(std::string_view(a))) << a;
  }
}

TEST(PublicAddress, IPv6LoopbackLinkLocalUniqueLocalAndMappedPrivateAreNotPublic) {
  for (const char* a : {"::1", "::", "fe80::1", "febf::1", "fc00::1", "fd12:3456::1", "fec0::1",
                        "ff02::1", "2001:db8::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
                        "::ffff:169.254.169.254", "::127.0.0.1", "64:ff9b::10.0.0.1", "100::1"}) {
    EXPECT_FALSE(IsPublicAddress(std::string_view(a))) << a;
  }
}

TEST(PublicAddress, OrdinaryIPv6IsPublic) {
  for (const char* a :
       {"2606:4700:4700::1111", "2a00:1450:4001::200e", "::ffff:8.8.8.8", "64:ff9b::8.8.8.8"}) {
    EXPECT_TRUE(IsPublicAddress(std::string_view(a))) << a;
  }
}

TEST(PublicAddress, TextThatIsNotAnAddressIsNotPublic) {
  for (const char* a : {"", "localhost", "example.org", "1.2.3", "01.1.1.1x", "[::1]"}) {
    EXPECT_FALSE(IsPublicAddress(std::string_view(a))) << a;
  }
}

TEST(PublicAddress, RequirePublicHostRefusesNamesAndLiteralsOfPrivateAddresses) {
  for (const char* host : {"localhost", "127.0.0.1", "::1", "10.0.0.1", "169.254.169.254"}) {
    auto r = RequirePublicHost(host);
    ASSERT_FALSE(r) << host;
    EXPECT_EQ(r.error().code, Code::kInvalidArgument);
    EXPECT_NE(r.error().message.find("--refuse-private-addresses"), std::string::npos)
        << r.error().message;
  }
}

TEST(PublicAddress, RequirePublicHostAcceptsAPublicLiteral) {
  EXPECT_TRUE(RequirePublicHost("8.8.8.8"));
  EXPECT_TRUE(RequirePublicHost("2606:4700:4700::1111"));
}

TEST(PublicAddress, RequirePublicHostRefusesANameThatDoesNotResolve) {
  auto r = RequirePublicHost("no-such-host.invalid");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
}

TEST(PublicAddress, RequirePublicUrlHostReadsTheHostOfAUrl) {
  EXPECT_FALSE(RequirePublicUrlHost("http://127.0.0.1:8750/feed.xml"));
  EXPECT_FALSE(RequirePublicUrlHost("https://[::1]/feed.xml"));
  EXPECT_FALSE(RequirePublicUrlHost("http://user:pw@10.0.0.1/x"));
  EXPECT_FALSE(RequirePublicUrlHost("http://0x7f000001/x"));  // 127.0.0.1 spelled in hex
  EXPECT_FALSE(RequirePublicUrlHost("http://2130706433/x"));  // and as one decimal number
  EXPECT_TRUE(RequirePublicUrlHost("https://8.8.8.8/feed.xml"));
  EXPECT_TRUE(RequirePublicUrlHost("https://[2606:4700:4700::1111]:8443/feed.xml"));
  auto r = RequirePublicUrlHost("not a url");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
}

}  // namespace
}  // namespace podfleet
