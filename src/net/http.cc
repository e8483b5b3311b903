#include "net/http.h"

#include <fmt/format.h>

#include <cctype>

namespace podfleet {
namespace {

bool IEqualsPrefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsUnreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

// Query parameters of "a=1&b=x+y"; nullopt on malformed percent-encoding.
std::optional<std::map<std::string, std::string>> ParseQuery(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    std::optional<std::string> name = PercentDecode(pair.substr(0, eq), true);
    std::optional<std::string> value = PercentDecode(
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
    if (!name || !value) return std::nullopt;
    out[std::move(*name)] = std::move(*value);
  }
  return out;
}

// "/p?q" of an origin-form target, or of an absolute-form one ("http://host/p?q").
std::string_view OriginForm(std::string_view target) {
  const size_t scheme = target.find("://");
  if (target.empty() || target.front() == '/' || scheme == std::string_view::npos) return target;
  const size_t slash = target.find('/', scheme + 3);
  return slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
}

// The length of the well-formed UTF-8 sequence starting at s[i] (RFC 3629: no overlong forms,
// no surrogates, nothing above U+10FFFF), or 0 if there is none.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) return 1;
  size_t n = 0;
  unsigned char low = 0x80, high = 0xbf;  // the range allowed for the second byte
  if (lead >= 0xc2 && lead <= 0xdf) {
    n = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    n = 3;
    if (lead == 0xe0) low = 0xa0;
    if (lead == 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    n = 4;
    if (lead == 0xf0) low = 0x90;
    if (lead == 0xf4) high = 0x8f;
  } else {
    return 0;
  }
  if (i + n > s.size() || byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (size_t k = 2; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
  }
  return n;
}

}  // namespace

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool AsciiIEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && IEqualsPrefix(a, b);
}

std::string_view HttpRequest::Header(std::string_view name) const {
  auto it = headers.find(std::string(name));
  return it == headers.end() ? std::string_view() : std::string_view(it->second);
}

std::string_view HttpRequest::BearerToken() const {
  std::string_view value = TrimOws(Header("authorization"));
  constexpr std::string_view kScheme = "bearer ";
  if (!IEqualsPrefix(value, kScheme)) return {};
  return TrimOws(value.substr(kScheme.size()));
}

std::string HttpRequest::QueryOr(std::string_view name, std::string_view fallback) const {
  auto it = query.find(std::string(name));
  return it == query.end() ? std::string(fallback) : it->second;
}

HttpResponse HttpResponse::Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::Text(int status, std::string body, std::string content_type) {
  HttpResponse r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::ErrorJson(int status, Code code, std::string_view message) {
  return Json(status, fmt::format(R"({{"error":{{"code":{},"message":{}}}}})",
                                  JsonQuote(CodeName(code)), JsonQuote(message)));
}

HttpResponse HttpResponse::FromError(const Error& error) {
  return ErrorJson(HttpStatusFor(error.code), error.code, error.message);
}

int HttpStatusFor(Code code) {
  switch (code) {
    case Code::kNotFound: return 404;
    case Code::kInvalidArgument: return 400;
    case Code::kPermissionDenied: return 403;
    case Code::kConflict: return 409;
    case Code::kUnavailable: return 503;
    case Code::kCorruption: return 422;
    case Code::kInternal: return 500;
  }
  return 500;
}

std::string JsonQuote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (static_cast<unsigned char>(c) >= 0x80) {
      const size_t n = Utf8SequenceLength(s, i);
      if (n == 0) {
        out += "\xEF\xBF\xBD";  // U+FFFD: JSON text must be UTF-8
      } else {
        out.append(s.substr(i, n));
        i += n - 1;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::optional<std::string> PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+' && plus_is_space) {
      out += ' ';
    } else if (c != '%') {
      out += c;
    } else {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = HexValue(s[i + 1]);
      const int lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    }
  }
  return out;
}

std::string PercentEncode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (IsUnreserved(u)) {
      out += c;
    } else {
      out += fmt::format("%{:02X}", static_cast<unsigned>(u));
    }
  }
  return out;
}

Result<void> ParseTarget(HttpRequest& request) {
  const std::string_view target = OriginForm(request.target);
  const size_t question = target.find('?');
  std::optional<std::string> path = PercentDecode(target.substr(0, question), false);
  if (!path) return InvalidArgument("malformed percent-encoding in the request path");
  request.path = std::move(*path);
  if (question != std::string_view::npos) {
    auto query = ParseQuery(target.substr(question + 1));
    if (!query) return InvalidArgument("malformed percent-encoding in the query string");
    request.query = std::move(*query);
  }
  return {};
}

void HttpBodyStream::Write(std::string_view data) {
  {
    MutexLock lock(mu_);
    if (ended_) return;
    pending_.append(data);
  }
  Notify();
}

void HttpBodyStream::End() {
  {
    MutexLock lock(mu_);
    if (ended_) return;
    ended_ = true;
  }
  Notify();
}

std::pair<std::string, bool> HttpBodyStream::Take() {
  MutexLock lock(mu_);
  return {std::exchange(pending_, {}), ended_};
}

void HttpBodyStream::OnReady(std::function<void()> ready) {
  bool now = false;
  {
    MutexLock lock(mu_);
    ready_ = std::move(ready);
    now = ready_ && (!pending_.empty() || ended_);
  }
  if (now) Notify();
}

void HttpBodyStream::Notify() {
  std::function<void()> ready;
  {
    MutexLock lock(mu_);
    ready = ready_;
  }
  if (ready) ready();
}

}  // namespace podfleet
