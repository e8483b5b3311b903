// The coordinator under faults, through its real HTTP API and a real SQLite file: a restart while
// workers hold leases, an ambiguous commit failure (fault-injecting VFS), a quarantined episode,
// and another process holding the database's write lock. Time is a ManualClock.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "api/client.h"
#include "coordinator/coordinator.h"
#include "support/fault_vfs.h"
#include "support/manual_clock.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr Millis kLease{30'000};

class CoordinatorFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(); }

  void Start() {
    CoordinatorOptions o;
    o.data_dir = dir_.path() / "data";
    o.port = 0;
    o.lease_duration = kLease;
    o.feed_interval = Millis(3'600'000);
    o.relay = false;  // whole-episode jobs: leases and faults are under test, not the relay
    auto c = Coordinator::Start(o, clock_);
    ASSERT_TRUE(c) << c.error().ToString();
    coordinator_ = std::move(*c);
    if (coordinator_->first_enrollment_token())
      enrollment_ = *coordinator_->first_enrollment_token();
    if (coordinator_->first_admin_token()) admin_token_ = *coordinator_->first_admin_token();
    admin_ = Client("");
    admin_->set_admin_token(admin_token_);
  }

  // Stops the coordinator (all it knows is in the SQLite file) and starts a new one on the same
  // data directory.
  void Restart() {
    coordinator_->Stop();
    coordinator_.reset();
    Start();
  }

  std::unique_ptr<CoordinatorClient> Client(const std::string& node_token) {
    auto client = std::make_unique<CoordinatorClient>(coordinator_->base_url(), *http_);
    client->set_node_token(node_token);
    return client;
  }

  // Registers a worker and returns its node token.
  std::string Register(const std::string& name) {
    NodeInfo info;
    info.name = name;
    info.engine = "simulated";
    auto reg = Client("")->Register(enrollment_, info);
    EXPECT_TRUE(reg) << reg.error().ToString();
    return reg ? reg->token : "";
  }

  void AddEpisode(const std::string& url) {
    auto r = admin_->PostJson("/api/episodes", {{"url", url}, {"title", url}});
    ASSERT_TRUE(r) << r.error().ToString();
  }

  WireGrant ClaimOne(CoordinatorClient& worker) {
    auto grants = worker.Claim(1, Millis(0));
    if (!grants || grants->size() != 1) throw std::runtime_error("expected one grant");
    return grants->at(0);
  }

  HttpResponse Get(const std::string& path) {
    ClientRequest r;
    r.method = "GET";
    r.url = coordinator_->base_url() + path;
    auto reply = http_->Send(r);
    if (!reply) throw std::runtime_error(reply.error().ToString());
    return *reply;
  }

  // Milliseconds a GET of `path` took.
  double TimedGet(const std::string& path) {
    const auto start = std::chrono::steady_clock::now();
    EXPECT_NE(Get(path).status, 0);
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
  }

  static Transcript Sample() {
    Transcript t;
    t.engine = "test";
    t.audio_duration = Millis(4'000);
    t.segments.push_back(Segment{Millis(0), Millis(1'500), "hello world", "", {}});
    return t;
  }

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<HttpClient> http_ = MakeCurlClient(HttpClientOptions{});
  std::unique_ptr<Coordinator> coordinator_;
  std::string enrollment_;
  std::string admin_token_;
  std::unique_ptr<CoordinatorClient> admin_;
};

TEST_F(CoordinatorFaultsTest, WorkerReattachesItsLeaseAfterACoordinatorRestart) {
  AddEpisode("http://127.0.0.1:9/done.mp3");
  AddEpisode("http://127.0.0.1:9/running.mp3");
  const std::string token = Register("w");
  WireGrant done = ClaimOne(*Client(token));
  ASSERT_TRUE(Client(token)->Complete(done.lease, Sample()));
  WireGrant running = ClaimOne(*Client(token));

  coordinator_->Stop();
  clock_.Advance(3 * kLease);  // down for longer than a lease
  Restart();
  auto worker = Client(token);
  auto beat = worker->Heartbeat({{running.lease.job, running.lease.attempt}});
  ASSERT_TRUE(beat) << beat.error().ToString();
  EXPECT_TRUE(beat->lost.empty());
  ASSERT_EQ(beat->renewed.size(), 1u);
  ASSERT_TRUE(worker->Complete(running.lease, Sample()));

  // Nothing was redone: both jobs done, each by its first attempt, nothing left to claim.
  auto queue = admin_->GetJson("/api/queue/status");
  ASSERT_TRUE(queue);
  EXPECT_EQ((*queue)["transcribe_queue"]["completed"], 2);
  EXPECT_TRUE(worker->Claim(1, Millis(0))->empty());
  for (const WireGrant* g : {&done, &running}) {
    Job job = coordinator_->store().GetJob(g->lease.job).value();
    EXPECT_EQ(job.attempts, 1);
    EXPECT_EQ(job.lease_expiries, 0);
  }
}

TEST_F(CoordinatorFaultsTest, LateResultFromTheOutboxIsAcceptedOnce) {
  AddEpisode("http://127.0.0.1:9/a.mp3");
  const std::string cut_off = Register("cut-off");
  const std::string other = Register("other");
  WireGrant late = ClaimOne(*Client(cut_off));
  clock_.Advance(kLease + Millis(1));
  // The reaper requeues the job within a second or so (a real thread); then `other` takes it.
  std::optional<WireGrant> current;
  for (int i = 0; i < 100 && !current; ++i) {
    auto grants = Client(other)->Claim(1, Millis(100));
    if (grants && !grants->empty()) current = grants->at(0);
  }
  ASSERT_TRUE(current);
  ASSERT_EQ(current->lease.attempt.value(), 2);

  ASSERT_TRUE(Client(cut_off)->Complete(late.lease, Sample()));
  auto beat = Client(other)->Heartbeat({{current->lease.job, current->lease.attempt}});
  ASSERT_TRUE(beat);
  EXPECT_EQ(beat->lost.size(), 1u);
  auto refused = Client(other)->Complete(current->lease, Sample());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Code::kConflict);
}

TEST_F(CoordinatorFaultsTest, QuarantinedEpisodeShowsItsEvidenceAndCanBeRetried) {
  AddEpisode("http://127.0.0.1:9/poison.mp3");
  const std::string token = Register("crashy");
  for (int i = 0; i < 3; ++i) {
    std::optional<WireGrant> g;
    for (int tries = 0; tries < 100 && !g; ++tries) {
      auto grants = Client(token)->Claim(1, Millis(100));
      if (grants && !grants->empty()) g = grants->at(0);
    }
    ASSERT_TRUE(g) << "claim " << i;
    clock_.Advance(kLease + Millis(1));  // the worker dies; the reaper notices
  }
  json episode;
  for (int i = 0; i < 100; ++i) {
    episode = admin_->GetJson("/api/episodes/1").value();
    if (episode["state"] == "failed") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(episode["state"], "failed") << episode.dump();
  EXPECT_THAT(episode["error"].get<std::string>(), HasSubstr("quarantined"));
  const json& q = episode["job"]["quarantine"];
  ASSERT_EQ(q["expiries"].size(), 3u) << episode.dump();
  EXPECT_EQ(q["expiries"][0]["node_name"], "crashy");
  EXPECT_EQ(episode["job"]["lease_expiries"], 3);

  ASSERT_TRUE(admin_->PostJson("/api/episodes/1/retry", json::object()));
  episode = admin_->GetJson("/api/episodes/1").value();
  EXPECT_EQ(episode["state"], "queued");
  EXPECT_FALSE(episode["job"].contains("quarantine"));
}

TEST_F(CoordinatorFaultsTest, AForeignWriteLockDelaysNeitherHealthNorStaticFiles) {
  const std::string token = Register("w");
  // Another process (as `podfleet token create` or a slow disk would) holds SQLite's write lock
  // for 4 s; it prints once it has the lock.
  const std::string db = (dir_.path() / "data" / "podfleet.db").string();
  FILE* holder = popen(("python3 -c \"import sqlite3, sys, time; "
                        "c = sqlite3.connect(sys.argv[1], isolation_level=None); "
                        "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); "
                        "time.sleep(4); c.execute('ROLLBACK')\" '" +
                        db + "'")
                           .c_str(),
                       "r");
  ASSERT_NE(holder, nullptr);
  char line[64] = {};
  ASSERT_NE(fgets(line, sizeof line, holder), nullptr);
  ASSERT_STREQ(line, "locked\n");
  // Writes from workers wait for the lock, holding handler threads.
  std::vector<std::thread> writers;
  std::vector<int> beat(8, 0);
  for (int i = 0; i < 8; ++i)
    writers.emplace_back([&, i] { beat[i] = Client(token)->Heartbeat({}) ? 1 : 0; });
  std::vector<double> health, page;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < until) {
    health.push_back(TimedGet("/api/health"));
    page.push_back(TimedGet("/"));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // spreads samples over the hold
  }
  pclose(holder);
  for (std::thread& w : writers) w.join();
  EXPECT_EQ(std::count(beat.begin(), beat.end(), 1), 8) << "heartbeats got through after the lock";
  std::sort(health.begin(), health.end());
  std::sort(page.begin(), page.end());
  std::printf(
      "under a foreign write lock: GET /api/health median %.1f ms max %.1f ms; GET / "
      "median %.1f ms max %.1f ms (%zu samples each)\n",
      health[health.size() / 2], health.back(), page[page.size() / 2], page.back(), health.size());
  // Before the store executor both took the whole hold (3.7 s). The bound leaves room for a
  // loaded CI machine; the figures above are what to compare with the 10 ms target.
  EXPECT_LT(health.back(), 500);
  EXPECT_LT(page.back(), 500);
}

class CoordinatorStickyErrorTest : public CoordinatorFaultsTest {
 protected:
  // The coordinator's connection must close before the VFS goes away.
  void TearDown() override { coordinator_.reset(); }

  // Created before SetUp starts the coordinator, so the store opens its file through it.
  FaultVfs vfs_;
};

TEST_F(CoordinatorStickyErrorTest, AmbiguousCommitMakesItUnhealthyAndStopsLeasesUntilRestart) {
  AddEpisode("http://127.0.0.1:9/a.mp3");
  AddEpisode("http://127.0.0.1:9/b.mp3");
  const std::string token = Register("w");
  WireGrant g = ClaimOne(*Client(token));
  EXPECT_EQ(Get("/api/health").status, 200);

  vfs_.FailSyncs(true);
  auto completed = Client(token)->Complete(g.lease, Sample());
  vfs_.FailSyncs(false);
  ASSERT_FALSE(completed);
  EXPECT_EQ(completed.error().code, Code::kUnavailable);  // the worker keeps it and retries

  HttpResponse health = Get("/api/health");
  EXPECT_EQ(health.status, 503);
  EXPECT_THAT(health.body, HasSubstr("commit failed"));
  auto claim = Client(token)->Claim(1, Millis(0));
  ASSERT_FALSE(claim);
  EXPECT_EQ(claim.error().code, Code::kUnavailable);
  EXPECT_EQ(Get("/api/episodes").status, 200);  // reads still served

  Restart();
  EXPECT_EQ(Get("/api/health").status, 200);
  // The worker's retried upload settles the ambiguity either way, exactly once.
  ASSERT_TRUE(Client(token)->Complete(g.lease, Sample()));
  auto queue = admin_->GetJson("/api/queue/status").value();
  EXPECT_EQ(queue["transcribe_queue"]["completed"], 1);
  EXPECT_EQ(ClaimOne(*Client(token)).episode.info.audio_url, "http://127.0.0.1:9/b.mp3");
}

}  // namespace
}  // namespace podfleet
