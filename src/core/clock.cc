#include "core/clock.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>

namespace podfleet {

TimePoint SystemClock::Now() const {
  return std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now());
}

bool Clock::WaitUntil(TimePoint deadline, const std::stop_token& stop) const {
  constexpr Millis kStep{50};
  for (TimePoint now = Now(); now < deadline; now = Now()) {
    if (!SleepFor(std::min<Millis>(deadline - now, kStep), stop)) return false;
  }
  return !stop.stop_requested();
}

bool SystemClock::WaitUntil(TimePoint deadline, const std::stop_token& stop) const {
  // The wall clock may be set back: each sleep is for what is left by the clock as read now.
  for (TimePoint now = Now(); now < deadline; now = Now()) {
    if (!SleepFor(deadline - now, stop)) return false;
  }
  return !stop.stop_requested();
}

const SystemClock& SystemClock::Get() {
  static const SystemClock clock;
  return clock;
}

bool SleepFor(std::chrono::steady_clock::duration duration, const std::stop_token& stop) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  cv.wait_for(lock, stop, duration, [] { return false; });
  return !stop.stop_requested();
}

}  // namespace podfleet
