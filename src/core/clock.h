// The clock interface. Every component that reads time takes a Clock, so tests can drive lease
// expiry, backoff and scheduling with a ManualClock (tests/support) instead of sleeping: periodic
// loops wait through WaitUntil, which a ManualClock ends when a test advances it.
// Implementations are safe for concurrent use.
#pragma once

#include <chrono>
#include <stop_token>

#include "core/units.h"

namespace podfleet {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
  // Waits until Now() reaches `deadline` or `stop` is requested; false when stopped. The default
  // sleeps in real time in short steps, re-reading Now(), so it suits any clock; clocks that can
  // tell when they move (ManualClock) wake at once instead.
  virtual bool WaitUntil(TimePoint deadline, const std::stop_token& stop) const;
};

// Wall-clock time (std::chrono::system_clock).
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override;
  bool WaitUntil(TimePoint deadline, const std::stop_token& stop) const override;
  // The process-wide instance.
  static const SystemClock& Get();
};

// Sleeps for `duration` of real time unless `stop` is requested first; false when stopped.
bool SleepFor(std::chrono::steady_clock::duration duration, const std::stop_token& stop);

}  // namespace podfleet
