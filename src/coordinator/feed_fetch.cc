#include "coordinator/feed_fetch.h"

#include <fmt/format.h>

#include <charconv>

#include "coordinator/feed_poller.h"
#include "feeds/rss.h"

namespace podfleet {
namespace {

std::string HeaderOf(const HttpResponse& response, std::string_view name) {
  for (const auto& [n, v] : response.headers) {
    if (n == name) return v;
  }
  return {};
}

bool IsRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

ClientRequest FeedRequest(const std::string& url, const FeedFetchOptions& options) {
  ClientRequest request;
  request.url = url;
  request.accept_encoding = "gzip, br";
  request.max_response_bytes = options.max_bytes;
  request.allow_address = options.allow_address;
  if (!options.etag.empty()) request.headers.emplace_back("If-None-Match", options.etag);
  if (!options.last_modified.empty())
    request.headers.emplace_back("If-Modified-Since", options.last_modified);
  return request;
}

}  // namespace

std::optional<Millis> ParseRetryAfter(std::string_view value, TimePoint now) {
  int64_t seconds = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec == std::errc() && end == value.data() + value.size() && seconds >= 0)
    return Millis(std::min<int64_t>(seconds, int64_t{7} * 24 * 3600) * 1000);
  if (std::optional<TimePoint> at = ParseFeedDate(value)) {
    return std::max(Millis(0), std::chrono::duration_cast<Millis>(*at - now));
  }
  return std::nullopt;
}

Result<FeedFetch> FetchFeed(HttpClient& http, const std::string& url,
                            const FeedFetchOptions& options, TimePoint now) {
  FeedFetch fetch;
  fetch.permanent_url = url;
  std::string current = url;
  bool permanent_so_far = true;
  for (int hop = 0;; ++hop) {
    Result<HttpResponse> response = http.Send(FeedRequest(current, options));
    if (!response) return std::unexpected(response.error());
    if (!IsRedirect(response->status)) {
      fetch.status = response->status;
      fetch.body = std::move(response->body);
      fetch.content_type = response->content_type;
      fetch.etag = HeaderOf(*response, "etag");
      fetch.last_modified = HeaderOf(*response, "last-modified");
      fetch.final_url = current;
      if (fetch.status == 429 || fetch.status == 503)
        fetch.retry_after = ParseRetryAfter(HeaderOf(*response, "retry-after"), now);
      return fetch;
    }
    const std::string location = HeaderOf(*response, "location");
    if (location.empty())
      return InvalidArgument(
          fmt::format("{}: HTTP {} without a Location", current, response->status));
    if (hop >= options.max_redirects)
      return InvalidArgument(fmt::format("{}: more than {} redirects", url, options.max_redirects));
    std::string next = ResolveUrl(current, location);
    const std::string scheme = SchemeOf(next);
    if (scheme != "http" && scheme != "https")
      return InvalidArgument(fmt::format("{}: redirect to '{}' refused (http and https only)",
                                         current, next.substr(0, 200)));
    permanent_so_far = permanent_so_far && (response->status == 301 || response->status == 308);
    if (permanent_so_far) fetch.permanent_url = next;
    current = std::move(next);
  }
}

}  // namespace podfleet
