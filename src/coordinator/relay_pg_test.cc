// Relayed and uploaded audio with two real coordinators on one PostgreSQL store
// (tests/support/pg_server.h): a lease taken through one names the coordinator that holds the
// chunk, whose URL the worker is vouched for; the queued chunks of a coordinator that stopped are
// prepared again by the other; an upload only a stopped coordinator held fails its job, naming
// it. Real clock, real HTTP, real speech (espeak-ng). Run by CTest as part of `store.postgres`.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "api/client.h"
#include "audio/audio.h"
#include "coordinator/coordinator.h"
#include "support/eventually.h"
#include "support/pg_server.h"
#include "support/speech.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class PgRelay : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = NewPgDatabase();
    http_ = MakeCurlClient(HttpClientOptions{});
  }

  // A coordinator of the shared store with its own data directory, relaying or not.
  std::unique_ptr<Coordinator> Start(const std::string& name, bool relay) {
    CoordinatorOptions o;
    o.store = store_;
    o.data_dir = dir_.path() / name;
    o.port = 0;
    o.allow_file_urls = true;
    o.relay = relay;
    o.chunks.target = Millis(20'000);
    o.chunks.search = Millis(4'000);
    o.feed_interval = Millis(3'600'000);
    // Fetches from a stopped coordinator fail until its chunks are reclaimed: retried soon, and
    // more than the default 5 times.
    o.retry.base_backoff = Millis(200);
    o.retry.max_failures = 20;
    if (name != "a") {  // one admin token for the fleet
      std::filesystem::create_directories(o.data_dir);
      std::filesystem::copy_file(dir_.path() / "a" / "admin.token", o.data_dir / "admin.token");
    }
    auto c = Coordinator::Start(o, SystemClock::Get());
    EXPECT_TRUE(c) << c.error().ToString();
    if (c && name == "a") admin_token_ = *(*c)->first_admin_token();
    if (c && name == "a") enrollment_ = *(*c)->first_enrollment_token();
    return c ? std::move(*c) : nullptr;
  }

  std::unique_ptr<CoordinatorClient> Admin(const Coordinator& c) {
    auto admin = std::make_unique<CoordinatorClient>(c.base_url(), *http_);
    admin->set_admin_token(admin_token_);
    return admin;
  }

  // A worker's client that knows only `c`'s URL.
  std::unique_ptr<CoordinatorClient> Worker(const Coordinator& c) {
    auto client = std::make_unique<CoordinatorClient>(c.base_url(), *http_);
    NodeInfo info;
    info.name = "w";
    auto reg = client->Register(enrollment_, info);
    EXPECT_TRUE(reg) << reg.error().ToString();
    if (reg) client->set_node_token(reg->token);
    return client;
  }

  int64_t AddSpeech(CoordinatorClient& admin) {
    auto wav = SpeechWav(kSpeech60s);
    EXPECT_TRUE(wav) << wav.error().ToString();
    auto r = admin.PostJson("/api/episodes", {{"url", wav->string()}, {"title", "speech"}});
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? (*r)["id"].get<int64_t>() : 0;
  }

  // Fetches a grant's audio as `worker` would (the token only where AuthHeadersFor sends it).
  Result<PcmAudio> Fetch(CoordinatorClient& worker, const WireGrant& g) {
    ClientRequest get;
    get.url = worker.Resolve(g.audio_url);
    get.headers = worker.AuthHeadersFor(g.audio_url, g.audio_from_fleet);
    auto res = http_->Send(get);
    if (!res) return std::unexpected(res.error());
    if (res->status != 200) return Unavailable("HTTP " + std::to_string(res->status));
    const auto path = dir_.path() / ("chunk-" + std::to_string(g.lease.job.value()) + ".opus");
    std::ofstream(path, std::ios::binary) << res->body;
    return DecodeAudioFile(path);
  }

  // Claims chunks until the last (whose count is final).
  static std::vector<WireGrant> ClaimAll(CoordinatorClient& worker) {
    std::vector<WireGrant> all;
    while (all.empty() || all.back().chunk.index + 1 < all.back().chunk.count) {
      auto more = worker.Claim(8, Millis(2'000));
      EXPECT_TRUE(more) << more.error().ToString();
      if (!more || more->empty()) break;
      all.insert(all.end(), more->begin(), more->end());
    }
    return all;
  }

  static Transcript Said(const WireGrant& g) {
    Transcript t;
    t.engine = "test";
    t.audio_duration = *g.chunk.end - g.chunk.start;
    t.segments.push_back(Segment{Millis(1'000), Millis(2'000), "chunk", "", {}});
    return t;
  }

  // How many of the episode's jobs are queued (and none preparing).
  int Queued(Coordinator& c, int64_t episode) {
    auto jobs = c.store().ListJobsForEpisode(EpisodeId(episode));
    if (!jobs) return -1;
    int queued = 0;
    for (const Job& j : *jobs) {
      if (j.state == JobState::kPreparing) return 0;
      if (j.state == JobState::kQueued) ++queued;
    }
    return queued;
  }

  std::string store_;
  TempDir dir_;
  std::unique_ptr<HttpClient> http_;
  std::string admin_token_;
  std::string enrollment_;
};

TEST_F(PgRelay, LeaseNamesTheCoordinatorHoldingTheChunkAndTheWorkerIsVouchedForIt) {
  auto a = Start("a", /*relay=*/true);
  auto b = Start("b", /*relay=*/false);  // b prepares nothing: a cuts every chunk
  ASSERT_TRUE(a && b);
  const int64_t episode = AddSpeech(*Admin(*a));
  auto worker = Worker(*b);
  std::vector<WireGrant> grants = ClaimAll(*worker);
  ASSERT_GE(grants.size(), 2u);
  for (const WireGrant& g : grants) {
    EXPECT_EQ(g.audio_url, fmt::format("{}/api/jobs/{}/audio", a->base_url(), g.lease.job.value()));
    EXPECT_TRUE(g.audio_from_fleet);
    // Not in the worker's list: its token goes there only because b vouched for the URL.
    EXPECT_TRUE(worker->AuthHeadersFor(g.audio_url).empty());
    auto audio = Fetch(*worker, g);
    ASSERT_TRUE(audio) << audio.error().ToString();
    EXPECT_GT(audio->duration(), Millis(10'000));
    ASSERT_TRUE(worker->Complete(g.lease, Said(g)));
  }
  EXPECT_EQ((*Admin(*b)->GetJson("/api/episodes/" + std::to_string(episode)))["state"], "done");
}

TEST_F(PgRelay, QueuedChunksOfAStoppedCoordinatorArePreparedAgainByTheOther) {
  auto a = Start("a", /*relay=*/true);
  ASSERT_TRUE(a);
  const int64_t episode = AddSpeech(*Admin(*a));
  ASSERT_TRUE(Eventually([&] { return Queued(*a, episode) >= 2; }));
  a->Stop();  // its chunk files are no longer served; its heartbeat stops

  auto b = Start("b", /*relay=*/true);
  ASSERT_TRUE(b);
  auto worker = Worker(*b);
  std::map<int, WireGrant> from_b;  // by chunk index
  int count = 0;
  ASSERT_TRUE(Eventually(
      [&] {
        auto more = worker->Claim(8, Millis(500));
        if (!more) return false;
        for (const WireGrant& g : *more) {
          count = g.chunk.count;
          if (g.audio_url.starts_with(b->base_url() + "/api/jobs/")) {
            from_b[g.chunk.index] = g;
            continue;
          }
          // Leased before a's silence was noticed: the fetch fails, as a worker's would.
          EXPECT_TRUE(g.audio_url.starts_with(a->base_url() + "/api/jobs/")) << g.audio_url;
          EXPECT_FALSE(Fetch(*worker, g));
          EXPECT_TRUE(worker->Fail(g.lease, Failure{"coordinator a is gone", false}));
        }
        return count > 0 && static_cast<int>(from_b.size()) == count;
      },
      60s));
  std::vector<WireGrant> grants;
  for (const auto& [index, g] : from_b) grants.push_back(g);
  Millis covered{0};
  for (const WireGrant& g : grants) {
    auto audio = Fetch(*worker, g);
    ASSERT_TRUE(audio) << audio.error().ToString();
    EXPECT_NEAR(static_cast<double>(audio->duration().count()),
                static_cast<double>((*g.chunk.end - g.chunk.start).count()), 60.0);
    covered += *g.chunk.end - g.chunk.start;
    ASSERT_TRUE(worker->Complete(g.lease, Said(g)));
  }
  EXPECT_GE(covered, Millis(50'000));
  auto t = b->store().GetTranscript(EpisodeId(episode));
  ASSERT_TRUE(t) << t.error().ToString();
  EXPECT_EQ(t->segments.size(), grants.size());
}

TEST_F(PgRelay, AnUploadOnlyAStoppedCoordinatorHeldFailsItsJobNamingIt) {
  auto a = Start("a", /*relay=*/false);
  ASSERT_TRUE(a);
  auto wav = SpeechWav(kSpeech60s);
  ASSERT_TRUE(wav) << wav.error().ToString();
  std::ifstream in(*wav, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto added = Admin(*a)->PostBytes("/api/episodes/upload?title=up", bytes, "audio/wav");
  ASSERT_TRUE(added) << added.error().ToString();
  const int64_t episode = (*added)["id"].get<int64_t>();
  auto stored = a->store().GetEpisode(EpisodeId(episode));
  ASSERT_TRUE(stored);
  EXPECT_TRUE(stored->info.audio_url.starts_with(a->base_url() + "/api/media/"))
      << stored->info.audio_url;
  const std::string holder = a->base_url();
  a->Stop();

  auto b = Start("b", /*relay=*/false);
  ASSERT_TRUE(b);
  ASSERT_TRUE(Eventually([&] {
    auto e = b->store().GetEpisode(EpisodeId(episode));
    return e && e->state == EpisodeState::kFailed;
  }));
  const std::string error = b->store().GetEpisode(EpisodeId(episode))->error;
  EXPECT_NE(error.find("held only by coordinator " + holder), std::string::npos) << error;
}

}  // namespace
}  // namespace podfleet
