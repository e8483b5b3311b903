// The clock interface. Every component that reads time takes a Clock, so tests can drive lease
// expiry, backoff and scheduling with a ManualClock (tests/support) instead of sleeping.
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
};

// Wall-clock time (std::chrono::system_clock).
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override;
  // The process-wide instance.
  static const SystemClock& Get();
};

// Sleeps for `duration` of real time unless `stop` is requested first; false when stopped.
bool SleepFor(std::chrono::steady_clock::duration duration, const std::stop_token& stop);

}  // namespace podfleet
