#include "net/range_source.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace podfleet {
namespace {

std::optional<int64_t> ParseNumber(std::string_view text) {
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) return std::nullopt;
  return value;
}

std::string_view Header(const HttpResponse& response, std::string_view name) {
  for (const auto& [n, v] : response.headers)
    if (n == name) return v;
  return {};
}

// `location` (a Location header) resolved against `base`: absolute, or from the root of its host.
std::optional<std::string> Resolve(const std::string& base, std::string_view location) {
  if (location.starts_with("http://") || location.starts_with("https://"))
    return std::string(location);
  if (!location.starts_with("/")) return std::nullopt;
  const size_t scheme = base.find("://");
  if (scheme == std::string::npos) return std::nullopt;
  const size_t path = base.find('/', scheme + 3);
  return base.substr(0, path) + std::string(location);
}

// "scheme://host:port" of an absolute URL.
std::string_view OriginOf(std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return url;
  return url.substr(0, url.find('/', scheme + 3));
}

}  // namespace

std::optional<ContentRange> ParseContentRange(std::string_view header) {
  constexpr std::string_view kPrefix = "bytes ";
  if (!header.starts_with(kPrefix)) return std::nullopt;
  header.remove_prefix(kPrefix.size());
  const size_t dash = header.find('-');
  const size_t slash = header.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || slash < dash)
    return std::nullopt;
  const auto from = ParseNumber(header.substr(0, dash));
  const auto to = ParseNumber(header.substr(dash + 1, slash - dash - 1));
  const auto total = ParseNumber(header.substr(slash + 1));
  if (!from || !to || !total || *to < *from || *to >= *total) return std::nullopt;
  return ContentRange{*from, *to, *total};
}

RangeSource::RangeSource(HttpClient& http, std::string url, RangeSourceOptions options)
    : http_(http), url_(url), location_(std::move(url)), options_(std::move(options)) {}

Result<std::unique_ptr<RangeSource>> RangeSource::Open(HttpClient& http, std::string url,
                                                       RangeSourceOptions options) {
  if (options.block_bytes < 1 || options.cached_blocks < 1)
    return InvalidArgument("range source: block size and cache must be positive");
  std::unique_ptr<RangeSource> source(new RangeSource(http, std::move(url), std::move(options)));
  int64_t total = -1;
  auto first = source->Fetch(0, source->options_.block_bytes - 1, total);
  if (!first) return std::unexpected(first.error());
  source->size_ = total;
  source->cache_.emplace_front(0, std::move(*first));
  return source;
}

Result<std::string> RangeSource::Fetch(int64_t from, int64_t to, int64_t& total) {
  constexpr int kMaxRedirects = 10;
  const std::string asked = fmt::format("bytes={}-{}", from, to);
  auto fail = [&](Code code, std::string why) {
    return std::unexpected(Error{code, fmt::format("{} ({}): {}", url_, asked, why)});
  };
  ClientRequest request{.url = location_, .timeout = options_.timeout};
  // The caller's headers (a node's token) are for the host it named, never one it is sent on to.
  if (OriginOf(location_) == OriginOf(url_)) request.headers = options_.headers;
  request.headers.emplace_back("Range", asked);
  // A host that ignores the Range would send the whole file: stop it past what was asked.
  request.max_response_bytes = static_cast<size_t>(to - from + 1);
  request.allow_address = options_.allow_address;
  Result<HttpResponse> response;
  for (int hops = 0;; ++hops) {
    ++traffic_.requests;
    response = http_.Send(request);
    if (!response || response->status < 300 || response->status >= 400) break;
    const std::string_view location = Header(*response, "location");
    if (total >= 0) return fail(Code::kInvalidArgument, "the origin redirects a later range");
    if (hops == kMaxRedirects) return fail(Code::kInvalidArgument, "too many redirects");
    auto next = Resolve(request.url, location);
    if (!next) return fail(Code::kInvalidArgument, fmt::format("bad redirect to \"{}\"", location));
    if (OriginOf(*next) != OriginOf(url_)) request.headers = {{"Range", asked}};
    request.url = *next;
  }
  location_ = request.url;
  if (!response) {
    if (response.error().code == Code::kInvalidArgument &&
        response.error().message.find("response larger than") != std::string::npos)
      return fail(Code::kInvalidArgument,
                  fmt::format("the origin sent more than the {} bytes asked for (Range ignored?)",
                              to - from + 1));
    return std::unexpected(response.error());
  }
  traffic_.bytes += static_cast<int64_t>(response->body.size());
  const int status = response->status;
  if (status == 404 || status == 410) return fail(Code::kNotFound, fmt::format("HTTP {}", status));
  if (status == 200) return fail(Code::kInvalidArgument, "the origin ignores Range (HTTP 200)");
  if (status >= 500 || status == 408 || status == 429)
    return fail(Code::kUnavailable, fmt::format("HTTP {}", status));
  if (status != 206)
    return fail(Code::kInvalidArgument, fmt::format("the origin refuses Range (HTTP {})", status));
  const std::string_view header = Header(*response, "content-range");
  const auto range = ParseContentRange(header);
  if (!range) return fail(Code::kCorruption, fmt::format("bad Content-Range \"{}\"", header));
  if (total < 0) {
    total = range->total;
    to = std::min(to, total - 1);
  }
  if (range->from != from || range->to != to || range->total != total)
    return fail(Code::kCorruption,
                fmt::format("the origin answered \"{}\" for {} of {} bytes", header, asked, total));
  const auto got = static_cast<int64_t>(response->body.size());
  if (got != to - from + 1)
    return fail(Code::kCorruption,
                fmt::format("the origin sent {} bytes for a range of {}", got, to - from + 1));
  return std::move(response->body);
}

Result<const std::string*> RangeSource::Block(int64_t index) {
  for (auto it = cache_.begin(); it != cache_.end(); ++it) {
    if (it->first != index) continue;
    cache_.splice(cache_.begin(), cache_, it);
    return &cache_.front().second;
  }
  if (options_.stop.stop_requested()) return Unavailable(fmt::format("{}: stopped", url_));
  const int64_t from = index * options_.block_bytes;
  const int64_t to = std::min(from + options_.block_bytes, size_) - 1;
  int64_t total = size_;
  auto bytes = Fetch(from, to, total);
  if (!bytes) return std::unexpected(bytes.error());
  cache_.emplace_front(index, std::move(*bytes));
  if (std::ssize(cache_) > options_.cached_blocks) cache_.pop_back();
  return &cache_.front().second;
}

Result<size_t> RangeSource::ReadAt(int64_t offset, std::span<unsigned char> buffer) {
  if (offset < 0) return InvalidArgument(fmt::format("{}: read at {}", url_, offset));
  if (offset >= size_ || buffer.empty()) return size_t{0};
  auto block = Block(offset / options_.block_bytes);
  if (!block) return std::unexpected(block.error());
  const auto within = static_cast<size_t>(offset % options_.block_bytes);
  const size_t n = std::min(buffer.size(), (*block)->size() - within);
  std::memcpy(buffer.data(), (*block)->data() + within, n);
  return n;
}

}  // namespace podfleet
