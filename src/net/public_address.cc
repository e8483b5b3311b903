#include "net/public_address.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>

namespace podfleet {
namespace {

struct V4Range {
  uint32_t base;
  int bits;
};

constexpr uint32_t V4(uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
  return (a << 24) | (b << 16) | (c << 8) | d;
}

// IANA's special-purpose IPv4 registry, less the few globally reachable entries.
constexpr std::array kNonPublicV4{
    V4Range{V4(0, 0, 0, 0), 8},      V4Range{V4(10, 0, 0, 0), 8},
    V4Range{V4(100, 64, 0, 0), 10},  V4Range{V4(127, 0, 0, 0), 8},
    V4Range{V4(169, 254, 0, 0), 16}, V4Range{V4(172, 16, 0, 0), 12},
    V4Range{V4(192, 0, 0, 0), 24},   V4Range{V4(192, 0, 2, 0), 24},
    V4Range{V4(192, 88, 99, 0), 24}, V4Range{V4(192, 168, 0, 0), 16},
    V4Range{V4(198, 18, 0, 0), 15},  V4Range{V4(198, 51, 100, 0), 24},
    V4Range{V4(203, 0, 113, 0), 24}, V4Range{V4(224, 0, 0, 0), 4},
    V4Range{V4(240, 0, 0, 0), 4},
};

bool IsPublicV4(uint32_t address) {
  for (const V4Range& r : kNonPublicV4) {
    const uint32_t mask = ~uint32_t{0} << (32 - r.bits);
    if ((address & mask) == r.base) return false;
  }
  return true;
}

uint32_t EmbeddedV4(const uint8_t* b) {
  return (uint32_t{b[12]} << 24) | (uint32_t{b[13]} << 16) | (uint32_t{b[14]} << 8) | b[15];
}

bool StartsWith(const uint8_t* b, std::initializer_list<uint8_t> prefix) {
  return std::memcmp(b, prefix.begin(), prefix.size()) == 0;
}

bool IsPublicV6(const in6_addr& address) {
  const uint8_t* b = address.s6_addr;
  static constexpr uint8_t kZero[12] = {};
  // ::/96 holds ::, ::1 and the old IPv4-compatible form; ::ffff:0:0/96 is IPv4-mapped;
  // 64:ff9b::/96 is NAT64. Each stands for the IPv4 address in its last four bytes.
  if (std::memcmp(b, kZero, 12) == 0) {
    const uint32_t v4 = EmbeddedV4(b);
    return v4 > 1 && IsPublicV4(v4);
  }
  if (StartsWith(b, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff})) return IsPublicV4(EmbeddedV4(b));
  if (StartsWith(b, {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0})) {
    return IsPublicV4(EmbeddedV4(b));
  }
  if ((b[0] & 0xfe) == 0xfc) return false;                          // fc00::/7 unique-local
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return false;          // fe80::/10 link-local
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return false;          // fec0::/10 site-local
  if (b[0] == 0xff) return false;                                   // ff00::/8 multicast
  if (StartsWith(b, {0x20, 0x01, 0x0d, 0xb8})) return false;        // 2001:db8::/32 documentation
  if (StartsWith(b, {0x01, 0x00, 0, 0, 0, 0, 0, 0})) return false;  // 100::/64 discard
  return true;
}

struct UrlFree {
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};

struct AddrinfoFree {
  void operator()(addrinfo* list) const { freeaddrinfo(list); }
};

}  // namespace

bool IsPublicAddress(const sockaddr* address) {
  if (address == nullptr) return false;
  if (address->sa_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(address);
    return IsPublicV4(ntohl(v4->sin_addr.s_addr));
  }
  if (address->sa_family == AF_INET6) {
    return IsPublicV6(reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr);
  }
  return false;
}

bool IsPublicAddress(std::string_view literal) {
  const std::string text(literal);
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return IsPublicV4(ntohl(v4.s_addr));
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) == 1) return IsPublicV6(v6);
  return false;
}

std::string AddressText(const sockaddr* address) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (address->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(address)->sin_addr, text, sizeof text);
  } else if (address->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr, text,
              sizeof text);
  }
  return text;
}

Result<void> RequirePublicHost(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (rc != 0)
    return InvalidArgument(fmt::format("cannot resolve '{}': {}", host, gai_strerror(rc)));
  std::unique_ptr<addrinfo, AddrinfoFree> list(found);
  for (const addrinfo* a = list.get(); a != nullptr; a = a->ai_next) {
    if (!IsPublicAddress(a->ai_addr)) {
      return InvalidArgument(fmt::format(
          "'{}' resolves to {}, a private, loopback or link-local address, and this coordinator "
          "refuses those (--refuse-private-addresses)",
          host, AddressText(a->ai_addr)));
    }
  }
  return {};
}

Result<void> RequirePublicUrlHost(const std::string& url) {
  std::unique_ptr<CURLU, UrlFree> parsed(curl_url());
  if (!parsed) return Internal("curl_url failed");
  if (curl_url_set(parsed.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK)
    return InvalidArgument(fmt::format("malformed URL '{}'", url));
  char* host = nullptr;
  if (curl_url_get(parsed.get(), CURLUPART_HOST, &host, 0) != CURLUE_OK || host == nullptr)
    return InvalidArgument(fmt::format("URL '{}' has no host", url));
  std::string name(host);
  curl_free(host);
  if (name.size() > 2 && name.front() == '[' && name.back() == ']') {
    name = name.substr(1, name.size() - 2);
  }
  return RequirePublicHost(name);
}

}  // namespace podfleet
