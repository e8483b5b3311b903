#include "support/stream_origin.h"

#include <fmt/format.h>

#include <algorithm>

namespace podfleet {
namespace {

constexpr size_t kPiece = 4096;

// N of a "Range: bytes=N-" header, 0 without one.
int64_t RangeStart(const std::string& head) {
  std::string lower(head);
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  const size_t at = lower.find("\r\nrange: bytes=");
  if (at == std::string::npos) return 0;
  return std::stoll(head.substr(at + 15));
}

}  // namespace

StreamOrigin::StreamOrigin(std::string body)
    : body_(std::move(body)),
      server_(std::make_unique<LoopbackServer>("stream origin", [this](int fd) { Answer(fd); })) {}

StreamOrigin::~StreamOrigin() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();  // a held answer returns
  server_.reset();
}

std::string StreamOrigin::Url() const {
  return fmt::format("http://127.0.0.1:{}/audio", server_->port());
}

void StreamOrigin::HoldAt(int64_t offset) {
  MutexLock lock(mu_);
  hold_at_ = offset;
}

void StreamOrigin::Release() {
  {
    MutexLock lock(mu_);
    hold_at_ = -1;
  }
  changed_.notify_all();
}

void StreamOrigin::CutAt(int64_t offset, int responses) {
  MutexLock lock(mu_);
  cut_at_ = offset;
  cuts_left_ = responses;
}

bool StreamOrigin::holding() const {
  MutexLock lock(mu_);
  return holding_;
}

int StreamOrigin::requests() const {
  MutexLock lock(mu_);
  return requests_;
}

void StreamOrigin::Answer(int fd) {
  const std::string head = ReadHead(fd);
  if (head.empty()) return;
  const auto size = static_cast<int64_t>(body_.size());
  const int64_t from = std::min(RangeStart(head), size);
  int64_t end = size;
  {
    MutexLock lock(mu_);
    ++requests_;
    if (cuts_left_ > 0) {
      --cuts_left_;
      end = std::max(from, cut_at_);
    }
  }
  const std::string status =
      from > 0 ? fmt::format("206 Partial Content\r\nContent-Range: bytes {}-{}/{}", from, size - 1,
                             size)
               : "200 OK";
  if (!SendAll(fd, fmt::format("HTTP/1.1 {}\r\nContent-Type: audio/mpeg\r\nContent-Length: "
                               "{}\r\nConnection: close\r\n\r\n",
                               status, size - from)))
    return;
  for (int64_t at = from; at < end;) {
    {
      MutexLock lock(mu_);
      while (hold_at_ >= 0 && at >= hold_at_ && !stopping_) {
        holding_ = true;
        changed_.wait(lock);
      }
      holding_ = false;
      if (stopping_) return;
    }
    const int64_t n = std::min<int64_t>(static_cast<int64_t>(kPiece), end - at);
    if (!SendAll(fd,
                 std::string_view(body_).substr(static_cast<size_t>(at), static_cast<size_t>(n))))
      return;
    at += n;
  }
}

}  // namespace podfleet
