// Jobs that ask for an engine, model or language (JobRequirement) go only to workers that can
// serve them: Claim's filter, chunks inheriting it, and transcribing again with another model.
#include <gtest/gtest.h>

#include "store/store.h"
#include "store/store_test_util.h"
#include "support/manual_clock.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

constexpr Millis kLease{60'000};

class StoreRouting : public ::testing::Test {
 protected:
  void SetUp() override { store_ = Must(OpenSqliteStore(dir_.File("podfleet.db"))); }

  NodeId Worker(const std::string& engine, const std::string& model) {
    NodeInfo info;
    info.name = engine + "-" + model;
    info.engine = engine;
    info.model = model;
    return Must(store_->RegisterNode(info, "hash-" + info.name, clock_.Now())).id;
  }

  EpisodeId Add(const std::string& guid, const JobRequirement& want,
                JobIntake intake = JobIntake::kQueue) {
    return Must(store_->AddEpisodes(std::nullopt, {TestEpisode(guid)}, clock_.Now(), intake, {},
                                    want))
        .at(0);
  }

  // The guids of the episodes `node` is granted when it claims up to 10 jobs.
  std::vector<std::string> Claimed(NodeId node) {
    std::vector<std::string> guids;
    for (const Grant& g : Must(store_->Claim(node, 10, kLease, clock_.Now())))
      guids.push_back(g.episode.info.guid);
    return guids;
  }

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Store> store_;
};

using Guids = std::vector<std::string>;

TEST_F(StoreRouting, ClaimGivesEachWorkerOnlyTheJobsItCanServe) {
  const NodeId english = Worker("pocketsphinx", "en-us");
  const NodeId multilingual = Worker("whisper", "base");
  const NodeId english_whisper = Worker("whisper", "base.en");
  Add("french", {.language = "fr"});
  Add("base", {.engine = "whisper", .model = "base"});
  Add("sphinx-en", {.engine = "pocketsphinx", .model = "en-us", .language = "en"});
  Add("any", {});
  Add("english", {.language = "en"});
  EXPECT_EQ(Claimed(english), (Guids{"sphinx-en", "any", "english"}));
  EXPECT_EQ(Claimed(english_whisper), Guids{}) << "nothing left it can serve";
  EXPECT_EQ(Claimed(multilingual), (Guids{"french", "base"}));
}

TEST_F(StoreRouting, TheGrantCarriesTheRequirementAndJobsKeepIt) {
  const NodeId whisper = Worker("whisper", "small");
  const EpisodeId id = Add("a", {.engine = "whisper", .language = "de"});
  const JobRequirement want{.engine = "whisper", .language = "de"};
  EXPECT_EQ(Must(store_->GetJobForEpisode(id)).want, want);
  auto grants = Must(store_->Claim(whisper, 1, kLease, clock_.Now()));
  ASSERT_EQ(grants.size(), 1u);
  EXPECT_EQ(grants[0].want, want);
}

TEST_F(StoreRouting, AnUnregisteredNodeTakesOnlyJobsThatAskNothing) {
  Add("french", {.language = "fr"});
  Add("any", {});
  EXPECT_EQ(Claimed(NodeId(999)), Guids{"any"});
}

TEST_F(StoreRouting, ChunksCutByTheRelayAskWhatTheirEpisodeAsked) {
  const NodeId english = Worker("pocketsphinx", "en-us");
  const NodeId multilingual = Worker("whisper", "base");
  Add("long", {.language = "fr"}, JobIntake::kPrepare);
  const JobId held = Must(store_->ListPreparing(10, clock_.Now())).at(0).job;
  Chunk first;
  first.end = Millis(10'000);
  first.relayed = true;
  const JobId rest = Must(store_->QueueChunk(held, first, clock_.Now()));
  Chunk second;
  second.index = 1;
  second.start = Millis(10'000);
  second.relayed = true;
  ASSERT_OK(store_->PlanChunks(rest, {second}, clock_.Now()));
  EXPECT_EQ(Claimed(english), Guids{});
  EXPECT_EQ(Claimed(multilingual), (Guids{"long", "long"}));
}

TEST_F(StoreRouting, TranscribeAgainWithAnotherModelKeepsTheOldTranscriptUntilTheNew) {
  const NodeId english = Worker("pocketsphinx", "en-us");
  const NodeId whisper = Worker("whisper", "base");
  const EpisodeId id = Add("a", {.engine = "pocketsphinx"});
  auto first = Must(store_->Claim(english, 1, kLease, clock_.Now()));
  ASSERT_EQ(first.size(), 1u);
  Transcript old_words = TestTranscript();
  old_words.engine = "pocketsphinx";
  ASSERT_OK(store_->Complete(english, first[0].lease.job, first[0].lease.attempt, old_words,
                             clock_.Now()));
  const JobRequirement again{.engine = "whisper", .model = "base", .language = "en"};
  ASSERT_OK(store_->TranscribeAgain(id, clock_.Now(), JobIntake::kQueue, again));
  EXPECT_EQ(Must(store_->GetJobForEpisode(id)).want, again);
  EXPECT_EQ(Claimed(english), Guids{}) << "the old engine no longer serves the episode";
  EXPECT_EQ(Must(store_->GetTranscript(id)).engine, "pocketsphinx");
  auto second = Must(store_->Claim(whisper, 1, kLease, clock_.Now()));
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].want.language, "en");
  EXPECT_EQ(Must(store_->GetTranscript(id)).engine, "pocketsphinx") << "still the old one";
  Transcript new_words = TestTranscript();
  new_words.engine = "whisper";
  ASSERT_OK(store_->Complete(whisper, second[0].lease.job, second[0].lease.attempt, new_words,
                             clock_.Now()));
  EXPECT_EQ(Must(store_->GetTranscript(id)).engine, "whisper");
}

TEST_F(StoreRouting, RequirementsSurviveReopening) {
  const EpisodeId id = Add("a", {.engine = "whisper", .model = "base", .language = "fr"});
  store_.reset();
  store_ = Must(OpenSqliteStore(dir_.File("podfleet.db")));
  EXPECT_EQ(Must(store_->GetJobForEpisode(id)).want,
            (JobRequirement{.engine = "whisper", .model = "base", .language = "fr"}));
}

}  // namespace
}  // namespace podfleet
