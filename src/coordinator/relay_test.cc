// Relay mode through the coordinator's real HTTP API: a real episode (espeak-ng speech as MP3 on
// disk), decoded, cut and encoded as Opus by the relay, chunks claimed, fetched and completed by
// worker clients, the transcript stitched by the store.
#include "coordinator/relay.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "api/client.h"
#include "audio/audio.h"
#include "coordinator/coordinator.h"
#include "net/http_server.h"
#include "store/store.h"
#include "support/manual_clock.h"
#include "support/speech.h"
#include "support/stream_origin.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

// `minutes` of the 60 s test speech over and over, as a 32 kb/s MP3: the minute is encoded
// once and copied (concat demuxer, no re-encoding), which is quick.
std::filesystem::path LongSpeechMp3(int minutes) {
  auto wav = SpeechWav(kSpeech60s);
  EXPECT_TRUE(wav) << wav.error().ToString();
  const auto one = TestRunDir() / "speech-one-32k.mp3";
  const auto list = TestRunDir() / fmt::format("speech-{}min.txt", minutes);
  const auto path = TestRunDir() / fmt::format("speech-{}min.mp3", minutes);
  if (!std::filesystem::exists(path)) {
    auto r = RunTool({"ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-i", wav->string(), "-b:a",
                      "32k", one.string()});
    EXPECT_TRUE(r) << r.error().ToString();
    std::ofstream out(list);
    for (int i = 0; i < minutes; ++i) out << "file '" << one.string() << "'\n";
    out.close();
    r = RunTool({"ffmpeg", "-nostdin", "-y", "-loglevel", "error", "-f", "concat", "-safe", "0",
                 "-i", list.string(), "-c", "copy", path.string()});
    EXPECT_TRUE(r) << r.error().ToString();
  }
  return path;
}

class RelayTest : public ::testing::Test {
 protected:
  void Start(Millis chunk, AudioPathMode path = AudioPathMode::kAuto) {
    CoordinatorOptions o;
    o.audio_path = path;
    o.data_dir = dir_.path() / "data";
    o.port = 0;
    o.feed_interval = Millis(3'600'000);
    o.chunks.target = chunk;
    o.chunks.search = Millis(4'000);
    o.retry.base_backoff = Millis(1'000);
    o.allow_file_urls = true;  // the origin is a local file here and there
    auto c = Coordinator::Start(o, clock_);
    ASSERT_TRUE(c) << c.error().ToString();
    coordinator_ = std::move(*c);
    http_ = MakeCurlClient(HttpClientOptions{});
    admin_ = std::make_unique<CoordinatorClient>(coordinator_->base_url(), *http_);
    admin_->set_admin_token(*coordinator_->first_admin_token());
  }

  std::unique_ptr<CoordinatorClient> Worker(const std::string& name, double speed = 0) {
    auto client = std::make_unique<CoordinatorClient>(coordinator_->base_url(), *http_);
    NodeInfo info;
    info.name = name;
    info.speed = speed;
    auto reg = client->Register(*coordinator_->first_enrollment_token(), info);
    EXPECT_TRUE(reg) << reg.error().ToString();
    if (reg) client->set_node_token(reg->token);
    return client;
  }

  // The 60 s test speech as MP3, added by path.
  int64_t AddSpeech() {
    auto wav = SpeechWav(kSpeech60s);
    EXPECT_TRUE(wav) << wav.error().ToString();
    auto mp3 = EncodeAudio(*wav, "mp3");
    EXPECT_TRUE(mp3) << mp3.error().ToString();
    return AddUrl(mp3->string());
  }

  int64_t AddUrl(const std::string& url) {
    auto r = admin_->PostJson("/api/episodes", {{"url", url}, {"title", "speech"}});
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? (*r)["id"].get<int64_t>() : 0;
  }

  // Fetches a grant's audio as `worker` and decodes it; `type` gets its Content-Type.
  Result<PcmAudio> Fetch(CoordinatorClient& worker, const WireGrant& g,
                         std::string* type = nullptr) {
    ClientRequest get;
    get.url = worker.Resolve(g.audio_url);
    get.headers = worker.AuthHeadersFor(g.audio_url);
    auto res = http_->Send(get);
    if (!res) return std::unexpected(res.error());
    if (res->status != 200) return Unavailable("HTTP " + std::to_string(res->status));
    if (type) *type = res->content_type;
    const auto path = dir_.path() / ("chunk-" + std::to_string(g.lease.job.value()) + ".opus");
    std::ofstream(path, std::ios::binary) << res->body;
    return DecodeAudioFile(path);
  }

  // Claims chunks as the relay queues them, one by one, until the last (whose count is final).
  static Result<std::vector<WireGrant>> ClaimAll(CoordinatorClient& worker) {
    std::vector<WireGrant> all;
    while (all.empty() || all.back().chunk.index + 1 < all.back().chunk.count) {
      auto more = worker.Claim(8, Millis(20'000));
      if (!more) return std::unexpected(more.error());
      if (more->empty()) return Unavailable("no chunk within 20 s");
      all.insert(all.end(), more->begin(), more->end());
    }
    return all;
  }

  static std::filesystem::path LongSpeech(int minutes) { return LongSpeechMp3(minutes); }

  static Transcript Said(const std::string& text, Millis audio) {
    Transcript t;
    t.engine = "test";
    t.audio_duration = audio;
    t.segments.push_back(Segment{Millis(1'000), Millis(2'000), text, "", {}});
    return t;
  }

  std::string EpisodeState(int64_t id) {
    auto e = admin_->GetJson("/api/episodes/" + std::to_string(id));
    EXPECT_TRUE(e);
    return e ? (*e)["state"].get<std::string>() : "";
  }

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Coordinator> coordinator_;
  std::unique_ptr<HttpClient> http_;
  std::unique_ptr<CoordinatorClient> admin_;
};

TEST_F(RelayTest, LongEpisodeIsCutServedAsOpusAndStitched) {
  Start(Millis(20'000));
  const int64_t episode = AddSpeech();
  auto a = Worker("a");
  auto grants = ClaimAll(*a);
  ASSERT_TRUE(grants) << grants.error().ToString();
  ASSERT_GE(grants->size(), 2u);
  const int count = grants->back().chunk.count;
  ASSERT_EQ(static_cast<int>(grants->size()), count);
  Millis expect_start(0);
  for (int i = 0; i < count; ++i) {
    const WireGrant& g = (*grants)[static_cast<size_t>(i)];
    EXPECT_EQ(g.chunk.index, i);
    EXPECT_TRUE(g.chunk.relayed);
    ASSERT_TRUE(g.chunk.end);
    EXPECT_EQ(g.chunk.start, expect_start) << "chunks are contiguous";
    expect_start = *g.chunk.end;
    EXPECT_EQ(g.audio_url, "/api/jobs/" + std::to_string(g.lease.job.value()) + "/audio");
    auto audio = Fetch(*a, g);
    ASSERT_TRUE(audio) << audio.error().ToString();
    EXPECT_NEAR(static_cast<double>(audio->duration().count()),
                static_cast<double>((*g.chunk.end - g.chunk.start).count()), 60.0);
  }
  EXPECT_GE(expect_start, Millis(50'000));  // the whole minute of speech is covered

  // Another node may not fetch audio of a lease it does not hold.
  auto b = Worker("b");
  EXPECT_FALSE(Fetch(*b, (*grants)[0]));

  // The bytes served are counted against node a, with the audio they carry.
  auto served = coordinator_->store().TransfersSince(TimePoint{});
  ASSERT_TRUE(served);
  int64_t bytes = 0;
  Millis audio{0};
  for (const TransferTotal& t : *served) {
    bytes += t.bytes;
    audio += t.audio;
  }
  EXPECT_EQ(audio, expect_start);
  EXPECT_LT(static_cast<double>(bytes) / (static_cast<double>(audio.count()) / 1000.0), 3'300.0);

  // Chunks finish out of order; the episode is done only with the last.
  for (int i = count - 1; i >= 0; --i) {
    EXPECT_NE(EpisodeState(episode), "done");
    const WireGrant& g = (*grants)[static_cast<size_t>(i)];
    ASSERT_TRUE(
        a->Complete(g.lease, Said("chunk" + std::to_string(i), *g.chunk.end - g.chunk.start)));
  }
  EXPECT_EQ(EpisodeState(episode), "done");
  auto t = coordinator_->store().GetTranscript(EpisodeId(episode));
  ASSERT_TRUE(t) << t.error().ToString();
  ASSERT_EQ(static_cast<int>(t->segments.size()), count);
  for (int i = 0; i < count; ++i) {
    const WireGrant& g = (*grants)[static_cast<size_t>(i)];
    EXPECT_EQ(t->segments[static_cast<size_t>(i)].text, "chunk" + std::to_string(i));
    EXPECT_EQ(t->segments[static_cast<size_t>(i)].start, g.chunk.start + Millis(1'000));
  }
  EXPECT_EQ(t->audio_duration, expect_start);
  // The chunk files are gone once the episode is done.
  for (int i = 0; i < count; ++i)
    EXPECT_FALSE(std::filesystem::exists(
        Relay::ChunkFile(dir_.path() / "data" / "relay", EpisodeId(episode), i)));
}

// A worker fast enough that the relay's Opus would bind: `auto` copies the MP3's frames. The
// chunks are MP3, contiguous, each as long as its times say (within a frame or two), and their
// files go when the episode is done.
TEST_F(RelayTest, FastFleetGetsTheOriginalFramesCopied) {
  Start(Millis(20'000));
  const auto mp3 = LongSpeech(2);
  auto a = Worker("a", /*speed=*/1e6);
  const int64_t episode = AddUrl(mp3.string());
  auto grants = ClaimAll(*a);
  ASSERT_TRUE(grants) << grants.error().ToString();
  const int count = grants->back().chunk.count;
  ASSERT_GE(count, 4);
  const auto relay_dir = dir_.path() / "data" / "relay";
  Millis at(0);
  for (const WireGrant& g : *grants) {
    EXPECT_EQ(g.chunk.start, at) << "chunks are contiguous";
    at = g.chunk.end.value_or(Millis(0));
    EXPECT_TRUE(std::filesystem::exists(
        Relay::ChunkFile(relay_dir, EpisodeId(episode), g.chunk.index, "mp3")));
    std::string type;
    auto audio = Fetch(*a, g, &type);
    ASSERT_TRUE(audio) << audio.error().ToString();
    EXPECT_EQ(type, "audio/mpeg");
    EXPECT_NEAR(static_cast<double>(audio->duration().count()),
                static_cast<double>((*g.chunk.end - g.chunk.start).count()), 80.0);
  }
  auto length = ProbeAudioDuration(mp3);
  ASSERT_TRUE(length) << length.error().ToString();
  EXPECT_NEAR(static_cast<double>(at.count()), static_cast<double>(length->count()), 1'000.0);
  for (const WireGrant& g : *grants)
    ASSERT_TRUE(a->Complete(g.lease, Said("c", *g.chunk.end - g.chunk.start)));
  EXPECT_EQ(EpisodeState(episode), "done");
  for (int i = 0; i < count; ++i)
    EXPECT_FALSE(std::filesystem::exists(Relay::FindChunkFile(relay_dir, EpisodeId(episode), i)));
}

// `--audio-path opus` keeps Opus however fast the fleet.
TEST_F(RelayTest, OpusPathIsKeptWhenAsked) {
  Start(Millis(600'000), AudioPathMode::kOpus);
  auto a = Worker("a", /*speed=*/1e6);
  AddSpeech();
  auto grants = a->Claim(1, Millis(20'000));
  ASSERT_TRUE(grants) << grants.error().ToString();
  ASSERT_EQ(grants->size(), 1u);
  std::string type;
  ASSERT_TRUE(Fetch(*a, (*grants)[0], &type));
  EXPECT_EQ(type, "audio/ogg");
}

// Each chunk is queued as soon as it is encoded: a worker holds the first chunk of a long
// episode while the relay is still cutting the rest, and the chunks that follow are contiguous
// and end with the episode.
TEST_F(RelayTest, FirstChunkIsLeasedWhileTheRestIsPrepared) {
  Start(Millis(20'000));
  const auto mp3 = LongSpeech(8);
  auto a = Worker("a");
  AddUrl(mp3.string());
  auto first = a->Claim(1, Millis(20'000));
  ASSERT_TRUE(first) << first.error().ToString();
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ((*first)[0].chunk.index, 0);
  auto preparing = coordinator_->store().ListPreparing(10, TimePoint::max());
  ASSERT_TRUE(preparing);
  EXPECT_EQ(preparing->size(), 1u) << "the rest of the episode is still being prepared";
  auto rest = ClaimAll(*a);
  ASSERT_TRUE(rest) << rest.error().ToString();
  rest->insert(rest->begin(), (*first)[0]);
  const int count = rest->back().chunk.count;
  ASSERT_EQ(static_cast<int>(rest->size()), count);
  EXPECT_GE(count, 20);
  Millis at(0);
  for (int i = 0; i < count; ++i) {
    EXPECT_EQ((*rest)[i].chunk.index, i);
    EXPECT_EQ((*rest)[i].chunk.start, at);
    at = (*rest)[i].chunk.end.value_or(Millis(0));
  }
  auto length = ProbeAudioDuration(mp3);  // 8 x the 55 s of speech
  ASSERT_TRUE(length) << length.error().ToString();
  EXPECT_NEAR(static_cast<double>(at.count()), static_cast<double>(length->count()), 1'000.0);
  auto last = Fetch(*a, rest->back());
  ASSERT_TRUE(last) << last.error().ToString();
}

// Episodes are prepared side by side: an origin that never answers holds up no other episode.
TEST_F(RelayTest, SlowOriginDoesNotHoldUpTheOthers) {
  Start(Millis(600'000));
  std::mutex mu;
  std::vector<HttpResponder> held;  // the slow origin's requests, never answered
  auto origin = HttpServer::Start({.port = 0}, [&](HttpRequest, HttpResponder respond) {
    std::lock_guard lock(mu);
    held.push_back(std::move(respond));
  });
  ASSERT_TRUE(origin) << origin.error().ToString();
  const int64_t slow = AddUrl(fmt::format("http://127.0.0.1:{}/endless.mp3", (*origin)->port()));
  const int64_t good = AddSpeech();
  auto a = Worker("a");
  auto grants = a->Claim(1, Millis(20'000));
  ASSERT_TRUE(grants) << grants.error().ToString();
  ASSERT_EQ(grants->size(), 1u);
  EXPECT_EQ((*grants)[0].episode.id, EpisodeId(good));
  EXPECT_NE(EpisodeState(slow), "done");
  coordinator_.reset();  // cancels the download still waiting
}

TEST_F(RelayTest, FailedChunkIsRedoneAloneAndTheOthersStayDone) {
  Start(Millis(20'000));
  const int64_t episode = AddSpeech();
  auto a = Worker("a");
  auto grants = ClaimAll(*a);
  ASSERT_TRUE(grants && grants->size() >= 2);
  const WireGrant failed = (*grants)[1];
  ASSERT_TRUE(a->Fail(failed.lease, Failure{"engine crashed", false}));
  for (const WireGrant& g : *grants) {
    if (g.lease.job != failed.lease.job) {
      ASSERT_TRUE(a->Complete(g.lease, Said("ok", Millis(1))));
    }
  }
  EXPECT_EQ(EpisodeState(episode), "running");
  clock_.Advance(Millis(60'000));  // past the retry backoff
  auto again = a->Claim(8, Millis(5'000));
  ASSERT_TRUE(again);
  ASSERT_EQ(again->size(), 1u);  // only the failed chunk comes back
  EXPECT_EQ((*again)[0].lease.job, failed.lease.job);
  EXPECT_EQ((*again)[0].chunk.index, 1);
  EXPECT_TRUE(Fetch(*a, (*again)[0]));
  ASSERT_TRUE(a->Complete((*again)[0].lease, Said("redone", Millis(1))));
  EXPECT_EQ(EpisodeState(episode), "done");
  auto t = coordinator_->store().GetTranscript(EpisodeId(episode));
  ASSERT_TRUE(t);
  EXPECT_NE(t->Text().find("redone"), std::string::npos);
}

// On an idle fleet, a long episode is cut so that its chunks fill whole rounds of the workers
// that wait (SpreadTarget): the minute of speech is 3 chunks at a 20 s target, and at least 4
// with 4 idle workers.
TEST_F(RelayTest, LongEpisodeIsSpreadOverTheIdleWorkers) {
  Start(Millis(20'000));
  std::vector<std::unique_ptr<CoordinatorClient>> workers;
  for (const char* name : {"a", "b", "c", "d"}) workers.push_back(Worker(name));
  AddSpeech();
  auto grants = workers[0]->Claim(1, Millis(20'000));
  ASSERT_TRUE(grants) << grants.error().ToString();
  ASSERT_EQ(grants->size(), 1u);
  EXPECT_GE((*grants)[0].chunk.count, 4);
}

TEST_F(RelayTest, EpisodeShorterThanAChunkIsOneJob) {
  Start(Millis(600'000));
  AddSpeech();
  auto a = Worker("a");
  auto grants = a->Claim(8, Millis(20'000));
  ASSERT_TRUE(grants && grants->size() == 1);
  EXPECT_EQ((*grants)[0].chunk.count, 1);
  EXPECT_TRUE((*grants)[0].chunk.relayed);
  auto audio = Fetch(*a, (*grants)[0]);
  ASSERT_TRUE(audio) << audio.error().ToString();
  EXPECT_GT(audio->duration(), Millis(50'000));
}

TEST_F(RelayTest, MissingOriginFailsTheEpisodeWithTheReason) {
  Start(Millis(600'000));
  const auto missing = dir_.path() / "no-such-episode.mp3";
  const int64_t episode = AddUrl("file://" + missing.string());
  for (int i = 0; i < 200 && EpisodeState(episode) != "failed"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  EXPECT_EQ(EpisodeState(episode), "failed");
  auto e = admin_->GetJson("/api/episodes/" + std::to_string(episode));
  ASSERT_TRUE(e);
  EXPECT_NE((*e)["error"].get<std::string>().find("no-such-episode"), std::string::npos);
}

TEST_F(RelayTest, UndecodableAudioFailsForGoodAndTheRelayGoesOn) {
  Start(Millis(600'000));
  const int64_t bad = AddUrl(WriteTestFile("garbage.mp3", std::string(5'000, '\x42')).string());
  const int64_t good = AddSpeech();
  auto a = Worker("a");
  auto grants = a->Claim(1, Millis(20'000));
  ASSERT_TRUE(grants && grants->size() == 1);
  EXPECT_EQ((*grants)[0].episode.id, EpisodeId(good));
  EXPECT_EQ(EpisodeState(bad), "failed");
}

std::string ReadBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The episode is decoded and cut while it downloads: a worker holds its first chunk while the
// origin still holds back the last 40% of the file, and the rest follows from the same download.
TEST_F(RelayTest, FirstChunkIsLeasedWhileTheDownloadGoesOn) {
  Start(Millis(20'000));
  const auto mp3 = LongSpeech(8);
  const std::string bytes = ReadBytes(mp3);
  StreamOrigin origin(bytes);
  origin.HoldAt(static_cast<int64_t>(bytes.size()) * 6 / 10);
  auto a = Worker("a");
  AddUrl(origin.Url());
  auto first = a->Claim(1, Millis(20'000));
  ASSERT_TRUE(first) << first.error().ToString();
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ((*first)[0].chunk.index, 0);
  origin.Release();
  auto rest = ClaimAll(*a);
  ASSERT_TRUE(rest) << rest.error().ToString();
  rest->insert(rest->begin(), (*first)[0]);
  Millis at(0);
  for (size_t i = 0; i < rest->size(); ++i) {
    EXPECT_EQ((*rest)[i].chunk.index, static_cast<int>(i));
    EXPECT_EQ((*rest)[i].chunk.start, at);
    at = (*rest)[i].chunk.end.value_or(Millis(0));
  }
  auto length = ProbeAudioDuration(mp3);
  ASSERT_TRUE(length) << length.error().ToString();
  EXPECT_NEAR(static_cast<double>(at.count()), static_cast<double>(length->count()), 1'000.0);
  EXPECT_EQ(origin.requests(), 1);
}

// A relay on a store of its own, without the coordinator: its download retries and the store's
// retry backoff are the test's to set.
class RelayDownloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = OpenSqliteStore((dir_.path() / "store.db").string());
    ASSERT_TRUE(store) << store.error().ToString();
    store_ = std::move(*store);
    http_ = MakeCurlClient(HttpClientOptions{});
  }

  void StartRelay() {
    RelayOptions o;
    o.dir = dir_.path() / "relay";
    o.uploads_dir = dir_.path() / "uploads";
    o.scratch_dir = dir_.path() / "tmp";
    o.chunks.target = Millis(20'000);
    o.chunks.search = Millis(4'000);
    o.retry.base_backoff = Millis(1'000);
    o.download_retries = 0;  // a cut download fails this try at once
    o.episodes = 1;
    relay_ = std::make_unique<Relay>(*store_, *http_, clock_, o, [] {});
    relay_->Start("");  // the store's only coordinator
  }

  EpisodeId Add(const std::string& url) {
    EpisodeInfo info;
    info.guid = url;
    info.title = "cut";
    info.audio_url = url;
    auto ids = store_->AddEpisodes(std::nullopt, {info}, clock_.Now(), JobIntake::kPrepare);
    EXPECT_TRUE(ids) << ids.error().ToString();
    return ids ? ids->at(0) : EpisodeId(0);
  }

  // Waits (polling the store) until `done` holds of the episode's jobs.
  std::vector<Job> WaitFor(EpisodeId episode,
                           const std::function<bool(const std::vector<Job>&)>& done) {
    for (int i = 0; i < 2'000; ++i) {
      auto jobs = store_->ListJobsForEpisode(episode);
      if (jobs && done(*jobs)) return *jobs;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "timed out";
    return {};
  }

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<HttpClient> http_;
  std::unique_ptr<Relay> relay_;
};

// A download cut at 80% fails that try after its first chunks were queued; the retry decodes
// from the start again and queues from the next chunk on: every chunk once, contiguous, the
// whole episode covered, the first ones as they were.
TEST_F(RelayDownloadTest, DownloadCutAt80PercentLeavesEveryChunkOnce) {
  const auto mp3 = LongSpeechMp3(8);
  const std::string bytes = ReadBytes(mp3);
  StreamOrigin origin(bytes);
  // The first response pauses short of 80% until chunks were queued from it, then ends at 80%.
  origin.HoldAt(static_cast<int64_t>(bytes.size()) * 78 / 100);
  origin.CutAt(static_cast<int64_t>(bytes.size()) * 8 / 10, 1);
  const EpisodeId episode = Add(origin.Url());
  StartRelay();
  WaitFor(episode, [](const std::vector<Job>& jobs) { return jobs.size() >= 3; });
  origin.Release();
  auto preparing_failed = [](const std::vector<Job>& jobs) {
    return !jobs.empty() && jobs.back().state == JobState::kPreparing && !jobs.back().error.empty();
  };
  const std::vector<Job> before = WaitFor(episode, preparing_failed);
  ASSERT_GE(before.size(), 2u) << "chunks were queued before the cut";
  EXPECT_EQ(before.back().failures, 1);
  clock_.Advance(Millis(60'000));  // past the store's backoff
  relay_->Wake();
  auto all_queued = [](const std::vector<Job>& jobs) {
    return !jobs.empty() && jobs.back().state == JobState::kQueued &&
           jobs.back().chunk.index + 1 == jobs.back().chunk.count;
  };
  const std::vector<Job> after = WaitFor(episode, all_queued);
  ASSERT_GT(after.size(), before.size());
  Millis at(0);
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].chunk.index, static_cast<int>(i));
    EXPECT_EQ(after[i].chunk.count, static_cast<int>(after.size()));
    EXPECT_EQ(after[i].chunk.start, at) << "chunk " << i;
    EXPECT_EQ(after[i].state, JobState::kQueued);
    at = after[i].chunk.end.value_or(Millis(0));
    if (i + 1 < before.size()) {
      EXPECT_EQ(after[i].id, before[i].id);
      EXPECT_EQ(after[i].chunk.end, before[i].chunk.end);
    }
  }
  auto length = ProbeAudioDuration(mp3);
  ASSERT_TRUE(length) << length.error().ToString();
  EXPECT_NEAR(static_cast<double>(at.count()), static_cast<double>(length->count()), 1'000.0);
  EXPECT_EQ(origin.requests(), 2);
}

}  // namespace
}  // namespace podfleet
