// EgressPacer: keeps the audio the coordinator serves under a byte rate, as a FIFO link of that
// speed would: a response of `bytes` is released when the link would have finished carrying it
// after everything released before it. With no limit, responses go at once.
//
// Thread safety: Send may be called from any thread; `send` callbacks run on the pacer's thread
// (or the caller's, with no limit) and must not block for long.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "core/clock.h"
#include "core/thread_annotations.h"

namespace podfleet {

class EgressPacer {
 public:
  // `bytes_per_second` <= 0: no limit.
  explicit EgressPacer(int64_t bytes_per_second);
  ~EgressPacer();
  EgressPacer(const EgressPacer&) = delete;
  EgressPacer& operator=(const EgressPacer&) = delete;

  // Calls `send` once `bytes` fit under the rate. After Stop, at once.
  void Send(int64_t bytes, std::function<void()> send);
  // Releases everything waiting and stops the thread. Idempotent.
  void Stop();

 private:
  using Steady = std::chrono::steady_clock;
  struct Waiting {
    Steady::time_point due;
    std::function<void()> send;
  };
  void Loop();

  // Constant after construction.
  const int64_t rate_;

  Mutex mu_;
  std::condition_variable_any changed_;
  std::deque<Waiting> waiting_ GUARDED_BY(mu_);   // due times never decrease
  Steady::time_point link_free_ GUARDED_BY(mu_);  // when the link has carried all released so far
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace podfleet
