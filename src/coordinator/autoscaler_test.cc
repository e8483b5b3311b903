#include "coordinator/autoscaler.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "store/store_test_util.h"
#include "support/manual_clock.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

// An in-memory cloud: pods bill from Create to Terminate; capacity and errors set per test.
class FakeProvider final : public PodProvider {
 public:
  explicit FakeProvider(const Clock& clock) : clock_(clock) {}
  std::string name() const override { return "fake"; }
  Result<std::vector<GpuOffer>> GpuTypes() override {
    ++calls;
    if (fail_next) return Take();
    return offers;
  }
  Result<PodInfo> Create(const PodSpec& spec) override {
    ++calls;
    if (fail_next) return Take();
    tried.push_back(spec.gpu_type + "@" + spec.cloud);
    if (no_capacity.contains(spec.gpu_type) || no_capacity.contains(tried.back()))
      return Unavailable(std::string(kNoCapacityPrefix) + "There are no longer any instances");
    specs.push_back(spec);
    PodInfo p{"id" + std::to_string(++serial),   spec.name, spec.gpu_type, "running", false,
              PriceOf(spec.gpu_type, spec.cloud)};
    pods[p.id] = p;
    born[p.id] = clock_.Now();
    if (lose_answer) return Unavailable("timed out");
    return p;
  }
  Result<std::vector<PodInfo>> List() override {
    ++calls;
    if (fail_next) return Take();
    std::vector<PodInfo> out;
    for (const auto& [id, p] : pods) out.push_back(p);
    return out;
  }
  Result<void> Terminate(const std::string& id) override {
    ++calls;
    if (fail_next) return Take();
    if (!pods.erase(id)) return NotFound(id);
    terminated.push_back(id);
    return {};
  }
  double PriceOf(const std::string& gpu, const std::string& cloud) const {
    for (const GpuOffer& o : offers)
      if (o.id == gpu) return *o.PriceOn(cloud);
    return 0;
  }
  int Live() const { return static_cast<int>(pods.size()); }

  std::vector<GpuOffer> offers = {{"NVIDIA RTX A5000", "RTX A5000", 0.22, "High"},
                                  {"NVIDIA GeForce RTX 4090", "RTX 4090", 0.34, "High"}};
  std::set<std::string> no_capacity;  // GPU type ids, or "id@CLOUD" for one cloud
  std::vector<std::string> tried;     // "id@CLOUD" of every Create call
  std::optional<Error> fail_next;
  std::map<std::string, PodInfo> pods;
  std::map<std::string, TimePoint> born;
  std::vector<PodSpec> specs;
  std::vector<std::string> terminated;
  bool lose_answer = false;  // Create makes the pod but the caller hears kUnavailable
  int calls = 0;

 private:
  std::unexpected<Error> Take() {
    Error e = *fail_next;
    fail_next.reset();
    return std::unexpected(e);
  }
  const Clock& clock_;
  int serial = 0;
};

class AutoscalerTest : public ::testing::Test {
 protected:
  AutoscaleOptions Options() {
    AutoscaleOptions o;
    o.max_pods = 5;
    o.budget_per_hour = 2.0;
    o.gpus = {"RTX A5000", "RTX 4090"};
    o.join_command = "join-line";
    o.server_url = "http://coordinator";
    o.token = "pfe_secret";
    o.name_prefix = "pf-";
    o.setup_deadline = Millis(600'000);
    o.state_file = dir.path() / "pods.json";
    return o;
  }
  std::unique_ptr<Autoscaler> Open(AutoscaleOptions o, Store* decisions = nullptr) {
    auto a = Autoscaler::Open(std::move(o), provider, clock, decisions);
    EXPECT_TRUE(a.has_value()) << a.error().ToString();
    return std::move(*a);
  }
  // A fleet with `queued` jobs whose plan wants `pods` A5000s (0: no plan).
  static FleetSnapshot Fleet(int64_t queued, int pods = 0) {
    FleetSnapshot f;
    f.queued = queued;
    if (pods > 0) f.plan_gpu = "RTX A5000", f.plan_pods = pods, f.plan_reason = "test";
    return f;
  }
  // Every live pod registered as an online node, with `jobs` jobs each.
  void Register(FleetSnapshot& f, int jobs = 0) {
    for (const auto& [id, p] : provider.pods) f.nodes.push_back({p.name, true, false, jobs});
  }
  // Fleet(queued, pods) with every live pod registered and holding a job.
  FleetSnapshot Working(int64_t queued, int pods) {
    FleetSnapshot f = Fleet(queued, pods);
    Register(f, 1);
    return f;
  }
  bool Decided(const Autoscaler& a, std::string_view text) {
    for (const Decision& d : a.Status().decisions)
      if (d.text.find(text) != std::string::npos) return true;
    return false;
  }

  TempDir dir;
  ManualClock clock;
  FakeProvider provider{clock};
};

TEST_F(AutoscalerTest, ScalesToThePlanAndToZeroAndSpendIsLifetimesTimesPrices) {
  auto a = Open(Options());
  a->Tick(Fleet(20, 3));
  ASSERT_EQ(provider.Live(), 3);
  const PodSpec& spec = provider.specs[0];
  EXPECT_EQ(spec.gpu_type, "NVIDIA RTX A5000");
  EXPECT_TRUE(spec.name.starts_with("pf-"));
  EXPECT_EQ(spec.command.find("join-line --name " + spec.name + " --exit-when-idle 600s"), 0u)
      << spec.command;
  EXPECT_NE(spec.command.find("--price-per-hour 0.22"), std::string::npos);
  EXPECT_NE(std::find(spec.env.begin(), spec.env.end(),
                      std::pair<std::string, std::string>{"PODFLEET_TOKEN", "pfe_secret"}),
            spec.env.end());
  EXPECT_EQ(spec.command.find("pfe_secret"), std::string::npos);

  clock.Advance(Millis(30 * 60'000));
  FleetSnapshot working = Fleet(10, 3);
  Register(working, 1);
  a->Tick(working);
  EXPECT_EQ(a->Status().pods[0].state, "working");
  clock.Advance(Millis(30 * 60'000));
  FleetSnapshot empty = Fleet(0);
  Register(empty, 0);
  a->Tick(empty);
  EXPECT_EQ(provider.Live(), 0);
  const AutoscaleStatus s = a->Status();
  EXPECT_NEAR(s.spend, 3 * 0.22 * 1.0, 1e-9);
  EXPECT_EQ(s.spend_per_hour, 0);
  for (const PodRecord& r : s.pods) EXPECT_EQ(r.state, "terminated") << r.name;
  EXPECT_TRUE(Decided(*a, "nothing queued or running"));
}

TEST_F(AutoscalerTest, NoPodIsSurplusWhileJobsWaitAndWorkingPodsDrain) {
  auto a = Open(Options());
  a->Tick(Fleet(20, 3));
  FleetSnapshot f = Fleet(20, 1);  // the plan wants fewer, but jobs still wait
  Register(f, 0);
  a->Tick(f);
  EXPECT_EQ(provider.Live(), 3);
  f = Fleet(0, 1);
  f.running = 2;
  f.nodes = {{provider.specs[0].name, true, false, 1},
             {provider.specs[1].name, true, false, 1},
             {provider.specs[2].name, true, false, 0}};
  a->Tick(f);  // nothing waits: the idle pod goes, one working pod drains
  EXPECT_EQ(provider.Live(), 2);
  a->Tick(f);  // the draining pod still holds a job: kept
  EXPECT_EQ(provider.Live(), 2);
  int draining = 0;
  for (const PodRecord& r : a->Status().pods) draining += r.state == "draining";
  EXPECT_EQ(draining, 1);
  f.nodes[0].jobs = f.nodes[1].jobs = 0;
  f.running = 1;
  a->Tick(f);  // its job done: terminated
  EXPECT_EQ(provider.Live(), 1);
}

TEST_F(AutoscalerTest, WhenEveryJobIsLeasedThePodsAreKept) {
  auto a = Open(Options());
  a->Tick(Fleet(3, 3));
  FleetSnapshot f = Working(0, 0);  // the plan sees no queued audio
  f.plan_gpu = "RTX A5000";
  f.running = 3;
  a->Tick(f);
  EXPECT_EQ(provider.Live(), 3);
  EXPECT_TRUE(Decided(*a, "all leased"));
}

TEST_F(AutoscalerTest, WithoutAMeasuredGpuStartsOnePodToMeasure) {
  auto a = Open(Options());
  a->Tick(Fleet(50));
  EXPECT_EQ(provider.Live(), 1);
  EXPECT_TRUE(Decided(*a, "no allowed GPU type measured yet"));
  a->Tick(Fleet(50));
  EXPECT_EQ(provider.Live(), 1);
}

TEST_F(AutoscalerTest, NeverMorePodsThanJobsOrMaxPods) {
  auto a = Open(Options());
  a->Tick(Fleet(2, 8));
  EXPECT_EQ(provider.Live(), 2);
  a->Tick(Fleet(100, 8));
  EXPECT_EQ(provider.Live(), 5);
}

TEST_F(AutoscalerTest, BudgetCapsTheLivePodsPrices) {
  AutoscaleOptions o = Options();
  o.budget_per_hour = 0.5;  // two A5000s at 0.22; a third would be 0.66
  auto a = Open(o);
  a->Tick(Fleet(100, 5));
  EXPECT_EQ(provider.Live(), 2);
  EXPECT_TRUE(Decided(*a, "over --budget"));
  EXPECT_LE(a->Status().spend_per_hour, 0.5);
}

TEST_F(AutoscalerTest, NoCapacityFallsBackToTheNextGpuType) {
  provider.no_capacity.insert("NVIDIA RTX A5000");
  auto a = Open(Options());
  a->Tick(Fleet(100, 2));
  ASSERT_EQ(provider.Live(), 2);
  for (const PodSpec& s : provider.specs) EXPECT_EQ(s.gpu_type, "NVIDIA GeForce RTX 4090");
  EXPECT_TRUE(Decided(*a, "no RTX A5000 available"));
}

TEST_F(AutoscalerTest, NoCapacityFallsBackToTheNextCloudThenTheNextGpuType) {
  AutoscaleOptions o = Options();
  o.clouds = {"SECURE", "COMMUNITY"};
  provider.no_capacity.insert("NVIDIA RTX A5000@SECURE");
  auto a = Open(o);
  a->Tick(Fleet(100, 2));
  ASSERT_EQ(provider.Live(), 2);
  // SECURE is skipped for capacity_retry once it had none: the second pod goes straight on.
  EXPECT_EQ(provider.tried,
            (std::vector<std::string>{"NVIDIA RTX A5000@SECURE", "NVIDIA RTX A5000@COMMUNITY",
                                      "NVIDIA RTX A5000@COMMUNITY"}));
  for (const PodRecord& r : a->Status().pods) EXPECT_EQ(r.cloud, "COMMUNITY");
  EXPECT_TRUE(Decided(*a, "no RTX A5000 available on the SECURE cloud"));
  EXPECT_TRUE(Decided(*a, "trying the COMMUNITY cloud"));

  // Neither cloud has an A5000: the next GPU type, on the first cloud.
  provider.no_capacity.insert("NVIDIA RTX A5000@COMMUNITY");
  a->Tick(Working(100, 3));
  ASSERT_EQ(provider.Live(), 3);
  EXPECT_EQ(provider.tried.back(), "NVIDIA GeForce RTX 4090@SECURE");
  EXPECT_TRUE(Decided(*a, "trying the next GPU type"));

  // Once capacity_retry has passed, SECURE is tried first again.
  provider.no_capacity.clear();
  clock.Advance(o.capacity_retry);
  a->Tick(Working(100, 4));
  EXPECT_EQ(provider.tried.back(), "NVIDIA RTX A5000@SECURE");
  EXPECT_EQ(a->Status().pods.back().cloud, "SECURE");
}

TEST_F(AutoscalerTest, EachCloudCountsAgainstTheBudgetAtItsOwnPrice) {
  provider.offers[0].cloud_prices = {{"SECURE", 0.30}, {"COMMUNITY", 0.18}};
  AutoscaleOptions o = Options();
  o.clouds = {"SECURE", "COMMUNITY"};
  o.budget_per_hour = 0.5;
  auto a = Open(o);
  a->Tick(Fleet(100, 5));
  // A second SECURE pod would make 0.60; a COMMUNITY one makes 0.48; nothing else fits.
  ASSERT_EQ(provider.Live(), 2);
  EXPECT_EQ(provider.specs[0].cloud, "SECURE");
  EXPECT_EQ(provider.specs[1].cloud, "COMMUNITY");
  EXPECT_NEAR(a->Status().spend_per_hour, 0.48, 1e-9);
  EXPECT_TRUE(
      Decided(*a, "budget: another RTX A5000 pod on SECURE ($0.300/h) would make $0.600/h"));
  EXPECT_NE(provider.specs[1].command.find("--price-per-hour 0.18"), std::string::npos);
}

TEST_F(AutoscalerTest, DecisionsAreKeptInTheStoreAcrossARestart) {
  std::unique_ptr<Store> store = Must(OpenSqliteStore(dir.File("podfleet.db")));
  {
    auto a = Open(Options(), store.get());
    a->Tick(Fleet(100, 1));
    ASSERT_TRUE(Decided(*a, "created pf-"));
  }
  auto b = Open(Options(), store.get());
  EXPECT_TRUE(Decided(*b, "created pf-"));
  EXPECT_TRUE(Decided(*b, "want 1 pod(s)"));
  // Coordinators sharing one database (PostgreSQL) show one log: a second autoscaler on the same
  // store sees what the first decides after it opened.
  auto c = Open(Options(), store.get());
  b->Tick(Fleet(0));
  EXPECT_TRUE(Decided(*c, "nothing queued or running"));
  const std::vector<Decision> log = c->Status().decisions;
  ASSERT_FALSE(log.empty());
  EXPECT_LE(log.front().at, log.back().at);
  EXPECT_NE(log.back().text.find("terminated pf-"), std::string::npos) << log.back().text;
}

TEST_F(AutoscalerTest, APodThatNeverRegistersIsTerminatedAndItsGpuAvoided) {
  auto a = Open(Options());
  a->Tick(Fleet(100, 1));
  ASSERT_EQ(provider.specs.size(), 1u);
  clock.Advance(Millis(601'000));
  a->Tick(Fleet(100, 1));
  EXPECT_EQ(provider.terminated.size(), 1u);
  const AutoscaleStatus s = a->Status();
  EXPECT_EQ(s.pods[0].state, "failed");
  EXPECT_NE(s.pods[0].reason.find("did not register"), std::string::npos);
  // Replaced, on the other GPU type, even though the plan still names the A5000.
  ASSERT_EQ(provider.specs.size(), 2u);
  EXPECT_EQ(provider.specs[1].gpu_type, "NVIDIA GeForce RTX 4090");
}

TEST_F(AutoscalerTest, APodRegisteredBlockedIsTerminated) {
  auto a = Open(Options());
  a->Tick(Fleet(100, 1));
  FleetSnapshot f = Fleet(100, 1);
  f.nodes.push_back({provider.specs[0].name, true, /*blocked=*/true, 0});
  a->Tick(f);
  EXPECT_EQ(a->Status().pods[0].state, "failed");
  EXPECT_NE(a->Status().pods[0].reason.find("blocked"), std::string::npos);
}

TEST_F(AutoscalerTest, ADeadPodIsReplacedWhileWorkRemains) {
  auto a = Open(Options());
  a->Tick(Fleet(100, 2));
  a->Tick(Working(100, 2));
  provider.pods.erase(provider.pods.begin());  // the machine died
  a->Tick(Working(100, 2));
  EXPECT_EQ(provider.Live(), 2);
  EXPECT_EQ(provider.specs.size(), 3u);
  EXPECT_TRUE(Decided(*a, "died"));
}

TEST_F(AutoscalerTest, AWorkerOfflineIsDeadOnlyAfterTheGrace) {
  auto a = Open(Options());
  a->Tick(Fleet(100, 1));
  FleetSnapshot f = Working(100, 1);
  a->Tick(f);
  f.nodes[0].online = false;
  a->Tick(f);
  clock.Advance(Millis(59'000));
  a->Tick(f);
  EXPECT_EQ(a->Status().pods[0].state, "working");
  clock.Advance(Millis(1'000));
  a->Tick(f);
  EXPECT_EQ(a->Status().pods[0].state, "failed");
  EXPECT_EQ(provider.Live(), 1);  // replaced
}

TEST_F(AutoscalerTest, ARestartReadoptsItsPodsAndNeitherDoubleCreatesNorExceedsTheBudget) {
  AutoscaleOptions o = Options();
  o.budget_per_hour = 0.5;
  {
    auto a = Open(o);
    a->Tick(Fleet(100, 5));
    ASSERT_EQ(provider.Live(), 2);
  }
  auto b = Open(o);  // same records file
  b->Tick(Fleet(100, 5));
  EXPECT_EQ(provider.Live(), 2);
  EXPECT_EQ(provider.specs.size(), 2u);

  // Records lost as well: the pods are adopted from the provider's list by name prefix.
  std::filesystem::remove(o.state_file);
  auto c = Open(o);
  c->Tick(Fleet(100, 5));
  EXPECT_EQ(provider.specs.size(), 2u);
  EXPECT_TRUE(Decided(*c, "adopted"));
  EXPECT_NEAR(c->Status().spend_per_hour, 0.44, 1e-9);
  // A pod named without our prefix is not ours.
  provider.pods["other"] = {"other", "someone-else", "NVIDIA RTX A5000", "running", true, 0.22};
  c->Tick(Fleet(0));
  EXPECT_EQ(provider.Live(), 1);
  EXPECT_TRUE(provider.pods.contains("other"));
}

TEST_F(AutoscalerTest, ACreateWithoutAnAnswerIsResolvedByTheNextListNotRepeated) {
  auto a = Open(Options());
  provider.lose_answer = true;
  a->Tick(Fleet(100, 1));
  ASSERT_EQ(provider.Live(), 1);
  EXPECT_TRUE(Decided(*a, "next try in 5 s"));
  const int calls = provider.calls;
  a->Tick(Fleet(100, 1));  // backing off: no call at all
  EXPECT_EQ(provider.calls, calls);
  provider.lose_answer = false;
  clock.Advance(Millis(5'000));
  a->Tick(Fleet(100, 1));
  EXPECT_EQ(provider.specs.size(), 1u);  // found by name, not created again
  EXPECT_EQ(a->Status().pods[0].id, provider.pods.begin()->first);
  EXPECT_TRUE(Decided(*a, "answer was lost"));
}

TEST_F(AutoscalerTest, ProviderOutagesBackOffDoubling) {
  auto a = Open(Options());
  provider.fail_next = Error{Code::kUnavailable, "RunPod rate limit (HTTP 429)"};
  a->Tick(Fleet(100, 1));
  EXPECT_TRUE(Decided(*a, "next try in 5 s"));
  clock.Advance(Millis(5'000));
  provider.fail_next = Error{Code::kUnavailable, "RunPod HTTP 502"};
  a->Tick(Fleet(100, 1));
  EXPECT_TRUE(Decided(*a, "next try in 10 s"));
  clock.Advance(Millis(10'000));
  a->Tick(Fleet(100, 1));
  EXPECT_EQ(provider.Live(), 1);
}

TEST_F(AutoscalerTest, RefusedCredentialsAreADecisionAndALongBackoff) {
  auto a = Open(Options());
  provider.fail_next = Error{Code::kPermissionDenied, "RunPod refused the API key (HTTP 401)"};
  a->Tick(Fleet(100, 1));
  EXPECT_EQ(provider.Live(), 0);
  EXPECT_TRUE(Decided(*a, "next try in 300 s"));
  clock.Advance(Millis(300'000));
  a->Tick(Fleet(100, 1));
  EXPECT_EQ(provider.Live(), 1);
}

TEST_F(AutoscalerTest, OptionsAreValidated) {
  AutoscaleOptions o = Options();
  o.gpus.clear();
  EXPECT_EQ(Autoscaler::Open(o, provider, clock).error().code, Code::kInvalidArgument);
  o = Options();
  o.budget_per_hour = 0;
  EXPECT_EQ(Autoscaler::Open(o, provider, clock).error().code, Code::kInvalidArgument);
  o = Options();
  o.clouds.clear();
  EXPECT_EQ(Autoscaler::Open(o, provider, clock).error().code, Code::kInvalidArgument);
  std::ofstream(Options().state_file) << "not json";
  EXPECT_EQ(Autoscaler::Open(Options(), provider, clock).error().code, Code::kCorruption);
}

}  // namespace
}  // namespace podfleet
