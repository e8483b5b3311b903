#include "core/clock.h"

#include <algorithm>
#include <mutex>
#include <utility>

namespace podfleet {

void Wakeup::Notify() {
  MutexLock lock(mu_);
  notified_ = true;
  cv_.notify_all();
}

void Wakeup::Poke() {
  MutexLock lock(mu_);  // a waiter between its check and its wait cannot miss the poke
  cv_.notify_all();
}

bool Wakeup::Wait(std::chrono::steady_clock::duration limit, const std::stop_token& stop,
                  const std::function<bool()>& ready) {
  MutexLock lock(mu_);
  cv_.wait_for(lock, stop, limit, [&]() REQUIRES(mu_) { return notified_ || (ready && ready()); });
  return std::exchange(notified_, false);
}

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

bool Clock::WaitUntil(TimePoint deadline, const std::stop_token& stop, Wakeup& wakeup) const {
  constexpr Millis kStep{50};
  for (TimePoint now = Now(); now < deadline && !stop.stop_requested(); now = Now()) {
    if (wakeup.Wait(std::min<Millis>(deadline - now, kStep), stop)) break;
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

bool SystemClock::WaitUntil(TimePoint deadline, const std::stop_token& stop, Wakeup& wakeup) const {
  // Periodic loops wait for "now plus their period": a wall clock set back while they wait must
  // not stretch that by the step, so the wait also ends once its span has passed in steady time.
  using Steady = std::chrono::steady_clock;
  const Steady::time_point span_ends = Steady::now() + (deadline - Now());
  for (TimePoint now = Now(); now < deadline && !stop.stop_requested(); now = Now()) {
    const Steady::duration left = span_ends - Steady::now();
    if (left <= Steady::duration::zero()) break;
    if (wakeup.Wait(std::min<Steady::duration>(left, deadline - now), stop)) break;
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
