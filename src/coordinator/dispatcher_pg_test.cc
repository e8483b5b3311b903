// Two coordinators' dispatchers on one PostgreSQL database: a claim parked on one is served when
// the other queues work, through LISTEN/NOTIFY (store/coordination.h).
#include <gtest/gtest.h>

#include <future>

#include "coordinator/dispatcher.h"
#include "store/coordination.h"
#include "store/store_test_util.h"
#include "support/manual_clock.h"
#include "support/pg_server.h"

namespace podfleet {
namespace {

constexpr Millis kLease{60'000};

TEST(PgDispatcher, ClaimParkedOnOneCoordinatorIsServedWhenAnotherQueues) {
  const std::string url = NewPgDatabase();
  auto a = Must(OpenPgStore(url));
  auto b = Must(OpenPgStore(url));
  // The clock never moves: the dispatcher's periodic re-check never runs, so only the
  // notification can serve the parked claim.
  ManualClock clock;
  Dispatcher on_b(*b, clock, kLease);
  auto listener = Must(ListenForWork(url, [&] { on_b.Notify(); }));

  std::promise<Result<std::vector<Grant>>> answered;
  on_b.Claim(NodeId(1), 1, Millis(10 * 60'000),
             [&](Result<std::vector<Grant>> r) { answered.set_value(std::move(r)); });
  auto answer = answered.get_future();
  ASSERT_EQ(on_b.parked(), 1u);
  ASSERT_EQ(answer.wait_for(std::chrono::seconds(0)), std::future_status::timeout);

  const EpisodeId queued =
      Must(a->AddEpisodes(std::nullopt, {TestEpisode("on a")}, clock.Now()))[0];
  // A real-time limit only so that a broken build fails instead of hanging.
  ASSERT_EQ(answer.wait_for(std::chrono::seconds(60)), std::future_status::ready);
  std::vector<Grant> grants = Must(answer.get());
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_EQ(grants[0].episode.id, queued);
  EXPECT_EQ(on_b.parked(), 0u);
  on_b.Stop();
}

}  // namespace
}  // namespace podfleet
