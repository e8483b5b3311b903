// Full-text search over stored transcripts: indexing in the transcript's transaction (whole
// episodes and stitched chunks), ranking, phrases, prefixes, filters, snippets, removal with the
// episode or feed, the episode list's search, the rebuild, and the upgrade of a version-5 file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "store/migrations.h"
#include "store/sqlite_db.h"
#include "store/store.h"
#include "store/store_test_util.h"
#include "support/manual_clock.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

using ::testing::ElementsAre;

constexpr Millis kLease{60'000};

Transcript Said(std::vector<std::pair<int, std::string>> lines) {
  Transcript t;
  t.engine = "test";
  t.audio_duration = Millis(600'000);
  for (auto& [at_s, text] : lines)
    t.segments.push_back(Segment{Millis(at_s * 1000), Millis(at_s * 1000 + 900), text, "", {}});
  return t;
}

class StoreSearch : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override { store_ = Must(GetParam().open(dir_)); }

  // Adds an episode (to `feed`, published at `published_s`) and completes it with `said`.
  EpisodeId Transcribed(const std::string& guid, const Transcript& said,
                        std::optional<FeedId> feed = std::nullopt, int64_t published_s = 0) {
    EpisodeInfo info = TestEpisode(guid, "Episode " + guid);
    if (published_s > 0) info.published_at = FromUnixMillis(published_s * 1000);
    const EpisodeId id = Must(store_->AddEpisodes(feed, {info}, clock_.Now())).at(0);
    auto grants = Must(store_->Claim(node_, 1, kLease, clock_.Now()));
    EXPECT_EQ(grants.size(), 1u);
    const Grant& g = grants.at(0);
    EXPECT_OK(store_->Complete(node_, g.lease.job, g.lease.attempt, said, clock_.Now()));
    return id;
  }

  std::vector<SearchHit> Find(const std::string& text) {
    return Must(store_->Search(SearchQuery{.text = text}));
  }

  std::vector<int64_t> EpisodesFound(SearchQuery q) {
    std::vector<int64_t> ids;
    for (const SearchHit& h : Must(store_->Search(q))) ids.push_back(h.episode.value());
    return ids;
  }

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Store> store_;
  const NodeId node_{1};
};

INSTANTIATE_ON_BOTH_STORES(StoreSearch);

// Tests that edit the SQLite file behind the store's back: SQLite only.
class StoreSearchSqliteOnly : public StoreSearch {};
INSTANTIATE_TEST_SUITE_P(Sqlite, StoreSearchSqliteOnly, ::testing::Values(SqliteBackend()),
                         BackendName);

TEST_P(StoreSearch, FindsAWordWithItsEpisodeTimeAndSnippet) {
  const EpisodeId id = Transcribed(
      "a",
      Said({{3, "Welcome to the show"}, {65, "Our guest is an Amiable otter from the river"}}));
  auto hits = Find("amiable");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].episode, id);
  EXPECT_EQ(hits[0].title, "Episode a");
  EXPECT_EQ(hits[0].start, Millis(65'000));
  EXPECT_EQ(hits[0].end, Millis(65'900));
  EXPECT_EQ(hits[0].snippet, std::string("Our guest is an ") + kMatchStart + "Amiable" + kMatchEnd +
                                 " otter from the river");
}

// The index rows of a batch of results go in together at the end of its write: each recorded
// result is found, a refused one (a stale attempt) is not, until it is recorded.
TEST_P(StoreSearch, CompleteManyIndexesEachRecordedResultAndNotARefusedOne) {
  const std::vector<std::string> words = {"aardvark", "badger", "capybara"};
  std::vector<EpisodeInfo> infos;
  for (const std::string& w : words) infos.push_back(TestEpisode(w, "Episode " + w));
  const std::vector<EpisodeId> ids = Must(store_->AddEpisodes(std::nullopt, infos, clock_.Now()));
  std::vector<Grant> grants = Must(store_->Claim(node_, 3, kLease, clock_.Now()));
  ASSERT_EQ(grants.size(), 3u);
  std::vector<CompletionInput> results;
  for (const Grant& g : grants)
    results.push_back({g.lease.job, g.lease.attempt, Said({{1, "A " + g.episode.info.guid}}), {}});
  results[1].attempt = AttemptId(99);
  std::vector<Result<Completion>> done = Must(store_->CompleteMany(node_, results, clock_.Now()));
  ASSERT_EQ(done.size(), 3u);
  EXPECT_CODE(done[1], Code::kConflict);
  EXPECT_THAT(EpisodesFound({.text = "aardvark"}), ElementsAre(ids[0].value()));
  EXPECT_THAT(EpisodesFound({.text = "badger"}), ElementsAre());
  EXPECT_THAT(EpisodesFound({.text = "capybara"}), ElementsAre(ids[2].value()));

  results = {{grants[1].lease.job, grants[1].lease.attempt, Said({{1, "A badger"}}), {}}};
  done = Must(store_->CompleteMany(node_, results, clock_.Now()));
  ASSERT_TRUE(done.at(0));
  EXPECT_THAT(EpisodesFound({.text = "badger"}), ElementsAre(ids[1].value()));
}

// Every segment of a long transcript is indexed (one statement for all of them), at its own time;
// transcribing the episode again replaces its rows.
TEST_P(StoreSearch, EverySegmentOfALongTranscriptIsFoundAndATranscriptionAgainReplacesThem) {
  std::vector<std::pair<int, std::string>> lines;
  for (int i = 0; i < 400; ++i) lines.push_back({i * 2, fmt::format("line {} of the talk", i)});
  lines[317].second = "the walrus speaks here";
  const EpisodeId id = Transcribed("long", Said(lines));
  auto hits = Find("walrus");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].start, Millis(634'000));
  EXPECT_EQ(Must(store_->Search(SearchQuery{.text = "talk", .limit = 1000})).size(), 399u);

  ASSERT_OK(store_->TranscribeAgain(id, clock_.Now()));
  auto grants = Must(store_->Claim(node_, 1, kLease, clock_.Now()));
  ASSERT_EQ(grants.size(), 1u);
  ASSERT_OK(store_->Complete(node_, grants[0].lease.job, grants[0].lease.attempt,
                             Said({{5, "now a narwhal"}}), clock_.Now()));
  EXPECT_THAT(EpisodesFound({.text = "walrus"}), ElementsAre());
  EXPECT_THAT(EpisodesFound({.text = "talk"}), ElementsAre());
  EXPECT_THAT(EpisodesFound({.text = "narwhal"}), ElementsAre(id.value()));
}

TEST_P(StoreSearch, PhrasesPrefixesAndDiacritics) {
  Transcribed("a", Said({{1, "the amiable otter is here"}, {2, "amiable otters swim"}}));
  Transcribed("b", Said({{1, "a café in Zürich"}}));
  EXPECT_EQ(Find("\"amiable otter\"").size(), 1u);  // "amiable otters" is another word
  EXPECT_EQ(Find("otter").size(), 1u);
  EXPECT_EQ(Find("otter*").size(), 2u);
  EXPECT_EQ(Find("cafe zurich").size(), 1u);
  EXPECT_EQ(Find("CAFÉ").size(), 1u);
  EXPECT_EQ(Find("otter OR cafe").size(), 2u);
  EXPECT_TRUE(Find("giraffe").empty());
  EXPECT_TRUE(Find("NEAR(otter amiable)").empty()) << "FTS5 syntax is only text";
  EXPECT_CODE(store_->Search(SearchQuery{.text = "  "}), Code::kInvalidArgument);
  EXPECT_CODE(store_->Search(SearchQuery{.text = "x", .limit = -1}), Code::kInvalidArgument);
}

TEST_P(StoreSearch, BestMatchesComeFirst) {
  Transcribed("a", Said({{1, "otter and many other words about rivers lakes and the sea today"}}));
  Transcribed("b", Said({{1, "otter otter otter"}}));
  auto hits = Find("otter");
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].title, "Episode b");
  EXPECT_LT(hits[0].score, hits[1].score);
}

TEST_P(StoreSearch, FiltersByFeedAndPublicationDate) {
  const FeedId f1 = Must(store_->AddFeed("https://example.com/1.xml", clock_.Now())).id;
  const FeedId f2 = Must(store_->AddFeed("https://example.com/2.xml", clock_.Now())).id;
  const EpisodeId a = Transcribed("a", Said({{1, "otter"}}), f1, 1'000);
  const EpisodeId b = Transcribed("b", Said({{1, "otter"}}), f2, 2'000);
  const EpisodeId c = Transcribed("c", Said({{1, "otter"}}), f1, 3'000);
  EXPECT_THAT(EpisodesFound({.text = "otter", .feed = f2}), ElementsAre(b.value()));
  EXPECT_THAT(EpisodesFound({.text = "otter", .feed = f1}), ElementsAre(a.value(), c.value()));
  EXPECT_THAT(EpisodesFound({.text = "otter", .from = FromUnixMillis(2'000'000)}),
              ElementsAre(b.value(), c.value()));
  EXPECT_THAT(
      EpisodesFound(
          {.text = "otter", .from = FromUnixMillis(1'000'000), .to = FromUnixMillis(3'000'000)}),
      ElementsAre(a.value(), b.value()));
  EXPECT_THAT(EpisodesFound({.text = "otter", .limit = 1, .offset = 1}), ElementsAre(b.value()));
}

TEST_P(StoreSearch, ChunkedEpisodeIsFoundOnlyOnceStitched) {
  const EpisodeId id = Must(store_->AddEpisodes(std::nullopt, {TestEpisode("long")}, clock_.Now(),
                                                JobIntake::kPrepare))
                           .at(0);
  const JobId held = Must(store_->ListPreparing(10, clock_.Now())).at(0).job;
  std::vector<Chunk> chunks(2);
  chunks[0].end = Millis(600'000);
  chunks[1].start = Millis(600'000);
  ASSERT_OK(store_->PlanChunks(held, chunks, clock_.Now()));
  auto grants = Must(store_->Claim(node_, 2, kLease, clock_.Now()));
  ASSERT_EQ(grants.size(), 2u);
  ASSERT_OK(store_->Complete(node_, grants[1].lease.job, grants[1].lease.attempt,
                             Said({{5, "second half otter"}}), clock_.Now()));
  EXPECT_TRUE(Find("otter").empty()) << "half an episode is not searchable";
  ASSERT_OK(store_->Complete(node_, grants[0].lease.job, grants[0].lease.attempt,
                             Said({{5, "first half"}}), clock_.Now()));
  auto hits = Find("otter");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].episode, id);
  EXPECT_EQ(hits[0].start, Millis(605'000)) << "times are the episode's, not the chunk's";
  EXPECT_EQ(Find("half").size(), 2u);
}

TEST_P(StoreSearch, RemovedFeedLeavesNothingFound) {
  const FeedId f = Must(store_->AddFeed("https://example.com/1.xml", clock_.Now())).id;
  Transcribed("a", Said({{1, "otter"}}), f);
  ASSERT_EQ(Find("otter").size(), 1u);
  ASSERT_OK(store_->RemoveFeed(f));
  EXPECT_TRUE(Find("otter").empty());
}

TEST_P(StoreSearch, EpisodeListSearchFindsTranscriptWordsAndTitles) {
  const EpisodeId a = Transcribed("a", Said({{1, "an amiable otter"}}));
  const EpisodeId b = Transcribed("b", Said({{1, "nothing here"}}));
  auto ids = [&](const std::string& search) {
    std::vector<int64_t> out;
    for (const Episode& e : Must(store_->ListEpisodes({.search = search})))
      out.push_back(e.id.value());
    return out;
  };
  EXPECT_THAT(ids("amiable"), ElementsAre(a.value()));
  EXPECT_THAT(ids("episode b"), ElementsAre(b.value())) << "titles still match";
  EXPECT_THAT(ids("\""), ElementsAre()) << "a lone quote matches no title and no transcript";
}

TEST_P(StoreSearchSqliteOnly, RebuildRestoresADamagedIndex) {
  Transcribed("a", Said({{1, "amiable otter"}, {2, "river"}}));
  Transcribed("b", Said({{1, "river"}}));
  {
    Db db = Must(Db::Open(dir_.File("podfleet.db"), 1'000));
    ASSERT_OK(db.Exec("INSERT INTO transcript_search (transcript_search) VALUES ('delete-all')"));
  }
  EXPECT_TRUE(Find("river").empty());
  EXPECT_EQ(Must(store_->RebuildSearchIndex()), 3);
  EXPECT_EQ(Find("river").size(), 2u);
  EXPECT_EQ(Find("amiable").size(), 1u);
  Db db = Must(Db::Open(dir_.File("podfleet.db"), 1'000));
  EXPECT_OK(db.Exec(
      "INSERT INTO transcript_search (transcript_search, rank) VALUES ('integrity-check', 1)"));
}

// A database written before search existed: migration 6 indexes the transcripts it holds.
TEST(StoreSearchUpgrade, TranscriptsStoredBeforeAreIndexed) {
  TempDir dir;
  {
    Db db = Must(Db::Open(dir.File("podfleet.db"), 1'000));
    ASSERT_EQ(Must(Migrate(db, SchemaMigrations().first(5))), 5);
    ASSERT_OK(db.Exec(
        "INSERT INTO episodes (id, guid, title, audio_url, audio_type, audio_length, state, "
        "created_at, updated_at) VALUES (1, 'g', 'Old', 'https://x/a.mp3', '', 0, 'done', 0, 0);"
        "INSERT INTO transcripts VALUES (1, 'en', 'e', 'm', 1000, 10, "
        "'[{\"start\":1500,\"end\":2000,\"text\":\"amiable "
        "otter\",\"speaker\":\"\",\"words\":[]}]', "
        "0);"));
  }
  auto store = Must(OpenSqliteStore(dir.File("podfleet.db")));
  auto hits = Must(store->Search({.text = "otter"}));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].episode, EpisodeId(1));
  EXPECT_EQ(hits[0].start, Millis(1'500));
}

}  // namespace
}  // namespace podfleet

namespace podfleet {
namespace {

// A word in more than kRankedMatches segments: every hit still holds it, newest-indexed first,
// marked unranked; a rarer word beside it is still ranked; filters and paging still apply.
TEST_P(StoreSearch, AWordTooCommonToRankComesNewestFirstAndStillMatches) {
  std::vector<std::pair<int, std::string>> lines;
  for (int i = 0; i <= kRankedMatches; ++i)
    lines.push_back({i, i % 1000 == 7 ? "the otter swims" : "the river flows"});
  const EpisodeId old_one = Transcribed("old", Said(lines), std::nullopt, 1'000);
  const EpisodeId new_one = Transcribed(
      "new", Said({{5, "the heron waits"}, {9, "the heron flies"}}), std::nullopt, 2'000);
  SearchQuery common{.text = "the", .limit = 3};
  auto hits = Must(store_->Search(common));
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_FALSE(hits[0].ranked);
  EXPECT_EQ(hits[0].episode, new_one);
  EXPECT_EQ(hits[0].start, Millis(9'000));  // the last indexed first
  EXPECT_EQ(hits[1].start, Millis(5'000));
  EXPECT_EQ(hits[2].episode, old_one);
  for (const SearchHit& h : hits)
    EXPECT_NE(h.snippet.find(std::string(1, kMatchStart) + "the"), std::string::npos);
  common.offset = 2;
  EXPECT_EQ(Must(store_->Search(common)).at(0).start, Millis(kRankedMatches * 1000));
  common.offset = 0;
  common.from = FromUnixMillis(0);
  common.to = FromUnixMillis(1'500'000);
  for (const SearchHit& h : Must(store_->Search(common))) EXPECT_EQ(h.episode, old_one);
  auto rare = Find("otter");
  ASSERT_EQ(rare.size(), 10u);
  EXPECT_TRUE(rare[0].ranked);
  EXPECT_LT(rare[0].score, 0);
}

}  // namespace
}  // namespace podfleet
