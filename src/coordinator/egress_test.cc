#include "coordinator/egress.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>

#include "support/manual_clock.h"

namespace podfleet {
namespace {

constexpr std::chrono::seconds kPatience{10};

TEST(EgressPacer, NoLimitSendsAtOnce) {
  ManualClock clock;
  EgressPacer pacer(0, clock);
  bool sent = false;
  pacer.Send(1 << 30, [&] { sent = true; });
  EXPECT_TRUE(sent);
}

TEST(EgressPacer, ReleasesInOrderAtTheRate) {
  ManualClock clock;
  EgressPacer pacer(1'000'000, clock);  // 1 MB/s
  std::atomic<int> sent{0};
  std::promise<void> first, second;
  pacer.Send(100'000, [&] {
    ++sent;
    first.set_value();
  });
  pacer.Send(200'000, [&] {
    ++sent;
    second.set_value();
  });
  // 0.1 s for the first 100 kB, 0.3 s for all 300 kB. Before its time a response cannot go.
  clock.Advance(Millis(99));
  EXPECT_EQ(sent.load(), 0);
  clock.Advance(Millis(1));
  ASSERT_EQ(first.get_future().wait_for(kPatience), std::future_status::ready);
  clock.Advance(Millis(199));
  EXPECT_EQ(sent.load(), 1);
  clock.Advance(Millis(1));
  ASSERT_EQ(second.get_future().wait_for(kPatience), std::future_status::ready);
  EXPECT_EQ(sent.load(), 2);
}

TEST(EgressPacer, AnIdleLinkStartsAfresh) {
  ManualClock clock;
  EgressPacer pacer(1'000, clock);  // 1 kB/s
  std::promise<void> first, second;
  pacer.Send(1'000, [&] { first.set_value(); });
  clock.Advance(Millis(1'000));
  ASSERT_EQ(first.get_future().wait_for(kPatience), std::future_status::ready);
  clock.Advance(Millis(60'000));  // idle: the link's spare time is not saved up
  std::atomic<bool> sent{false};
  pacer.Send(500, [&] {
    sent = true;
    second.set_value();
  });
  clock.Advance(Millis(499));
  EXPECT_FALSE(sent.load());
  clock.Advance(Millis(1));
  ASSERT_EQ(second.get_future().wait_for(kPatience), std::future_status::ready);
}

TEST(EgressPacer, StopReleasesWhatWaits) {
  ManualClock clock;
  auto pacer = std::make_unique<EgressPacer>(1, clock);  // 1 byte a second
  std::atomic<int> sent{0};
  pacer->Send(1'000'000, [&] { ++sent; });
  pacer->Stop();
  EXPECT_EQ(sent.load(), 1);
  pacer->Send(10, [&] { ++sent; });
  EXPECT_EQ(sent.load(), 2);
}

}  // namespace
}  // namespace podfleet
