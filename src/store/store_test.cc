// The Store contract (store.h), run against every implementation. Implementation-specific
// behaviour (files, schema versions, corruption) is tested beside each one (store_sqlite_test.cc).
#include "store/store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <thread>

#include "store/store_test_util.h"
#include "support/manual_clock.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class StoreTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  static constexpr Millis kLease{60'000};
  const NodeId node_a_{1};
  const NodeId node_b_{2};

  void SetUp() override { store_ = Must(GetParam().open(dir_)); }

  TimePoint Now() const { return clock_.Now(); }

  // Adds a feed-less episode with an audio URL and returns its job.
  JobId QueueJob(const std::string& guid) {
    std::vector<EpisodeId> ids =
        Must(store_->AddEpisodes(std::nullopt, {TestEpisode(guid)}, Now()));
    EXPECT_EQ(ids.size(), 1u);
    return Must(store_->GetJobForEpisode(ids.at(0))).id;
  }

  // Claims one job on `node` and expects to get one.
  Grant ClaimOne(NodeId node) {
    std::vector<Grant> grants = Must(store_->Claim(node, 1, kLease, Now()));
    if (grants.size() != 1) {
      ADD_FAILURE() << "expected one grant, got " << grants.size();
      throw std::runtime_error("expected one grant");
    }
    return grants[0];
  }

  std::vector<JobId> ClaimAll(NodeId node) {
    std::vector<JobId> jobs;
    for (const Grant& g : Must(store_->Claim(node, 1000, kLease, Now())))
      jobs.push_back(g.lease.job);
    return jobs;
  }

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Store> store_;
};

INSTANTIATE_ON_BOTH_STORES(StoreTest);

// ---- feeds -------------------------------------------------------------------------------------

TEST_P(StoreTest, AddedFeedIsListedWithItsEpisodeCount) {
  Feed feed = Must(store_->AddFeed("https://example.com/feed.xml", Now()));
  EXPECT_TRUE(feed.id.valid());
  EXPECT_EQ(feed.url, "https://example.com/feed.xml");
  EXPECT_EQ(feed.added_at, Now());
  EXPECT_FALSE(feed.polled_at);
  ASSERT_OK(store_->AddEpisodes(feed.id, {TestEpisode("a"), TestEpisode("b")}, Now()));

  std::vector<Feed> feeds = Must(store_->ListFeeds());
  ASSERT_EQ(feeds.size(), 1u);
  EXPECT_EQ(feeds[0].id, feed.id);
  EXPECT_EQ(feeds[0].episode_count, 2);
}

TEST_P(StoreTest, AddingAFeedTwiceIsConflict) {
  ASSERT_OK(store_->AddFeed("https://example.com/feed.xml", Now()));
  EXPECT_CODE(store_->AddFeed("https://example.com/feed.xml", Now()), Code::kConflict);
  EXPECT_EQ(Must(store_->ListFeeds()).size(), 1u);
}

TEST_P(StoreTest, FeedPollKeepsTitleWhenItHasNone) {
  Feed feed = Must(store_->AddFeed("https://example.com/feed.xml", Now()));
  ASSERT_OK(store_->RecordFeedPoll(feed.id, {Now(), "The Show", ""}));
  clock_.Advance(Millis(1000));
  ASSERT_OK(store_->RecordFeedPoll(feed.id, {Now(), "", "HTTP 503"}));

  Feed got = Must(store_->GetFeed(feed.id));
  EXPECT_EQ(got.title, "The Show");
  EXPECT_EQ(got.polled_at, Now());
  EXPECT_EQ(got.last_error, "HTTP 503");
  EXPECT_CODE(store_->RecordFeedPoll(FeedId(99), {Now(), "", ""}), Code::kNotFound);
}

TEST_P(StoreTest, RemovingAFeedRemovesItsEpisodesJobsAndTranscripts) {
  Feed feed = Must(store_->AddFeed("https://example.com/feed.xml", Now()));
  std::vector<EpisodeId> ids = Must(store_->AddEpisodes(feed.id, {TestEpisode("a")}, Now()));
  const EpisodeId loose = Must(store_->AddEpisodes(std::nullopt, {TestEpisode("z")}, Now())).at(0);
  Grant g = ClaimOne(node_a_);
  ASSERT_EQ(g.episode.id, ids[0]);
  ASSERT_OK(store_->Complete(node_a_, g.lease.job, g.lease.attempt, TestTranscript(), Now()));

  ASSERT_OK(store_->RemoveFeed(feed.id));
  EXPECT_CODE(store_->GetFeed(feed.id), Code::kNotFound);
  EXPECT_CODE(store_->GetEpisode(ids[0]), Code::kNotFound);
  EXPECT_CODE(store_->GetJob(g.lease.job), Code::kNotFound);
  EXPECT_CODE(store_->GetTranscript(ids[0]), Code::kNotFound);
  EXPECT_OK(store_->GetEpisode(loose));
  EXPECT_EQ(Must(store_->CountJobs()).queued, 1);
  EXPECT_CODE(store_->RemoveFeed(feed.id), Code::kNotFound);
}

// ---- episodes ----------------------------------------------------------------------------------

TEST_P(StoreTest, EpisodeInfoRoundTrips) {
  Feed feed = Must(store_->AddFeed("https://example.com/feed.xml", Now()));
  EpisodeInfo info = TestEpisode("guid-1", "Episode One");
  info.duration = Millis(3'600'500);
  info.published_at = FromUnixMillis(1'700'000'000'123);
  info.transcript_links = {{"https://example.com/t.vtt", "text/vtt", "en", "captions"}};

  const EpisodeId id = Must(store_->AddEpisodes(feed.id, {info}, Now())).at(0);
  Episode e = Must(store_->GetEpisode(id));
  EXPECT_EQ(e.feed_id, feed.id);
  EXPECT_EQ(e.info.guid, "guid-1");
  EXPECT_EQ(e.info.title, "Episode One");
  EXPECT_EQ(e.info.audio_url, info.audio_url);
  EXPECT_EQ(e.info.audio_type, "audio/mpeg");
  EXPECT_EQ(e.info.audio_length, 12'345'678);
  EXPECT_EQ(e.info.duration, Millis(3'600'500));
  EXPECT_EQ(e.info.published_at, FromUnixMillis(1'700'000'000'123));
  ASSERT_EQ(e.info.transcript_links.size(), 1u);
  EXPECT_EQ(e.info.transcript_links[0].url, "https://example.com/t.vtt");
  EXPECT_EQ(e.info.transcript_links[0].type, "text/vtt");
  EXPECT_EQ(e.info.transcript_links[0].language, "en");
  EXPECT_EQ(e.info.transcript_links[0].rel, "captions");
  EXPECT_EQ(e.state, EpisodeState::kQueued);
  EXPECT_EQ(e.created_at, Now());
  EXPECT_EQ(Must(store_->GetJobForEpisode(id)).state, JobState::kQueued);
}

TEST_P(StoreTest, KnownEpisodesAreNotAddedAgain) {
  Feed one = Must(store_->AddFeed("https://example.com/1.xml", Now()));
  Feed two = Must(store_->AddFeed("https://example.com/2.xml", Now()));
  std::vector<EpisodeId> first =
      Must(store_->AddEpisodes(one.id, {TestEpisode("a"), TestEpisode("b")}, Now()));
  ASSERT_EQ(first.size(), 2u);

  // "a" is known in feed one; "c" is new; a duplicate within the batch counts once.
  EpisodeInfo renamed = TestEpisode("a", "Renamed");
  std::vector<EpisodeId> second =
      Must(store_->AddEpisodes(one.id, {renamed, TestEpisode("c"), TestEpisode("c")}, Now()));
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(Must(store_->GetEpisode(second[0])).info.guid, "c");
  // A known episode is not added again, but follows its item's metadata (Store::AddEpisodes).
  EXPECT_EQ(Must(store_->GetEpisode(first[0])).info.title, "Renamed");

  // The same guid in another feed is another episode.
  EXPECT_EQ(Must(store_->AddEpisodes(two.id, {TestEpisode("a")}, Now())).size(), 1u);
  EXPECT_EQ(Must(store_->CountJobs()).queued, 4);
}

TEST_P(StoreTest, NewEpisodeIdsComeInInputOrder) {
  std::vector<EpisodeId> ids = Must(store_->AddEpisodes(
      std::nullopt, {TestEpisode("x"), TestEpisode("y"), TestEpisode("z")}, Now()));
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(Must(store_->GetEpisode(ids[0])).info.guid, "x");
  EXPECT_EQ(Must(store_->GetEpisode(ids[1])).info.guid, "y");
  EXPECT_EQ(Must(store_->GetEpisode(ids[2])).info.guid, "z");
}

TEST_P(StoreTest, FeedlessEpisodesAreUniqueByGuid) {
  ASSERT_EQ(Must(store_->AddEpisodes(std::nullopt, {TestEpisode("file.mp3")}, Now())).size(), 1u);
  EXPECT_THAT(Must(store_->AddEpisodes(std::nullopt, {TestEpisode("file.mp3")}, Now())), IsEmpty());
  // A feed episode with that guid does not collide with the feed-less one.
  Feed feed = Must(store_->AddFeed("https://example.com/feed.xml", Now()));
  EXPECT_EQ(Must(store_->AddEpisodes(feed.id, {TestEpisode("file.mp3")}, Now())).size(), 1u);
}

TEST_P(StoreTest, EpisodeWithoutAudioIsSkippedAndNeverQueued) {
  EpisodeInfo info = TestEpisode("text-only");
  info.audio_url.clear();
  const EpisodeId id = Must(store_->AddEpisodes(std::nullopt, {info}, Now())).at(0);

  Episode e = Must(store_->GetEpisode(id));
  EXPECT_EQ(e.state, EpisodeState::kSkipped);
  EXPECT_EQ(e.error, "no enclosure");
  EXPECT_CODE(store_->GetJobForEpisode(id), Code::kNotFound);
  EXPECT_THAT(Must(store_->Claim(node_a_, 10, kLease, Now())), IsEmpty());
  EXPECT_EQ(Must(store_->CountJobs()).queued, 0);
}

TEST_P(StoreTest, AddingEpisodesToAnUnknownFeedIsNotFound) {
  EXPECT_CODE(store_->AddEpisodes(FeedId(42), {TestEpisode("a")}, Now()), Code::kNotFound);
  EXPECT_THAT(Must(store_->ListEpisodes({})), IsEmpty());
}

TEST_P(StoreTest, EpisodesAreListedNewestFirstInPages) {
  std::vector<EpisodeInfo> infos;
  for (int day : {3, 1, 2}) {
    EpisodeInfo info = TestEpisode(fmt::format("day{}", day));
    info.published_at = FromUnixMillis(1'700'000'000'000 + day * 86'400'000LL);
    infos.push_back(info);
  }
  infos.push_back(TestEpisode("undated"));  // sorts by when it was added, which is latest
  ASSERT_OK(store_->AddEpisodes(std::nullopt, infos, Now()));

  auto guids = [](const std::vector<Episode>& episodes) {
    std::vector<std::string> out;
    for (const Episode& e : episodes) out.push_back(e.info.guid);
    return out;
  };
  EXPECT_THAT(guids(Must(store_->ListEpisodes({}))),
              ElementsAre("undated", "day3", "day2", "day1"));
  EpisodeFilter page;
  page.limit = 2;
  page.offset = 1;
  EXPECT_THAT(guids(Must(store_->ListEpisodes(page))), ElementsAre("day3", "day2"));
  page.limit = -1;
  EXPECT_CODE(store_->ListEpisodes(page), Code::kInvalidArgument);
}

TEST_P(StoreTest, EpisodeFilterMatchesFeedStateAndTitle) {
  Feed feed = Must(store_->AddFeed("https://example.com/feed.xml", Now()));
  ASSERT_OK(store_->AddEpisodes(
      feed.id, {TestEpisode("a", "The Big Interview"), TestEpisode("b", "Small talk")}, Now()));
  EpisodeInfo skipped = TestEpisode("c", "Big news, no audio");
  skipped.audio_url.clear();
  ASSERT_OK(store_->AddEpisodes(std::nullopt, {skipped, TestEpisode("d", "big 100%_done")}, Now()));

  auto count = [&](EpisodeFilter f) { return Must(store_->ListEpisodes(f)).size(); };
  EXPECT_EQ(count({}), 4u);
  EXPECT_EQ(count({.feed = feed.id}), 2u);
  EXPECT_EQ(count({.state = EpisodeState::kSkipped}), 1u);
  EXPECT_EQ(count({.search = "BIG"}), 3u);
  EXPECT_EQ(count({.feed = feed.id, .search = "big"}), 1u);
  EXPECT_EQ(count({.search = "100%_"}), 1u);  // no LIKE wildcards
  EXPECT_EQ(count({.search = "%"}), 1u);
  EXPECT_EQ(count({.state = EpisodeState::kDone}), 0u);
}

// ---- claims ------------------------------------------------------------------------------------

TEST_P(StoreTest, ClaimLeasesOldestJobsFirst) {
  const JobId first = QueueJob("a");
  const JobId second = QueueJob("b");
  QueueJob("c");

  std::vector<Grant> grants = Must(store_->Claim(node_a_, 2, kLease, Now()));
  ASSERT_EQ(grants.size(), 2u);
  EXPECT_EQ(grants[0].lease.job, first);
  EXPECT_EQ(grants[1].lease.job, second);
  EXPECT_EQ(grants[0].lease.attempt, AttemptId(1));
  EXPECT_EQ(grants[0].lease.node, node_a_);
  EXPECT_EQ(grants[0].lease.expires_at, Now() + kLease);
  EXPECT_EQ(grants[0].episode.info.guid, "a");
  EXPECT_EQ(grants[0].episode.state, EpisodeState::kRunning);

  Job job = Must(store_->GetJob(first));
  EXPECT_EQ(job.state, JobState::kLeased);
  EXPECT_EQ(job.attempts, 1);
  ASSERT_TRUE(job.lease);
  EXPECT_EQ(job.lease->node, node_a_);
  EXPECT_FALSE(job.progress);
  EXPECT_EQ(Must(store_->GetEpisode(job.episode)).state, EpisodeState::kRunning);
}

// A claim of several jobs leases them together (store_sqlite_jobs.cc): each grant still has its
// own job, attempt and episode, in claim order (priority first, then age).
TEST_P(StoreTest, ClaimOfSeveralJobsGivesEachItsOwnAttemptAndEpisodeInClaimOrder) {
  const JobId a = QueueJob("a");
  const JobId b = QueueJob("b");
  const JobId c = QueueJob("c");
  ASSERT_OK(store_->SetJobPriority(c, 5));

  std::vector<Grant> grants = Must(store_->Claim(node_a_, 3, kLease, Now()));
  ASSERT_EQ(grants.size(), 3u);
  const std::vector<std::pair<JobId, std::string>> want = {{c, "c"}, {a, "a"}, {b, "b"}};
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(grants[i].lease.job, want[i].first);
    EXPECT_EQ(grants[i].lease.attempt, AttemptId(1));
    EXPECT_EQ(grants[i].episode.info.guid, want[i].second);
    EXPECT_EQ(grants[i].episode.state, EpisodeState::kRunning);
    EXPECT_EQ(Must(store_->ListAttempts(want[i].first)).size(), 1u);
  }
}

TEST_P(StoreTest, ClaimNeverLeasesALeasedJob) {
  const JobId job = QueueJob("a");
  EXPECT_EQ(ClaimOne(node_a_).lease.job, job);
  EXPECT_THAT(Must(store_->Claim(node_b_, 5, kLease, Now())), IsEmpty());
  EXPECT_THAT(Must(store_->Claim(node_a_, 5, kLease, Now())), IsEmpty());
  EXPECT_EQ(Must(store_->GetJob(job)).lease->node, node_a_);
}

TEST_P(StoreTest, ConcurrentClaimsNeverLeaseAJobTwice) {
  constexpr int kJobs = 300;
  std::vector<EpisodeInfo> infos;
  for (int i = 0; i < kJobs; ++i) infos.push_back(TestEpisode(fmt::format("ep{}", i)));
  ASSERT_OK(store_->AddEpisodes(std::nullopt, infos, Now()));

  constexpr int kThreads = 8;
  std::vector<std::vector<int64_t>> claimed(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (;;) {
        Result<std::vector<Grant>> grants = store_->Claim(NodeId(t + 1), 1 + t % 3, kLease, Now());
        if (!grants || grants->empty()) return;
        for (const Grant& g : *grants) claimed[t].push_back(g.lease.job.value());
      }
    });
  }
  for (std::thread& t : threads) t.join();

  std::set<int64_t> unique;
  size_t total = 0;
  for (const auto& jobs : claimed) {
    unique.insert(jobs.begin(), jobs.end());
    total += jobs.size();
  }
  EXPECT_EQ(total, size_t{kJobs});
  EXPECT_EQ(unique.size(), size_t{kJobs});
  EXPECT_EQ(Must(store_->CountJobs()).running, kJobs);
}

TEST_P(StoreTest, ClaimWithZeroJobsOrNoLeaseTime) {
  QueueJob("a");
  EXPECT_THAT(Must(store_->Claim(node_a_, 0, kLease, Now())), IsEmpty());
  EXPECT_CODE(store_->Claim(node_a_, 1, Millis(0), Now()), Code::kInvalidArgument);
  EXPECT_EQ(Must(store_->CountJobs()).queued, 1);
}

// ---- renewals ----------------------------------------------------------------------------------

TEST_P(StoreTest, RenewExtendsTheLeaseAndStoresProgress) {
  QueueJob("a");
  Grant g = ClaimOne(node_a_);
  clock_.Advance(Millis(30'000));
  std::vector<Lease> renewed = Must(store_->Renew(
      node_a_, {{g.lease.job, g.lease.attempt, Stage::kTranscribing, 0.25}}, kLease, Now()));
  ASSERT_EQ(renewed.size(), 1u);
  EXPECT_EQ(renewed[0].job, g.lease.job);
  EXPECT_EQ(renewed[0].attempt, g.lease.attempt);
  EXPECT_EQ(renewed[0].expires_at, Now() + kLease);

  std::vector<Job> leased = Must(store_->ListLeasedJobs());
  ASSERT_EQ(leased.size(), 1u);
  EXPECT_EQ(leased[0].lease->expires_at, Now() + kLease);
  ASSERT_TRUE(leased[0].progress);
  EXPECT_EQ(leased[0].progress->stage, Stage::kTranscribing);
  EXPECT_DOUBLE_EQ(leased[0].progress->fraction, 0.25);
  EXPECT_EQ(leased[0].progress->attempt, g.lease.attempt);
}

TEST_P(StoreTest, RenewLeavesOutLeasesTheAttemptDoesNotHold) {
  QueueJob("a");
  QueueJob("b");
  Grant held = ClaimOne(node_a_);
  Grant other = ClaimOne(node_b_);
  const JobId released = QueueJob("r");
  Grant gone = ClaimOne(node_a_);
  ASSERT_EQ(gone.lease.job, released);
  ASSERT_OK(store_->Release(node_a_, gone.lease.job, gone.lease.attempt, Now()));

  std::vector<Lease> renewed = Must(store_->Renew(
      node_a_,
      {{held.lease.job, held.lease.attempt, Stage::kDecoding, 0.5},
       {held.lease.job, AttemptId(7), Stage::kDecoding, 0.5},          // wrong attempt
       {other.lease.job, other.lease.attempt, Stage::kDecoding, 0.5},  // another node's
       {gone.lease.job, gone.lease.attempt, Stage::kDecoding, 0.5},    // released
       {JobId(999), AttemptId(1), Stage::kDecoding, 0.5}},             // no such job
      kLease, Now() + Millis(1)));
  ASSERT_EQ(renewed.size(), 1u);
  EXPECT_EQ(renewed[0].job, held.lease.job);
  EXPECT_FALSE(Must(store_->GetJob(other.lease.job)).progress);
}

// ---- outcomes ----------------------------------------------------------------------------------

TEST_P(StoreTest, CompleteStoresTheTranscriptAndFinishesJobAndEpisode) {
  QueueJob("a");
  Grant g = ClaimOne(node_a_);
  ASSERT_OK(store_->Complete(node_a_, g.lease.job, g.lease.attempt, TestTranscript(), Now()));

  Job job = Must(store_->GetJob(g.lease.job));
  EXPECT_EQ(job.state, JobState::kDone);
  EXPECT_FALSE(job.lease);
  EXPECT_EQ(Must(store_->GetEpisode(g.episode.id)).state, EpisodeState::kDone);
  EXPECT_THAT(Must(store_->ListLeasedJobs()), IsEmpty());

  const Transcript want = TestTranscript();
  Transcript got = Must(store_->GetTranscript(g.episode.id));
  EXPECT_EQ(got.language, "en");
  EXPECT_EQ(got.engine, "pocketsphinx");
  EXPECT_EQ(got.model, "en-us");
  EXPECT_EQ(got.audio_duration, Millis(95'250));
  EXPECT_EQ(got.engine_time, Millis(12'040));
  ASSERT_EQ(got.segments.size(), 2u);
  for (size_t i = 0; i < want.segments.size(); ++i) {
    EXPECT_EQ(got.segments[i].start, want.segments[i].start);
    EXPECT_EQ(got.segments[i].end, want.segments[i].end);
    EXPECT_EQ(got.segments[i].text, want.segments[i].text);
    EXPECT_EQ(got.segments[i].speaker, want.segments[i].speaker);
    ASSERT_EQ(got.segments[i].words.size(), want.segments[i].words.size());
    for (size_t w = 0; w < want.segments[i].words.size(); ++w) {
      EXPECT_EQ(got.segments[i].words[w].start, want.segments[i].words[w].start);
      EXPECT_EQ(got.segments[i].words[w].end, want.segments[i].words[w].end);
      EXPECT_EQ(got.segments[i].words[w].text, want.segments[i].words[w].text);
      EXPECT_EQ(got.segments[i].words[w].confidence, want.segments[i].words[w].confidence);
    }
  }
  EXPECT_EQ(got.Text(), want.Text());
}

TEST_P(StoreTest, RepeatedCompleteSucceedsAndChangesNothing) {
  QueueJob("a");
  Grant g = ClaimOne(node_a_);
  ASSERT_OK(store_->Complete(node_a_, g.lease.job, g.lease.attempt, TestTranscript(), Now()));
  const std::string before = Describe(Must(store_->GetJob(g.lease.job)));

  clock_.Advance(Millis(5'000));
  Transcript other = TestTranscript();
  other.segments.resize(1);
  ASSERT_OK(store_->Complete(node_a_, g.lease.job, g.lease.attempt, other, Now()));
  EXPECT_EQ(Describe(Must(store_->GetJob(g.lease.job))), before);
  EXPECT_EQ(Must(store_->GetTranscript(g.episode.id)).segments.size(), 2u);
  EXPECT_EQ(Must(store_->CompletedSince(FromUnixMillis(0))).size(), 1u);
  // Another node repeating it is still stale.
  EXPECT_CODE(store_->Complete(node_b_, g.lease.job, g.lease.attempt, other, Now()),
              Code::kConflict);
}

TEST_P(StoreTest, StaleAttemptGetsConflictAndChangesNothing) {
  QueueJob("a");
  Grant stale = ClaimOne(node_a_);
  clock_.Advance(kLease + Millis(1));
  ASSERT_EQ(Must(store_->ExpireLeases(Now())), 1);
  Grant current = ClaimOne(node_b_);
  ASSERT_EQ(current.lease.job, stale.lease.job);
  ASSERT_EQ(current.lease.attempt, AttemptId(2));
  ASSERT_OK(store_->Renew(
      node_b_, {{current.lease.job, current.lease.attempt, Stage::kDecoding, 0.5}}, kLease, Now()));
  const JobId job = stale.lease.job;
  const std::string before = Describe(Must(store_->GetJob(job)));

  const NodeId a = node_a_;
  const AttemptId old = stale.lease.attempt;
  // (A late Complete of the expired attempt is accepted: store_faults_test.cc.)
  EXPECT_CODE(store_->Fail(a, job, old, {"boom", true}, RetryPolicy{}, Now()), Code::kConflict);
  EXPECT_CODE(store_->Fail(a, job, old, {"boom", false}, RetryPolicy{}, Now()), Code::kConflict);
  EXPECT_CODE(store_->Release(a, job, old, Now()), Code::kConflict);
  EXPECT_THAT(Must(store_->Renew(a, {{job, old, Stage::kUploading, 1.0}}, kLease, Now())),
              IsEmpty());
  // The current attempt number from the wrong node is stale too.
  EXPECT_CODE(store_->Complete(a, job, current.lease.attempt, TestTranscript(), Now()),
              Code::kConflict);

  EXPECT_EQ(Describe(Must(store_->GetJob(job))), before);
  EXPECT_EQ(Must(store_->GetEpisode(current.episode.id)).state, EpisodeState::kRunning);
  EXPECT_CODE(store_->GetTranscript(current.episode.id), Code::kNotFound);
  EXPECT_OK(store_->Complete(node_b_, job, current.lease.attempt, TestTranscript(), Now()));
}

TEST_P(StoreTest, OutcomesForUnknownJobsAreNotFound) {
  EXPECT_CODE(store_->Complete(node_a_, JobId(5), AttemptId(1), TestTranscript(), Now()),
              Code::kNotFound);
  EXPECT_CODE(store_->Fail(node_a_, JobId(5), AttemptId(1), {"x", false}, RetryPolicy{}, Now()),
              Code::kNotFound);
  EXPECT_CODE(store_->Release(node_a_, JobId(5), AttemptId(1), Now()), Code::kNotFound);
  EXPECT_CODE(store_->GetJob(JobId(5)), Code::kNotFound);
}

TEST_P(StoreTest, ExpiredLeaseIsRequeuedAndCounted) {
  QueueJob("a");
  Grant g = ClaimOne(node_a_);
  clock_.Advance(kLease);
  EXPECT_EQ(Must(store_->ExpireLeases(Now())), 0);  // expires_at itself is still inside the lease
  clock_.Advance(Millis(1));
  EXPECT_EQ(Must(store_->ExpireLeases(Now())), 1);
  EXPECT_EQ(Must(store_->ExpireLeases(Now())), 0);

  Job job = Must(store_->GetJob(g.lease.job));
  EXPECT_EQ(job.state, JobState::kQueued);
  EXPECT_EQ(job.lease_expiries, 1);
  EXPECT_EQ(job.failures, 0);
  EXPECT_FALSE(job.lease);
  EXPECT_FALSE(job.not_before);
  EXPECT_EQ(Must(store_->GetEpisode(g.episode.id)).state, EpisodeState::kQueued);
  Grant again = ClaimOne(node_b_);
  EXPECT_EQ(again.lease.attempt, AttemptId(2));
  EXPECT_EQ(Must(store_->GetJob(g.lease.job)).attempts, 2);
}

TEST_P(StoreTest, RenewedLeaseDoesNotExpire) {
  QueueJob("a");
  Grant g = ClaimOne(node_a_);
  clock_.Advance(Millis(50'000));
  ASSERT_EQ(Must(store_->Renew(node_a_, {{g.lease.job, g.lease.attempt}}, kLease, Now())).size(),
            1u);
  clock_.Advance(Millis(50'000));
  EXPECT_EQ(Must(store_->ExpireLeases(Now())), 0);
  EXPECT_EQ(Must(store_->GetJob(g.lease.job)).state, JobState::kLeased);
}

TEST_P(StoreTest, RetryableFailureBacksOffExponentially) {
  const RetryPolicy policy{.max_failures = 10, .base_backoff = Millis(5'000)};
  const JobId job = QueueJob("flaky");
  for (int failure = 1; failure <= 4; ++failure) {
    Grant g = ClaimOne(node_a_);
    ASSERT_EQ(g.lease.job, job);
    ASSERT_OK(store_->Fail(node_a_, job, g.lease.attempt, {"HTTP 503", false}, policy, Now()));

    Job j = Must(store_->GetJob(job));
    EXPECT_EQ(j.state, JobState::kQueued);
    EXPECT_EQ(j.failures, failure);
    EXPECT_EQ(j.error, "HTTP 503");
    ASSERT_TRUE(j.not_before);
    const int64_t delay = (*j.not_before - Now()).count();
    const int64_t nominal = 5'000LL << (failure - 1);
    EXPECT_GE(delay, nominal * 8 / 10) << "failure " << failure;
    EXPECT_LE(delay, nominal * 12 / 10) << "failure " << failure;
    Episode e = Must(store_->GetEpisode(j.episode));
    EXPECT_EQ(e.state, EpisodeState::kQueued);
    EXPECT_EQ(e.error, "HTTP 503");

    clock_.Set(*j.not_before - Millis(1));
    EXPECT_THAT(Must(store_->Claim(node_a_, 1, kLease, Now())), IsEmpty());
    clock_.Set(*j.not_before);
  }
}

TEST_P(StoreTest, BackoffIsCappedAtMaxBackoff) {
  const RetryPolicy policy{
      .max_failures = 20, .base_backoff = Millis(1'000), .max_backoff = Millis(10'000)};
  const JobId job = QueueJob("flaky");
  for (int failure = 1; failure <= 8; ++failure) {
    Grant g = ClaimOne(node_a_);
    ASSERT_OK(store_->Fail(node_a_, job, g.lease.attempt, {"timeout", false}, policy, Now()));
    clock_.Set(*Must(store_->GetJob(job)).not_before);
  }
  Grant g = ClaimOne(node_a_);
  ASSERT_OK(store_->Fail(node_a_, job, g.lease.attempt, {"timeout", false}, policy, Now()));
  const int64_t delay = (*Must(store_->GetJob(job)).not_before - Now()).count();
  EXPECT_GE(delay, 8'000);
  EXPECT_LE(delay, 12'000);
}

TEST_P(StoreTest, RetriesStopAtMaxFailures) {
  const RetryPolicy policy{.max_failures = 3, .base_backoff = Millis(10)};
  const JobId job = QueueJob("doomed");
  for (int failure = 1; failure <= 3; ++failure) {
    clock_.Advance(Millis(1'000));
    Grant g = ClaimOne(node_a_);
    ASSERT_OK(
        store_->Fail(node_a_, job, g.lease.attempt, {"decoder crashed", false}, policy, Now()));
  }
  Job j = Must(store_->GetJob(job));
  EXPECT_EQ(j.state, JobState::kFailed);
  EXPECT_EQ(j.failures, 3);
  EXPECT_THAT(j.error, HasSubstr("decoder crashed"));
  Episode e = Must(store_->GetEpisode(j.episode));
  EXPECT_EQ(e.state, EpisodeState::kFailed);
  EXPECT_THAT(e.error, HasSubstr("decoder crashed"));
  clock_.Advance(Millis(3'600'000));
  EXPECT_THAT(Must(store_->Claim(node_a_, 1, kLease, Now())), IsEmpty());
}

TEST_P(StoreTest, PermanentFailureFailsAtOnce) {
  QueueJob("a");
  Grant g = ClaimOne(node_a_);
  ASSERT_OK(store_->Fail(node_a_, g.lease.job, g.lease.attempt, {"HTTP 404", true}, RetryPolicy{},
                         Now()));
  Job j = Must(store_->GetJob(g.lease.job));
  EXPECT_EQ(j.state, JobState::kFailed);
  EXPECT_EQ(j.failures, 0);
  EXPECT_EQ(j.error, "HTTP 404");
  Episode e = Must(store_->GetEpisode(g.episode.id));
  EXPECT_EQ(e.state, EpisodeState::kFailed);
  EXPECT_EQ(e.error, "HTTP 404");
  EXPECT_EQ(Must(store_->CountJobs()).failed, 1);
}

TEST_P(StoreTest, ReleasedJobIsClaimableAtOnceWithoutAFailure) {
  QueueJob("a");
  Grant g = ClaimOne(node_a_);
  ASSERT_OK(store_->Release(node_a_, g.lease.job, g.lease.attempt, Now()));
  Job j = Must(store_->GetJob(g.lease.job));
  EXPECT_EQ(j.state, JobState::kQueued);
  EXPECT_EQ(j.failures, 0);
  EXPECT_EQ(j.lease_expiries, 0);
  EXPECT_FALSE(j.not_before);
  EXPECT_EQ(Must(store_->GetEpisode(g.episode.id)).state, EpisodeState::kQueued);
  Grant again = ClaimOne(node_b_);
  EXPECT_EQ(again.lease.job, g.lease.job);
  EXPECT_EQ(again.lease.attempt, AttemptId(2));
  EXPECT_CODE(store_->Release(node_a_, g.lease.job, g.lease.attempt, Now()), Code::kConflict);
}

TEST_P(StoreTest, RetryingAFailedEpisodeQueuesItWithFreshFailures) {
  QueueJob("a");
  const RetryPolicy policy{.max_failures = 1};
  Grant g = ClaimOne(node_a_);
  EXPECT_CODE(store_->RetryEpisode(g.episode.id, Now()), Code::kConflict);
  ASSERT_OK(
      store_->Fail(node_a_, g.lease.job, g.lease.attempt, {"HTTP 500", false}, policy, Now()));
  ASSERT_EQ(Must(store_->GetJob(g.lease.job)).state, JobState::kFailed);

  ASSERT_OK(store_->RetryEpisode(g.episode.id, Now()));
  Job j = Must(store_->GetJob(g.lease.job));
  EXPECT_EQ(j.state, JobState::kQueued);
  EXPECT_EQ(j.failures, 0);
  EXPECT_EQ(j.error, "");
  Episode e = Must(store_->GetEpisode(g.episode.id));
  EXPECT_EQ(e.state, EpisodeState::kQueued);
  EXPECT_EQ(e.error, "");
  // Attempt numbers keep counting, so the failed attempt stays fenced out.
  EXPECT_EQ(ClaimOne(node_a_).lease.attempt, AttemptId(2));
  EXPECT_CODE(store_->RetryEpisode(g.episode.id, Now()), Code::kConflict);
  EXPECT_CODE(store_->RetryEpisode(EpisodeId(99), Now()), Code::kNotFound);
}

// ---- counts and statistics ---------------------------------------------------------------------

TEST_P(StoreTest, CountJobsCountsEachState) {
  for (const char* guid : {"a", "b", "c", "d", "e"}) QueueJob(guid);
  std::vector<Grant> grants = Must(store_->Claim(node_a_, 3, kLease, Now()));
  ASSERT_EQ(grants.size(), 3u);
  ASSERT_OK(store_->Complete(node_a_, grants[0].lease.job, grants[0].lease.attempt,
                             TestTranscript(), Now()));
  ASSERT_OK(store_->Fail(node_a_, grants[1].lease.job, grants[1].lease.attempt, {"gone", true},
                         RetryPolicy{}, Now()));
  QueueCounts counts = Must(store_->CountJobs());
  EXPECT_EQ(counts.queued, 2);
  EXPECT_EQ(counts.running, 1);
  EXPECT_EQ(counts.completed, 1);
  EXPECT_EQ(counts.failed, 1);
}

TEST_P(StoreTest, CompletedSinceReportsTimesOldestFirst) {
  QueueJob("a");
  QueueJob("b");
  const TimePoint start = Now();
  Grant first = ClaimOne(node_a_);
  Grant second = ClaimOne(node_b_);
  clock_.Advance(Millis(20'000));
  ASSERT_OK(
      store_->Complete(node_b_, second.lease.job, second.lease.attempt, TestTranscript(), Now()));
  const TimePoint second_done = Now();
  clock_.Advance(Millis(10'000));
  ASSERT_OK(
      store_->Complete(node_a_, first.lease.job, first.lease.attempt, TestTranscript(), Now()));

  std::vector<CompletedJob> done = Must(store_->CompletedSince(start));
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[0].job, second.lease.job);
  EXPECT_EQ(done[0].episode, second.episode.id);
  EXPECT_EQ(done[0].node, node_b_);
  EXPECT_EQ(done[0].finished_at, second_done);
  EXPECT_EQ(done[0].wall_time, Millis(20'000));
  EXPECT_EQ(done[0].audio_duration, Millis(95'250));
  EXPECT_EQ(done[0].engine_time, Millis(12'040));
  EXPECT_EQ(done[1].job, first.lease.job);
  EXPECT_EQ(done[1].wall_time, Millis(30'000));

  EXPECT_EQ(Must(store_->CompletedSince(second_done)).size(), 2u);  // "at or after"
  EXPECT_EQ(Must(store_->CompletedSince(second_done + Millis(1))).size(), 1u);
  EXPECT_THAT(Must(store_->CompletedSince(Now() + Millis(1))), IsEmpty());
}

TEST_P(StoreTest, UnfinishedEpisodeHasNoTranscript) {
  QueueJob("a");
  Grant g = ClaimOne(node_a_);
  EXPECT_CODE(store_->GetTranscript(g.episode.id), Code::kNotFound);
}

// ---- nodes and tokens --------------------------------------------------------------------------

NodeInfo TestNode() {
  NodeInfo info;
  info.name = "gpu-box";
  info.engine = "pocketsphinx";
  info.model = "en-us";
  info.version = "0.1.0";
  info.hardware = {"AMD EPYC", 16, 131'072, "Debian 12", {{"H100", "550.54", 81'559}}};
  info.speed = 12.5;
  return info;
}

TEST_P(StoreTest, RegisteredNodeIsFoundByItsToken) {
  Node node = Must(store_->RegisterNode(TestNode(), "hash-1", Now()));
  EXPECT_TRUE(node.id.valid());
  EXPECT_EQ(node.registered_at, Now());
  EXPECT_EQ(node.last_seen, Now());
  EXPECT_FALSE(node.retired);

  Node found = Must(store_->FindNodeByToken("hash-1"));
  EXPECT_EQ(found.id, node.id);
  EXPECT_EQ(found.info.name, "gpu-box");
  EXPECT_EQ(found.info.engine, "pocketsphinx");
  EXPECT_EQ(found.info.model, "en-us");
  EXPECT_EQ(found.info.version, "0.1.0");
  EXPECT_DOUBLE_EQ(found.info.speed, 12.5);
  EXPECT_EQ(found.info.hardware.cpu_model, "AMD EPYC");
  EXPECT_EQ(found.info.hardware.cpu_cores, 16);
  EXPECT_EQ(found.info.hardware.memory_mb, 131'072);
  EXPECT_EQ(found.info.hardware.os, "Debian 12");
  ASSERT_EQ(found.info.hardware.gpus.size(), 1u);
  EXPECT_EQ(found.info.hardware.gpus[0].name, "H100");
  EXPECT_EQ(found.info.hardware.gpus[0].driver, "550.54");
  EXPECT_EQ(found.info.hardware.gpus[0].memory_mb, 81'559);
  EXPECT_CODE(store_->FindNodeByToken("hash-2"), Code::kPermissionDenied);
}

TEST_P(StoreTest, RetiredNodesTokenIsDenied) {
  Node node = Must(store_->RegisterNode(TestNode(), "hash-1", Now()));
  ASSERT_OK(store_->RetireNode(node.id, Now()));
  EXPECT_CODE(store_->FindNodeByToken("hash-1"), Code::kPermissionDenied);
  std::vector<Node> nodes = Must(store_->ListNodes());
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_TRUE(nodes[0].retired);
  EXPECT_CODE(store_->RetireNode(NodeId(99), Now()), Code::kNotFound);
}

TEST_P(StoreTest, TouchRecordsWhenTheNodeWasLastSeen) {
  Node node = Must(store_->RegisterNode(TestNode(), "hash-1", Now()));
  clock_.Advance(Millis(90'000));
  ASSERT_OK(store_->TouchNode(node.id, Now()));
  ASSERT_OK(store_->TouchNode(node.id, Now() - Millis(5'000)));  // a late request arriving
  EXPECT_EQ(Must(store_->ListNodes()).at(0).last_seen, Now());
  EXPECT_EQ(Must(store_->ListNodes()).at(0).registered_at, Now() - Millis(90'000));
  EXPECT_CODE(store_->TouchNode(NodeId(99), Now()), Code::kNotFound);
}

TEST_P(StoreTest, NodeTokenHashIsUniqueAndRequired) {
  ASSERT_OK(store_->RegisterNode(TestNode(), "hash-1", Now()));
  EXPECT_CODE(store_->RegisterNode(TestNode(), "hash-1", Now()), Code::kConflict);
  EXPECT_CODE(store_->RegisterNode(TestNode(), "", Now()), Code::kInvalidArgument);
  EXPECT_EQ(Must(store_->ListNodes()).size(), 1u);
}

TEST_P(StoreTest, EnrollmentTokenIsCheckedByHash) {
  EXPECT_EQ(Must(store_->CountEnrollmentTokens()), 0);
  ASSERT_OK(store_->AddEnrollmentToken("enroll-hash", "first start", Now()));
  EXPECT_TRUE(Must(store_->CheckEnrollmentToken("enroll-hash")));
  EXPECT_FALSE(Must(store_->CheckEnrollmentToken("other-hash")));
  EXPECT_CODE(store_->AddEnrollmentToken("enroll-hash", "again", Now()), Code::kConflict);
  EXPECT_CODE(store_->AddEnrollmentToken("", "empty", Now()), Code::kInvalidArgument);
  EXPECT_EQ(Must(store_->CountEnrollmentTokens()), 1);
}

TEST_P(StoreTest, TransfersAreSummedPerNodeAndHour) {
  const TimePoint hour = FromUnixMillis(ToUnixMillis(Now()) - ToUnixMillis(Now()) % 3'600'000);
  ASSERT_OK(store_->RecordTransfer(node_a_, 1000, Millis(60'000), hour + Millis(10)));
  ASSERT_OK(store_->RecordTransfer(node_a_, 500, Millis(30'000), hour + Millis(3'599'999)));
  ASSERT_OK(store_->RecordTransfer(node_b_, 7, Millis(0), hour + Millis(20)));
  ASSERT_OK(store_->RecordTransfer(node_a_, 1, Millis(0), hour + Millis(3'600'000)));
  EXPECT_CODE(store_->RecordTransfer(node_a_, -1, Millis(0), hour), Code::kInvalidArgument);

  std::vector<TransferTotal> all = Must(store_->TransfersSince(hour));
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].node, node_a_);
  EXPECT_EQ(all[0].hour, hour);
  EXPECT_EQ(all[0].bytes, 1500);
  EXPECT_EQ(all[0].audio, Millis(90'000));
  EXPECT_EQ(all[0].requests, 2);
  EXPECT_EQ(all[1].node, node_b_);
  EXPECT_EQ(all[1].bytes, 7);
  EXPECT_EQ(all[2].hour, hour + Millis(3'600'000));

  // An hour that ended at or before `since` is left out; one still running is kept.
  EXPECT_EQ(Must(store_->TransfersSince(hour + Millis(3'600'000))).size(), 1u);
  EXPECT_EQ(Must(store_->TransfersSince(hour + Millis(3'599'999))).size(), 3u);
}

// ---- analytics ---------------------------------------------------------------------------------

TEST_P(StoreTest, ReportedWaitIsKeptApartFromWallTime) {
  QueueJob("a");
  Grant g = ClaimOne(node_a_);
  clock_.Advance(Millis(30'000));
  ASSERT_OK(store_->Complete(node_a_, g.lease.job, g.lease.attempt, TestTranscript(), Now()));
  EXPECT_EQ(Must(store_->CompletedSince(FromUnixMillis(0)))[0].waited, Millis(0));  // not reported
  ASSERT_OK(store_->RecordWait(g.lease.job, g.lease.attempt, Millis(8'000)));
  CompletedJob done = Must(store_->CompletedSince(FromUnixMillis(0)))[0];
  EXPECT_EQ(done.wall_time, Millis(30'000));
  EXPECT_EQ(done.waited, Millis(8'000));
  EXPECT_CODE(store_->RecordWait(g.lease.job, AttemptId(99), Millis(1)), Code::kNotFound);
  EXPECT_CODE(store_->RecordWait(g.lease.job, g.lease.attempt, Millis(-1)), Code::kInvalidArgument);
}

// Complete answers with what CompletedSince would list for it, so callers need not read it back;
// a repeat recorded nothing and says so.
TEST_P(StoreTest, CompleteReturnsWhatItRecorded) {
  QueueJob("a");
  Grant g = ClaimOne(node_a_);
  clock_.Advance(Millis(30'000));
  CompletionReport report;
  report.waited = Millis(8'000);
  Completion done = Must(
      store_->Complete(node_a_, g.lease.job, g.lease.attempt, TestTranscript(), Now(), report));
  ASSERT_TRUE(done.completed);
  std::vector<CompletedJob> listed = Must(store_->CompletedSince(FromUnixMillis(0)));
  ASSERT_EQ(listed.size(), 1u);
  const CompletedJob& want = listed[0];
  EXPECT_EQ(done.completed->job, want.job);
  EXPECT_EQ(done.completed->episode, want.episode);
  EXPECT_EQ(done.completed->node, want.node);
  EXPECT_EQ(done.completed->finished_at, want.finished_at);
  EXPECT_EQ(done.completed->audio_duration, want.audio_duration);
  EXPECT_EQ(done.completed->engine_time, want.engine_time);
  EXPECT_EQ(done.completed->wall_time, Millis(30'000));
  EXPECT_EQ(done.completed->wall_time, want.wall_time);
  EXPECT_EQ(done.completed->waited, Millis(8'000));
  EXPECT_EQ(done.episode, g.episode.id);
  EXPECT_EQ(done.chunk.count, 1);
  EXPECT_TRUE(done.episode_done);

  Completion again =
      Must(store_->Complete(node_a_, g.lease.job, g.lease.attempt, TestTranscript(), Now()));
  EXPECT_FALSE(again.completed);
  EXPECT_EQ(again.episode, g.episode.id);
  EXPECT_TRUE(again.episode_done);
}

TEST_P(StoreTest, CompleteManyAnswersEachResultAndARepeatChangesNothing) {
  QueueJob("a");
  QueueJob("b");
  QueueJob("c");
  std::vector<Grant> grants = Must(store_->Claim(node_a_, 3, kLease, Now()));
  ASSERT_EQ(grants.size(), 3u);
  std::vector<CompletionInput> results;
  for (const Grant& g : grants)
    results.push_back({g.lease.job, g.lease.attempt, TestTranscript(), {}});
  results[1].attempt = AttemptId(99);  // stale: its job stays leased, the others are recorded

  std::vector<Result<Completion>> done = Must(store_->CompleteMany(node_a_, results, Now()));
  ASSERT_EQ(done.size(), 3u);
  ASSERT_TRUE(done[0]);
  EXPECT_TRUE(done[0]->completed);
  EXPECT_TRUE(done[0]->episode_done);
  EXPECT_CODE(done[1], Code::kConflict);
  ASSERT_TRUE(done[2]);
  EXPECT_EQ(done[2]->episode, grants[2].episode.id);
  EXPECT_EQ(Must(store_->GetJob(grants[0].lease.job)).state, JobState::kDone);
  EXPECT_EQ(Must(store_->GetJob(grants[1].lease.job)).state, JobState::kLeased);
  EXPECT_EQ(Must(store_->GetJob(grants[2].lease.job)).state, JobState::kDone);
  EXPECT_EQ(Must(store_->GetTranscript(grants[2].episode.id)).Text(), TestTranscript().Text());

  // The same call again: the done ones are repeats (nothing recorded), the stale one still stale.
  clock_.Advance(Millis(1'000));
  std::vector<Result<Completion>> again = Must(store_->CompleteMany(node_a_, results, Now()));
  ASSERT_EQ(again.size(), 3u);
  ASSERT_TRUE(again[0]);
  EXPECT_FALSE(again[0]->completed);
  EXPECT_CODE(again[1], Code::kConflict);
  ASSERT_TRUE(again[2]);
  EXPECT_FALSE(again[2]->completed);
  EXPECT_EQ(Must(store_->CompletedSince(FromUnixMillis(0))).size(), 2u);
}

TEST_P(StoreTest, CompleteRecordsTheReportAndTheNodeSpeedOnceWithTheResult) {
  NodeInfo info = TestNode();
  info.speed = 0;  // not measured yet
  const NodeId node = Must(store_->RegisterNode(info, "hash-speed", Now())).id;
  QueueJob("a");
  QueueJob("b");
  Grant g = ClaimOne(node);
  clock_.Advance(Millis(30'000));
  const Transcript t = TestTranscript();  // 95.25 s of audio in 12.04 s
  const double realtime = 95'250.0 / 12'040.0;
  CompletionReport report;
  report.waited = Millis(8'000);
  ASSERT_OK(store_->Complete(node, g.lease.job, g.lease.attempt, t, Now(), report));
  EXPECT_EQ(Must(store_->CompletedSince(FromUnixMillis(0)))[0].waited, Millis(8'000));
  Node n = Must(store_->ListNodes()).at(0);
  EXPECT_DOUBLE_EQ(n.info.speed, realtime);  // the first measurement is taken whole
  EXPECT_EQ(n.last_seen, Now());
  // A repeated report of the same success changes nothing, its report included.
  report.waited = Millis(1);
  ASSERT_OK(store_->Complete(node, g.lease.job, g.lease.attempt, t, Now(), report));
  EXPECT_EQ(Must(store_->CompletedSince(FromUnixMillis(0)))[0].waited, Millis(8'000));
  EXPECT_DOUBLE_EQ(Must(store_->ListNodes()).at(0).info.speed, realtime);
  // The next job moves the speed a fifth of the way towards its own factor.
  Grant next = ClaimOne(node);
  Transcript slow = t;
  slow.engine_time = Millis(95'250);  // realtime factor 1
  ASSERT_OK(store_->Complete(node, next.lease.job, next.lease.attempt, slow, Now()));
  EXPECT_DOUBLE_EQ(Must(store_->ListNodes()).at(0).info.speed, realtime + 0.2 * (1 - realtime));
  EXPECT_CODE(store_->Complete(node, next.lease.job, next.lease.attempt, t, Now(),
                               CompletionReport{Millis(-1)}),
              Code::kInvalidArgument);
}

TEST_P(StoreTest, FailedAttemptsAreListedWithTheirNode) {
  QueueJob("a");
  const TimePoint start = Now();
  Grant g = ClaimOne(node_b_);
  clock_.Advance(Millis(1'000));
  ASSERT_OK(
      store_->Fail(node_b_, g.lease.job, g.lease.attempt, {"boom", false}, RetryPolicy{}, Now()));
  std::vector<FailedAttempt> failed = Must(store_->FailedSince(start));
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].job, g.lease.job);
  EXPECT_EQ(failed[0].node, node_b_);
  EXPECT_EQ(failed[0].finished_at, Now());
  EXPECT_THAT(Must(store_->FailedSince(Now() + Millis(1))), IsEmpty());
}

TEST_P(StoreTest, NodeSpeedAndPriceAreStored) {
  NodeInfo info = TestNode();
  info.price_per_hour = 0.22;
  info.hardware.gpus[0].cuda = "12.4";
  Node node = Must(store_->RegisterNode(info, "hash-1", Now()));
  ASSERT_OK(store_->SetNodeSpeed(node.id, 87.5));
  Node found = Must(store_->FindNodeByToken("hash-1"));
  EXPECT_DOUBLE_EQ(found.info.speed, 87.5);
  EXPECT_DOUBLE_EQ(found.info.price_per_hour, 0.22);
  EXPECT_EQ(found.info.hardware.gpus[0].cuda, "12.4");
  Node unpriced = Must(store_->RegisterNode(TestNode(), "hash-2", Now()));
  EXPECT_LT(unpriced.info.price_per_hour, 0);
  EXPECT_CODE(store_->SetNodeSpeed(NodeId(999), 1), Code::kNotFound);
}

// ---- priorities ---------------------------------------------------------------------------------

TEST_P(StoreTest, HigherPriorityIsClaimedFirstThenOldest) {
  const JobId a = QueueJob("a");
  const JobId b = QueueJob("b");
  const JobId c = QueueJob("c");
  ASSERT_OK(store_->SetJobPriority(c, 10));
  EXPECT_THAT(ClaimAll(node_a_), ElementsAre(c, a, b));
}

TEST_P(StoreTest, PriorityOfAnUnknownJobIsNotFound) {
  auto r = store_->SetJobPriority(JobId(999), 5);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kNotFound);
}

// ---- moved from store_sqlite_test.cc: they hold on every store ------------------------------

TEST_P(StoreTest, TranscriptionFillsAMissingDuration) {
  ManualClock& clock = clock_;
  Store* store = store_.get();
  EpisodeInfo declared = TestEpisode("declared");
  declared.duration = Millis(90'000);
  auto ids =
      Must(store->AddEpisodes(std::nullopt, {TestEpisode("unknown"), declared}, clock.Now()));
  for (const Grant& g : Must(store->Claim(NodeId(1), 2, kLease, clock.Now())))
    ASSERT_OK(
        store->Complete(NodeId(1), g.lease.job, g.lease.attempt, TestTranscript(), clock.Now()));
  EXPECT_EQ(Must(store->GetEpisode(ids[0])).info.duration, Millis(95'250));
  EXPECT_EQ(Must(store->GetEpisode(ids[1])).info.duration, Millis(90'000));
}

TEST_P(StoreTest, EnrollmentTokensAreListedByIdAndRevokedByIt) {
  ManualClock& clock = clock_;
  Store* store = store_.get();
  const std::string a(64, 'a'), b = "aaaaaaaab" + std::string(55, '0');
  ASSERT_OK(store->AddEnrollmentToken(a, "laptop", clock.Now()));
  clock.Advance(Millis(1));
  ASSERT_OK(store->AddEnrollmentToken(b, "pod", clock.Now()));
  std::vector<EnrollmentToken> tokens = Must(store->ListEnrollmentTokens());
  ASSERT_EQ(tokens.size(), 2u);
  EXPECT_EQ(tokens[0].id, a.substr(0, 12));
  EXPECT_EQ(tokens[0].label, "laptop");
  EXPECT_FALSE(tokens[0].revoked);

  auto ambiguous = store->RevokeEnrollmentToken("aaaaaaaa");
  ASSERT_FALSE(ambiguous);
  EXPECT_EQ(ambiguous.error().code, Code::kInvalidArgument);
  EXPECT_TRUE(Must(store->CheckEnrollmentToken(a)));

  ASSERT_OK(store->RevokeEnrollmentToken(tokens[0].id));
  ASSERT_OK(store->RevokeEnrollmentToken(tokens[0].id));  // again: still revoked, no error
  EXPECT_FALSE(Must(store->CheckEnrollmentToken(a)));
  EXPECT_TRUE(Must(store->CheckEnrollmentToken(b)));
  EXPECT_TRUE(Must(store->ListEnrollmentTokens())[0].revoked);
}

TEST_P(StoreTest, RevokeRefusesMalformedOrUnknownIds) {
  ManualClock& clock = clock_;
  Store* store = store_.get();
  ASSERT_OK(store->AddEnrollmentToken(std::string(64, 'a'), "laptop", clock.Now()));
  for (const char* id : {"", "aaaa", "%", "aaaaaaa%", "AAAAAAAAAAAA", "aaaaaaaa' OR 1=1 --"}) {
    auto r = store->RevokeEnrollmentToken(id);
    ASSERT_FALSE(r) << id;
    EXPECT_EQ(r.error().code, Code::kInvalidArgument) << id;
  }
  auto unknown = store->RevokeEnrollmentToken("bbbbbbbbbbbb");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, Code::kNotFound);
  EXPECT_TRUE(Must(store->CheckEnrollmentToken(std::string(64, 'a'))));
}

TEST_P(StoreTest, FeedIsFoundByItsUrlsGuidAndFingerprint) {
  const Feed feed = Must(store_->AddFeed("https://example.com/old.xml", Now()));
  const Feed other = Must(store_->AddFeed("https://example.com/other.xml", Now()));
  ASSERT_OK(store_->UpdateFeedIdentity(feed.id, FeedIdentity{"https://example.com/new.xml",
                                                             {"https://example.com/alias.xml"},
                                                             "guid-1",
                                                             "fingerprint-1"}));
  EXPECT_EQ(Must(store_->GetFeed(feed.id)).url, "https://example.com/new.xml");
  for (const FeedIdentity& by :
       {FeedIdentity{"https://example.com/old.xml", {}, "", ""},
        FeedIdentity{"https://example.com/nowhere.xml", {"https://example.com/alias.xml"}, "", ""},
        FeedIdentity{"https://example.com/nowhere.xml", {}, "guid-1", ""},
        FeedIdentity{"https://example.com/nowhere.xml", {}, "", "fingerprint-1"}}) {
    std::optional<Feed> found = Must(store_->FindFeed(by));
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->id, feed.id);
  }
  EXPECT_FALSE(Must(store_->FindFeed(FeedIdentity{"https://example.com/none.xml", {}, "", ""})));
  EXPECT_CODE(store_->UpdateFeedIdentity(feed.id, FeedIdentity{other.url, {}, "", ""}),
              Code::kConflict);
  EXPECT_CODE(
      store_->UpdateFeedIdentity(FeedId(999), FeedIdentity{"https://x.example/f", {}, "", ""}),
      Code::kNotFound);
}

}  // namespace
}  // namespace podfleet
