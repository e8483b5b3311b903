// The coordinator through its real HTTP API: a real server on loopback, a real SQLite file, the
// real client library. Time is a ManualClock, so lease expiry needs no sleeping.
#include "coordinator/coordinator.h"

#include <gtest/gtest.h>

#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "api/client.h"
#include "coordinator/claim_replays.h"
#include "store/store.h"
#include "support/manual_clock.h"
#include "support/speech.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

using nlohmann::json;

class CoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CoordinatorOptions o;
    o.data_dir = dir_.path() / "data";
    o.port = 0;
    o.lease_duration = Millis(30'000);
    o.feed_interval = Millis(3'600'000);
    o.relay = false;  // the worker protocol on whole episodes; relay_test.cc covers relay mode
    auto c = Coordinator::Start(o, clock_);
    ASSERT_TRUE(c) << c.error().ToString();
    coordinator_ = std::move(*c);
    ASSERT_TRUE(coordinator_->first_enrollment_token());
    ASSERT_TRUE(coordinator_->first_admin_token());
    admin_token_ = *coordinator_->first_admin_token();
    http_ = MakeCurlClient(HttpClientOptions{});
    admin_ = std::make_unique<CoordinatorClient>(coordinator_->base_url(), *http_);
    admin_->set_admin_token(admin_token_);
  }

  // Uploads 16 bytes that start like an MP3, titled `title` (URL-encoded); the request sent.
  ClientRequest UploadTiny(const std::string& title) {
    ClientRequest up = AdminRequest("POST", "/api/episodes/upload?title=" + title);
    up.body = std::string("ID3\x04\x00\x00\x00\x00\x00\x00payload", 16);
    up.content_type = "audio/mpeg";
    auto reply = http_->Send(up);
    EXPECT_TRUE(reply && reply->status == 201) << (reply ? reply->body : reply.error().ToString());
    return up;
  }

  // A raw request carrying the admin token.
  ClientRequest AdminRequest(std::string method, const std::string& path) {
    ClientRequest r;
    r.method = std::move(method);
    r.url = coordinator_->base_url() + path;
    r.headers.emplace_back("Authorization", "Bearer " + admin_token_);
    return r;
  }

  // Feeds and episodes as GET /api/feeds and /api/episodes list them.
  std::string Contents() {
    auto feeds = admin_->GetJson("/api/feeds");
    auto episodes = admin_->GetJson("/api/episodes");
    EXPECT_TRUE(feeds && episodes);
    return feeds && episodes ? feeds->dump() + episodes->dump() : "";
  }

  // A registered worker client.
  std::unique_ptr<CoordinatorClient> Worker(const std::string& name) {
    auto client = std::make_unique<CoordinatorClient>(coordinator_->base_url(), *http_);
    NodeInfo info;
    info.name = name;
    info.engine = "pocketsphinx";
    info.hardware.cpu_cores = 2;
    auto reg = client->Register(*coordinator_->first_enrollment_token(), info);
    EXPECT_TRUE(reg) << reg.error().ToString();
    if (reg) client->set_node_token(reg->token);
    return client;
  }

  // Registers a node named `name` and returns its token, for raw requests.
  std::string NodeToken(const std::string& name) {
    CoordinatorClient client(coordinator_->base_url(), *http_);
    NodeInfo info;
    info.name = name;
    info.engine = "pocketsphinx";
    auto reg = client.Register(*coordinator_->first_enrollment_token(), info);
    EXPECT_TRUE(reg) << reg.error().ToString();
    return reg ? reg->token : "";
  }

  // A raw POST of `body` carrying a node's token.
  ClientRequest NodeRequest(const std::string& token, const std::string& path, const json& body) {
    ClientRequest r;
    r.method = "POST";
    r.url = coordinator_->base_url() + path;
    r.headers.emplace_back("Authorization", "Bearer " + token);
    r.body = body.dump();
    r.content_type = "application/json";
    return r;
  }

  int64_t AddEpisode(const std::string& url) {
    auto r = admin_->PostJson("/api/episodes", {{"url", url}, {"title", "t " + url}});
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? (*r)["id"].get<int64_t>() : 0;
  }

  void ExpectQueued(int64_t n) {
    auto q = admin_->GetJson("/api/queue/status");
    ASSERT_TRUE(q) << q.error().ToString();
    EXPECT_EQ((*q)["transcribe_queue"]["queued"], n);
  }

  static Transcript Sample() {
    Transcript t;
    t.engine = "test";
    t.audio_duration = Millis(4'000);
    t.segments.push_back(Segment{Millis(0), Millis(1'500), "hello world", "", {}});
    t.segments.push_back(Segment{Millis(1'600), Millis(3'900), "second part", "", {}});
    return t;
  }

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Coordinator> coordinator_;
  std::string admin_token_;
  std::unique_ptr<HttpClient> http_;
  std::unique_ptr<CoordinatorClient> admin_;
};

TEST_F(CoordinatorTest, RegisterRefusesWrongEnrollmentToken) {
  CoordinatorClient client(coordinator_->base_url(), *http_);
  NodeInfo info;
  info.name = "intruder";
  auto reg = client.Register("pfe_wrong", info);
  ASSERT_FALSE(reg);
  EXPECT_EQ(reg.error().code, Code::kPermissionDenied);
  auto nodes = admin_->GetJson("/api/nodes");
  ASSERT_TRUE(nodes);
  EXPECT_TRUE((*nodes)["nodes"].empty());
}

TEST_F(CoordinatorTest, WorkerRoutesRefuseMissingOrWrongNodeToken) {
  CoordinatorClient anonymous(coordinator_->base_url(), *http_);
  auto claim = anonymous.Claim(1, Millis(0));
  ASSERT_FALSE(claim);
  EXPECT_EQ(claim.error().code, Code::kPermissionDenied);
  anonymous.set_node_token("pfn_forged");
  claim = anonymous.Claim(1, Millis(0));
  ASSERT_FALSE(claim);
  EXPECT_EQ(claim.error().code, Code::kPermissionDenied);
}

TEST_F(CoordinatorTest, ClaimGrantsEachJobToOneWorkerOnly) {
  const int64_t episode = AddEpisode("http://127.0.0.1:9/a.mp3");
  auto a = Worker("a");
  auto b = Worker("b");
  auto grants = a->Claim(4, Millis(0));
  ASSERT_TRUE(grants) << grants.error().ToString();
  ASSERT_EQ(grants->size(), 1u);
  EXPECT_EQ((*grants)[0].episode.id.value(), episode);
  EXPECT_EQ((*grants)[0].audio_url, "http://127.0.0.1:9/a.mp3");
  EXPECT_EQ((*grants)[0].lease.attempt.value(), 1);
  auto none = b->Claim(4, Millis(0));
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_F(CoordinatorTest, ManyWorkersClaimingAtOnceNeverShareAJob) {
  for (int i = 0; i < 20; ++i) AddEpisode("http://127.0.0.1:9/" + std::to_string(i) + ".mp3");
  std::vector<std::unique_ptr<CoordinatorClient>> workers;
  for (int i = 0; i < 6; ++i) workers.push_back(Worker("w" + std::to_string(i)));
  std::vector<std::future<std::vector<int64_t>>> results;
  for (auto& w : workers) {
    results.push_back(std::async(std::launch::async, [&w] {
      std::vector<int64_t> jobs;
      while (true) {
        auto g = w->Claim(2, Millis(0));
        if (!g || g->empty()) return jobs;
        for (const WireGrant& grant : *g) jobs.push_back(grant.lease.job.value());
      }
    }));
  }
  std::set<int64_t> seen;
  size_t total = 0;
  for (auto& r : results) {
    for (int64_t job : r.get()) {
      seen.insert(job);
      ++total;
    }
  }
  EXPECT_EQ(total, 20u);
  EXPECT_EQ(seen.size(), 20u);
}

TEST_F(CoordinatorTest, IdleClaimWaitsAndWakesWhenWorkArrives) {
  auto w = Worker("waiter");
  auto pending = std::async(std::launch::async, [&] { return w->Claim(1, Millis(20'000)); });
  // Make sure the claim is parked before the work arrives.
  for (int i = 0; i < 100 && (*admin_->GetJson("/api/queue/status"))["waiting_workers"] != 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const int64_t episode = AddEpisode("http://127.0.0.1:9/late.mp3");
  ASSERT_EQ(pending.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto grants = pending.get();
  ASSERT_TRUE(grants) << grants.error().ToString();
  ASSERT_EQ(grants->size(), 1u);
  EXPECT_EQ((*grants)[0].episode.id.value(), episode);
}

TEST_F(CoordinatorTest, CompleteStoresTranscriptAndRepeatIsHarmless) {
  const int64_t episode = AddEpisode("http://127.0.0.1:9/a.mp3");
  auto w = Worker("a");
  auto grants = w->Claim(1, Millis(0));
  ASSERT_TRUE(grants && grants->size() == 1);
  const Lease lease = (*grants)[0].lease;
  ASSERT_TRUE(w->Complete(lease, Sample()));
  ASSERT_TRUE(w->Complete(lease, Sample()))
      << "a repeated complete of the same attempt must succeed";
  auto q = admin_->GetJson("/api/queue/status");
  EXPECT_EQ((*q)["transcribe_queue"]["completed"], 1);
  auto text =
      admin_->GetText("/api/episodes/" + std::to_string(episode) + "/transcript?format=txt");
  ASSERT_TRUE(text);
  EXPECT_NE(text->find("hello world"), std::string::npos);
  auto srt = admin_->GetText("/api/episodes/" + std::to_string(episode) + "/transcript?format=srt");
  ASSERT_TRUE(srt);
  EXPECT_NE(srt->find("00:00:00,000 --> 00:00:01,500"), std::string::npos) << *srt;
}

TEST_F(CoordinatorTest, CompleteCanLeaseTheNextJobInTheSameCall) {
  AddEpisode("http://127.0.0.1:9/a.mp3");
  AddEpisode("http://127.0.0.1:9/b.mp3");
  auto w = Worker("a");
  auto first = w->Claim(1, Millis(0));
  ASSERT_TRUE(first && first->size() == 1);
  auto next = w->CompleteAndClaim((*first)[0].lease, Sample(), Millis(-1), 1, Millis(0));
  ASSERT_TRUE(next) << next.error().ToString();
  ASSERT_TRUE(next->has_value()) << "this coordinator leases with the completion";
  ASSERT_EQ((*next)->size(), 1u);
  const Lease second = (**next)[0].lease;
  EXPECT_NE(second.job, (*first)[0].lease.job);
  // The repeated completion (a lost reply) changes nothing and leases nothing more: the queue
  // is empty, and the answer is an empty list, not "ask again".
  auto repeated = w->CompleteAndClaim((*first)[0].lease, Sample(), Millis(-1), 1, Millis(0));
  ASSERT_TRUE(repeated) << repeated.error().ToString();
  ASSERT_TRUE(repeated->has_value());
  EXPECT_TRUE((*repeated)->empty());
  auto last = w->CompleteAndClaim(second, Sample(), Millis(-1), 1, Millis(0));
  ASSERT_TRUE(last && last->has_value() && (*last)->empty());
  auto q = admin_->GetJson("/api/queue/status");
  EXPECT_EQ((*q)["transcribe_queue"]["completed"], 2);
}

// A claim sent twice under one request id, as a kept connection's resend or a failover sends it:
// the repeat gets the first reply, and no second job is leased.
TEST_F(CoordinatorTest, RepeatedClaimGetsTheSameLeases) {
  AddEpisode("http://127.0.0.1:9/a.mp3");
  AddEpisode("http://127.0.0.1:9/b.mp3");
  const std::string token = NodeToken("a");
  auto first = http_->Send(
      NodeRequest(token, "/api/workers/claim", {{"max", 1}, {"wait_ms", 0}, {"request_id", "r1"}}));
  auto again = http_->Send(
      NodeRequest(token, "/api/workers/claim", {{"max", 1}, {"wait_ms", 0}, {"request_id", "r1"}}));
  ASSERT_TRUE(first && again);
  ASSERT_EQ(first->status, 200) << first->body;
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(json::parse(first->body)["leases"].size(), 1u);
  EXPECT_EQ(again->body, first->body);
  ExpectQueued(1);
  auto other = http_->Send(
      NodeRequest(token, "/api/workers/claim", {{"max", 1}, {"wait_ms", 0}, {"request_id", "r2"}}));
  ASSERT_TRUE(other && other->status == 200);
  EXPECT_NE(other->body, first->body);
  ExpectQueued(0);
  auto too_long =
      http_->Send(NodeRequest(token, "/api/workers/claim",
                              {{"request_id", std::string(ClaimReplays::kMaxIdLength + 1, 'x')}}));
  ASSERT_TRUE(too_long);
  EXPECT_EQ(too_long->status, 400) << too_long->body;
}

// The repeat of a claim still parked (a long poll) waits for the first one's leases.
TEST_F(CoordinatorTest, RepeatOfAParkedClaimGetsItsLeases) {
  const std::string token = NodeToken("waiter");
  const json ask = {{"max", 1}, {"wait_ms", 20'000}, {"request_id", "parked"}};
  auto first = std::async(std::launch::async, [&] {
    return http_->Send(NodeRequest(token, "/api/workers/claim", ask));
  });
  for (int i = 0; i < 100 && (*admin_->GetJson("/api/queue/status"))["waiting_workers"] != 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto again = std::async(std::launch::async, [&] {
    return http_->Send(NodeRequest(token, "/api/workers/claim", ask));
  });
  AddEpisode("http://127.0.0.1:9/late.mp3");
  AddEpisode("http://127.0.0.1:9/later.mp3");
  ASSERT_EQ(first.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  ASSERT_EQ(again.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto a = first.get();
  auto b = again.get();
  ASSERT_TRUE(a && b);
  ASSERT_EQ(a->status, 200) << a->body;
  EXPECT_EQ(json::parse(a->body)["leases"].size(), 1u);
  EXPECT_EQ(b->body, a->body);
  ExpectQueued(1);
}

// A complete that claims, sent twice: the completion stands once, and the repeat gets the same
// next lease instead of leasing another job.
TEST_F(CoordinatorTest, RepeatedCompleteAndClaimLeasesNothingNew) {
  for (const char* name : {"a", "b", "c"}) AddEpisode(std::string("http://127.0.0.1:9/") + name);
  const std::string token = NodeToken("a");
  auto claimed = http_->Send(NodeRequest(token, "/api/workers/claim", {{"max", 1}}));
  ASSERT_TRUE(claimed && claimed->status == 200);
  auto lease = LeaseFromJson(json::parse(claimed->body)["leases"][0]);
  ASSERT_TRUE(lease) << claimed->body;
  const std::string path = "/api/jobs/" + std::to_string(lease->job.value()) + "/complete";
  const json body = {{"attempt", lease->attempt.value()},
                     {"transcript", ToJson(Sample())},
                     {"claim", {{"max", 1}, {"wait_ms", 0}, {"request_id", "c1"}}}};
  auto first = http_->Send(NodeRequest(token, path, body));
  auto again = http_->Send(NodeRequest(token, path, body));
  ASSERT_TRUE(first && again);
  ASSERT_EQ(first->status, 200) << first->body;
  EXPECT_EQ(json::parse(first->body)["leases"].size(), 1u);
  EXPECT_EQ(again->body, first->body);
  ExpectQueued(1);
  EXPECT_EQ((*admin_->GetJson("/api/queue/status"))["transcribe_queue"]["completed"], 1);
}

// Several results in one request: each answered on its own (a stale one's 409 leaves the others
// recorded), the next jobs leased with them, and the same request sent again completes nothing
// twice and leases nothing new.
TEST_F(CoordinatorTest, CompleteManyAnswersEachResultAndRepeatsSafely) {
  for (const char* name : {"a", "b", "c", "d", "e"})
    AddEpisode(std::string("http://127.0.0.1:9/") + name);
  auto w = Worker("gpu");
  auto first = w->Claim(3, Millis(0));
  ASSERT_TRUE(first && first->size() == 3);
  std::vector<ReadyResult> ready;
  for (const WireGrant& g : *first) ready.push_back(ReadyResult{g.lease, Sample()});
  ready[1].lease.attempt = AttemptId(ready[1].lease.attempt.value() + 7);  // stale
  auto done = w->CompleteMany(ready, 2, Millis(0));
  ASSERT_TRUE(done) << done.error().ToString();
  ASSERT_EQ(done->results.size(), 3u);
  EXPECT_TRUE(done->results[0]);
  ASSERT_FALSE(done->results[1]);
  EXPECT_EQ(done->results[1].error().code, Code::kConflict);
  EXPECT_TRUE(done->results[2]);
  ASSERT_TRUE(done->leases);
  EXPECT_EQ(done->leases->size(), 2u);
  ExpectQueued(0);
  EXPECT_EQ((*admin_->GetJson("/api/queue/status"))["transcribe_queue"]["completed"], 2);

  // The raw request twice under one claim id: the repeat gets the first reply.
  const std::string token = NodeToken("raw");
  AddEpisode("http://127.0.0.1:9/f");
  auto claimed = http_->Send(NodeRequest(token, "/api/workers/claim", {{"max", 1}}));
  ASSERT_TRUE(claimed && claimed->status == 200);
  auto lease = LeaseFromJson(json::parse(claimed->body)["leases"][0]);
  ASSERT_TRUE(lease) << claimed->body;
  AddEpisode("http://127.0.0.1:9/g");
  const json body = {{"results",
                      {{{"job", lease->job.value()},
                        {"attempt", lease->attempt.value()},
                        {"transcript", ToJson(Sample())}}}},
                     {"claim", {{"max", 1}, {"wait_ms", 0}, {"request_id", "m1"}}}};
  auto once = http_->Send(NodeRequest(token, "/api/workers/complete", body));
  auto twice = http_->Send(NodeRequest(token, "/api/workers/complete", body));
  ASSERT_TRUE(once && twice);
  ASSERT_EQ(once->status, 200) << once->body;
  EXPECT_EQ(json::parse(once->body)["results"][0]["status"], 200);
  EXPECT_EQ(json::parse(once->body)["leases"].size(), 1u);
  EXPECT_EQ(twice->body, once->body);
  EXPECT_EQ((*admin_->GetJson("/api/queue/status"))["transcribe_queue"]["completed"], 3);
  auto empty =
      http_->Send(NodeRequest(token, "/api/workers/complete", {{"results", json::array()}}));
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 400);
}

TEST_F(CoordinatorTest, CompleteThatWaitsForItsNextJobWakesWhenWorkArrives) {
  AddEpisode("http://127.0.0.1:9/a.mp3");
  auto w = Worker("waiter");
  auto first = w->Claim(1, Millis(0));
  ASSERT_TRUE(first && first->size() == 1);
  auto pending = std::async(std::launch::async, [&] {
    return w->CompleteAndClaim((*first)[0].lease, Sample(), Millis(-1), 1, Millis(20'000));
  });
  for (int i = 0; i < 100 && (*admin_->GetJson("/api/queue/status"))["waiting_workers"] != 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  // The completion is durable before the claim parks.
  EXPECT_EQ((*admin_->GetJson("/api/queue/status"))["transcribe_queue"]["completed"], 1);
  const int64_t episode = AddEpisode("http://127.0.0.1:9/late.mp3");
  ASSERT_EQ(pending.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto next = pending.get();
  ASSERT_TRUE(next && next->has_value()) << (next ? "no leases" : next.error().ToString());
  ASSERT_EQ((*next)->size(), 1u);
  EXPECT_EQ((**next)[0].episode.id.value(), episode);
}

TEST_F(CoordinatorTest, StaleCompleteLeasesNothing) {
  AddEpisode("http://127.0.0.1:9/a.mp3");
  auto slow = Worker("slow");
  auto first = slow->Claim(1, Millis(0));
  ASSERT_TRUE(first && first->size() == 1);
  clock_.AdvanceAndSettle(Millis(31'000));
  auto fast = Worker("fast");
  auto second = fast->Claim(1, Millis(0));
  ASSERT_TRUE(second && second->size() == 1);
  ASSERT_TRUE(fast->Complete((*second)[0].lease, Sample()));
  AddEpisode("http://127.0.0.1:9/b.mp3");
  auto late = slow->CompleteAndClaim((*first)[0].lease, Sample(), Millis(-1), 1, Millis(0));
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, Code::kConflict);
  ExpectQueued(1);  // the refused completion leased nothing
}

TEST_F(CoordinatorTest, ExpiredLeaseIsReclaimedAndTheLateResultRefused) {
  AddEpisode("http://127.0.0.1:9/a.mp3");
  auto slow = Worker("slow");
  auto fast = Worker("fast");
  auto first = slow->Claim(1, Millis(0));
  ASSERT_TRUE(first && first->size() == 1);
  clock_.AdvanceAndSettle(Millis(31'000));  // the reaper requeues the expired lease
  ExpectQueued(1);
  auto second = fast->Claim(1, Millis(0));
  ASSERT_TRUE(second && second->size() == 1);
  EXPECT_EQ((*second)[0].lease.attempt.value(), 2);
  // The late result is refused once another attempt has completed (before that it would be
  // accepted: coordinator_faults_test.cc).
  ASSERT_TRUE(fast->Complete((*second)[0].lease, Sample()));

  auto late = slow->Complete((*first)[0].lease, Sample());
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, Code::kConflict);
  auto hb = slow->Heartbeat(
      {Progress{(*first)[0].lease.job, (*first)[0].lease.attempt, Stage::kTranscribing, 0.5}});
  ASSERT_TRUE(hb);
  EXPECT_TRUE(hb->renewed.empty());
  ASSERT_EQ(hb->lost.size(), 1u);
}

TEST_F(CoordinatorTest, HeartbeatRenewsAndNodesShowProgress) {
  AddEpisode("http://127.0.0.1:9/a.mp3");
  auto w = Worker("gpu-pod");
  auto grants = w->Claim(1, Millis(0));
  ASSERT_TRUE(grants && grants->size() == 1);
  const Lease lease = (*grants)[0].lease;
  clock_.Advance(Millis(20'000));
  auto hb = w->Heartbeat({Progress{lease.job, lease.attempt, Stage::kTranscribing, 0.25}});
  ASSERT_TRUE(hb);
  ASSERT_EQ(hb->renewed.size(), 1u);
  EXPECT_EQ(hb->renewed[0].expires_at, clock_.Now() + Millis(30'000));
  // Past the first lease's end, inside the renewed one; the reaper makes its pass.
  clock_.AdvanceAndSettle(Millis(20'000));
  auto nodes = admin_->GetJson("/api/nodes");
  ASSERT_TRUE(nodes) << nodes.error().ToString();
  const json& n = (*nodes)["nodes"][0];
  EXPECT_EQ(n["name"], "gpu-pod");
  EXPECT_EQ(n["status"], "busy");
  ASSERT_EQ(n["jobs"].size(), 1u);
  EXPECT_EQ(n["jobs"][0]["stage"], "transcribing");
  EXPECT_DOUBLE_EQ(n["jobs"][0]["progress"].get<double>(), 0.25);
}

TEST_F(CoordinatorTest, SilentNodeIsShownOffline) {
  auto w = Worker("laptop");
  auto nodes = admin_->GetJson("/api/nodes");
  EXPECT_EQ((*nodes)["nodes"][0]["status"], "idle");
  clock_.Advance(Millis(31'000));
  nodes = admin_->GetJson("/api/nodes");
  EXPECT_EQ((*nodes)["nodes"][0]["status"], "offline");
}

TEST_F(CoordinatorTest, PermanentFailureEndsTheEpisodeWithItsReason) {
  const int64_t episode = AddEpisode("http://127.0.0.1:9/a.mp3");
  auto w = Worker("a");
  auto grants = w->Claim(1, Millis(0));
  ASSERT_TRUE(grants && grants->size() == 1);
  ASSERT_TRUE(w->Fail((*grants)[0].lease, Failure{"not audio: looks like an HTML page", true}));
  auto e = admin_->GetJson("/api/episodes/" + std::to_string(episode));
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["state"], "failed");
  EXPECT_EQ((*e)["error"], "not audio: looks like an HTML page");
  EXPECT_EQ((*e)["job"]["attempts"], 1);
}

TEST_F(CoordinatorTest, ReleasedJobIsClaimableAtOnce) {
  AddEpisode("http://127.0.0.1:9/a.mp3");
  auto a = Worker("a");
  auto b = Worker("b");
  auto grants = a->Claim(1, Millis(0));
  ASSERT_TRUE(grants && grants->size() == 1);
  ASSERT_TRUE(a->Release((*grants)[0].lease));
  auto again = b->Claim(1, Millis(0));
  ASSERT_TRUE(again && again->size() == 1);
  EXPECT_EQ((*again)[0].lease.attempt.value(), 2);
}

TEST_F(CoordinatorTest, BadRequestsGetJsonErrorsAndTheServerKeepsServing) {
  ClientRequest r = AdminRequest("POST", "/api/feeds");
  r.body = "{not json";
  r.content_type = "application/json";
  auto reply = http_->Send(r);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 400);
  EXPECT_TRUE(json::parse(reply->body).contains("error"));

  r.body = R"({"url":"gopher://example.org/feed"})";
  reply = http_->Send(r);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 400);

  for (const char* path : {"/api/episodes/0", "/api/episodes/abc", "/api/episodes/999/transcript",
                           "/api/media/..%2f..%2fpodfleet.db", "/api/nope"}) {
    ClientRequest get;
    get.url = coordinator_->base_url() + path;
    auto res = http_->Send(get);
    ASSERT_TRUE(res) << path;
    EXPECT_GE(res->status, 400) << path;
    EXPECT_LT(res->status, 500) << path;
  }
  EXPECT_TRUE(admin_->GetJson("/api/health"));
}

TEST_F(CoordinatorTest, UploadedAudioIsServedToWorkers) {
  const ClientRequest up = UploadTiny("My%20file");
  auto w = Worker("a");
  auto grants = w->Claim(1, Millis(0));
  ASSERT_TRUE(grants && grants->size() == 1);
  EXPECT_EQ((*grants)[0].episode.info.title, "My file");
  ClientRequest get;
  get.url = w->Resolve((*grants)[0].audio_url);
  auto media = http_->Send(get);
  ASSERT_TRUE(media);
  EXPECT_EQ(media->status, 200);
  EXPECT_EQ(media->body, up.body);
}

// What a crash leaves in uploads/ (a file still being written, an empty one from a full disk) is
// removed at start; a whole upload stays.
TEST_F(CoordinatorTest, UnfinishedUploadsAreSweptAtStart) {
  UploadTiny("kept");
  const auto uploads = dir_.path() / "data" / "uploads";
  std::vector<std::filesystem::path> kept;
  for (const auto& e : std::filesystem::directory_iterator(uploads)) kept.push_back(e.path());
  ASSERT_EQ(kept.size(), 1u);  // the upload, under its final name
  EXPECT_NE(kept[0].extension(), ".part");
  std::ofstream(uploads / "00ff00ff.part") << "half an upload";
  std::ofstream(uploads / "00ff00fe").close();

  coordinator_->Stop();
  coordinator_.reset();
  CoordinatorOptions o;
  o.data_dir = dir_.path() / "data";
  o.port = 0;
  o.relay = false;
  auto c = Coordinator::Start(o, clock_);
  ASSERT_TRUE(c) << c.error().ToString();
  coordinator_ = std::move(*c);
  std::vector<std::filesystem::path> left;
  for (const auto& e : std::filesystem::directory_iterator(uploads)) left.push_back(e.path());
  EXPECT_EQ(left, kept);
}

TEST_F(CoordinatorTest, AudioServedIsCountedAgainstTheNodeThatFetchedIt) {
  ClientRequest up = AdminRequest("POST", "/api/episodes/upload?title=counted");
  up.body = std::string(1000, 'x');
  ASSERT_EQ(http_->Send(up)->status, 201);
  auto w = Worker("a");
  auto grants = w->Claim(1, Millis(0));
  ASSERT_TRUE(grants && grants->size() == 1);
  const std::string url = (*grants)[0].audio_url;
  EXPECT_TRUE(w->AuthHeadersFor("http://elsewhere.example" + url).empty());

  ClientRequest as_node;
  as_node.url = w->Resolve(url);
  as_node.headers = w->AuthHeadersFor(url);
  ASSERT_EQ(http_->Send(as_node)->status, 200);
  ClientRequest anonymous;
  anonymous.url = w->Resolve(url);
  ASSERT_EQ(http_->Send(anonymous)->status, 200);

  auto store = OpenSqliteStore((dir_.path() / "data" / "podfleet.db").string());
  ASSERT_TRUE(store);
  auto totals = (*store)->TransfersSince(clock_.Now() - Millis(3'600'000));
  ASSERT_TRUE(totals);
  ASSERT_EQ(totals->size(), 2u);
  EXPECT_EQ((*totals)[0].node, NodeId(0));
  EXPECT_EQ((*totals)[1].node, (*grants)[0].lease.node);
  EXPECT_EQ((*totals)[1].bytes, 1000);
  EXPECT_EQ((*totals)[1].requests, 1);
}

// Bytes per audio-hour is measured, not estimated, when the coordinator serves real audio.
TEST_F(CoordinatorTest, UploadedAudioIsCountedWithTheDurationItCarries) {
  auto wav = SpeechWav(kSpeech15s);
  ASSERT_TRUE(wav) << wav.error().ToString();
  auto mp3 = EncodeAudio(*wav, "mp3");
  ASSERT_TRUE(mp3) << mp3.error().ToString();
  std::ifstream in(*mp3, std::ios::binary);
  ClientRequest up = AdminRequest("POST", "/api/episodes/upload?title=speech");
  up.body.assign(std::istreambuf_iterator<char>(in), {});
  ASSERT_EQ(http_->Send(up)->status, 201);
  auto w = Worker("a");
  auto grants = w->Claim(1, Millis(0));
  ASSERT_TRUE(grants && grants->size() == 1);
  const Episode& episode = (*grants)[0].episode;
  ASSERT_TRUE(episode.info.duration);
  EXPECT_NEAR(episode.info.duration->count(), 16'500, 300);

  ClientRequest get;
  get.url = w->Resolve((*grants)[0].audio_url);
  get.headers = w->AuthHeadersFor((*grants)[0].audio_url);
  ASSERT_EQ(http_->Send(get)->status, 200);
  auto totals = coordinator_->store().TransfersSince(clock_.Now() - Millis(3'600'000));
  ASSERT_TRUE(totals);
  ASSERT_EQ(totals->size(), 1u);
  EXPECT_EQ(totals->front().bytes, static_cast<int64_t>(up.body.size()));
  EXPECT_EQ(totals->front().audio, *episode.info.duration);
}

TEST_F(CoordinatorTest, MutatingRoutesRefuseMissingOrWrongAdminTokenAndChangeNothing) {
  const int64_t episode = AddEpisode("http://127.0.0.1:9/a.mp3");
  const std::string before = Contents();
  const std::string feed = "file://" + dir_.File("feed.xml");
  for (const char* token : {"", "pfa_wrong", "pfn_notanadmin"}) {
    CoordinatorClient intruder(coordinator_->base_url(), *http_);
    intruder.set_admin_token(token);
    const std::string e = "/api/episodes/" + std::to_string(episode);
    std::vector<Result<json>> replies = {
        intruder.PostJson("/api/feeds", {{"url", feed}}),
        intruder.PostJson("/api/feeds/1/refresh", json::object()),
        intruder.DeleteJson("/api/feeds/1"),
        intruder.PostJson("/api/episodes", {{"url", "http://127.0.0.1:9/b.mp3"}}),
        intruder.PostBytes("/api/episodes/upload?title=x", "ID3 bytes", "audio/mpeg"),
        intruder.PostJson(e + "/retry", json::object()),
    };
    for (size_t i = 0; i < replies.size(); ++i) {
      ASSERT_FALSE(replies[i]) << "route " << i << " with token '" << token << "'";
      EXPECT_EQ(replies[i].error().code, Code::kPermissionDenied) << replies[i].error().ToString();
    }
  }
  EXPECT_EQ(Contents(), before);
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "data" / "uploads"));
}

TEST_F(CoordinatorTest, AdminTokenIsRefusedWithoutTheBearerScheme) {
  ClientRequest r = AdminRequest("POST", "/api/episodes");
  r.headers = {{"Authorization", admin_token_}};
  r.body = R"({"url":"http://127.0.0.1:9/a.mp3"})";
  r.content_type = "application/json";
  auto reply = http_->Send(r);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 403);
  EXPECT_TRUE(json::parse(reply->body).contains("error"));
}

TEST_F(CoordinatorTest, AdminTokenAddsEpisodesAndAnUnreachableFeedIsNotKept) {
  auto added = admin_->PostJson("/api/episodes", {{"url", "http://127.0.0.1:9/a.mp3"}});
  ASSERT_TRUE(added) << added.error().ToString();
  auto feed = admin_->PostJson("/api/feeds", {{"url", "http://127.0.0.1:9/missing.xml"}});
  ASSERT_FALSE(feed);  // nothing listens there: refused, and nothing is kept
  EXPECT_EQ(feed.error().code, Code::kUnavailable) << feed.error().ToString();
  EXPECT_TRUE((*admin_->GetJson("/api/feeds"))["feeds"].empty());
  auto episodes = admin_->GetJson("/api/episodes");
  ASSERT_TRUE(episodes);
  EXPECT_EQ((*episodes)["episodes"].size(), 1u);
}

TEST_F(CoordinatorTest, ReadRoutesNeedNoToken) {
  AddEpisode("http://127.0.0.1:9/a.mp3");
  CoordinatorClient anonymous(coordinator_->base_url(), *http_);
  for (const char* path : {"/api/health", "/api/nodes", "/api/queue/status", "/api/status",
                           "/api/feeds", "/api/episodes", "/api/episodes/1"}) {
    auto reply = anonymous.GetJson(path);
    EXPECT_TRUE(reply) << path << ": " << reply.error().ToString();
  }
}

TEST_F(CoordinatorTest, RestartReusesThePrivateAdminTokenFile) {
  const auto file = dir_.path() / "data" / "admin.token";
  EXPECT_EQ(std::filesystem::status(file).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  coordinator_->Stop();
  coordinator_.reset();
  CoordinatorOptions o;
  o.data_dir = dir_.path() / "data";
  o.port = 0;
  auto c = Coordinator::Start(o, clock_);
  ASSERT_TRUE(c) << c.error().ToString();
  coordinator_ = std::move(*c);
  EXPECT_FALSE(coordinator_->first_admin_token());
  CoordinatorClient admin(coordinator_->base_url(), *http_);
  admin.set_admin_token(admin_token_);
  auto added = admin.PostJson("/api/episodes", {{"url", "http://127.0.0.1:9/a.mp3"}});
  EXPECT_TRUE(added) << added.error().ToString();
}

// Found by fuzz/http_fuzz.cc: fields of the wrong type made json::value throw (a 500) or convert a
// float to an integer out of range (undefined behaviour). They are 400s, and the server goes on.
TEST_F(CoordinatorTest, WrongTypedWorkerFieldsAreBadRequests) {
  CoordinatorClient worker(coordinator_->base_url(), *http_);
  auto reg = worker.Register(*coordinator_->first_enrollment_token(), NodeInfo{"typed"});
  ASSERT_TRUE(reg) << reg.error().ToString();
  worker.set_node_token(reg->token);
  auto post = [&](const std::string& path, const nlohmann::json& body) {
    ClientRequest r;
    r.method = "POST";
    r.url = coordinator_->base_url() + path;
    r.headers.emplace_back("Authorization", "Bearer " + reg->token);
    r.content_type = "application/json";
    r.body = body.dump();
    auto response = http_->Send(r);
    return response ? response->status : 0;
  };
  for (const char* body : {R"({"max":"two"})", R"({"max":1e300})", R"({"wait_ms":[1]})"})
    EXPECT_EQ(post("/api/workers/claim", nlohmann::json::parse(body)), 400) << body;
  ASSERT_GT(AddEpisode("http://127.0.0.1:9/typed.mp3"), 0);
  auto grants = worker.Claim(1, Millis(0));
  ASSERT_TRUE(grants && grants->size() == 1);
  const Lease lease = grants->front().lease;
  // A complete whose "claim" is malformed is refused whole: nothing is completed.
  const std::string complete = "/api/jobs/" + std::to_string(lease.job.value()) + "/complete";
  for (const char* claim : {R"(1)", R"({"max":"two"})", R"({"wait_ms":[1]})", R"({"fault":5})"}) {
    nlohmann::json body = {
        {"attempt", lease.attempt.value()},
        {"transcript", {{"engine", "test"}, {"segments", nlohmann::json::array()}}},
        {"claim", nlohmann::json::parse(claim)}};
    EXPECT_EQ(post(complete, body), 400) << body.dump();
  }
  auto q = admin_->GetJson("/api/queue/status");
  EXPECT_EQ((*q)["transcribe_queue"]["completed"], 0);
  const std::string fail = "/api/jobs/" + std::to_string(lease.job.value()) + "/fail";
  for (nlohmann::json body :
       {nlohmann::json{{"reason", 5}}, nlohmann::json{{"permanent", "yes"}}}) {
    body["attempt"] = lease.attempt.value();
    EXPECT_EQ(post(fail, body), 400) << body.dump();
  }
  EXPECT_TRUE(worker.Fail(lease, Failure{"gave up", true}));
}

// ---- enrollment tokens ----

TEST_F(CoordinatorTest, RevokedEnrollmentTokenRegistersNoMoreNodes) {
  auto created = admin_->PostJson("/api/tokens", {{"label", "pod pool"}});
  ASSERT_TRUE(created) << created.error().ToString();
  const std::string token = (*created)["token"];
  const std::string id = (*created)["id"];
  CoordinatorClient worker(coordinator_->base_url(), *http_);
  NodeInfo info;
  info.name = "pod-1";
  auto first = worker.Register(token, info);
  ASSERT_TRUE(first) << first.error().ToString();

  auto listed = admin_->GetJson("/api/tokens");
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->dump().find("pfe_"), std::string::npos) << "a listing shows a token";
  EXPECT_NE(listed->dump().find(id), std::string::npos);

  ASSERT_TRUE(admin_->DeleteJson("/api/tokens/" + id));
  info.name = "pod-2";
  auto second = worker.Register(token, info);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Code::kPermissionDenied);
  // The node registered before keeps its own token.
  worker.set_node_token(first->token);
  EXPECT_TRUE(worker.Claim(1, Millis(0)));
  listed = admin_->GetJson("/api/tokens");
  ASSERT_TRUE(listed);
  bool revoked = false;
  for (const json& t : (*listed)["tokens"]) revoked |= t["id"] == id && t["revoked"] == true;
  EXPECT_TRUE(revoked) << listed->dump();
}

TEST_F(CoordinatorTest, TokenRoutesNeedTheAdminToken) {
  auto created = admin_->PostJson("/api/tokens", {{"label", "x"}});
  ASSERT_TRUE(created);
  const std::string id = (*created)["id"];
  for (const char* token :
       {"", "pfa_wrong", (*created)["token"].get_ref<const std::string&>().c_str()}) {
    CoordinatorClient intruder(coordinator_->base_url(), *http_);
    intruder.set_admin_token(token);
    for (Result<json> r :
         {intruder.GetJson("/api/tokens"), intruder.PostJson("/api/tokens", {{"label", "mine"}}),
          intruder.DeleteJson("/api/tokens/" + id)}) {
      ASSERT_FALSE(r) << "with token '" << token << "'";
      EXPECT_EQ(r.error().code, Code::kPermissionDenied);
    }
  }
  auto unknown = admin_->DeleteJson("/api/tokens/0123456789ab");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, Code::kNotFound);
  auto malformed = admin_->DeleteJson("/api/tokens/..%2F..%2Fetc");
  ASSERT_FALSE(malformed);
  EXPECT_EQ(malformed.error().code, Code::kInvalidArgument);
}

TEST_F(CoordinatorTest, InvalidUtf8InATitleDoesNotBreakTheListings) {
  ClientRequest up = AdminRequest("POST", "/api/episodes/upload?title=caf%E9%FF%FE");
  up.body = "ID3 bytes";
  auto reply = http_->Send(up);
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->status, 201) << reply->body;
  auto episodes = admin_->GetJson("/api/episodes");
  ASSERT_TRUE(episodes) << episodes.error().ToString();
  EXPECT_EQ((*episodes)["episodes"][0]["title"], "caf\ufffd\ufffd\ufffd");
  EXPECT_TRUE(admin_->GetJson("/api/episodes/" + (*episodes)["episodes"][0]["id"].dump()));
}

// ---- path traversal ----

TEST_F(CoordinatorTest, MediaRouteServesNothingOutsideTheUploads) {
  std::filesystem::create_directories(dir_.path() / "data" / "uploads");
  std::ofstream(dir_.path() / "data" / "uploads" / "secret..") << "x";
  for (const char* path :
       {"/api/media/..%2Fadmin.token", "/api/media/..%2F..%2Fdata%2Fadmin.token",
        "/api/media/%2e%2e%2fpodfleet.db", "/api/media/%2Fetc%2Fpasswd", "/api/media/..",
        "/api/media/%2e%2e", "/api/media/abc%00def", "/api/media/%00", "/api/media/secret..",
        "/api/media/....%2F%2F....%2F%2Fadmin.token", "/api/media/%252e%252e%252fadmin.token",
        "/api/media/0123456789abcdef%2F..%2F..%2Fadmin.token"}) {
    ClientRequest get;
    get.url = coordinator_->base_url() + path;
    auto r = http_->Send(get);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 404) << path << ": " << r->body;
    EXPECT_EQ(r->body.find(admin_token_), std::string::npos) << path;
    EXPECT_EQ(r->body.find("SQLite"), std::string::npos) << path;
  }
}

TEST_F(CoordinatorTest, UploadTitleNeverNamesAFile) {
  ClientRequest up =
      AdminRequest("POST", "/api/episodes/upload?title=..%2F..%2F..%2Fevil&filename=%2Ftmp%2Fevil");
  up.body = "ID3 bytes";
  auto reply = http_->Send(up);
  ASSERT_TRUE(reply);
  ASSERT_EQ(reply->status, 201) << reply->body;
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir_.path()))
    names.push_back(e.path().filename().string());
  EXPECT_EQ(std::count(names.begin(), names.end(), "evil"), 0);
  const auto uploads = dir_.path() / "data" / "uploads";
  ASSERT_EQ(std::distance(std::filesystem::directory_iterator(uploads),
                          std::filesystem::directory_iterator()),
            1);
  const std::string name = std::filesystem::directory_iterator(uploads)->path().filename();
  EXPECT_EQ(name.find_first_not_of("0123456789abcdef"), std::string::npos) << name;
}

TEST_F(CoordinatorTest, TranscriptAndEpisodeRoutesRefuseNonNumericIds) {
  for (const char* path :
       {"/api/episodes/..%2F..%2Fadmin.token/transcript", "/api/episodes/%2e%2e/transcript",
        "/api/episodes/1%00/transcript", "/api/episodes/-1/transcript", "/api/episodes/1e3",
        "/api/feeds/..%2F1", "/api/episodes/99999999999999999999"}) {
    ClientRequest get;
    get.url = coordinator_->base_url() + path;
    auto r = http_->Send(get);
    ASSERT_TRUE(r) << path;
    EXPECT_GE(r->status, 400) << path;
    EXPECT_LT(r->status, 500) << path << ": " << r->body;
  }
}

TEST(CoordinatorOptions, HeartbeatIsAThirdOfTheLeaseUnlessGiven) {
  CoordinatorOptions o;
  o.lease_duration = Millis(5'000);
  CoordinatorOptions valid = ValidateOptions(o).value();
  EXPECT_EQ(valid.heartbeat_interval, Millis(1'666));
  o.heartbeat_interval = Millis(2'000);
  EXPECT_EQ(ValidateOptions(o).value().heartbeat_interval, Millis(2'000));
}

// `serve --lease 5s` once answered heartbeat 10 s: every lease expired before its first renewal,
// and the long-poll wait (lease - heartbeat) collapsed to 0.
TEST(CoordinatorOptions, AHeartbeatOfHalfTheLeaseOrMoreIsRefusedAtStart) {
  CoordinatorOptions o;
  o.lease_duration = Millis(5'000);
  o.heartbeat_interval = Millis(10'000);
  auto refused = ValidateOptions(o);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Code::kInvalidArgument);
  EXPECT_NE(refused.error().message.find("--heartbeat 10s must be less than half of --lease 5s"),
            std::string::npos)
      << refused.error().message;
  o.heartbeat_interval = Millis(2'500);
  EXPECT_FALSE(ValidateOptions(o));
  o.data_dir = std::filesystem::temp_directory_path() / "podfleet-never-created";
  auto started = Coordinator::Start(o, SystemClock::Get());
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, Code::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(o.data_dir));  // refused before anything was made
  o.lease_duration = Millis(0);
  EXPECT_FALSE(ValidateOptions(o));
}

}  // namespace
}  // namespace podfleet
