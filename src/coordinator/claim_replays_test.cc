#include "coordinator/claim_replays.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace podfleet {
namespace {

const TimePoint kT0 = FromUnixMillis(1'800'000'000'000);
constexpr Millis kKeep{30'000};

HttpResponse Json(std::string body) {
  HttpResponse r;
  r.body = std::move(body);
  return r;
}

// A responder that appends the body it is answered with to `out`.
HttpResponder Into(std::vector<std::string>& out) {
  return HttpResponder([&out](HttpResponse r) { out.push_back(r.body); });
}

TEST(ClaimReplays, RepeatGetsTheFirstReplyEvenWhileItIsPending) {
  ClaimReplays replays;
  std::vector<std::string> got;
  auto first = replays.Track(NodeId(1), "r1", kT0, kKeep, Into(got));
  ASSERT_TRUE(first.has_value());
  // Repeated before the first is answered (a parked long poll): it waits for that reply.
  EXPECT_FALSE(replays.Track(NodeId(1), "r1", kT0, kKeep, Into(got)).has_value());
  EXPECT_TRUE(got.empty());
  (*first)(Json(R"({"leases":[7]})"));
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], R"({"leases":[7]})");
  EXPECT_EQ(got[1], got[0]);
  // Repeated after: answered at once.
  EXPECT_FALSE(replays.Track(NodeId(1), "r1", kT0 + Millis(1'000), kKeep, Into(got)).has_value());
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2], got[0]);
}

TEST(ClaimReplays, OtherIdsOtherNodesAndNoIdAreClaimsOfTheirOwn) {
  ClaimReplays replays;
  std::vector<std::string> got;
  auto first = replays.Track(NodeId(1), "r1", kT0, kKeep, Into(got));
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(replays.Track(NodeId(1), "r2", kT0, kKeep, Into(got)).has_value());
  EXPECT_TRUE(replays.Track(NodeId(2), "r1", kT0, kKeep, Into(got)).has_value());
  EXPECT_TRUE(replays.Track(NodeId(1), "", kT0, kKeep, Into(got)).has_value());
  EXPECT_TRUE(replays.Track(NodeId(1), "", kT0, kKeep, Into(got)).has_value());
  EXPECT_EQ(replays.remembered(), 3u);
}

TEST(ClaimReplays, ForgetsAfterTheLeaseTimeAndKeepsTheLastFewPerNode) {
  ClaimReplays replays;
  std::vector<std::string> got;
  auto first = replays.Track(NodeId(1), "old", kT0, kKeep, Into(got));
  ASSERT_TRUE(first.has_value());
  (*first)(Json("{}"));
  // Past the lease time its leases have expired: the same id is a new claim.
  auto later = replays.Track(NodeId(1), "old", kT0 + kKeep, kKeep, Into(got));
  EXPECT_TRUE(later.has_value());
  for (int i = 0; i < 10; ++i)
    EXPECT_TRUE(replays.Track(NodeId(3), "r" + std::to_string(i), kT0 + kKeep, kKeep, Into(got))
                    .has_value());
  EXPECT_EQ(replays.remembered(), 1 + ClaimReplays::kPerNode);
  // Swept once every node's claims are past their time.
  EXPECT_TRUE(replays.Track(NodeId(4), "x", kT0 + 3 * kKeep, kKeep, Into(got)).has_value());
  EXPECT_EQ(replays.remembered(), 1u);
}

}  // namespace
}  // namespace podfleet
