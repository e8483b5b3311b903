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

}  // namespace
}  // namespace podfleet
