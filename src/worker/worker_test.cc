// The worker's pipeline against a real coordinator on loopback, with the simulated engine (so the
// tests need no speech model) and audio files on disk fetched through file:// URLs.
#include "worker/worker.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "audio/audio.h"
#include "coordinator/coordinator.h"
#include "net/http_server.h"
#include "support/engine_util.h"
#include "support/manual_clock.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

using nlohmann::json;

// Stops the worker when a test ends early, so that waiting for its Run cannot hang the test.
struct StopOnExit {
  Worker& worker;
  ~StopOnExit() { worker.RequestStop(); }
};

bool IsEmptyDir(const std::filesystem::path& dir) {
  std::error_code ec;
  return std::filesystem::is_empty(dir, ec) || ec;
}

// Waits (up to 5 s) until `dir` holds a file.
bool WaitForFileIn(const std::filesystem::path& dir) {
  for (int i = 0; i < 100; ++i) {
    if (!IsEmptyDir(dir)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// Polls `done` every 50 ms for up to `limit`.
template <class F>
bool Eventually(F done, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

// Advances `clock` by `step` every 50 ms of waiting for `run` to end (up to 200 steps): a worker
// on a ManualClock that should finish by itself, its idle limit or back-offs driven by the test.
// (Not AdvanceAndSettle: a worker that ends does not wait on the clock again.)
template <class T>
bool AdvanceUntilReady(ManualClock& clock, std::future<T>& run, Millis step) {
  for (int i = 0; i < 200; ++i) {
    if (run.wait_for(std::chrono::milliseconds(50)) == std::future_status::ready) return true;
    clock.Advance(step);
  }
  return run.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

// Between a worker and its coordinator on loopback: forwards every call, except that while
// `refuse_completions` is set it answers uploads of transcripts with 503 (a coordinator that
// cannot store them now). Counts the claims and refused uploads, and the most results one
// request to POST /api/workers/complete carried.
class CompletionBlocker {
 public:
  explicit CompletionBlocker(std::string coordinator) : coordinator_(std::move(coordinator)) {
    auto server =
        HttpServer::Start({.port = 0, .threads = 8},
                          [this](HttpRequest r, HttpResponder respond) { respond(Forward(r)); });
    EXPECT_TRUE(server) << server.error().ToString();
    server_ = std::move(*server);
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  std::atomic<bool> refuse_completions{true};
  std::atomic<int> claims{0};
  std::atomic<int> refused{0};
  std::atomic<size_t> most_results{0};

 private:
  HttpResponse Forward(const HttpRequest& r) {
    if (r.path == "/api/workers/claim") ++claims;
    if (r.path == "/api/workers/complete") {
      const json body = json::parse(r.body, nullptr, false);
      const size_t n = body.is_object() ? body.value("results", json::array()).size() : 0;
      if (n > most_results) most_results = n;
    }
    if (refuse_completions && r.path.ends_with("/complete")) {
      ++refused;
      return HttpResponse::ErrorJson(503, Code::kUnavailable, "cannot store it now");
    }
    ClientRequest out;
    out.method = r.method;
    out.url = coordinator_ + r.target;
    out.body = r.body;
    out.content_type = std::string(r.Header("content-type"));
    if (auto auth = r.Header("authorization"); !auth.empty())
      out.headers.emplace_back("Authorization", std::string(auth));
    auto reply = http_->Send(out);
    if (!reply) return HttpResponse::ErrorJson(502, Code::kUnavailable, reply.error().message);
    HttpResponse back = HttpResponse::Json(reply->status, reply->body);
    return back;
  }

  const std::string coordinator_;
  std::unique_ptr<HttpClient> http_ = MakeCurlClient(HttpClientOptions{});
  std::unique_ptr<HttpServer> server_;
};

class WorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StartCoordinator(0);
    ASSERT_TRUE(coordinator_);
    http_ = MakeCurlClient(HttpClientOptions{});
    admin_ = std::make_unique<CoordinatorClient>(coordinator_->base_url(), *http_);
    admin_->set_admin_token(*coordinator_->first_admin_token());
  }

  // A coordinator on the fixture's data directory; port 0 picks a free one. The tests' audio
  // files are on this machine's disk, so file URLs are allowed.
  void StartCoordinator(uint16_t port, bool refuse_private_addresses = false) {
    CoordinatorOptions o;
    o.data_dir = dir_.path() / "data";
    o.port = port;
    o.allow_file_urls = true;
    o.refuse_private_addresses = refuse_private_addresses;
    o.heartbeat_interval = Millis(200);
    o.relay = false;  // the worker fetches from the origin itself: its failures are under test
    auto c = Coordinator::Start(o, SystemClock::Get());
    ASSERT_TRUE(c) << c.error().ToString();
    coordinator_ = std::move(*c);
  }

  // A WAV file of `seconds` of a quiet tone.
  std::string Audio(const std::string& name, double seconds) {
    PcmAudio audio;
    audio.samples.resize(static_cast<size_t>(seconds * kSampleRate));
    for (size_t i = 0; i < audio.samples.size(); ++i)
      audio.samples[i] = 0.1f * static_cast<float>(std::sin(i * 0.05));
    const auto path = dir_.path() / name;
    EXPECT_TRUE(WriteWav(path, audio));
    return "file://" + path.string();
  }

  int64_t AddEpisode(const std::string& url) {
    auto r = admin_->PostJson("/api/episodes", {{"url", url}});
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? (*r)["id"].get<int64_t>() : 0;
  }

  WorkerOptions Options(const std::string& name) {
    WorkerOptions w;
    w.server = coordinator_->base_url();
    w.token = *coordinator_->first_enrollment_token();
    w.name = name;
    w.work_dir = dir_.path() / name;
    w.claim_wait = Millis(500);
    w.skip_speed_probe = true;  // speed_probe_test.cc covers it; here it would only delay starts
    return w;
  }

  std::unique_ptr<Engine> Simulated(double speed) { return SimulatedEngine(speed); }

  json Episode(int64_t id) { return *admin_->GetJson("/api/episodes/" + std::to_string(id)); }

  // The (only) node as /api/nodes shows it; null before it registered.
  json Node() {
    auto nodes = admin_->GetJson("/api/nodes");
    if (!nodes || (*nodes)["nodes"].empty()) return nullptr;
    return (*nodes)["nodes"][0];
  }

  // Waits until the (only) node reports a job in the engine. A worker on a ManualClock reports
  // it with a heartbeat when `clock` is given, advanced a heartbeat period each time.
  bool WaitUntilTranscribing(ManualClock* clock = nullptr) {
    for (int i = 0; i < 100; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (clock) clock->Advance(Millis(10'000));
      auto nodes = admin_->GetJson("/api/nodes");
      if (!nodes || (*nodes)["nodes"].empty()) continue;
      for (const json& j : (*nodes)["nodes"][0]["jobs"])
        if (j.value("stage", "") == "transcribing") return true;
    }
    return false;
  }

  // Runs a worker with `o` until the job in its engine finishes while the coordinator (stopped
  // once the job is in the engine) is down, so that the transcript waits in the outbox; then
  // stops the worker. `stats` gets what its run returned.
  void FinishIntoTheOutbox(const WorkerOptions& o, Engine& engine, Result<WorkerStats>& stats) {
    Worker worker(o, engine, *http_);
    auto run = std::async(std::launch::async, [&] { return worker.Run(); });
    StopOnExit stop_on_exit{worker};
    ASSERT_TRUE(WaitUntilTranscribing());
    coordinator_->Stop();
    ASSERT_TRUE(WaitForFileIn(o.work_dir / "outbox"))
        << "the finished transcript never reached the outbox";
    worker.RequestStop();
    ASSERT_EQ(run.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    stats = run.get();
  }

  TempDir dir_;
  std::unique_ptr<Coordinator> coordinator_;
  std::unique_ptr<HttpClient> http_;
  std::unique_ptr<CoordinatorClient> admin_;
};

TEST_F(WorkerTest, CompletesEveryQueuedJob) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(AddEpisode(Audio("a" + std::to_string(i) + ".wav", 2)));
  auto engine = Simulated(100);
  WorkerOptions o = Options("w1");
  o.max_jobs = 5;
  Worker worker(o, *engine, *http_);
  auto stats = worker.Run();
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->completed, 5);
  EXPECT_EQ(stats->failed, 0);
  for (int64_t id : ids) {
    EXPECT_EQ(Episode(id)["state"], "done");
    auto t = admin_->GetJson("/api/episodes/" + std::to_string(id) + "/transcript?format=json");
    ASSERT_TRUE(t);
    EXPECT_EQ((*t)["segments"][0]["body"], "[simulated]");
  }
}

TEST_F(WorkerTest, BytesThatAreNotAudioFailPermanently) {
  const auto page = dir_.path() / "page.mp3";
  std::ofstream(page) << "<!DOCTYPE html><html><body>Episode not found</body></html>";
  const int64_t bad = AddEpisode("file://" + page.string());
  const int64_t good = AddEpisode(Audio("good.wav", 1));
  auto engine = Simulated(100);
  WorkerOptions o = Options("w1");
  o.max_jobs = 2;
  Worker worker(o, *engine, *http_);
  auto stats = worker.Run();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->failed, 1);
  json e = Episode(bad);
  EXPECT_EQ(e["state"], "failed");
  EXPECT_NE(e["error"].get<std::string>().find("not audio"), std::string::npos) << e.dump();
  EXPECT_EQ(e["job"]["attempts"], 1);
  EXPECT_EQ(Episode(good)["state"], "done");
}

TEST_F(WorkerTest, MissingFileFailsPermanently) {
  const int64_t id = AddEpisode("file://" + (dir_.path() / "nothing-here.mp3").string());
  auto engine = Simulated(100);
  WorkerOptions o = Options("w1");
  o.max_jobs = 1;
  Worker worker(o, *engine, *http_);
  ASSERT_TRUE(worker.Run());
  EXPECT_EQ(Episode(id)["state"], "failed");
}

// An episode queued before the coordinator refused private addresses: the grant tells the worker,
// which refuses to connect, and the failure is permanent.
TEST_F(WorkerTest, PublicOnlyGrantIsNotFetchedFromALoopbackOrigin) {
  auto origin = HttpServer::Start({.port = 0}, [](HttpRequest, HttpResponder respond) {
    respond(HttpResponse::Text(200, "RIFF", "audio/wav"));
  });
  ASSERT_TRUE(origin);
  const int64_t id =
      AddEpisode("http://127.0.0.1:" + std::to_string((*origin)->port()) + "/private.wav");
  WorkerOptions o = Options("w1");
  o.max_jobs = 1;
  coordinator_->Stop();
  coordinator_.reset();
  StartCoordinator(0, /*refuse_private_addresses=*/true);
  ASSERT_TRUE(coordinator_);
  admin_ = std::make_unique<CoordinatorClient>(coordinator_->base_url(), *http_);
  auto engine = Simulated(100);
  o.server = coordinator_->base_url();
  Worker worker(o, *engine, *http_);
  auto stats = worker.Run();
  ASSERT_TRUE(stats) << stats.error().ToString();
  json e = Episode(id);
  EXPECT_EQ(e["state"], "failed") << e.dump();
  EXPECT_NE(e["error"].get<std::string>().find("refused to connect to 127.0.0.1"),
            std::string::npos)
      << e.dump();
  EXPECT_EQ(e["job"]["attempts"], 1);
}

TEST_F(WorkerTest, TranscriptFinishedWhileCoordinatorIsDownIsUploadedWhenItIsBack) {
  const int64_t id = AddEpisode(Audio("a.wav", 3));
  auto engine = Simulated(2);  // 1.5 s in the engine: the coordinator goes away meanwhile
  WorkerOptions o = Options("w1");
  o.max_jobs = 1;
  o.upload_backoff = Millis(100);
  const auto outbox = o.work_dir / "outbox";
  ManualClock clock;
  Worker worker(o, *engine, *http_, clock);
  auto run = std::async(std::launch::async, [&] { return worker.Run(); });
  StopOnExit stop_on_exit{worker};
  ASSERT_TRUE(WaitUntilTranscribing(&clock));
  const uint16_t port = coordinator_->port();
  coordinator_->Stop();
  ASSERT_TRUE(WaitForFileIn(outbox)) << "the finished transcript never reached the outbox";
  // Claims are over (max_jobs): the heartbeat and the upload's back-off after a failure wait.
  clock.WaitForWaiting(2);
  clock.AdvanceAndSettle(Millis(1'000));  // another try fails too
  EXPECT_NE(run.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_FALSE(IsEmptyDir(outbox));
  ASSERT_NO_FATAL_FAILURE(StartCoordinator(port));  // same data directory, same port
  ASSERT_TRUE(AdvanceUntilReady(clock, run, Millis(30'000)));
  auto stats = run.get();
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->completed, 1);
  EXPECT_EQ(Episode(id)["state"], "done");
  EXPECT_TRUE(IsEmptyDir(outbox));
}

TEST_F(WorkerTest, TranscriptKeptAtShutdownIsUploadedByTheNextRun) {
  const int64_t id = AddEpisode(Audio("a.wav", 2));
  auto engine = Simulated(2);  // 1 s in the engine
  WorkerOptions o = Options("w1");
  o.max_jobs = 1;
  o.upload_backoff = Millis(100);
  const auto outbox = o.work_dir / "outbox";
  const uint16_t port = coordinator_->port();
  {
    Result<WorkerStats> stats = Internal("did not run");
    ASSERT_NO_FATAL_FAILURE(FinishIntoTheOutbox(o, *engine, stats));
    ASSERT_TRUE(stats) << stats.error().ToString();
    EXPECT_EQ(stats->completed, 0);
  }
  ASSERT_FALSE(IsEmptyDir(outbox)) << "the shutdown dropped the unacknowledged transcript";
  ASSERT_NO_FATAL_FAILURE(StartCoordinator(port));
  o.max_jobs = 0;
  o.exit_when_idle = Millis(300);
  Worker again(o, *engine, *http_);
  auto run = std::async(std::launch::async, [&] { return again.Run(); });
  StopOnExit stop_on_exit{again};
  ASSERT_EQ(run.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto stats = run.get();
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->completed, 1);
  EXPECT_EQ(Episode(id)["state"], "done");
  EXPECT_TRUE(IsEmptyDir(outbox));
}

// A worker restarted while the coordinator is down must wait for it rather than register as a new
// node: only the node that held the lease may deliver the outbox's transcript.
TEST_F(WorkerTest, WorkerRestartedWhileTheCoordinatorIsDownKeepsItsIdentityAndItsOutbox) {
  const int64_t id = AddEpisode(Audio("a.wav", 2));
  auto engine = Simulated(2);
  WorkerOptions o = Options("w1");
  o.max_jobs = 1;
  o.upload_backoff = Millis(100);
  const auto outbox = o.work_dir / "outbox";
  const uint16_t port = coordinator_->port();
  {
    Result<WorkerStats> stats = Internal("did not run");
    ASSERT_NO_FATAL_FAILURE(FinishIntoTheOutbox(o, *engine, stats));
  }
  o.max_jobs = 0;
  o.exit_when_idle = Millis(300);
  ManualClock clock;
  Worker again(o, *engine, *http_, clock);
  auto run = std::async(std::launch::async, [&] { return again.Run(); });
  StopOnExit stop_on_exit{again};
  clock.WaitForWaiting(1);  // it found no coordinator and waits to try again
  ASSERT_NO_FATAL_FAILURE(StartCoordinator(port));
  ASSERT_TRUE(AdvanceUntilReady(clock, run, Millis(1'000)));
  auto stats = run.get();
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->completed, 1);
  EXPECT_EQ(stats->lost, 0);
  EXPECT_EQ(Episode(id)["state"], "done");
  EXPECT_EQ((*admin_->GetJson("/api/nodes"))["nodes"].size(), 1u);
  EXPECT_TRUE(IsEmptyDir(outbox));
}

TEST_F(WorkerTest, ExitsWhenIdleWithAnEmptyQueue) {
  auto engine = Simulated(100);
  WorkerOptions o = Options("idle");
  o.exit_when_idle = Millis(1'000);
  Worker worker(o, *engine, *http_);
  auto run = std::async(std::launch::async, [&] { return worker.Run(); });
  StopOnExit stop_on_exit{worker};
  ASSERT_EQ(run.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto stats = run.get();
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->completed, 0);
}

TEST_F(WorkerTest, IdleTimerWaitsForTheJobInHand) {
  const int64_t id = AddEpisode(Audio("a.wav", 3));
  auto engine = Simulated(2);  // 1.5 s in the engine, longer than the idle limit
  WorkerOptions o = Options("idle");
  o.exit_when_idle = Millis(500);
  Worker worker(o, *engine, *http_);
  auto run = std::async(std::launch::async, [&] { return worker.Run(); });
  StopOnExit stop_on_exit{worker};
  ASSERT_EQ(run.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto stats = run.get();
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->completed, 1);
  EXPECT_EQ(Episode(id)["state"], "done");
}

TEST_F(WorkerTest, CircuitBreakerStopsAfterConsecutiveFailures) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 3; ++i) {
    const auto page = dir_.path() / ("page" + std::to_string(i) + ".mp3");
    std::ofstream(page) << "<!DOCTYPE html><html><body>Episode not found</body></html>";
    ids.push_back(AddEpisode("file://" + page.string()));
  }
  auto engine = Simulated(100);
  WorkerOptions o = Options("w1");
  o.max_consecutive_failures = 2;
  Worker worker(o, *engine, *http_);
  auto run = std::async(std::launch::async, [&] { return worker.Run(); });
  StopOnExit stop_on_exit{worker};
  ASSERT_EQ(run.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto r = run.get();
  ASSERT_FALSE(r) << "the worker went on after two failures in a row";
  EXPECT_NE(r.error().message.find("2 jobs in a row failed"), std::string::npos)
      << r.error().message;
  int failed = 0, queued = 0;
  for (int64_t id : ids) {
    const std::string state = Episode(id)["state"];
    failed += state == "failed";
    queued += state == "queued";
  }
  EXPECT_EQ(failed, 2);
  EXPECT_EQ(queued, 1);
  auto q = admin_->GetJson("/api/queue/status");
  EXPECT_EQ((*q)["transcribe_queue"]["running"], 0);
}

TEST_F(WorkerTest, StopReleasesHeldJobsPromptly) {
  for (int i = 0; i < 3; ++i) AddEpisode(Audio("long" + std::to_string(i) + ".wav", 30));
  auto engine = Simulated(1);  // 30 s per job: the stop comes in the middle of the first
  Worker worker(Options("w1"), *engine, *http_);
  auto run = std::async(std::launch::async, [&] { return worker.Run(); });
  // Wait until the engine has started (the node reports a transcribing job).
  bool transcribing = false;
  for (int i = 0; i < 100 && !transcribing; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto nodes = admin_->GetJson("/api/nodes");
    if (!nodes || (*nodes)["nodes"].empty()) continue;
    for (const json& j : (*nodes)["nodes"][0]["jobs"])
      transcribing |= j.value("stage", "") == "transcribing";
  }
  ASSERT_TRUE(transcribing);
  const auto asked = std::chrono::steady_clock::now();
  worker.RequestStop();
  ASSERT_EQ(run.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto stats = run.get();
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - asked, std::chrono::seconds(10));
  EXPECT_EQ(stats->completed, 0);
  EXPECT_EQ(stats->released, 3);  // one in the engine and two prefetched
  auto q = admin_->GetJson("/api/queue/status");
  EXPECT_EQ((*q)["transcribe_queue"]["queued"], 3);
  EXPECT_EQ((*q)["transcribe_queue"]["running"], 0);
}

TEST_F(WorkerTest, TwoWorkersCannotShareAWorkDirectory) {
  auto engine = Simulated(100);
  WorkerOptions o = Options("shared");
  ManualClock clock;
  Worker first(o, *engine, *http_, clock);
  auto run = std::async(std::launch::async, [&] { return first.Run(); });
  StopOnExit stop_on_exit{first};
  clock.WaitForWaiting(1);  // registered (so holding the directory): its heartbeat waits
  Worker second(o, *engine, *http_);
  auto r = second.Run();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kConflict);
  first.RequestStop();
  EXPECT_TRUE(run.get());
}

TEST_F(WorkerTest, RestartedWorkerKeepsItsNodeIdentity) {
  auto engine = Simulated(100);
  WorkerOptions o = Options("same");
  o.max_jobs = 1;
  AddEpisode(Audio("one.wav", 1));
  AddEpisode(Audio("two.wav", 1));
  for (int run = 0; run < 2; ++run) {
    Worker w(o, *engine, *http_);
    ASSERT_TRUE(w.Run());
  }
  auto nodes = admin_->GetJson("/api/nodes");
  EXPECT_EQ((*nodes)["nodes"].size(), 1u);
}

// A work directory that cannot be written (here its audio folder is a file, which stops root
// as well as anyone) is the node's fault: the job goes back uncharged, the coordinator shows the
// node unhealthy with the reason until the directory can be written again, and then the job is
// done.
TEST_F(WorkerTest, UnwritableWorkDirReleasesTheJobAndShowsTheNodeUnhealthyUntilItRecovers) {
  auto engine = Simulated(100);
  WorkerOptions o = Options("w1");
  ManualClock clock;
  Worker worker(o, *engine, *http_, clock);
  auto run = std::async(std::launch::async, [&] { return worker.Run(); });
  StopOnExit stop_on_exit{worker};
  ASSERT_TRUE(Eventually([&] { return !Node().is_null(); }));
  const auto audio_dir = o.work_dir / "audio";
  std::filesystem::remove_all(audio_dir);
  std::ofstream(audio_dir) << "not a folder";
  const int64_t id = AddEpisode(Audio("a.wav", 2));

  ASSERT_TRUE(Eventually([&] { return Node().value("status", "") == "unhealthy"; }))
      << Node().dump();
  EXPECT_NE(Node().value("fault", "").find("audio"), std::string::npos) << Node().dump();
  EXPECT_EQ(Episode(id)["state"], "queued");
  auto doctor = admin_->GetJson("/api/doctor");
  ASSERT_TRUE(doctor);
  bool flagged = false;
  for (const json& c : (*doctor)["checks"])
    flagged |= c["name"] == "no_unhealthy_nodes" && c["outcome"] == "fail";
  EXPECT_TRUE(flagged) << doctor->dump();

  std::filesystem::remove(audio_dir);
  std::filesystem::create_directory(audio_dir);
  // The next probe of the directory comes after its back-off (at most 30 s) on the clock.
  ASSERT_TRUE(Eventually(
      [&] {
        clock.Advance(Millis(30'000));
        return Episode(id)["state"] == "done";
      },
      std::chrono::seconds(30)));
  EXPECT_TRUE(Eventually([&] { return !Node().contains("fault"); })) << Node().dump();
  EXPECT_NE(Node().value("status", ""), "unhealthy");
  worker.RequestStop();
  ASSERT_EQ(run.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto stats = run.get();
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->failed, 0);
  EXPECT_GE(stats->released, 1);
  EXPECT_EQ(stats->completed, 1);
}

// While finished transcripts cannot be uploaded, the worker claims no more: leases would only
// pile up behind them (the issue saw 99 held with --max-prefetch 8). Once uploads go through,
// everything is done.
TEST_F(WorkerTest, ClaimsPauseWhileUploadsBackOff) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 8; ++i) ids.push_back(AddEpisode(Audio("p" + std::to_string(i) + ".wav", 1)));
  CompletionBlocker blocker(coordinator_->base_url());
  auto engine = Simulated(200);
  WorkerOptions o = Options("w1");
  o.server = blocker.url();
  o.prefetch = 1;
  o.max_prefetch = 2;
  o.upload_backoff = Millis(50);
  ManualClock clock;
  Worker worker(o, *engine, *http_, clock);
  auto run = std::async(std::launch::async, [&] { return worker.Run(); });
  StopOnExit stop_on_exit{worker};
  ASSERT_TRUE(Eventually([&] { return blocker.refused > 0; }));
  // The upload backs off on the clock: each advance is another refused try. A claim already on
  // its way when the first was refused may still arrive during the first advances.
  for (int i = 0; i < 3; ++i) clock.AdvanceAndSettle(Millis(60'000));
  const int claims = blocker.claims;
  const int refused = blocker.refused;
  for (int i = 0; i < 10; ++i) clock.AdvanceAndSettle(Millis(60'000));
  EXPECT_GT(blocker.refused, refused) << "the upload did not try again";
  EXPECT_EQ(blocker.claims, claims) << "claimed while the uploads were backing off";
  auto q = admin_->GetJson("/api/queue/status");
  ASSERT_TRUE(q);
  EXPECT_GE((*q)["transcribe_queue"]["queued"].get<int>(), 4) << q->dump();

  blocker.refuse_completions = false;
  for (int64_t id : ids)
    EXPECT_TRUE(Eventually(
        [&] {
          clock.Advance(Millis(60'000));  // the upload's next try, and any claim's pause
          return Episode(id)["state"] == "done";
        },
        std::chrono::seconds(30)))
        << id;
  worker.RequestStop();
  ASSERT_EQ(run.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto stats = run.get();
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->completed, 8);
}

// Results that became ready while an upload was held up go together, in one request.
TEST_F(WorkerTest, ReadyResultsAreUploadedTogether) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(AddEpisode(Audio("r" + std::to_string(i) + ".wav", 1)));
  CompletionBlocker blocker(coordinator_->base_url());
  auto engine = Simulated(200);
  WorkerOptions o = Options("w1");
  o.server = blocker.url();
  o.prefetch = 4;  // one claim for all four
  o.max_prefetch = 4;
  o.upload_backoff = Millis(50);
  ManualClock clock;
  Worker worker(o, *engine, *http_, clock);
  auto run = std::async(std::launch::async, [&] { return worker.Run(); });
  StopOnExit stop_on_exit{worker};
  // One result is being uploaded (refused, retried on the clock), at least two wait behind it.
  ASSERT_TRUE(Eventually([&] {
    std::error_code ec;
    auto files = std::filesystem::directory_iterator(o.work_dir / "outbox", ec);
    return !ec && std::distance(files, std::filesystem::directory_iterator()) >= 3;
  }));
  blocker.refuse_completions = false;
  for (int64_t id : ids)
    EXPECT_TRUE(Eventually([&] {
      clock.Advance(Millis(60'000));
      return Episode(id)["state"] == "done";
    })) << id;
  EXPECT_GE(blocker.most_results.load(), 2u);
  worker.RequestStop();
  ASSERT_EQ(run.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto stats = run.get();
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->completed, 4);
}

}  // namespace
}  // namespace podfleet
