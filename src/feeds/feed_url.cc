#include "feeds/feed_url.h"

#include <cstdint>

namespace podfleet {
namespace {

std::string Lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// "host[:port]" with the default port and an empty port dropped; the host lower-cased.
std::string Authority(std::string_view authority, std::string_view scheme) {
  std::string userinfo;
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    userinfo = std::string(authority.substr(0, at + 1));
    authority.remove_prefix(at + 1);
  }
  // The port's colon is the last one after any IPv6 "]".
  const size_t bracket = authority.rfind(']');
  const size_t colon = authority.rfind(':');
  std::string_view host = authority;
  std::string_view port;
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  while (port.size() > 1 && port.front() == '0') port.remove_prefix(1);
  if ((scheme == "http" && port == "80") || (scheme == "https" && port == "443")) port = {};
  std::string out = userinfo + Lowered(host);
  if (!port.empty()) out += ":" + std::string(port);
  return out;
}

std::string CollapseSlashes(std::string_view path) {
  std::string out;
  for (char c : path) {
    if (c == '/' && !out.empty() && out.back() == '/') continue;
    out += c;
  }
  return out.empty() ? "/" : out;
}

}  // namespace

std::string NormalizeFeedUrl(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  const std::string scheme = Lowered(url.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") return std::string(url);
  std::string_view rest = url.substr(scheme_end + 3);
  if (const size_t hash = rest.find('#'); hash != std::string_view::npos)
    rest = rest.substr(0, hash);
  std::string_view query;
  if (const size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  const size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  const std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  std::string out = scheme + "://" + Authority(authority, scheme) + CollapseSlashes(path);
  if (query.find_first_not_of('&') != std::string_view::npos) out += "?" + std::string(query);
  return out;
}

}  // namespace podfleet
