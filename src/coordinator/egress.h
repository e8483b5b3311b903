// EgressPacer: keeps the audio the coordinator serves under a byte rate, as a FIFO link of that
// speed would: a response of `bytes` is released when the link would have finished carrying it
// after everything released before it. With no limit, responses go at once. Time is the Clock's:
// a test advances a ManualClock to release what waits.
//
// Thread safety: Send may be called from any thread; `send` callbacks run on the pacer's thread
// (or the caller's, with no limit) and must not block for long.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <thread>

#include "core/clock.h"
#include "core/thread_annotations.h"

namespace podfleet {

class EgressPacer {
 public:
  // `bytes_per_second` <= 0: no limit. `clock` must outlive the pacer.
  EgressPacer(int64_t bytes_per_second, const Clock& clock);
  ~EgressPacer();
  EgressPacer(const EgressPacer&) = delete;
  EgressPacer& operator=(const EgressPacer&) = delete;

  // Calls `send` once `bytes` fit under the rate. After Stop, at once.
  void Send(int64_t bytes, std::function<void()> send);
  // Releases everything waiting and stops the thread. Idempotent.
  void Stop();

 private:
  // Finer than TimePoint: a small response carries in well under a millisecond.
  using Micros = std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds>;
  struct Waiting {
    Micros due;
    std::function<void()> send;
  };
  void Loop(const std::stop_token& stop);
  // The first response that may go now (all of them once stopping); otherwise nothing, and
  // `until` is when to look again.
  std::optional<Waiting> NextDue(TimePoint& until, bool& done) EXCLUDES(mu_);

  // Constant after construction.
  const int64_t rate_;
  const Clock& clock_;

  Mutex mu_;
  Wakeup wakeup_;
  std::deque<Waiting> waiting_ GUARDED_BY(mu_);  // due times never decrease
  Micros link_free_ GUARDED_BY(mu_);             // when the link has carried all released so far
  bool stopping_ GUARDED_BY(mu_) = false;
  std::jthread thread_;
};

}  // namespace podfleet
