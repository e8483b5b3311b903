// The clock interface. Every component that reads time takes a Clock, so tests can drive lease
// expiry, backoff and scheduling with a ManualClock (tests/support) instead of sleeping: periodic
// loops wait through WaitUntil, which a ManualClock ends when a test advances it.
// Implementations are safe for concurrent use.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <stop_token>

#include "core/thread_annotations.h"
#include "core/units.h"

namespace podfleet {

// A wake-up call for a thread that waits through a Clock: Notify ends its current wait, or its
// next one if it is not waiting. Notifications do not count: several before a wait end that one
// wait. One Wakeup serves one waiting thread. Safe for concurrent use.
class Wakeup {
 public:
  Wakeup() = default;
  Wakeup(const Wakeup&) = delete;
  Wakeup& operator=(const Wakeup&) = delete;

  void Notify() EXCLUDES(mu_);

  // For Clock implementations. Waits until notified (and takes the notification), `ready()` holds,
  // `stop` is requested or `limit` of real time passes. True when notified; `ready` is checked
  // with the Wakeup's lock held, so a Poke after the state it reads changed cannot be missed.
  bool Wait(std::chrono::steady_clock::duration limit, const std::stop_token& stop,
            const std::function<bool()>& ready = {}) EXCLUDES(mu_);
  // For Clock implementations: makes a waiter check its `ready` again (the clock moved).
  void Poke() EXCLUDES(mu_);

 private:
  Mutex mu_;
  std::condition_variable_any cv_;
  bool notified_ GUARDED_BY(mu_) = false;
};

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
  // Waits until Now() reaches `deadline` or `stop` is requested; false when stopped. The default
  // sleeps in real time in short steps, re-reading Now(), so it suits any clock; clocks that can
  // tell when they move (ManualClock) wake at once instead.
  virtual bool WaitUntil(TimePoint deadline, const std::stop_token& stop) const;
  // The same, also ended early by `wakeup.Notify()`: how a loop waits for its next periodic check
  // or for news, whichever comes first. False when stopped.
  virtual bool WaitUntil(TimePoint deadline, const std::stop_token& stop, Wakeup& wakeup) const;
};

// Wall-clock time (std::chrono::system_clock).
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override;
  bool WaitUntil(TimePoint deadline, const std::stop_token& stop) const override;
  bool WaitUntil(TimePoint deadline, const std::stop_token& stop, Wakeup& wakeup) const override;
  // The process-wide instance.
  static const SystemClock& Get();
};

// Sleeps for `duration` of real time unless `stop` is requested first; false when stopped.
bool SleepFor(std::chrono::steady_clock::duration duration, const std::stop_token& stop);

}  // namespace podfleet
