// Plain HTTP request and response values shared by the server, the router and the client.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/thread_annotations.h"

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

// A response body sent while it is being made (Server-Sent Events). The handler answers with an
// HttpResponse whose `stream` is set and keeps the stream: it Writes pieces as they come and Ends
// it. The server sends the head at once, each piece as an HTTP/1.1 chunk as soon as it can, and
// closes the connection after the last. A stream whose client went away swallows what is written.
// Thread-safe: any thread may write.
class HttpBodyStream {
 public:
  // Queues `data` to be sent. Ignored after End.
  void Write(std::string_view data);
  // No more data: the body ends once what is queued is sent. Idempotent.
  void End();

  // For the server. What was queued since the last call, and whether the stream has ended.
  std::pair<std::string, bool> Take();
  // `ready` is called (on the writer's thread, without locks held) after each Write and End, and
  // at once if data is already queued; an empty function stops the calls.
  void OnReady(std::function<void()> ready);

 private:
  void Notify();

  Mutex mu_;
  std::string pending_ GUARDED_BY(mu_);
  bool ended_ GUARDED_BY(mu_) = false;
  std::function<void()> ready_ GUARDED_BY(mu_);
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  // Set: the body is this stream's (sent chunked, then the connection closes) and `body` is
  // ignored. See HttpBodyStream.
  std::shared_ptr<HttpBodyStream> stream;

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
