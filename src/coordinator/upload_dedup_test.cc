#include "coordinator/upload_dedup.h"

#include <gtest/gtest.h>

#include <set>

#include "support/manual_clock.h"

namespace podfleet {
namespace {

constexpr Millis kWindow{10 * 60'000};

class UploadDedupTest : public ::testing::Test {
 protected:
  // Joins or queues; a queued upload gets the next episode id.
  UploadDedup::Joined Upload(std::string_view key, std::string_view content) {
    auto r = dedup_.JoinOrQueue(
        key, content, clock_.Now(), [&](EpisodeId e) { return !failed_.contains(e); },
        [&]() -> Result<EpisodeId> { return EpisodeId(++queued_); });
    EXPECT_TRUE(r) << r.error().ToString();
    return r.value_or(UploadDedup::Joined{});
  }

  ManualClock clock_;
  UploadDedup dedup_{kWindow};
  int64_t queued_ = 0;
  std::set<EpisodeId> failed_;
};

TEST_F(UploadDedupTest, SameAudioWithinTheWindowJoinsTheFirstEpisode) {
  const auto first = Upload("", "digest-a");
  EXPECT_FALSE(first.joined);
  const auto again = Upload("", "digest-a");
  EXPECT_TRUE(again.joined);
  EXPECT_EQ(again.episode, first.episode);
  EXPECT_FALSE(Upload("", "digest-b").joined);
  EXPECT_EQ(queued_, 2);
}

TEST_F(UploadDedupTest, IdempotencyKeyJoinsWhateverTheBytes) {
  const auto first = Upload("key-1", "digest-a");
  const auto retry = Upload("key-1", "digest-other");
  EXPECT_TRUE(retry.joined);
  EXPECT_EQ(retry.episode, first.episode);
  EXPECT_FALSE(Upload("key-2", "digest-c").joined);
}

TEST_F(UploadDedupTest, AfterTheWindowTheAudioIsQueuedAgain) {
  const auto first = Upload("key", "digest-a");
  clock_.Advance(kWindow);
  const auto later = Upload("key", "digest-a");
  EXPECT_FALSE(later.joined);
  EXPECT_NE(later.episode, first.episode);
  EXPECT_EQ(dedup_.remembered(), 1u);
}

TEST_F(UploadDedupTest, FailedEpisodeIsNotJoined) {
  const auto first = Upload("", "digest-a");
  failed_.insert(first.episode);
  const auto retry = Upload("", "digest-a");
  EXPECT_FALSE(retry.joined);
  EXPECT_NE(retry.episode, first.episode);
}

TEST_F(UploadDedupTest, RefusedUploadIsNotRemembered) {
  auto refused = dedup_.JoinOrQueue(
      "key", "digest-a", clock_.Now(), [](EpisodeId) { return true; },
      []() -> Result<EpisodeId> { return InvalidArgument("not audio"); });
  ASSERT_FALSE(refused);
  EXPECT_EQ(dedup_.remembered(), 0u);
  EXPECT_FALSE(Upload("key", "digest-a").joined);
}

}  // namespace
}  // namespace podfleet
