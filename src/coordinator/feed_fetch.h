// Fetching a feed document politely: conditional GET, compression, redirects followed one by one
// so a permanent move can be told from a temporary one, and Retry-After read.
#pragma once

#include <optional>
#include <string>

#include "core/clock.h"
#include "core/error.h"
#include "net/http_client.h"

namespace podfleet {

struct FeedFetchOptions {
  // Validators from the last full answer; sent as If-None-Match / If-Modified-Since when set.
  std::string etag;
  std::string last_modified;
  size_t max_bytes = size_t{50} << 20;  // a larger (decoded) document fails with kInvalidArgument
  int max_redirects = 10;
  std::function<bool(const sockaddr*)> allow_address;  // as ClientRequest::allow_address
};

struct FeedFetch {
  int status = 0;  // the final answer's status (200, 304, or an error status)
  std::string body;
  std::string content_type;
  std::string etag;
  std::string last_modified;
  std::string final_url;              // after every redirect
  std::string permanent_url;          // after the leading permanent (301, 308) redirects only
  std::optional<Millis> retry_after;  // from a 429 or 503 with Retry-After
};

// GETs `url` with Accept-Encoding "gzip, br" (libcurl decodes the body, and also decodes an
// encoding that was not asked for), following up to max_redirects redirects to http(s) only.
// Any HTTP status is a result; errors are transport failures (kUnavailable), a body over
// max_bytes, a redirect loop or a redirect elsewhere than http(s) (kInvalidArgument).
// Thread-safe as HttpClient is.
Result<FeedFetch> FetchFeed(HttpClient& http, const std::string& url,
                            const FeedFetchOptions& options, TimePoint now);

// A Retry-After value: delta seconds, or an HTTP date (then the time from `now`, at least 0).
std::optional<Millis> ParseRetryAfter(std::string_view value, TimePoint now);

}  // namespace podfleet
