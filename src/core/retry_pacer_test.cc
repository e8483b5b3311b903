#include "core/retry_pacer.h"

#include <gtest/gtest.h>

namespace podfleet {
namespace {

TEST(RetryPacer, DoublesWithJitterUpToTheCap) {
  RetryPacer pacer("test", Millis(100), Millis(1'000));
  const Error e{Code::kUnavailable, "disk full"};
  const int64_t bounds[] = {100, 200, 400, 800, 1'000, 1'000};
  for (int64_t b : bounds) {
    const Millis d = pacer.Failed(e);
    EXPECT_GE(d.count(), b / 2);
    EXPECT_LE(d.count(), b * 3 / 2);
  }
  pacer.Succeeded();
  EXPECT_LE(pacer.Failed(e).count(), 150);
}

TEST(RetryPacer, LogsTheFirstFailureAndChangesNotRepeats) {
  RetryPacer pacer("test", Millis(1), Millis(1));
  for (int i = 0; i < 1'000; ++i) pacer.Failed({Code::kUnavailable, "disk full"});
  EXPECT_EQ(pacer.logged(), 1);
  pacer.Failed({Code::kUnavailable, "database is locked"});
  EXPECT_EQ(pacer.logged(), 2);
  pacer.Succeeded();  // "recovered after 1001 failures"
  EXPECT_EQ(pacer.logged(), 3);
  EXPECT_EQ(pacer.failures(), 0);
}

}  // namespace
}  // namespace podfleet
