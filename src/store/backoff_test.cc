#include "store/backoff.h"

#include <gtest/gtest.h>

#include <set>

namespace podfleet {
namespace {

TEST(StoreBackoff, DoublesFromTheBaseWithinTwentyPercent) {
  const RetryPolicy policy{
      .max_failures = 30, .base_backoff = Millis(5'000), .max_backoff = Millis(1'000'000'000)};
  for (int64_t job = 1; job <= 50; ++job) {
    for (int failures = 1; failures <= 10; ++failures) {
      const int64_t nominal = 5'000LL << (failures - 1);
      const int64_t delay = BackoffDelay(policy, JobId(job), failures).count();
      EXPECT_GE(delay, nominal * 8 / 10) << "job " << job << " failures " << failures;
      EXPECT_LE(delay, nominal * 12 / 10) << "job " << job << " failures " << failures;
    }
  }
}

TEST(StoreBackoff, CapsAtMaxBackoffBeforeTheSpread) {
  const RetryPolicy policy{
      .max_failures = 5, .base_backoff = Millis(5'000), .max_backoff = Millis(60'000)};
  for (int failures : {5, 10, 63, 64, 1'000'000}) {
    const int64_t delay = BackoffDelay(policy, JobId(3), failures).count();
    EXPECT_GE(delay, 48'000) << failures;
    EXPECT_LE(delay, 72'000) << failures;
  }
}

TEST(StoreBackoff, IsReproducibleButSpreadAcrossJobs) {
  const RetryPolicy policy;
  EXPECT_EQ(BackoffDelay(policy, JobId(7), 2), BackoffDelay(policy, JobId(7), 2));
  std::set<int64_t> delays;
  for (int64_t job = 1; job <= 100; ++job)
    delays.insert(BackoffDelay(policy, JobId(job), 1).count());
  EXPECT_GT(delays.size(), 90u);
  EXPECT_LT(*delays.begin(), 4'500);  // the spread reaches both ends of +-20%
  EXPECT_GT(*delays.rbegin(), 5'500);
}

}  // namespace
}  // namespace podfleet
