// A file at an origin read by HTTP Range requests, block by block, as a ByteSource: what a worker
// decodes its chunk of a long episode from, fetching only that stretch (doc/relay.md "Origin
// ranges"), and what the coordinator probes an episode's header through.
//
// Every answer is checked, so that a host that does not serve ranges faithfully is an error and
// never silently wrong audio: the answer must be 206 with a Content-Range naming exactly the bytes
// asked for and the same total length as the first answer, and carry exactly those bytes. A 200
// (the Range ignored: the whole file would follow), 416, 403 and other refusals, a Content-Range
// that disagrees, and a body shorter or longer than announced all fail (see Open and ReadAt).
// Blocks of `block_bytes` are kept, the most recently used `cached_blocks` of them, so that
// FFmpeg's small reads and seeks back cost one request per block.
//
// Thread safety: one reader at a time (not thread-safe).
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "core/byte_source.h"
#include "net/http_client.h"

namespace podfleet {

struct RangeSourceOptions {
  int64_t block_bytes = 256 * 1024;
  // 8 MiB: an M4A's moov (about 1 MB per audio-hour) read when the file is opened is still here
  // when it is opened again for the next stretch.
  int cached_blocks = 32;
  Millis timeout{60'000};  // per request
  // Extra request headers (a coordinator's token for its own media): sent to the URL's host only,
  // dropped when a redirect leads elsewhere.
  std::vector<std::pair<std::string, std::string>> headers;
  // As ClientRequest::allow_address: the addresses requests may connect to.
  std::function<bool(const sockaddr*)> allow_address;
  // Once a stop is requested (a worker that lost the chunk's lease), a read that needs a block not
  // yet fetched fails with kUnavailable "stopped" instead of asking the origin: a decode of the
  // source ends within a block.
  std::stop_token stop;
};

// What a RangeSource fetched so far.
struct RangeTraffic {
  int64_t requests = 0;
  int64_t bytes = 0;  // body bytes received
};

class RangeSource : public ByteSource {
 public:
  // Asks `url` for its first block to learn its size and that it serves ranges. Errors:
  // kNotFound for 404/410; kInvalidArgument "...: the origin ignores Range" (a 200),
  // "...: the origin refuses Range (HTTP 416)" and other 4xx; kUnavailable for 5xx and transport
  // failures; kCorruption when the answer's Content-Range or length disagrees with what was asked.
  // `http` must outlive the source.
  static Result<std::unique_ptr<RangeSource>> Open(HttpClient& http, std::string url,
                                                   RangeSourceOptions options = {});

  Result<size_t> ReadAt(int64_t offset, std::span<unsigned char> buffer) override;
  int64_t size() const override { return size_; }
  const std::string& name() const override { return url_; }
  // Where the bytes come from: the URL after the first answer's redirects (a podcast's tracking
  // prefixes and CDN hops are followed once, not for every block).
  const std::string& location() const { return location_; }

  RangeTraffic traffic() const { return traffic_; }

 private:
  RangeSource(HttpClient& http, std::string url, RangeSourceOptions options);
  // Block `index`, fetched unless cached.
  Result<const std::string*> Block(int64_t index);
  // Asks for bytes [from, to] (inclusive); `total` the size known, or -1 on the first request,
  // which follows redirects (up to 10) and keeps where they led in location_.
  Result<std::string> Fetch(int64_t from, int64_t to, int64_t& total);

  HttpClient& http_;
  const std::string url_;
  std::string location_;  // url_ after redirects, set by the first answer
  const RangeSourceOptions options_;
  int64_t size_ = 0;
  std::list<std::pair<int64_t, std::string>> cache_;  // most recently used first
  RangeTraffic traffic_;
};

// "bytes FROM-TO/TOTAL" -> {FROM, TO, TOTAL}; TOTAL "*" (unknown) or anything malformed: nullopt.
struct ContentRange {
  int64_t from = 0;
  int64_t to = 0;
  int64_t total = 0;
};
std::optional<ContentRange> ParseContentRange(std::string_view header);

}  // namespace podfleet
