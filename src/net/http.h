// Plain HTTP request and response values shared by the server, the router and the client.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace podfleet {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: "/api/episodes?state=done"
  std::string path;    // percent-decoded path without the query: "/api/episodes"
  std::map<std::string, std::string> query;    // percent-decoded; of repeated names the last wins
  std::map<std::string, std::string> headers;  // names lower-cased; repeats joined by ", "
  std::map<std::string, std::string> params;   // path parameters filled in by the Router
  std::string body;
  std::string remote;  // peer address "127.0.0.1:51234"

  // The header's value, or empty. `name` must be lower case.
  std::string_view Header(std::string_view name) const;
  // The token of "Authorization: Bearer <token>", or empty.
  std::string_view BearerToken() const;
  // The query parameter's value, or `fallback`.
  std::string QueryOr(std::string_view name, std::string_view fallback) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers

  // A JSON response; `body` is JSON text, sent as is.
  static HttpResponse Json(int status, std::string body);
  static HttpResponse Text(int status, std::string body,
                           std::string content_type = "text/plain; charset=utf-8");
  // The API's error shape, {"error":{"code":"not_found","message":"..."}}, with `status`.
  static HttpResponse ErrorJson(int status, Code code, std::string_view message);
  // ErrorJson with the status HttpStatusFor(error.code).
  static HttpResponse FromError(const Error& error);
};

// The HTTP status for an error code: 404, 400, 403, 409, 503, 422, 500 (see core/error.h).
int HttpStatusFor(Code code);

// `s` as a JSON string literal, quotes included. Well-formed UTF-8 passes through unchanged; each
// byte that is not part of a well-formed UTF-8 sequence becomes U+FFFD, so the result is valid
// JSON whatever `s` holds (request paths, messages quoting input).
std::string JsonQuote(std::string_view s);

// Percent-decodes a URL component; '+' becomes a space when `plus_is_space`. nullopt when a '%'
// is not followed by two hex digits.
std::optional<std::string> PercentDecode(std::string_view s, bool plus_is_space);
// Fills request.path and request.query from request.target, as the server does for every request:
// an origin-form ("/p?q") or absolute-form ("http://host/p?q") target, percent-decoded, '+' a
// space in the query, of repeated names the last. kInvalidArgument on malformed percent-encoding.
Result<void> ParseTarget(HttpRequest& request);

// Header text: `s` without leading and trailing spaces and tabs; ASCII case-insensitive equality.
std::string_view TrimOws(std::string_view s);
bool AsciiIEquals(std::string_view a, std::string_view b);

// Percent-encodes every byte except the RFC 3986 unreserved ones (A-Z a-z 0-9 - . _ ~).
std::string PercentEncode(std::string_view s);

}  // namespace podfleet
