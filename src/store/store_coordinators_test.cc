// Several coordinators on one store: which one holds a relayed chunk's audio (TakePreparing, the
// grant's audio_at), their heartbeats, and what ReclaimAudio gives the living when one goes
// silent. The same on both stores (SQLite records it too, though it has one coordinator).
#include <gtest/gtest.h>

#include "store/store.h"
#include "store/store_test_util.h"
#include "support/manual_clock.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

constexpr Millis kLease{60'000};
constexpr std::string_view kA = "http://a.example:8750";
constexpr std::string_view kB = "http://b.example:8750";

class StoreCoordinators : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override { store_ = Must(GetParam().open(dir_)); }

  // A new episode held for the relay, from `info`; returns its job.
  PreparingJob Hold(const EpisodeInfo& info) {
    auto ids = Must(store_->AddEpisodes(std::nullopt, {info}, clock_.Now(), JobIntake::kPrepare));
    for (const PreparingJob& j : Must(store_->ListPreparing(100, clock_.Now())))
      if (j.episode.id == ids.at(0)) return j;
    ADD_FAILURE() << "not preparing";
    throw std::runtime_error("not preparing");
  }

  static Chunk Relayed(int64_t start_s, int64_t end_s) {
    Chunk c;
    c.start = Millis(start_s * 1'000);
    c.end = Millis(end_s * 1'000);
    c.relayed = true;
    return c;
  }

  void Beat(std::string_view url) { ASSERT_OK(store_->HeartbeatCoordinator(url, clock_.Now())); }

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Store> store_;
  const NodeId node_{1};
};

INSTANTIATE_ON_BOTH_STORES(StoreCoordinators);

TEST_P(StoreCoordinators, GrantNamesTheCoordinatorThatPreparedTheChunk) {
  Beat(kA);
  const PreparingJob held = Hold(TestEpisode("a"));
  ASSERT_OK(store_->TakePreparing(held.job, kA));
  const JobId rest = Must(store_->QueueChunk(held.job, Relayed(0, 60), clock_.Now()));
  Must(store_->PlanChunks(rest, {Relayed(60, 90)}, clock_.Now()));
  auto grants = Must(store_->Claim(node_, 10, kLease, clock_.Now()));
  ASSERT_EQ(grants.size(), 2u);
  for (const Grant& g : grants) EXPECT_EQ(g.audio_at, kA) << g.chunk.index;
}

TEST_P(StoreCoordinators, ChunksOfTheOnlyCoordinatorNameNone) {
  const PreparingJob held = Hold(TestEpisode("a"));
  Must(store_->PlanChunks(held.job, {Relayed(0, 60)}, clock_.Now()));
  auto grants = Must(store_->Claim(node_, 10, kLease, clock_.Now()));
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_EQ(grants[0].audio_at, "");
}

TEST_P(StoreCoordinators, AJobTakenByOneCoordinatorIsNotListedNorTakenByAnother) {
  const PreparingJob held = Hold(TestEpisode("a"));
  ASSERT_OK(store_->TakePreparing(held.job, kA));
  ASSERT_OK(store_->TakePreparing(held.job, kA));  // again, after a restart: still its own
  EXPECT_CODE(store_->TakePreparing(held.job, kB), Code::kConflict);
  EXPECT_TRUE(Must(store_->ListPreparing(10, clock_.Now(), kB)).empty());
  EXPECT_EQ(Must(store_->ListPreparing(10, clock_.Now(), kA)).size(), 1u);
}

TEST_P(StoreCoordinators, ChunksOfASilentCoordinatorAreNotLeased) {
  Beat(kA);
  const PreparingJob held = Hold(TestEpisode("a"));
  ASSERT_OK(store_->TakePreparing(held.job, kA));
  Must(store_->PlanChunks(held.job, {Relayed(0, 60)}, clock_.Now()));
  clock_.Advance(kCoordinatorSilence + Millis(1));
  EXPECT_TRUE(Must(store_->Claim(node_, 10, kLease, clock_.Now())).empty());
  Beat(kA);  // it was only slow
  EXPECT_EQ(Must(store_->Claim(node_, 10, kLease, clock_.Now())).size(), 1u);
}

TEST_P(StoreCoordinators, QueuedChunksOfASilentCoordinatorArePreparedAgainByAnother) {
  Beat(kA);
  Beat(kB);
  const PreparingJob held = Hold(TestEpisode("a"));
  ASSERT_OK(store_->TakePreparing(held.job, kA));
  auto ids = Must(store_->PlanChunks(held.job, {Relayed(0, 60), Relayed(60, 90)}, clock_.Now()));
  ASSERT_EQ(ids.size(), 2u);
  // A worker holds chunk 0; chunk 1 waits in the queue.
  auto leased = Must(store_->Claim(node_, 1, kLease, clock_.Now()));
  ASSERT_EQ(leased.size(), 1u);
  EXPECT_EQ(Must(store_->ReclaimAudio(clock_.Now())), 0);  // everyone alive

  clock_.Advance(kCoordinatorSilence + Millis(1));
  Beat(kB);  // A went silent
  EXPECT_EQ(Must(store_->ReclaimAudio(clock_.Now())), 1);
  EXPECT_EQ(Must(store_->GetJob(leased[0].lease.job)).state, JobState::kLeased);  // its lease's
  auto again = Must(store_->ListPreparing(10, clock_.Now(), kB));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].job, ids[1]);
  EXPECT_EQ(again[0].next.index, 1);
  EXPECT_EQ(again[0].next.count, 2);
  EXPECT_EQ(again[0].next.start, Millis(60'000));
  EXPECT_EQ(again[0].next.end, Millis(90'000));

  ASSERT_OK(store_->TakePreparing(ids[1], kB));
  EXPECT_CODE(store_->QueueChunk(ids[1], Relayed(60, 90), clock_.Now()), Code::kInvalidArgument);
  ASSERT_OK(store_->QueuePreparedAgain(ids[1], /*relayed=*/true, clock_.Now()));
  auto grants = Must(store_->Claim(node_, 10, kLease, clock_.Now()));
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_EQ(grants[0].lease.job, ids[1]);
  EXPECT_EQ(grants[0].audio_at, kB);
  EXPECT_EQ(grants[0].chunk.index, 1);
  EXPECT_EQ(grants[0].chunk.count, 2);
  EXPECT_EQ(grants[0].chunk.end, Millis(90'000));
  EXPECT_TRUE(grants[0].chunk.relayed);
}

TEST_P(StoreCoordinators, AnEpisodeASilentCoordinatorWasPreparingIsFreeForAnother) {
  Beat(kA);
  const PreparingJob held = Hold(TestEpisode("a"));
  ASSERT_OK(store_->TakePreparing(held.job, kA));
  const JobId rest = Must(store_->QueueChunk(held.job, Relayed(0, 60), clock_.Now()));
  clock_.Advance(kCoordinatorSilence + Millis(1));
  Beat(kB);
  // The queued chunk 0 goes back to be prepared again; the rest is free as it was.
  EXPECT_EQ(Must(store_->ReclaimAudio(clock_.Now())), 2);
  auto free = Must(store_->ListPreparing(10, clock_.Now(), kB));
  ASSERT_EQ(free.size(), 2u);
  EXPECT_EQ(free[0].job, held.job);
  EXPECT_EQ(free[0].next.end, Millis(60'000));
  EXPECT_EQ(free[1].job, rest);
  EXPECT_EQ(free[1].next.start, Millis(60'000));
  EXPECT_FALSE(free[1].next.end);
  ASSERT_OK(store_->TakePreparing(rest, kB));
}

TEST_P(StoreCoordinators, AnUploadHeldOnlyByASilentCoordinatorFailsItsJobNamingIt) {
  Beat(kA);
  EpisodeInfo upload = TestEpisode("upload");
  upload.audio_url = std::string(kA) + "/api/media/0123456789abcdef";
  const PreparingJob held = Hold(upload);
  EpisodeInfo origin_mode = TestEpisode("upload2");
  origin_mode.audio_url = std::string(kA) + "/api/media/00000000000000ff";
  auto queued = Must(store_->AddEpisodes(std::nullopt, {origin_mode}, clock_.Now()));
  EpisodeInfo elsewhere = TestEpisode("other");
  elsewhere.audio_url = std::string(kB) + "/api/media/0123456789abcdef";
  auto other = Must(store_->AddEpisodes(std::nullopt, {elsewhere}, clock_.Now()));

  clock_.Advance(kCoordinatorSilence + Millis(1));
  Beat(kB);
  EXPECT_EQ(Must(store_->ReclaimAudio(clock_.Now())), 2);
  for (EpisodeId id : {held.episode.id, queued.at(0)}) {
    const Episode e = Must(store_->GetEpisode(id));
    EXPECT_EQ(e.state, EpisodeState::kFailed);
    EXPECT_NE(e.error.find(std::string(kA) + ", which stopped"), std::string::npos) << e.error;
  }
  EXPECT_EQ(Must(store_->GetEpisode(other.at(0))).state, EpisodeState::kQueued);
}

TEST_P(StoreCoordinators, AChunkPreparedAgainMayBeQueuedForWorkersToCutFromTheOrigin) {
  Beat(kA);
  const PreparingJob held = Hold(TestEpisode("a"));
  ASSERT_OK(store_->TakePreparing(held.job, kA));
  Must(store_->PlanChunks(held.job, {Relayed(0, 60)}, clock_.Now()));
  clock_.Advance(kCoordinatorSilence + Millis(1));
  EXPECT_EQ(Must(store_->ReclaimAudio(clock_.Now())), 1);
  ASSERT_OK(store_->QueuePreparedAgain(held.job, /*relayed=*/false, clock_.Now()));
  EXPECT_CODE(store_->QueuePreparedAgain(held.job, false, clock_.Now()), Code::kConflict);
  auto grants = Must(store_->Claim(node_, 10, kLease, clock_.Now()));
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_FALSE(grants[0].chunk.relayed);
  EXPECT_EQ(grants[0].chunk.end, Millis(60'000));
  EXPECT_EQ(grants[0].audio_at, "");
}

}  // namespace
}  // namespace podfleet
