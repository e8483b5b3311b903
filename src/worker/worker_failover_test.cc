// A worker given two coordinators on one PostgreSQL store (tests/support/pg_server.h): when the
// one it leased a job through goes away, its heartbeats, its upload and its outbox go to the
// other, on the same lease. Run by CTest as part of `store.postgres` (one server per run).
#include <gtest/gtest.h>

#include <cmath>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "audio/audio.h"
#include "coordinator/coordinator.h"
#include "store/pg_conn.h"
#include "support/engine_util.h"
#include "support/eventually.h"
#include "support/pg_server.h"
#include "support/temp_dir.h"
#include "worker/worker.h"

namespace podfleet {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

struct StopOnExit {
  Worker& worker;
  ~StopOnExit() { worker.RequestStop(); }
};

class PgFailover : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = NewPgDatabase();
    a_ = Start("a", 0);
    b_ = Start("b", 0);
    ASSERT_TRUE(a_ && b_);
    http_ = MakeCurlClient(HttpClientOptions{});
    admin_ = std::make_unique<CoordinatorClient>(b_->base_url(), *http_);
    admin_->set_admin_token(*b_->first_admin_token());
  }

  // A coordinator of the shared store with its own data directory. The lease is short next to the
  // job, so a job finishes on its first attempt only if its lease was renewed all along.
  std::unique_ptr<Coordinator> Start(const std::string& name, uint16_t port) {
    CoordinatorOptions o;
    o.store = store_;
    o.data_dir = dir_.path() / name;
    o.port = port;
    o.allow_file_urls = true;
    o.lease_duration = Millis(3'000);
    o.heartbeat_interval = Millis(300);
    o.relay = false;  // origin audio: any coordinator's lease is fetchable without it
    auto c = Coordinator::Start(o, SystemClock::Get());
    EXPECT_TRUE(c) << c.error().ToString();
    return c ? std::move(*c) : nullptr;
  }

  int64_t AddEpisode(double seconds) {
    PcmAudio audio;
    audio.samples.resize(static_cast<size_t>(seconds * kSampleRate));
    for (size_t i = 0; i < audio.samples.size(); ++i)
      audio.samples[i] = 0.1f * static_cast<float>(std::sin(i * 0.05));
    const auto path = dir_.path() / "episode.wav";
    EXPECT_TRUE(WriteWav(path, audio));
    auto r = admin_->PostJson("/api/episodes", {{"url", "file://" + path.string()}});
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? (*r)["id"].get<int64_t>() : 0;
  }

  WorkerOptions Options(const std::string& servers) {
    WorkerOptions w;
    w.server = servers;
    w.token = *a_->first_enrollment_token();
    w.name = "w1";
    w.work_dir = dir_.path() / "w1";
    w.claim_wait = Millis(300);
    w.skip_speed_probe = true;
    return w;
  }

  // Every attempt in the store as "outcome:error", one a line.
  std::string Attempts() {
    auto db = PgConn::Connect(store_);
    if (!db) return db.error().ToString();
    auto rows = db->Query(
        "SELECT outcome || ':' || coalesce(error, '') FROM attempts ORDER BY job_id, number");
    if (!rows) return rows.error().ToString();
    std::string out;
    for (int i = 0; i < rows->Rows(); ++i) out += (out.empty() ? "" : "\n") + rows->Row(i).Text(0);
    return out;
  }

  // Waits for the worker's run (max_jobs 1) to end, having completed episode `id`.
  void ExpectCompleted(std::future<Result<WorkerStats>>& run, int64_t id) {
    ASSERT_EQ(run.wait_for(60s), std::future_status::ready);
    auto stats = run.get();
    ASSERT_TRUE(stats) << stats.error().ToString();
    EXPECT_EQ(stats->completed, 1);
    json e = Episode(id);
    EXPECT_EQ(e["state"], "done") << e.dump();
  }

  json Episode(int64_t id) { return *admin_->GetJson("/api/episodes/" + std::to_string(id)); }

  // The stage the (only) node reports for its job, as the store has it.
  std::string Stage() {
    auto nodes = admin_->GetJson("/api/nodes");
    if (!nodes || (*nodes)["nodes"].empty() || (*nodes)["nodes"][0]["jobs"].empty()) return "";
    return (*nodes)["nodes"][0]["jobs"][0].value("stage", "");
  }

  TempDir dir_;
  std::string store_;
  std::unique_ptr<Coordinator> a_, b_;
  std::unique_ptr<HttpClient> http_;
  std::unique_ptr<CoordinatorClient> admin_;
};

// Leased through a, renewed and completed through b once a is gone: one attempt, nothing lost.
TEST_F(PgFailover, LeaseTakenThroughADeadCoordinatorIsRenewedAndCompletedThroughAnother) {
  const int64_t id = AddEpisode(7);
  auto engine = SimulatedEngine(1);  // 7 s in the engine: more than two leases
  WorkerOptions o = Options(a_->base_url() + "," + b_->base_url());
  o.max_jobs = 1;
  Worker worker(o, *engine, *http_);
  StopOnExit stop_on_exit{worker};
  auto run = std::async(std::launch::async, [&] { return worker.Run(); });
  ASSERT_TRUE(Eventually([&] { return Stage() == "transcribing"; })) << "never transcribing";
  a_->Stop();
  ExpectCompleted(run, id);
  // One attempt, completed on its own lease: neither expired nor accepted as a late result. (The
  // worker's `lost` may count a heartbeat that crossed the upload: not checked.)
  EXPECT_EQ(Attempts(), "done:") << "the lease was not kept";
}

// Both coordinators gone when the transcript is done: it waits in the outbox and goes to the
// first coordinator of the list that comes back, the second one here.
TEST_F(PgFailover, OutboxIsDeliveredToWhicheverCoordinatorComesBack) {
  const int64_t id = AddEpisode(2);
  const auto b_port = static_cast<uint16_t>(std::stoi(b_->base_url().substr(17)));
  auto engine = SimulatedEngine(1);
  WorkerOptions o = Options(a_->base_url() + "," + b_->base_url());
  o.max_jobs = 1;
  o.upload_backoff = Millis(100);
  Worker worker(o, *engine, *http_);
  StopOnExit stop_on_exit{worker};
  auto run = std::async(std::launch::async, [&] { return worker.Run(); });
  ASSERT_TRUE(Eventually([&] { return Stage() == "transcribing"; })) << "never transcribing";
  a_->Stop();
  b_->Stop();
  ASSERT_TRUE(Eventually([&] {
    std::error_code ec;
    return !std::filesystem::is_empty(o.work_dir / "outbox", ec);
  })) << "the transcript never reached the outbox";
  b_ = Start("b", b_port);
  ASSERT_TRUE(b_);
  ExpectCompleted(run, id);
  std::error_code ec;
  EXPECT_TRUE(std::filesystem::is_empty(o.work_dir / "outbox", ec));
}

// While PostgreSQL restarts, looking a node's token up fails: the coordinator must say so
// (kUnavailable, and the worker waits or moves on), not call the token unknown (the worker would
// give up for good). Here the store fails for another reason, the nodes table gone for a moment.
TEST_F(PgFailover, AStoreErrorIsNotTakenForAnUnknownNodeToken) {
  CoordinatorClient worker(a_->base_url(), *http_);
  NodeInfo info;
  info.name = "w1";
  auto reg = worker.Register(*a_->first_enrollment_token(), info);
  ASSERT_TRUE(reg) << reg.error().ToString();
  worker.set_node_token(reg->token);
  ASSERT_TRUE(worker.Heartbeat({}));
  auto db = PgConn::Connect(store_);
  ASSERT_TRUE(db) << db.error().ToString();
  ASSERT_TRUE(db->Exec("ALTER TABLE nodes RENAME TO nodes_away"));
  auto hb = worker.Heartbeat({});
  ASSERT_TRUE(db->Exec("ALTER TABLE nodes_away RENAME TO nodes"));
  ASSERT_FALSE(hb);
  EXPECT_NE(hb.error().code, Code::kPermissionDenied) << hb.error().ToString();
  auto again = worker.Heartbeat({});
  EXPECT_TRUE(again) << again.error().ToString();
  worker.set_node_token("pfn_not-a-node");
  auto unknown = worker.Heartbeat({});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, Code::kPermissionDenied);
}

}  // namespace
}  // namespace podfleet
