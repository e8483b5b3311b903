// An audio origin for tests of downloads read while they come: a real HTTP/1.1 server on
// loopback (one connection at a time) serving one file's bytes at /audio, honouring
// "Range: bytes=N-" with 206. On demand it holds a response at a byte offset until released, or
// closes the connection at an offset while announcing the whole length (a transfer cut short).
// Thread-safe; the destructor releases what it holds and stops.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <string>

#include "core/thread_annotations.h"
#include "support/loopback_server.h"

namespace podfleet {

class StreamOrigin {
 public:
  // Serves `body`; throws std::runtime_error if it cannot listen.
  explicit StreamOrigin(std::string body);
  ~StreamOrigin();
  StreamOrigin(const StreamOrigin&) = delete;
  StreamOrigin& operator=(const StreamOrigin&) = delete;

  std::string Url() const;
  // Responses pause at byte `offset` of the body until Release.
  void HoldAt(int64_t offset) EXCLUDES(mu_);
  void Release() EXCLUDES(mu_);
  // The next `responses` responses end at byte `offset` of the body (the connection closed).
  void CutAt(int64_t offset, int responses) EXCLUDES(mu_);
  // Whether a response is waiting at the hold now.
  bool holding() const EXCLUDES(mu_);
  int requests() const EXCLUDES(mu_);

 private:
  void Answer(int fd);

  const std::string body_;
  mutable Mutex mu_;
  std::condition_variable_any changed_;
  bool stopping_ GUARDED_BY(mu_) = false;
  int64_t hold_at_ GUARDED_BY(mu_) = -1;
  bool holding_ GUARDED_BY(mu_) = false;
  int64_t cut_at_ GUARDED_BY(mu_) = -1;
  int cuts_left_ GUARDED_BY(mu_) = 0;
  int requests_ GUARDED_BY(mu_) = 0;
  std::unique_ptr<LoopbackServer> server_;  // last: serves once the rest is set
};

}  // namespace podfleet
