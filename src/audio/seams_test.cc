#include "audio/seams.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iostream>

#include "audio/source_decoder.h"
#include "core/stitch.h"
#include "engines/engine_pocketsphinx.h"
#include "engines/wer.h"
#include "net/range_source.h"
#include "support/files.h"
#include "support/range_origin.h"
#include "support/speech.h"

namespace podfleet {
namespace {

// kSpeech60s as a podcast host would serve it: 44.1 kHz stereo, in `kind`'s encoding.
std::filesystem::path Episode(std::string_view kind) {
  auto wav = SpeechWav(kSpeech60s);
  EXPECT_TRUE(wav) << wav.error().ToString();
  if (!wav) return {};
  struct Encoding {
    std::string_view kind, file;
    std::vector<std::string> args;
  };
  const std::vector<Encoding> encodings = {
      {"mp3 cbr", "cbr.mp3", {"-c:a", "libmp3lame", "-b:a", "128k"}},
      {"mp3 vbr", "vbr.mp3", {"-c:a", "libmp3lame", "-q:a", "5"}},
      {"m4a moov at end", "end.m4a", {"-c:a", "aac", "-b:a", "96k"}},
      {"m4a moov first", "first.m4a", {"-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart"}},
  };
  for (const Encoding& e : encodings) {
    if (e.kind != kind) continue;
    const auto out = wav->parent_path() / ("seams-" + std::string(e.file));
    if (std::filesystem::exists(out)) return out;
    std::vector<std::string> argv = {"ffmpeg", "-nostdin", "-y",  "-i", wav->string(),
                                     "-ar",    "44100",    "-ac", "2"};
    argv.insert(argv.end(), e.args.begin(), e.args.end());
    argv.push_back(out.string());
    auto r = RunTool(argv);
    EXPECT_TRUE(r) << r.error().ToString();
    return out;
  }
  ADD_FAILURE() << "no encoding " << kind;
  return {};
}

const SeamOptions kSeams{
    .search = Millis(5'000), .pre_roll = Millis(1'000), .max_drift = Millis(3'000)};
// Planned boundaries, in the middle of words (the cuts move to the pauses near them).
const std::vector<Millis> kBoundaries = {Millis(19'000), Millis(38'500)};

std::vector<SeamPlan> Plans() {
  std::vector<SeamPlan> plans;
  std::optional<Millis> begin;
  for (Millis b : kBoundaries) {
    plans.push_back({begin, b});
    begin = b;
  }
  plans.push_back({begin, std::nullopt});
  return plans;
}

// 10 ms frame log energies.
std::vector<double> Envelope(std::span<const float> samples) {
  std::vector<double> out;
  for (size_t at = 0; at + 160 <= samples.size(); at += 160) {
    double sum = 0;
    for (size_t i = at; i < at + 160; ++i) sum += double{samples[i]} * samples[i];
    out.push_back(std::log(sum / 160 + 1e-10));
  }
  return out;
}

// Where `piece` (its first 3 s) lies in `whole`, in samples, to a frame: the audio's own
// evidence, not the times a decode reports.
int64_t FindIn(const PcmAudio& whole, const PcmAudio& piece) {
  const std::vector<double> w = Envelope(whole.samples);
  const std::vector<double> p =
      Envelope(std::span(piece.samples).first(std::min<size_t>(piece.samples.size(), 48'000)));
  double best = 1e300;
  int64_t best_at = 0;
  for (size_t at = 0; at + p.size() <= w.size(); ++at) {
    double d = 0;
    for (size_t i = 0; i < p.size(); ++i) d += std::abs(w[at + i] - p[i]);
    if (d < best) best = d, best_at = static_cast<int64_t>(at);
  }
  return best_at * 160;
}

struct RangedChunks {
  std::vector<SeamedChunk> chunks;
  std::vector<Millis> starts;  // as the chunks report them (SeamStart + offset)
  std::vector<int64_t> found;  // where their audio lies in the whole decode, in samples
};

class SeamsFixture : public ::testing::Test {
 protected:
  // Each chunk of the plan decoded by a worker of its own through ranges of `origin`.
  void DecodeChunks(std::string_view name, RangeOrigin& origin, const PcmAudio& whole,
                    size_t file_bytes, RangedChunks& out) {
    for (const SeamPlan& plan : Plans()) {
      auto source = RangeSource::Open(*http_, origin.Url(), ranges_);
      ASSERT_TRUE(source) << source.error().ToString();
      auto chunk = DecodeSeamedChunk(**source, plan, kSeams);
      ASSERT_TRUE(chunk) << chunk.error().ToString();
      const Millis start = SeamStart(plan, kSeams) + chunk->offset;
      std::cout << fmt::format(
          "{}: chunk at {:.2f} s, {:.2f} s long, fetched {} bytes ({:.2f} of the file; its "
          "audio is {:.2f} of it)\n",
          name, start.count() / 1000.0, chunk->audio.duration().count() / 1000.0,
          (*source)->traffic().bytes,
          static_cast<double>((*source)->traffic().bytes) / static_cast<double>(file_bytes),
          static_cast<double>(chunk->audio.size().count) / static_cast<double>(whole.size().count));
      out.starts.push_back(start);
      out.found.push_back(FindIn(whole, chunk->audio));
      out.chunks.push_back(std::move(*chunk));
    }
  }

  const RangeSourceOptions ranges_{.block_bytes = 32 * 1024};
  std::unique_ptr<HttpClient> http_ = MakeCurlClient({.timeout = Millis(10'000)});
};

class SeamsTest : public SeamsFixture, public ::testing::WithParamInterface<std::string_view> {};

// The same episode read through ranges by three workers, each its own chunk: together the chunks
// are the whole audio, every stretch once, each cut in a pause, and each worker fetched its
// stretch, not the file.
TEST_P(SeamsTest, ChunksFromRangesAreTheWholeAudioCutAtPauses) {
  const auto path = Episode(GetParam());
  ASSERT_FALSE(path.empty());
  const std::string bytes = ReadAll(path);
  auto whole = DecodeAudioFile(path);
  ASSERT_TRUE(whole) << whole.error().ToString();
  RangeOrigin origin(bytes);
  {
    auto source = RangeSource::Open(*http_, origin.Url(), ranges_);
    ASSERT_TRUE(source) << source.error().ToString();
    auto probe = ProbeByteSource(**source);
    ASSERT_TRUE(probe) << probe.error().ToString();
    EXPECT_FALSE(probe->estimated);
    EXPECT_EQ(probe->exact_seek, GetParam() != "mp3 vbr");
    EXPECT_NEAR(static_cast<double>(probe->duration.count()),
                static_cast<double>(whole->duration().count()), 100.0);
    std::cout << fmt::format("{}: probe read {} of {} bytes in {} requests\n", GetParam(),
                             (*source)->traffic().bytes, bytes.size(),
                             (*source)->traffic().requests);
  }
  RangedChunks ranged;
  ASSERT_NO_FATAL_FAILURE(DecodeChunks(GetParam(), origin, *whole, bytes.size(), ranged));

  double loud = 0;
  for (float s : whole->samples) loud += double{s} * s;
  loud /= static_cast<double>(whole->samples.size());
  int64_t total = 0;
  for (size_t i = 0; i < ranged.chunks.size(); ++i) {
    const int64_t length = ranged.chunks[i].audio.size().count;
    total += length;
    // A chunk's audio is found where its reported start says, to the index's error (MP3's
    // positions after a seek are estimates; MP4's are exact).
    const double error_ms =
        static_cast<double>(ToMillis(Samples{ranged.found[i]}).count() - ranged.starts[i].count());
    std::cout << fmt::format("{}: chunk {} reported at {} ms, found at {} ms\n", GetParam(), i,
                             ranged.starts[i].count(), ToMillis(Samples{ranged.found[i]}).count());
    EXPECT_LT(std::abs(error_ms), 500.0) << "chunk " << i;
    if (i == 0) continue;
    // Where the chunk before ends, the chunk after starts: no audio lost or doubled.
    EXPECT_NEAR(static_cast<double>(ranged.found[i - 1] + ranged.chunks[i - 1].audio.size().count),
                static_cast<double>(ranged.found[i]), 2 * 160.0)
        << "seam " << i;
    const int64_t cut = ranged.found[i];
    double energy = 0;
    for (int64_t s = cut - 1600; s < cut + 1600; ++s)
      energy += double{whole->samples[s]} * whole->samples[s];
    EXPECT_LT(energy / 3200, 0.05 * loud) << "seam " << i << " is not in a pause";
  }
  EXPECT_NEAR(static_cast<double>(total), static_cast<double>(whole->size().count),
              2 * 160 + 0.03 * kSampleRate);
}

// An origin that stops serving ranges faithfully part-way fails the chunk with its reason: no
// chunk of wrong or missing audio is ever handed on.
TEST_F(SeamsFixture, AnOriginThatLiesMidwayFailsTheChunk) {
  const auto path = Episode("mp3 cbr");
  ASSERT_FALSE(path.empty());
  for (auto mode : {RangeOrigin::Mode::kIgnore, RangeOrigin::Mode::kShortBody,
                    RangeOrigin::Mode::kWrongRange, RangeOrigin::Mode::kRefuse403}) {
    RangeOrigin origin(ReadAll(path));
    auto source = RangeSource::Open(*http_, origin.Url(), ranges_);
    ASSERT_TRUE(source) << source.error().ToString();
    origin.set_mode(mode);
    auto chunk = DecodeSeamedChunk(**source, Plans()[1], kSeams);
    ASSERT_FALSE(chunk) << static_cast<int>(mode);
    EXPECT_NE(chunk.error().message.find(origin.Url()), std::string::npos)
        << chunk.error().ToString();
  }
}

// Transcribed separately (PocketSphinx) and stitched, the chunks give the words of the whole file
// as well as the whole file does. Word for word they differ a little, as any chunking does: the
// recognizer's pieces start elsewhere (the audio itself is checked sample-exact above). AAC in
// M4A with its moov at the end, as ffmpeg and many hosts write it.
TEST_F(SeamsFixture, StitchedTranscriptKeepsTheWholeFilesWords) {
  const auto path = Episode("m4a moov at end");
  ASSERT_FALSE(path.empty());
  const std::string bytes = ReadAll(path);
  auto whole = DecodeAudioFile(path);
  ASSERT_TRUE(whole) << whole.error().ToString();
  RangeOrigin origin(bytes);
  RangedChunks ranged;
  ASSERT_NO_FATAL_FAILURE(DecodeChunks("m4a moov at end", origin, *whole, bytes.size(), ranged));

  auto engine = MakePocketSphinxEngine(EngineConfig{});
  ASSERT_TRUE(engine) << engine.error().ToString();
  auto whole_text = (*engine)->Transcribe(*whole, {}, {});
  ASSERT_TRUE(whole_text) << whole_text.error().ToString();
  std::vector<ChunkTranscript> parts;
  for (size_t i = 0; i < ranged.chunks.size(); ++i) {
    auto t = (*engine)->Transcribe(ranged.chunks[i].audio, {}, {});
    ASSERT_TRUE(t) << t.error().ToString();
    parts.push_back({ranged.starts[i], std::move(*t)});
  }
  const Transcript stitched = Stitch(std::move(parts));
  const WerResult whole_wer = WordErrorRate(kSpeech60s, whole_text->Text());
  const WerResult stitched_wer = WordErrorRate(kSpeech60s, stitched.Text());
  const WerResult against_whole = WordErrorRate(whole_text->Text(), stitched.Text());
  std::cout << fmt::format(
      "PocketSphinx WER on kSpeech60s: whole file {:.3f}, range chunks stitched {:.3f} ({} and "
      "{} words); stitched against whole: {} missing, {} extra, {} different of {} words\n",
      whole_wer.wer, stitched_wer.wer, WerWords(whole_text->Text()).size(),
      WerWords(stitched.Text()).size(), against_whole.deletions, against_whole.insertions,
      against_whole.substitutions, against_whole.ref_words);
  EXPECT_LE(stitched_wer.wer, whole_wer.wer + 0.03);
  // Stitched in order: every segment starts at or after the one before.
  for (size_t i = 1; i < stitched.segments.size(); ++i)
    EXPECT_GE(stitched.segments[i].start, stitched.segments[i - 1].start);
}

INSTANTIATE_TEST_SUITE_P(Formats, SeamsTest,
                         ::testing::Values("mp3 cbr", "mp3 vbr", "m4a moov at end",
                                           "m4a moov first"),
                         [](const auto& info) {
                           std::string name(info.param);
                           for (char& c : name)
                             if (c == ' ') c = '_';
                           return name;
                         });

}  // namespace
}  // namespace podfleet
