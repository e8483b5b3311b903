#include "coordinator/dispatcher.h"

#include <gtest/gtest.h>

#include <future>

#include "store/store_test_util.h"
#include "support/manual_clock.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

constexpr Millis kWait{10 * 60'000};

// A worker claiming ahead (it has work) while another waits, parked, for work: the job that
// appears goes to the one that waited, not to the claim that came after it. (Before, the later
// claim looked in the store at once and took it, and an idle worker could wait seconds while a
// busy one held a long episode's chunks.)
TEST(Dispatcher, AClaimDoesNotOvertakeAParkedOne) {
  TempDir dir;
  auto store = Must(OpenSqliteStore(dir.File("podfleet.db")));
  // The clock never moves: only Notify and claims wake the dispatcher.
  ManualClock clock;
  Dispatcher dispatcher(*store, clock, Millis(60'000));
  std::promise<Result<std::vector<Grant>>> idle;
  dispatcher.Claim(NodeId(1), 1, kWait,
                   [&](Result<std::vector<Grant>> r) { idle.set_value(std::move(r)); });
  ASSERT_EQ(dispatcher.parked(), 1u);

  // Work appears; the claim from another worker comes before the dispatcher is told.
  const EpisodeId queued =
      Must(store->AddEpisodes(std::nullopt, {TestEpisode("one")}, clock.Now()))[0];
  std::promise<Result<std::vector<Grant>>> ahead;
  dispatcher.Claim(NodeId(2), 1, kWait,
                   [&](Result<std::vector<Grant>> r) { ahead.set_value(std::move(r)); });
  dispatcher.Notify();

  auto first = idle.get_future();
  // A real-time limit only so that a broken build fails instead of hanging.
  ASSERT_EQ(first.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  std::vector<Grant> grants = Must(first.get());
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_EQ(grants[0].episode.id, queued);
  auto second = ahead.get_future();
  EXPECT_EQ(second.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  dispatcher.Stop();
  ASSERT_EQ(second.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  EXPECT_TRUE(Must(second.get()).empty());
}

}  // namespace
}  // namespace podfleet
