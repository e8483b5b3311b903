// Two coordinators' feed pollers on one PostgreSQL database: one of them polls (the holder of the
// feed polls' advisory lock, store/coordination.h); when it stops, the other takes over.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "coordinator/feed_poller.h"
#include "store/coordination.h"
#include "store/store_test_util.h"
#include "support/feed_origin.h"
#include "support/manual_clock.h"
#include "support/pg_server.h"

namespace podfleet {
namespace {

constexpr Millis kInterval{600'000};
constexpr std::string_view kTask = "poll feeds";

struct Member {
  Member(const std::string& url, HttpClient& http, const Clock& clock)
      : store(Must(OpenPgStore(url))), locks(PgTaskLocks(url)) {
    FeedPollerOptions o;
    o.interval = kInterval;
    o.jitter = 0;
    o.may_sweep = [this] { return locks->Hold(kTask); };
    poller = std::make_unique<FeedPoller>(*store, http, clock, o, nullptr);
  }
  std::unique_ptr<Store> store;
  std::unique_ptr<TaskLocks> locks;
  std::unique_ptr<FeedPoller> poller;
};

TEST(PgFeedPoller, OneOfTwoCoordinatorsPollsEachFeedOncePerIntervalAndTheOtherTakesOver) {
  const std::string url = NewPgDatabase();
  FeedOrigin origin;
  origin.Set(
      "/f.xml",
      Page{.body = "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Show"
                   "</title><item><title>One</title><guid>g1</guid><enclosure "
                   "url=\"/a.mp3\" type=\"audio/mpeg\" length=\"9\"/></item></channel></rss>"});
  auto http = MakeCurlClient(HttpClientOptions{});
  ManualClock clock;
  auto a = std::make_unique<Member>(url, *http, clock);
  Member b(url, *http, clock);
  ASSERT_TRUE(a->locks->Hold(kTask));  // a polls
  ASSERT_TRUE(a->poller->Add(origin.Url("/f.xml"), std::nullopt));
  ASSERT_EQ(origin.seen().size(), 1u);
  clock.WaitForWaiting(2);  // both sweeps wait for the clock

  for (size_t interval = 1; interval <= 3; ++interval) {
    // Every sweep of both pollers has made its pass when AdvanceAndSettle returns.
    clock.AdvanceAndSettle(kInterval);
    EXPECT_EQ(origin.seen().size(), 1 + interval) << "after interval " << interval;
  }

  a.reset();  // stops a's poller, then frees its locks
  clock.AdvanceAndSettle(kInterval);
  EXPECT_EQ(origin.seen().size(), 5u) << "b took over";
  clock.AdvanceAndSettle(kInterval);
  EXPECT_EQ(origin.seen().size(), 6u);
  EXPECT_TRUE(b.locks->Hold(kTask));
}

}  // namespace
}  // namespace podfleet
