// Origin-range mode: the plan of seam chunks, which headers it accepts, and the coordinator that
// plans an episode from a loopback origin honouring Range (no audio through it) or relays one
// from an origin that ignores Range.
#include "coordinator/origin_ranges.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "api/client.h"
#include "coordinator/coordinator.h"
#include "support/files.h"
#include "support/manual_clock.h"
#include "support/range_origin.h"
#include "support/speech.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

// Every plan is one a worker can cut: the first boundary far enough from the start for its seam
// decode, boundaries more than two seams apart (the cuts cannot cross), at least a seam of audio
// after the last, chunks contiguous in the plan.
TEST(PlanSeamChunks, EveryPlanCanBeCut) {
  for (Millis target : {Millis(20'000), Millis(120'000), Millis(600'000)}) {
    for (int64_t seconds : {10, 24, 26, 40, 61, 95, 600, 761, 3'333, 10'800}) {
      for (int free : {0, 1, 3, 8, 24}) {
        const Millis duration(seconds * 1'000);
        ChunkOptions chunking;
        chunking.target = target;
        chunking.first = Millis(60'000);
        const std::vector<Chunk> chunks = PlanSeamChunks(duration, chunking, free);
        SCOPED_TRACE(
            fmt::format("{} s, target {} s, {} free", seconds, target.count() / 1000, free));
        ASSERT_FALSE(chunks.empty());
        if (chunks.size() == 1) {
          EXPECT_TRUE(chunks[0].whole());
          EXPECT_EQ(chunks[0].seam, Millis(0));
          continue;
        }
        const Millis seam = chunks[0].seam;
        EXPECT_GT(seam, Millis(0));
        EXPECT_LE(seam, kMaxSeam);
        std::optional<Millis> previous;
        for (size_t i = 0; i < chunks.size(); ++i) {
          const Chunk& c = chunks[i];
          EXPECT_EQ(c.index, static_cast<int>(i));
          EXPECT_EQ(c.count, static_cast<int>(chunks.size()));
          EXPECT_FALSE(c.relayed);
          EXPECT_EQ(c.seam, seam);
          if (i == 0) {
            EXPECT_EQ(c.start, Millis(0));
          }
          if (i + 1 == chunks.size()) {
            EXPECT_FALSE(c.end);
            EXPECT_GE(duration - (c.start + seam), seam);
            continue;
          }
          ASSERT_TRUE(c.end);
          const Millis boundary = *c.end - seam;
          EXPECT_EQ(chunks[i + 1].start, boundary - seam);
          EXPECT_GE(boundary, seam + kSeamPreRoll);
          if (previous) {
            EXPECT_GT(boundary - *previous, 2 * seam);
          }
          previous = boundary;
        }
      }
    }
  }
}

TEST(PlanSeamChunks, LongEpisodeStartsWithAShortChunkAndSpreadsTheRest) {
  ChunkOptions chunking;  // 10 min chunks
  chunking.first = Millis(60'000);
  const std::vector<Chunk> chunks = PlanSeamChunks(Millis(3 * 3'600'000), chunking, 8);
  ASSERT_GT(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].seam, kMaxSeam);
  EXPECT_NEAR(static_cast<double>((*chunks[0].end - kMaxSeam).count()), 60'000, 15'000);
  // The rest fill whole rounds of the 8 free workers.
  EXPECT_EQ((chunks.size() - 1) % 8, 0u);
}

TEST(RangesRefusal, Mp3AndMp4WithAnIndexOnly) {
  EXPECT_EQ(RangesRefusal(SourceProbe{"mp3", Millis(60'000), false, true}), "");
  EXPECT_EQ(RangesRefusal(SourceProbe{"mp3", Millis(60'000), false, false}), "");
  EXPECT_EQ(RangesRefusal(SourceProbe{"mov,mp4,m4a,3gp,3g2,mj2", Millis(60'000), false, true}), "");
  EXPECT_NE(RangesRefusal(SourceProbe{"mp3", Millis(60'000), true, false}), "");
  EXPECT_NE(RangesRefusal(SourceProbe{"ogg", Millis(60'000), false, false}), "");
  EXPECT_NE(RangesRefusal(SourceProbe{"aac", Millis(60'000), false, false}), "");
}

class OriginRangesCoordinator : public ::testing::Test {
 protected:
  void SetUp() override {
    CoordinatorOptions o;
    o.data_dir = dir_.path() / "data";
    o.port = 0;
    o.feed_interval = Millis(3'600'000);
    o.relay = true;
    o.origin_ranges = true;
    o.chunks.target = Millis(20'000);
    o.chunks.search = Millis(4'000);
    auto c = Coordinator::Start(o, clock_);
    ASSERT_TRUE(c) << c.error().ToString();
    coordinator_ = std::move(*c);
    admin_ = std::make_unique<CoordinatorClient>(coordinator_->base_url(), *http_);
    admin_->set_admin_token(*coordinator_->first_admin_token());
    worker_ = std::make_unique<CoordinatorClient>(coordinator_->base_url(), *http_);
    NodeInfo info;
    info.name = "w";
    auto reg = worker_->Register(*coordinator_->first_enrollment_token(), info);
    ASSERT_TRUE(reg) << reg.error().ToString();
    worker_->set_node_token(reg->token);
    auto wav = SpeechWav(kSpeech60s);
    ASSERT_TRUE(wav) << wav.error().ToString();
    auto mp3 = EncodeAudio(*wav, "mp3");
    ASSERT_TRUE(mp3) << mp3.error().ToString();
    mp3_ = ReadAll(*mp3);
  }

  void Add(const std::string& url) {
    auto r = admin_->PostJson("/api/episodes", {{"url", url}, {"title", "speech"}});
    ASSERT_TRUE(r) << r.error().ToString();
  }

  // Claims chunks until the last (whose count is final) or none come within 20 s.
  std::vector<WireGrant> ClaimAll() {
    std::vector<WireGrant> all;
    while (all.empty() || all.back().chunk.index + 1 < all.back().chunk.count) {
      auto more = worker_->Claim(8, Millis(20'000));
      EXPECT_TRUE(more) << more.error().ToString();
      if (!more || more->empty()) break;
      all.insert(all.end(), more->begin(), more->end());
    }
    return all;
  }

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<HttpClient> http_ = MakeCurlClient(HttpClientOptions{});
  std::unique_ptr<Coordinator> coordinator_;
  std::unique_ptr<CoordinatorClient> admin_;
  std::unique_ptr<CoordinatorClient> worker_;
  std::string mp3_;
};

// An origin that honours Range: the coordinator reads its header only and queues seam chunks that
// point workers at the origin; it serves no audio.
TEST_F(OriginRangesCoordinator, AnOriginServingRangesIsPlannedNotRelayed) {
  RangeOrigin origin(mp3_);
  Add(origin.Url());
  const std::vector<WireGrant> grants = ClaimAll();
  ASSERT_GE(grants.size(), 2u);
  for (const WireGrant& g : grants) {
    EXPECT_EQ(g.audio_url, origin.Url());
    EXPECT_FALSE(g.chunk.relayed);
    EXPECT_GT(g.chunk.seam, Millis(0));
    EXPECT_EQ(g.chunk.count, static_cast<int>(grants.size()));
  }
  EXPECT_LT(origin.bytes_sent(), std::ssize(mp3_));  // the probe only
  auto served = coordinator_->store().TransfersSince(TimePoint{});
  ASSERT_TRUE(served);
  EXPECT_TRUE(served->empty());
  auto bandwidth = admin_->GetJson("/api/bandwidth");
  ASSERT_TRUE(bandwidth) << bandwidth.error().ToString();
  EXPECT_EQ((*bandwidth)["audio_path"], "ranges");
  EXPECT_TRUE((*bandwidth)["preparation_capacity"].is_null());
}

// A worker older than seam chunks (its claims name no "features") would transcribe a seam
// chunk's whole stretch, doubling the audio at its seams: its claims pass them over, and a
// current worker gets them.
TEST_F(OriginRangesCoordinator, AWorkerThatCannotCutSeamsGetsNoSeamChunks) {
  RangeOrigin origin(mp3_);
  Add(origin.Url());
  auto first = worker_->Claim(1, Millis(20'000));  // waits until the episode is planned
  ASSERT_TRUE(first) << first.error().ToString();
  ASSERT_EQ(first->size(), 1u);
  ASSERT_GT(first->front().chunk.seam, Millis(0));
  ASSERT_GE(first->front().chunk.count, 2);

  CoordinatorClient old_worker(coordinator_->base_url(), *http_);
  NodeInfo info;
  info.name = "old";
  auto reg = old_worker.Register(*coordinator_->first_enrollment_token(), info);
  ASSERT_TRUE(reg) << reg.error().ToString();
  ClientRequest claim;
  claim.method = "POST";
  claim.url = coordinator_->base_url() + "/api/workers/claim";
  claim.headers.emplace_back("Authorization", "Bearer " + reg->token);
  claim.body = R"({"max":8,"wait_ms":0})";
  claim.content_type = "application/json";
  auto answer = http_->Send(claim);
  ASSERT_TRUE(answer) << answer.error().ToString();
  ASSERT_EQ(answer->status, 200) << answer->body;
  EXPECT_EQ(nlohmann::json::parse(answer->body)["leases"], nlohmann::json::array());

  claim.body = R"({"max":8,"wait_ms":0,"features":"seam_chunks"})";
  answer = http_->Send(claim);
  ASSERT_TRUE(answer) << answer.error().ToString();
  EXPECT_EQ(answer->status, 400) << answer->body;

  auto rest = worker_->Claim(8, Millis(0));
  ASSERT_TRUE(rest) << rest.error().ToString();
  EXPECT_EQ(std::ssize(*rest) + 1, first->front().chunk.count);
}

// An origin that ignores Range: the episode is relayed as in relay mode.
TEST_F(OriginRangesCoordinator, AnOriginIgnoringRangeIsRelayed) {
  RangeOrigin origin(mp3_, RangeOrigin::Mode::kIgnore);
  Add(origin.Url());
  const std::vector<WireGrant> grants = ClaimAll();
  ASSERT_GE(grants.size(), 2u);
  for (const WireGrant& g : grants) {
    EXPECT_TRUE(g.chunk.relayed);
    EXPECT_EQ(g.chunk.seam, Millis(0));
    EXPECT_EQ(g.audio_url, fmt::format("/api/jobs/{}/audio", g.lease.job.value()));
  }
  auto bandwidth = admin_->GetJson("/api/bandwidth");
  ASSERT_TRUE(bandwidth) << bandwidth.error().ToString();
  EXPECT_NE((*bandwidth)["audio_path"], "ranges");
}

}  // namespace
}  // namespace podfleet
