#include "core/clock.h"

#include <gtest/gtest.h>

#include <stop_token>
#include <thread>

#include "support/manual_clock.h"

namespace podfleet {
namespace {

TEST(Clock, ManualWaitEndsWhenTheClockReachesTheDeadline) {
  ManualClock clock;
  const TimePoint deadline = clock.Now() + Millis(1'000);
  std::stop_source stop;
  bool reached = false;
  std::thread waiter([&] { reached = clock.WaitUntil(deadline, stop.get_token()); });
  clock.Advance(Millis(400));  // not yet: the waiter keeps waiting
  clock.Advance(Millis(600));
  waiter.join();
  EXPECT_TRUE(reached);
  EXPECT_GE(clock.Now(), deadline);
}

TEST(Clock, WaitEndsFalseWhenStopped) {
  ManualClock manual;
  std::stop_source stop;
  bool reached = true;
  std::thread waiter(
      [&] { reached = manual.WaitUntil(manual.Now() + Millis(60'000), stop.get_token()); });
  stop.request_stop();
  waiter.join();
  EXPECT_FALSE(reached);
  std::stop_source stopped;
  stopped.request_stop();
  const SystemClock& system = SystemClock::Get();
  EXPECT_FALSE(system.WaitUntil(system.Now() + Millis(60'000), stopped.get_token()));
}

TEST(Clock, SystemWaitUntilAPastDeadlineReturnsAtOnce) {
  const SystemClock& clock = SystemClock::Get();
  EXPECT_TRUE(clock.WaitUntil(clock.Now() - Millis(1), std::stop_token()));
}

// A thread waiting a minute of `clock`'s time through `wakeup`, whose wait must answer `expected`;
// returned once the wait has begun.
std::thread WaitingAMinute(ManualClock& clock, const std::stop_source& stop, Wakeup& wakeup,
                           bool expected) {
  const int64_t before = clock.waits();
  std::thread waiter([&clock, token = stop.get_token(), &wakeup, expected] {
    EXPECT_EQ(clock.WaitUntil(clock.Now() + Millis(60'000), token, wakeup), expected);
  });
  clock.WaitForWaits(before + 1);
  return waiter;
}

TEST(Clock, NotifyEndsAWaitEarly) {
  ManualClock manual;
  std::stop_source stop;
  Wakeup wakeup;
  std::thread waiter = WaitingAMinute(manual, stop, wakeup, true);
  wakeup.Notify();
  waiter.join();
  EXPECT_EQ(manual.waits(), 1);  // the clock never moved
}

TEST(Clock, NotifyBeforeTheWaitEndsTheNextWaitOnly) {
  const SystemClock& clock = SystemClock::Get();
  Wakeup wakeup;
  wakeup.Notify();
  wakeup.Notify();  // notifications do not count
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(clock.WaitUntil(clock.Now() + Millis(60'000), std::stop_token(), wakeup));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  EXPECT_FALSE(wakeup.Wait(std::chrono::milliseconds(0), std::stop_token()));
}

TEST(Clock, WaitWithAWakeupEndsWhenTheClockReachesTheDeadline) {
  ManualClock manual;
  std::stop_source stop;
  Wakeup wakeup;
  const TimePoint deadline = manual.Now() + Millis(1'000);
  std::thread waiter([&] { EXPECT_TRUE(manual.WaitUntil(deadline, stop.get_token(), wakeup)); });
  manual.WaitForWaits(1);
  manual.Advance(Millis(999));
  manual.Advance(Millis(1));
  waiter.join();
  EXPECT_GE(manual.Now(), deadline);
}

TEST(Clock, WaitWithAWakeupEndsFalseWhenStopped) {
  ManualClock manual;
  std::stop_source stop;
  Wakeup wakeup;
  std::thread waiter = WaitingAMinute(manual, stop, wakeup, false);
  stop.request_stop();
  waiter.join();
  std::stop_source stopped;
  stopped.request_stop();
  const SystemClock& system = SystemClock::Get();
  EXPECT_FALSE(system.WaitUntil(system.Now() + Millis(60'000), stopped.get_token(), wakeup));
}

}  // namespace
}  // namespace podfleet
