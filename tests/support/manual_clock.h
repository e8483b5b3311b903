// A Clock that moves only when told: tests drive lease expiry, backoff and scheduling with it
// instead of sleeping. WaitUntil returns as soon as Advance or Set reaches the deadline (or, for
// the wait with a Wakeup, as soon as it is notified). Safe for concurrent use, like every Clock.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <set>

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
    auto waiting = deadlines_.insert(deadline);
    moved_.notify_all();  // for AdvanceAndSettle
    moved_.wait(lock, stop, [&] { return Now() >= deadline; });
    deadlines_.erase(waiting);
    return !stop.stop_requested();
  }
  bool WaitUntil(TimePoint deadline, const std::stop_token& stop, Wakeup& wakeup) const override {
    std::multiset<TimePoint>::iterator waiting;
    {
      MutexLock lock(mu_);
      ++waits_;
      wakeups_.insert(&wakeup);
      waiting = deadlines_.insert(deadline);
    }
    moved_.notify_all();  // for WaitForWaits and AdvanceAndSettle
    // Real time is no bound here: only Advance, Set, a notification or `stop` end the wait.
    while (!wakeup.Wait(std::chrono::hours(1), stop, [&] { return Now() >= deadline; }) &&
           Now() < deadline && !stop.stop_requested()) {
    }
    MutexLock lock(mu_);
    wakeups_.erase(&wakeup);
    deadlines_.erase(waiting);
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
  // Advances the clock, then blocks until as many threads as were waiting on it before wait again
  // for a later time: the periodic loops the advance woke have made their pass (bounded by 10 s of
  // real time, so a loop stuck in its pass fails the test's checks rather than hanging it). A
  // thread that was busy before and begins a wait meanwhile counts too.
  void AdvanceAndSettle(Millis by) {
    size_t before = 0;
    {
      MutexLock lock(mu_);
      before = deadlines_.size();
    }
    Advance(by);
    MutexLock lock(mu_);
    moved_.wait_for(lock, std::chrono::seconds(10), [&]() REQUIRES(mu_) {
      const TimePoint now = Now();
      return static_cast<size_t>(std::count_if(deadlines_.begin(), deadlines_.end(),
                                               [&](TimePoint d) { return d > now; })) >= before;
    });
  }
  // Blocks until waits through a Wakeup have begun `count` times in all since construction: a
  // test that advances the clock after it knows its loop is waiting on it, rather than sleeping.
  void WaitForWaits(int64_t count) const {
    MutexLock lock(mu_);
    moved_.wait(lock, [&]() REQUIRES(mu_) { return waits_ >= count; });
  }
  // Blocks until `count` threads wait on the clock at once (through either WaitUntil): the loops a
  // test starts are all in place before it advances the clock.
  void WaitForWaiting(size_t count) const {
    MutexLock lock(mu_);
    moved_.wait(lock, [&]() REQUIRES(mu_) { return deadlines_.size() >= count; });
  }
  int64_t waits() const {
    MutexLock lock(mu_);
    return waits_;
  }

 private:
  void Moved() {
    MutexLock lock(mu_);  // a waiter between its check and its wait cannot miss the change
    moved_.notify_all();
    for (Wakeup* w : wakeups_) w->Poke();
  }

  std::atomic<int64_t> now_ms_;
  mutable Mutex mu_;
  mutable std::condition_variable_any moved_;
  mutable std::set<Wakeup*> wakeups_ GUARDED_BY(mu_);
  mutable int64_t waits_ GUARDED_BY(mu_) = 0;
  mutable std::multiset<TimePoint> deadlines_ GUARDED_BY(mu_);  // of the waits under way
};

}  // namespace podfleet
