// A Clock that moves only when told: tests drive lease expiry, backoff and scheduling with it
// instead of sleeping. Safe for concurrent use, like every Clock.
#pragma once

#include <atomic>
#include <cstdint>

#include "core/clock.h"

namespace podfleet {

class ManualClock final : public Clock {
 public:
  // Starts at 2026-01-01T00:00:00Z, so times in test output read as dates.
  explicit ManualClock(TimePoint start = FromUnixMillis(1'767'225'600'000))
      : now_ms_(ToUnixMillis(start)) {}

  TimePoint Now() const override { return FromUnixMillis(now_ms_.load()); }
  void Advance(Millis by) { now_ms_ += by.count(); }
  void Set(TimePoint t) { now_ms_ = ToUnixMillis(t); }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace podfleet
