#include "coordinator/egress.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>

namespace podfleet {
namespace {

using Steady = std::chrono::steady_clock;

TEST(EgressPacer, NoLimitSendsAtOnce) {
  EgressPacer pacer(0);
  bool sent = false;
  pacer.Send(1 << 30, [&] { sent = true; });
  EXPECT_TRUE(sent);
}

TEST(EgressPacer, ReleasesInOrderAtTheRate) {
  EgressPacer pacer(1'000'000);  // 1 MB/s
  const auto start = Steady::now();
  std::promise<Steady::time_point> first, second;
  pacer.Send(100'000, [&] { first.set_value(Steady::now()); });
  pacer.Send(200'000, [&] { second.set_value(Steady::now()); });
  const auto a = first.get_future().get() - start;
  const auto b = second.get_future().get() - start;
  // 0.1 s for the first 100 kB, 0.3 s for all 300 kB; a loaded machine may only be late.
  EXPECT_GE(a, std::chrono::milliseconds(95));
  EXPECT_GE(b, std::chrono::milliseconds(295));
  EXPECT_LT(b, std::chrono::milliseconds(2'000));
  EXPECT_LT(a, b);
}

TEST(EgressPacer, StopReleasesWhatWaits) {
  auto pacer = std::make_unique<EgressPacer>(1);  // 1 byte a second
  std::atomic<int> sent{0};
  pacer->Send(1'000'000, [&] { ++sent; });
  pacer->Stop();
  EXPECT_EQ(sent.load(), 1);
  pacer->Send(10, [&] { ++sent; });
  EXPECT_EQ(sent.load(), 2);
}

}  // namespace
}  // namespace podfleet
