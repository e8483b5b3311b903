// Publishers' transcripts in the store (transcript-first intake) and an episode's lifecycle:
// deleting it, transcribing it again, counting episodes rather than chunk jobs.
#include <gtest/gtest.h>

#include "store/store.h"
#include "store/store_test_util.h"
#include "support/manual_clock.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

constexpr Millis kLease{60'000};

Transcript Said(const std::string& text, const std::string& engine = "test") {
  Transcript t;
  t.engine = engine;
  t.audio_duration = Millis(60'000);
  t.segments.push_back(Segment{Millis(1'000), Millis(2'000), text, "", {}});
  return t;
}

class StoreLifecycle : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override {
    store_ = Must(GetParam().open(dir_));
    feed_ = Must(store_->AddFeed("https://example.com/feed.xml", clock_.Now())).id;
  }

  FeedItem Item(const std::string& guid, std::optional<std::string> publisher_text) {
    FeedItem item{TestEpisode(guid), std::nullopt, {}, {}};
    item.info.duration = Millis(1'800'000);
    if (publisher_text) {
      item.publisher = Said(*publisher_text, "publisher");
      item.publisher_link =
          TranscriptLink{"https://example.com/" + guid + ".vtt", "text/vtt", "en", "captions"};
    }
    return item;
  }

  void CompleteNext(const Transcript& t) {
    auto grants = Must(store_->Claim(node_, 1, kLease, clock_.Now()));
    ASSERT_EQ(grants.size(), 1u);
    ASSERT_OK(
        store_->Complete(node_, grants[0].lease.job, grants[0].lease.attempt, t, clock_.Now()));
  }

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Store> store_;
  FeedId feed_;
  const NodeId node_{1};
};

INSTANTIATE_ON_BOTH_STORES(StoreLifecycle);

TEST_P(StoreLifecycle, PublisherTranscriptMakesTheEpisodeDoneWithoutAJob) {
  const EpisodeId id =
      Must(store_->AddFeedItems(feed_, {Item("a", "hello from the publisher")}, clock_.Now()))
          .at(0);
  EXPECT_EQ(Must(store_->GetEpisode(id)).state, EpisodeState::kDone);
  EXPECT_CODE(store_->GetJobForEpisode(id), Code::kNotFound);
  EXPECT_TRUE(Must(store_->Claim(node_, 10, kLease, clock_.Now())).empty());
  const Transcript shown = Must(store_->GetTranscript(id));
  EXPECT_EQ(shown.engine, "publisher");
  EXPECT_EQ(shown.model, "text/vtt");
  EXPECT_EQ(shown.Text(), "hello from the publisher");
  EXPECT_EQ(Must(store_->GetTranscriptOrigin(id)).source, "publisher");
  EXPECT_EQ(Must(store_->Search({.text = "publisher"})).size(), 1u);
  const PublisherSavings saved = Must(store_->CountPublisherSavings());
  EXPECT_EQ(saved.episodes, 1);
  EXPECT_EQ(saved.audio, Millis(1'800'000));
}

TEST_P(StoreLifecycle, FailedFetchIsQueuedWithItsReason) {
  FeedItem item = Item("a", std::nullopt);
  item.publisher_note = "publisher's transcript not used: https://x/a.vtt: HTTP 404";
  const EpisodeId id = Must(store_->AddFeedItems(feed_, {item}, clock_.Now())).at(0);
  EXPECT_EQ(Must(store_->GetEpisode(id)).state, EpisodeState::kQueued);
  EXPECT_EQ(Must(store_->GetTranscriptOrigin(id)).note, item.publisher_note);
  EXPECT_EQ(Must(store_->Claim(node_, 10, kLease, clock_.Now())).size(), 1u);
  EXPECT_EQ(Must(store_->CountPublisherSavings()).episodes, 0);
}

TEST_P(StoreLifecycle, TranscribeAnywayKeepsBothAndShowsTheFleets) {
  ASSERT_OK(store_->SetTranscribeAnyway(feed_, true));
  EXPECT_TRUE(Must(store_->TranscribesAnyway(feed_)));
  const EpisodeId id =
      Must(store_->AddFeedItems(feed_, {Item("a", "publisher words")}, clock_.Now())).at(0);
  EXPECT_EQ(Must(store_->GetEpisode(id)).state, EpisodeState::kQueued);
  EXPECT_EQ(Must(store_->GetTranscript(id)).engine, "publisher") << "shown until the fleet's";
  CompleteNext(Said("fleet words"));
  EXPECT_EQ(Must(store_->GetTranscript(id)).Text(), "fleet words");
  EXPECT_EQ(Must(store_->GetPublisherTranscript(id)).Text(), "publisher words");
  EXPECT_EQ(Must(store_->GetTranscriptOrigin(id)).source, "fleet");
  EXPECT_TRUE(Must(store_->Search({.text = "publisher"})).empty()) << "the index holds the shown";
  EXPECT_EQ(Must(store_->Search({.text = "fleet"})).size(), 1u);
  EXPECT_EQ(Must(store_->CountPublisherSavings()).episodes, 0);
}

TEST_P(StoreLifecycle, KnownItemsKeepTheirEpisode) {
  ASSERT_OK(store_->AddFeedItems(feed_, {Item("a", "first")}, clock_.Now()));
  EXPECT_EQ(Must(store_->ListGuids(feed_)), std::vector<std::string>{"a"});
  EXPECT_TRUE(Must(store_->AddFeedItems(feed_, {Item("a", "second")}, clock_.Now())).empty());
  EXPECT_CODE(store_->AddFeedItems(FeedId(99), {Item("b", "x")}, clock_.Now()), Code::kNotFound);
}

TEST_P(StoreLifecycle, DeleteRemovesJobsTranscriptAndSearchRows) {
  const EpisodeId id = Must(store_->AddEpisodes(feed_, {TestEpisode("a")}, clock_.Now())).at(0);
  CompleteNext(Said("amiable otter"));
  ASSERT_OK(store_->DeleteEpisode(id));
  EXPECT_CODE(store_->GetEpisode(id), Code::kNotFound);
  EXPECT_CODE(store_->GetTranscript(id), Code::kNotFound);
  EXPECT_TRUE(Must(store_->Search({.text = "otter"})).empty());
  EXPECT_EQ(Must(store_->CountJobs()).completed, 0);
  EXPECT_CODE(store_->DeleteEpisode(id), Code::kNotFound);
}

TEST_P(StoreLifecycle, TranscribeAgainKeepsTheOldTranscriptUntilTheNewIsDone) {
  const EpisodeId id = Must(store_->AddEpisodes(feed_, {TestEpisode("a")}, clock_.Now())).at(0);
  EXPECT_CODE(store_->TranscribeAgain(id, clock_.Now()), Code::kConflict);  // queued, not done
  CompleteNext(Said("old words"));
  ASSERT_OK(store_->TranscribeAgain(id, clock_.Now()));
  EXPECT_EQ(Must(store_->GetEpisode(id)).state, EpisodeState::kQueued);
  EXPECT_EQ(Must(store_->GetTranscript(id)).Text(), "old words");
  auto grants = Must(store_->Claim(node_, 1, kLease, clock_.Now()));
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_EQ(grants[0].lease.attempt, AttemptId(2)) << "attempt numbers never repeat";
  EXPECT_EQ(Must(store_->GetTranscript(id)).Text(), "old words");
  ASSERT_OK(store_->Complete(node_, grants[0].lease.job, grants[0].lease.attempt, Said("new words"),
                             clock_.Now()));
  EXPECT_EQ(Must(store_->GetTranscript(id)).Text(), "new words");
  EXPECT_EQ(Must(store_->GetEpisode(id)).state, EpisodeState::kDone);
}

TEST_P(StoreLifecycle, PublisherOnlyEpisodeCanBeTranscribedByTheFleet) {
  const EpisodeId id =
      Must(store_->AddFeedItems(feed_, {Item("a", "publisher words")}, clock_.Now())).at(0);
  ASSERT_OK(store_->TranscribeAgain(id, clock_.Now()));
  CompleteNext(Said("fleet words"));
  EXPECT_EQ(Must(store_->GetTranscript(id)).Text(), "fleet words");
  EXPECT_EQ(Must(store_->GetPublisherTranscript(id)).Text(), "publisher words");
}

TEST_P(StoreLifecycle, EpisodesAreCountedNotChunks) {
  Must(store_->AddEpisodes(std::nullopt, {TestEpisode("long")}, clock_.Now(), JobIntake::kPrepare));
  const JobId held = Must(store_->ListPreparing(10, clock_.Now())).at(0).job;
  ASSERT_OK(store_->PlanChunks(held, std::vector<Chunk>(3), clock_.Now()));
  Must(store_->AddEpisodes(std::nullopt, {TestEpisode("short")}, clock_.Now()));
  EXPECT_EQ(Must(store_->CountJobs()).queued, 4);
  const QueueCounts episodes = Must(store_->CountEpisodes());
  EXPECT_EQ(episodes.queued, 2);
  EXPECT_EQ(episodes.running, 0);
}

}  // namespace
}  // namespace podfleet
