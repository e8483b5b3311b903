// The clock interface. Every component that reads time takes a Clock, so tests can drive lease
// expiry, backoff and scheduling with a ManualClock (tests/support) instead of sleeping.
// Implementations are safe for concurrent use.
#pragma once

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

}  // namespace podfleet
