#include "support/range_origin.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

namespace podfleet {
namespace {

// [FROM, TO] of a "Range: bytes=FROM-TO" header (TO clipped to the body), or of "bytes=FROM-".
std::optional<std::pair<int64_t, int64_t>> RangeOf(const std::string& head, int64_t size) {
  std::string lower(head);
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  const size_t at = lower.find("\r\nrange: bytes=");
  if (at == std::string::npos) return std::nullopt;
  const std::string spec = head.substr(at + 15, head.find("\r\n", at + 2) - at - 15);
  const size_t dash = spec.find('-');
  const int64_t from = std::stoll(spec.substr(0, dash));
  int64_t to = size - 1;
  if (dash + 1 < spec.size()) to = std::min<int64_t>(to, std::stoll(spec.substr(dash + 1)));
  return std::pair{from, to};
}

}  // namespace

RangeOrigin::RangeOrigin(std::string body, Mode mode)
    : body_(std::move(body)),
      mode_(mode),
      server_(std::make_unique<LoopbackServer>("range origin", [this](int fd) { Answer(fd); })) {}

std::string RangeOrigin::Url() const {
  return fmt::format("http://127.0.0.1:{}/audio", server_->port());
}

void RangeOrigin::set_mode(Mode mode) {
  MutexLock lock(mu_);
  mode_ = mode;
}

void RangeOrigin::set_hop_to(std::string location) {
  MutexLock lock(mu_);
  hop_to_ = std::move(location);
}

int RangeOrigin::authorized() const {
  MutexLock lock(mu_);
  return authorized_;
}

int RangeOrigin::requests() const {
  MutexLock lock(mu_);
  return requests_;
}

int RangeOrigin::redirects() const {
  MutexLock lock(mu_);
  return redirects_;
}

int64_t RangeOrigin::bytes_sent() const {
  MutexLock lock(mu_);
  return bytes_sent_;
}

void RangeOrigin::Answer(int fd) {
  const std::string head = ReadHead(fd);
  if (head.empty()) return;
  const auto size = static_cast<int64_t>(body_.size());
  std::string lower(head);
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  Mode mode;
  std::string hop_to;
  {
    MutexLock lock(mu_);
    ++requests_;
    if (lower.find("\r\nauthorization:") != std::string::npos) ++authorized_;
    mode = mode_;
    hop_to = hop_to_;
  }
  if (head.starts_with("GET /hop ")) {
    {
      MutexLock lock(mu_);
      ++redirects_;
    }
    SendAll(fd, fmt::format("HTTP/1.1 302 Found\r\nLocation: {}\r\nContent-Length: 0\r\n"
                            "Connection: close\r\n\r\n",
                            hop_to));
    return;
  }
  const auto range = RangeOf(head, size);
  int64_t from = 0, to = size - 1;
  std::string status = "200 OK";
  std::string extra;
  int64_t content_length = size;
  if (range && mode != Mode::kIgnore) {
    std::tie(from, to) = *range;
    if (mode == Mode::kRefuse416 || from >= size) {
      status = "416 Range Not Satisfiable";
      extra = fmt::format("Content-Range: bytes */{}\r\n", size);
      from = 0, to = -1, content_length = 0;
    } else if (mode == Mode::kRefuse403) {
      status = "403 Forbidden";
      from = 0, to = -1, content_length = 0;
    } else {
      status = "206 Partial Content";
      const int64_t shown = mode == Mode::kWrongRange ? from + 1 : from;
      extra = fmt::format("Content-Range: bytes {}-{}/{}\r\n", shown,
                          std::min(shown + (to - from), size - 1), size);
      content_length = to - from + 1;
      if (mode == Mode::kShortBody) {
        content_length = to - from + 1;
        to = from + (to - from) / 2;  // announced all, sends half, closes
      } else if (mode == Mode::kLongBody) {
        to = std::min(to + 4096, size - 1);
        content_length = to - from + 1;
      }
    }
  }
  if (!SendAll(fd, fmt::format("HTTP/1.1 {}\r\nContent-Type: audio/mpeg\r\n{}Content-Length: "
                               "{}\r\nConnection: close\r\n\r\n",
                               status, extra, content_length)))
    return;
  if (to < from) return;
  const std::string_view bytes =
      std::string_view(body_).substr(static_cast<size_t>(from), static_cast<size_t>(to - from + 1));
  if (!SendAll(fd, bytes)) return;
  MutexLock lock(mu_);
  bytes_sent_ += static_cast<int64_t>(bytes.size());
}

}  // namespace podfleet
