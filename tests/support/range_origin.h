// An origin for tests of byte-range reads (net/range_source.h): a real HTTP/1.1 server on
// loopback (one connection at a time) serving one file's bytes at /audio. How it answers a
// "Range: bytes=FROM-TO" request is its Mode: faithfully (206), or as hosts that ignore Range
// (200 and the whole body), refuse it (416 or 403), or lie (a Content-Length longer than the
// bytes sent before closing; a Content-Range for other bytes than asked; more bytes than the
// Content-Range names). /hop redirects to /audio (302, as a podcast's tracking prefix does), or
// wherever set_hop_to says. It counts requests, redirects, requests that carried an Authorization
// header and body bytes sent. Thread-safe; the destructor stops.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/thread_annotations.h"
#include "support/loopback_server.h"

namespace podfleet {

class RangeOrigin {
 public:
  enum class Mode { kHonour, kIgnore, kRefuse416, kRefuse403, kShortBody, kWrongRange, kLongBody };

  // Serves `body`; throws std::runtime_error if it cannot listen.
  explicit RangeOrigin(std::string body, Mode mode = Mode::kHonour);
  RangeOrigin(const RangeOrigin&) = delete;
  RangeOrigin& operator=(const RangeOrigin&) = delete;

  std::string Url() const;
  void set_mode(Mode mode) EXCLUDES(mu_);
  // The Location /hop answers with (absolute, to send a client to another host).
  void set_hop_to(std::string location) EXCLUDES(mu_);
  int requests() const EXCLUDES(mu_);
  int redirects() const EXCLUDES(mu_);
  int authorized() const EXCLUDES(mu_);
  int64_t bytes_sent() const EXCLUDES(mu_);

 private:
  void Answer(int fd);

  const std::string body_;
  mutable Mutex mu_;
  Mode mode_ GUARDED_BY(mu_);
  int requests_ GUARDED_BY(mu_) = 0;
  int redirects_ GUARDED_BY(mu_) = 0;
  int authorized_ GUARDED_BY(mu_) = 0;
  std::string hop_to_ GUARDED_BY(mu_) = "/audio";
  int64_t bytes_sent_ GUARDED_BY(mu_) = 0;
  std::unique_ptr<LoopbackServer> server_;  // last: serves once the rest is set
};

}  // namespace podfleet
