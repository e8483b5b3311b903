// A Clock that moves only when told: tests drive lease expiry, backoff and scheduling with it
// instead of sleeping. WaitUntil returns as soon as Advance or Set reaches the deadline. Safe for
// concurrent use, like every Clock.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>

#include "core/clock.h"
#include "core/thread_annotations.h"

namespace podfleet {

class ManualClock final : public Clock {
 public:
  // Starts at 2026-01-01T00:00:00Z, so times in test output read as dates.
  explicit ManualClock(TimePoint start = FromUnixMillis(1'767'225'600'000))
      : now_ms_(ToUnixMillis(start)) {}

  TimePoint Now() const override { return FromUnixMillis(now_ms_.load()); }
  bool WaitUntil(TimePoint deadline, const std::stop_token& stop) const override {
    MutexLock lock(mu_);
    moved_.wait(lock, stop, [&] { return Now() >= deadline; });
    return !stop.stop_requested();
  }
  void Advance(Millis by) {
    now_ms_ += by.count();
    Moved();
  }
  void Set(TimePoint t) {
    now_ms_ = ToUnixMillis(t);
    Moved();
  }

 private:
  void Moved() {
    MutexLock lock(mu_);  // a waiter between its check and its wait cannot miss the change
    moved_.notify_all();
  }

  std::atomic<int64_t> now_ms_;
  mutable Mutex mu_;
  mutable std::condition_variable_any moved_;
};

}  // namespace podfleet
