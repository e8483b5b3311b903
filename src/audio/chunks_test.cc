#include "audio/chunks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>

namespace podfleet {
namespace {

// "Speech": noise bursts of 2.7 s, each followed by 0.3 s of near silence, except for one long
// pause of 1 s starting at `long_pause_at`.
PcmAudio Talk(Millis length, Millis long_pause_at) {
  PcmAudio a;
  const int64_t n = ToSamples(length).count;
  a.samples.resize(static_cast<size_t>(n));
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> noise(-0.5f, 0.5f);
  const int64_t pause_from = ToSamples(long_pause_at).count;
  const int64_t pause_to = pause_from + kSampleRate;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t in_cycle = i % (3 * kSampleRate);
    const bool quiet = in_cycle >= 27 * kSampleRate / 10 || (i >= pause_from && i < pause_to);
    a.samples[static_cast<size_t>(i)] = quiet ? noise(rng) * 0.001f : noise(rng);
  }
  return a;
}

bool Quiet(const PcmAudio& a, Samples at) {
  for (int64_t i = at.count - 800; i < at.count + 800; ++i)
    if (std::fabs(a.samples[static_cast<size_t>(i)]) > 0.01f) return false;
  return true;
}

TEST(ChooseChunks, ShortAudioIsOneChunk) {
  PcmAudio a = Talk(Millis(70'000), Millis(30'000));
  auto pieces = ChooseChunks(a, {Millis(60'000), Millis(10'000)});
  ASSERT_EQ(pieces.size(), 1u);
  EXPECT_EQ(pieces[0].begin, Samples{0});
  EXPECT_EQ(pieces[0].end, a.size());
}

TEST(ChooseChunks, CutsInPausesNearTheTargetAndCoversEverything) {
  PcmAudio a = Talk(Millis(200'000), Millis(61'500));
  const ChunkOptions options{Millis(60'000), Millis(10'000)};
  auto pieces = ChooseChunks(a, options);
  // Cuts near 62, 120 and 180 s: the last 20 s, at least a quarter of a target.
  ASSERT_EQ(pieces.size(), 4u);
  EXPECT_EQ(pieces.front().begin, Samples{0});
  EXPECT_EQ(pieces.back().end, a.size());
  for (size_t i = 0; i + 1 < pieces.size(); ++i) {
    EXPECT_EQ(pieces[i].end, pieces[i + 1].begin);
    const Millis length = ToMillis(Samples{pieces[i].end.count - pieces[i].begin.count});
    EXPECT_GE(length, Millis(50'000));
    EXPECT_LE(length, Millis(70'000));
    EXPECT_TRUE(Quiet(a, pieces[i].end)) << "cut " << i << " at " << pieces[i].end.count;
  }
  // The first cut takes the long pause, the quietest stretch in range.
  EXPECT_GE(pieces[0].end, ToSamples(Millis(61'500)));
  EXPECT_LE(pieces[0].end, ToSamples(Millis(62'500)));
  // The others have only short pauses in range, all about as quiet: each takes the one nearest
  // its aim (2 and 3 targets), not the quietest of them anywhere in the search.
  for (size_t k = 1; k < 3; ++k) {
    const Samples aim = ToSamples(Millis(60'000 * static_cast<int64_t>(k + 1)));
    EXPECT_LE(std::llabs(pieces[k].end.count - aim.count), ToSamples(Millis(1'500)).count)
        << "cut " << k << " at " << pieces[k].end.count;
  }
}

// Pauses every 5 s and a target of 14 s: the nearest pause is about a second past each aim.
// Were each cut aimed a target past the previous one, the seconds would add up (chunks of 15 s,
// 19 of them in 20 targets, the cuts drifting ever further from the grid); aimed at k targets
// from the start, every cut stays within the search of its aim and 20 targets are 20 chunks.
TEST(ChooseChunks, SnappingErrorsDoNotAccumulate) {
  PcmAudio a;
  a.samples.resize(static_cast<size_t>(ToSamples(Millis(20 * 14'000)).count));
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> noise(-0.5f, 0.5f);
  for (size_t i = 0; i < a.samples.size(); ++i) {
    const bool quiet = static_cast<int64_t>(i) % (5 * kSampleRate) >= 47 * kSampleRate / 10;
    a.samples[i] = quiet ? noise(rng) * 0.001f : noise(rng);
  }
  const ChunkOptions o{Millis(14'000), Millis(3'000)};
  const std::vector<Piece> pieces = ChooseChunks(a, o);
  ASSERT_EQ(pieces.size(), 20u);
  for (size_t k = 1; k < pieces.size(); ++k) {
    const int64_t aim = ToSamples(Millis(14'000 * static_cast<int64_t>(k))).count;
    EXPECT_LE(std::abs(pieces[k - 1].end.count - aim), ToSamples(Millis(3'000)).count)
        << "cut " << k;
    EXPECT_TRUE(Quiet(a, pieces[k - 1].end)) << "cut " << k;
  }
  ChunkCutter cutter(o);
  std::vector<CutChunk> cut;
  for (size_t at = 0; at < a.samples.size(); at += kSampleRate)
    for (CutChunk& c : cutter.Push(std::span(a.samples).subspan(at, kSampleRate)))
      cut.push_back(std::move(c));
  for (CutChunk& c : cutter.Finish()) cut.push_back(std::move(c));
  ASSERT_EQ(cut.size(), pieces.size());
  for (size_t i = 0; i < cut.size(); ++i) EXPECT_EQ(cut[i].piece.end, pieces[i].end);
}

TEST(ChooseChunks, SilenceStillGetsCutAtTheTarget) {
  PcmAudio a;
  a.samples.assign(static_cast<size_t>(ToSamples(Millis(300'000)).count), 0.0f);
  auto pieces = ChooseChunks(a, {Millis(100'000), Millis(5'000)});
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces.back().end, a.size());
}

constexpr Millis kMinute{60'000};

TEST(SpreadTarget, ThreeHoursOnEightIdlePodsAreTwentyFourChunks) {
  EXPECT_EQ(SpreadTarget(180 * kMinute, 10 * kMinute, 8), Millis(450'000));
}

TEST(SpreadTarget, AnHourOnEightPodsIsOneRound) {
  EXPECT_EQ(SpreadTarget(60 * kMinute, 10 * kMinute, 8), Millis(450'000));
}

TEST(SpreadTarget, ChunksStayAtLeastHalfTheTarget) {
  EXPECT_EQ(SpreadTarget(180 * kMinute, 10 * kMinute, 64), 5 * kMinute);
  EXPECT_EQ(SpreadTarget(15 * kMinute, 10 * kMinute, 8), 5 * kMinute);
}

TEST(SpreadTarget, TheTargetStandsWithoutIdleWorkersOrForOneChunkEpisodes) {
  EXPECT_EQ(SpreadTarget(180 * kMinute, 10 * kMinute, 0), 10 * kMinute);
  EXPECT_EQ(SpreadTarget(180 * kMinute, 10 * kMinute, 1), 10 * kMinute);
  EXPECT_EQ(SpreadTarget(12 * kMinute, 10 * kMinute, 8), 10 * kMinute);   // one chunk at 10 min
  EXPECT_EQ(SpreadTarget(160 * kMinute, 10 * kMinute, 8), 10 * kMinute);  // 16: whole rounds
  EXPECT_EQ(SpreadTarget(180 * kMinute, Millis(0), 8), Millis(0));
}

// A minute's first chunk and 179 minutes on 8 pods: 24 chunks of 7.5 minutes after it, the last
// 6.5 (the first chunk's worker takes it), rather than 24 of 7.46 on top of the first minute.
TEST(SpreadTarget, AShortFirstChunkCountsInItsWorkersRound) {
  EXPECT_EQ(SpreadTarget(179 * kMinute, 10 * kMinute, 8, kMinute), Millis(450'000));
  EXPECT_EQ(SpreadTarget(179 * kMinute, 10 * kMinute, 8), Millis(447'500));
  EXPECT_EQ(SpreadTarget(99 * kMinute, 10 * kMinute, 8, kMinute), Millis(375'000));
  // 159 + 1 minutes are 16 chunks of 10 in whole rounds: the target stands, the last is 9.
  EXPECT_EQ(SpreadTarget(159 * kMinute, 10 * kMinute, 8, kMinute), 10 * kMinute);
}

// Fewer chunks than workers: the first chunk's worker takes no other, so it is not counted; nor
// is a first chunk over half a chunk, which is spread as a chunk of its own.
TEST(SpreadTarget, AFirstChunkOutsideWholeRoundsOrLongIsNotCounted) {
  EXPECT_EQ(SpreadTarget(15 * kMinute, 10 * kMinute, 8, kMinute), 5 * kMinute);
  EXPECT_EQ(SpreadTarget(179 * kMinute, 10 * kMinute, 8, 4 * kMinute),
            SpreadTarget(179 * kMinute, 10 * kMinute, 8));
  EXPECT_EQ(SpreadTarget(179 * kMinute, 10 * kMinute, 1, kMinute), 10 * kMinute);
}

// Cut as the relay cuts (a short first chunk, the rest at the spread target) and dealt round the
// workers in turn as their claims come, every worker gets the same audio within a few seconds of
// pause snapping; without counting the first chunk, its worker had the first chunk more. (The
// 3 hours, 10-minute target, first minute and 8 pods of the relay, a sixth as long.)
TEST(SpreadTarget, EveryWorkerGetsTheSameShareWithTheFirstChunk) {
  const PcmAudio talk = Talk(30 * kMinute, Millis(0));
  constexpr int kWorkers = 8;
  auto shares = [&](bool count_first) {
    ChunkOptions options;
    options.target = Millis(100'000);
    options.search = Millis(2'000);
    options.first = Millis(30'000);
    const Millis first = FirstChunk(options);
    options.target = SpreadTarget(talk.duration() - first, options.target, kWorkers,
                                  count_first ? first : Millis(0));
    const std::vector<Piece> pieces = ChooseChunks(talk, options);
    EXPECT_EQ(pieces.size(), 25u);
    std::vector<double> seconds(kWorkers);
    for (size_t i = 0; i < pieces.size(); ++i)
      seconds[i % kWorkers] +=
          static_cast<double>(pieces[i].end.count - pieces[i].begin.count) / kSampleRate;
    return seconds;
  };
  const double fair = 30 * 60.0 / kWorkers;
  for (double s : shares(true)) EXPECT_NEAR(s, fair, 6.0);
  const std::vector<double> before = shares(false);
  EXPECT_GT(before[0], fair + 20.0);
}

// The spread target, given to ChooseChunks, gives a whole number of rounds.
TEST(SpreadTarget, ChooseChunksCutsThatManyPieces) {
  const PcmAudio talk = Talk(60 * kMinute, Millis(0));
  ChunkOptions options;
  options.target = SpreadTarget(talk.duration(), options.target, 8);
  EXPECT_EQ(ChooseChunks(talk, options).size(), 8u);
}

// A long episode starts with a chunk of about a minute, cut in a pause, so that a worker has it
// early; the rest are cut at the target as before.
TEST(ChooseChunks, LongAudioStartsWithAShortChunk) {
  const PcmAudio a = Talk(25 * kMinute, Millis(0));
  ChunkOptions o;  // 10 min chunks, the first about 1 min
  o.first = kMinute;
  const std::vector<Piece> pieces = ChooseChunks(a, o);
  ASSERT_GE(pieces.size(), 3u);
  const Millis first = ToMillis(pieces[0].end);
  EXPECT_GE(first, Millis(45'000));
  EXPECT_LE(first, Millis(75'000));
  EXPECT_TRUE(Quiet(a, pieces[0].end));
  EXPECT_EQ(FirstChunk(o), kMinute);
  for (size_t i = 1; i + 1 < pieces.size(); ++i) {
    const Millis length = ToMillis(Samples{pieces[i].end.count - pieces[i].begin.count});
    EXPECT_GE(length, 9 * kMinute + Millis(30'000));
    EXPECT_LE(length, 10 * kMinute + Millis(30'000));
  }
  EXPECT_EQ(pieces.back().end, a.size());
}

TEST(ChooseChunks, EpisodeOfOneChunkHasNoShortFirstChunk) {
  const PcmAudio a = Talk(12 * kMinute, Millis(0));
  ChunkOptions o;
  o.first = kMinute;
  EXPECT_EQ(ChooseChunks(a, o).size(), 1u);
  o.target = kMinute;  // a first chunk as long as the others is no short one
  EXPECT_EQ(FirstChunk(o), Millis(0));
  EXPECT_EQ(FirstChunk(ChunkOptions{}), Millis(0));  // off unless asked for (the worker's cuts)
}

}  // namespace
}  // namespace podfleet

namespace podfleet {
namespace {

// Feeds `a` to a cutter in blocks of `block` samples from `skip` on; returns the chunks it made.
std::vector<CutChunk> CutStreaming(const PcmAudio& a, const ChunkOptions& o, size_t block,
                                   Samples skip = Samples{0}) {
  ChunkCutter cutter(o, skip);
  std::vector<CutChunk> out;
  for (size_t at = 0; at < a.samples.size(); at += block) {
    const size_t n = std::min(block, a.samples.size() - at);
    for (CutChunk& c : cutter.Push(std::span(a.samples).subspan(at, n)))
      out.push_back(std::move(c));
  }
  for (CutChunk& c : cutter.Finish()) out.push_back(std::move(c));
  return out;
}

// The cutter makes ChooseChunks' cuts, whatever the blocks, and each chunk holds its samples.
TEST(ChunkCutter, CutsAStreamWhereChooseChunksCutsTheWhole) {
  const PcmAudio a = Talk(Millis(250'000), Millis(121'000));
  ChunkOptions o{Millis(60'000), Millis(10'000)};
  for (Millis first : {Millis(0), Millis(20'000)}) {
    o.first = first;
    const std::vector<Piece> whole = ChooseChunks(a, o);
    ASSERT_GE(whole.size(), 4u);
    if (first > Millis(0)) {
      EXPECT_LE(whole[0].end, ToSamples(Millis(25'000)));
    }
    for (size_t block : {size_t{1'000}, size_t{16'000}, size_t{777'777}, a.samples.size()}) {
      const std::vector<CutChunk> cut = CutStreaming(a, o, block);
      ASSERT_EQ(cut.size(), whole.size()) << "block " << block << ", first " << first.count();
      for (size_t i = 0; i < cut.size(); ++i) {
        EXPECT_EQ(cut[i].piece.begin, whole[i].begin);
        EXPECT_EQ(cut[i].piece.end, whole[i].end);
        ASSERT_EQ(ssize(cut[i].samples), whole[i].end.count - whole[i].begin.count);
        EXPECT_EQ(cut[i].samples.front(), a.samples[static_cast<size_t>(whole[i].begin.count)]);
        EXPECT_EQ(cut[i].samples.back(), a.samples[static_cast<size_t>(whole[i].end.count - 1)]);
      }
    }
  }
}

// The short first chunk is handed over once the cutter knows the episode is longer than one
// chunk (1.25 targets in hand), long before the next.
TEST(ChunkCutter, HandsTheShortFirstChunkOverOnceTheEpisodeIsKnownLong) {
  const PcmAudio a = Talk(Millis(600'000), Millis(500'000));
  ChunkOptions o{Millis(120'000), Millis(10'000)};
  o.first = Millis(30'000);
  ChunkCutter cutter(o);
  int64_t pushed = 0;
  std::vector<std::pair<int64_t, Piece>> handed;  // pushed so far, piece
  for (size_t at = 0; at < a.samples.size(); at += kSampleRate) {
    const size_t n = std::min<size_t>(kSampleRate, a.samples.size() - at);
    pushed += static_cast<int64_t>(n);
    for (const CutChunk& c : cutter.Push(std::span(a.samples).subspan(at, n)))
      handed.emplace_back(pushed, c.piece);
  }
  ASSERT_GE(handed.size(), 2u);
  EXPECT_LE(handed[0].first, ToSamples(Millis(151'000)).count);
  EXPECT_LE(handed[0].second.end, ToSamples(Millis(38'000)));
  EXPECT_GE(handed[0].second.end, ToSamples(Millis(22'000)));
}

// Chunks are handed over while the audio still comes: the first long before the end, and the
// cutter never holds much more than target + 2 x search + a quarter of a target (a cut is aimed
// at whole targets from the start, so after one that came a search early the next chunk is
// a target and a search long).
TEST(ChunkCutter, HandsChunksOverEarlyAndHoldsAboutAChunk) {
  const PcmAudio a = Talk(Millis(600'000), Millis(500'000));
  const ChunkOptions o{Millis(60'000), Millis(10'000)};
  ChunkCutter cutter(o);
  const size_t block = kSampleRate;
  int64_t pushed = 0;
  int64_t handed = 0;
  int64_t first_at = -1;
  int64_t most_held = 0;
  for (size_t at = 0; at < a.samples.size(); at += block) {
    const size_t n = std::min(block, a.samples.size() - at);
    pushed += static_cast<int64_t>(n);
    for (const CutChunk& c : cutter.Push(std::span(a.samples).subspan(at, n))) {
      if (first_at < 0) first_at = pushed;
      handed += ssize(c.samples);
    }
    most_held = std::max(most_held, pushed - handed);
  }
  EXPECT_LT(first_at, ToSamples(Millis(90'000)).count);
  EXPECT_LE(most_held, ToSamples(Millis(60'000 + 2 * 10'000 + 15'000)).count + int64_t{block});
}

// An episode resumed after a restart is cut from its next chunk's start, as the whole would be
// from there.
TEST(ChunkCutter, SkipsWhatWasQueuedBefore) {
  const PcmAudio a = Talk(Millis(250'000), Millis(121'000));
  ChunkOptions o{Millis(60'000), Millis(10'000)};
  o.first = Millis(20'000);  // the resumed cutter makes no short chunk: it is not the first
  const std::vector<Piece> whole = ChooseChunks(a, o);
  const std::vector<CutChunk> rest = CutStreaming(a, o, 16'000, whole[1].begin);
  ASSERT_EQ(rest.size(), whole.size() - 1);
  for (size_t i = 0; i < rest.size(); ++i) {
    EXPECT_EQ(rest[i].piece.begin, whole[i + 1].begin);
    EXPECT_EQ(rest[i].piece.end, whole[i + 1].end);
  }
}

// Audio the cutter says it does not look at may be silenced without moving a cut: the relay's
// copy path decodes only around the cuts.
TEST(ChunkCutter, CutsAlikeWhereItDoesNotLookIsSilenced) {
  const PcmAudio a = Talk(Millis(400'000), Millis(181'000));
  ChunkOptions o{Millis(40'000), Millis(5'000)};
  o.first = Millis(10'000);
  const std::vector<Piece> whole = ChooseChunks(a, o);
  ChunkCutter cutter(o);
  std::vector<CutChunk> cut;
  int64_t silenced = 0;
  for (size_t at = 0; at < a.samples.size(); at += 1'600) {  // blocks of 0.1 s
    const size_t n = std::min<size_t>(1'600, a.samples.size() - at);
    std::vector<float> block(a.samples.begin() + static_cast<std::ptrdiff_t>(at),
                             a.samples.begin() + static_cast<std::ptrdiff_t>(at + n));
    const auto begin = static_cast<int64_t>(at);
    if (!cutter.LooksAt(Samples{begin}, Samples{begin + ssize(block)})) {
      std::fill(block.begin(), block.end(), 0.0f);
      silenced += ssize(block);
    }
    for (CutChunk& c : cutter.Push(block)) cut.push_back(std::move(c));
  }
  for (CutChunk& c : cutter.Finish()) cut.push_back(std::move(c));
  EXPECT_GT(silenced, ssize(a.samples) / 2);  // most of it: 2 x 5 s of every 40
  ASSERT_EQ(cut.size(), whole.size());
  for (size_t i = 0; i < cut.size(); ++i) EXPECT_EQ(cut[i].piece.end, whole[i].end) << i;
}

TEST(ChunkCutter, ShortAudioIsOneChunkAtTheEnd) {
  const PcmAudio a = Talk(Millis(70'000), Millis(30'000));
  const std::vector<CutChunk> cut = CutStreaming(a, {Millis(60'000), Millis(10'000)}, 16'000);
  ASSERT_EQ(cut.size(), 1u);
  EXPECT_EQ(cut[0].piece.end, a.size());
}

}  // namespace
}  // namespace podfleet
