// bench/dispatch_pg: how soon a claim parked on one coordinator is served when work is queued
// through another coordinator on the same PostgreSQL database (LISTEN/NOTIFY, store/
// coordination.h), next to two baselines measured in the same run on the same server:
//
//   local     the claim is parked on the coordinator that queued: it notifies its own
//             dispatcher (what a coordinator does for work queued through its API)
//   notify    queued through store A, the claim parked on B's dispatcher, woken by B's
//             WorkListener (the cross-coordinator path)
//   re-check  as notify without a listener: only the dispatcher's periodic re-check (250 ms)
//             finds the work (the fallback; fewer rounds, it is slow by design)
//
// Each round parks one claim, then times from just before AddEpisodes (one episode, its commit
// included) until the dispatcher hands out the lease. Two PgStores and Dispatchers in one process
// stand for two coordinators: no HTTP in these rows (labelled). Then the same through HTTP, as
// a fleet sees it (rounds / 5 rounds, on a fresh database): two real coordinators (origin mode),
// POST /api/episodes on A, a worker's long-polled POST /api/claim on A (baseline) or on B.
//
// Usage: podfleet_bench_dispatch_pg [--rounds N] [--store postgres://...] [--durable on|off]
// Without --store it starts its own server with tests/support/pg-server (run from the source
// tree; needs Debian's postgresql-15, scripts/setup --dev) and stops it at the end: the tests'
// settings (fsync and synchronous_commit off), or with --durable on the server's defaults (every
// commit flushed: what a user's server does).
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "api/client.h"
#include "args.h"
#include "coordinator/coordinator.h"
#include "coordinator/dispatcher.h"
#include "net/http_client.h"
#include "pg_server.h"
#include "store/coordination.h"
#include "store/store.h"

namespace podfleet {
namespace {

using Steady = std::chrono::steady_clock;

struct Figures {
  double p50_ms = 0, p99_ms = 0, mean_ms = 0;
};

Figures Summarize(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  Figures f;
  f.p50_ms = ms[ms.size() / 2];
  f.p99_ms = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
  for (double v : ms) f.mean_ms += v / static_cast<double>(ms.size());
  return f;
}

void PrintRow(std::string_view name, const Figures& f) {
  fmt::print("{:<34} {:>9.2f} {:>9.2f} {:>9.2f}\n", name, f.p50_ms, f.p99_ms, f.mean_ms);
}

// `rounds` rounds of: park a claim on `claim_on`, queue one episode through `queue_on`, wait for
// the lease. `notify_self` pokes `claim_on` after the queue, as a coordinator does for its own.
Result<Figures> Rounds(Store& queue_on, Dispatcher& claim_on, int rounds, bool notify_self,
                       const std::string& label) {
  static int episode = 0;
  std::vector<double> ms;
  for (int i = 0; i < rounds; ++i) {
    std::promise<Result<Steady::time_point>> served;
    claim_on.Claim(NodeId(1), 1, Millis(60'000), [&](Result<std::vector<Grant>> r) {
      if (!r) return served.set_value(std::unexpected(r.error()));
      if (r->empty()) return served.set_value(Internal("the claim got nothing"));
      served.set_value(Steady::now());
    });
    EpisodeInfo info;
    info.guid = fmt::format("{}-{}", label, ++episode);
    info.title = info.guid;
    info.audio_url = "https://example.com/" + info.guid + ".mp3";
    const auto start = Steady::now();
    auto queued = queue_on.AddEpisodes(std::nullopt, {info}, SystemClock::Get().Now());
    if (!queued) return std::unexpected(queued.error());
    if (notify_self) claim_on.Notify();
    Result<Steady::time_point> at = served.get_future().get();
    if (!at) return std::unexpected(at.error());
    ms.push_back(std::chrono::duration<double, std::milli>(*at - start).count());
  }
  return Summarize(std::move(ms));
}

// Through HTTP, as a fleet sees it: `rounds` rounds of a worker long-polling POST /api/claim on
// `claim_on` while an episode is queued with POST /api/episodes on `queue_on`; timed from just
// before the POST until the worker's claim returns its lease. The claim is sent 20 ms before the
// POST so that it is parked (a claim arriving later would find the job at once: still timed).
Result<Figures> HttpRounds(CoordinatorClient& queue_on, CoordinatorClient& claim_on, int rounds,
                           const std::string& label) {
  std::vector<double> ms;
  for (int i = 0; i < rounds; ++i) {
    std::promise<Result<Steady::time_point>> claimed;
    std::thread worker([&] {
      auto grants = claim_on.Claim(1, Millis(20'000));
      if (!grants) return claimed.set_value(std::unexpected(grants.error()));
      if (grants->empty()) return claimed.set_value(Internal("the claim got nothing"));
      claimed.set_value(Steady::now());
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const std::string name = fmt::format("{}-{}", label, i);
    const auto start = Steady::now();
    const nlohmann::json body = {{"url", "https://example.com/" + name + ".mp3"}, {"title", name}};
    auto queued = queue_on.PostJson("/api/episodes", body);
    Result<Steady::time_point> at = claimed.get_future().get();
    worker.join();
    if (!queued) return std::unexpected(queued.error());
    if (!at) return std::unexpected(at.error());
    ms.push_back(std::chrono::duration<double, std::milli>(*at - start).count());
  }
  return Summarize(std::move(ms));
}

// Two `podfleet serve` coordinators (in this process) on the database, origin mode (the jobs are
// claimable at once), each with its own data directory: the HTTP rows.
int RunHttp(const std::string& url, int rounds) {
  const auto dir = std::filesystem::temp_directory_path() /
                   fmt::format("podfleet-bench-dispatch-{}", static_cast<long>(getpid()));
  std::vector<std::unique_ptr<Coordinator>> coordinators;
  for (const char* name : {"a", "b"}) {
    CoordinatorOptions o;
    o.store = url;
    o.data_dir = dir / name;
    o.port = 0;
    o.relay = false;
    o.lease_duration = Millis(600'000);
    auto c = Coordinator::Start(o, SystemClock::Get());
    if (!c) {
      fmt::print(stderr, "cannot start a coordinator: {}\n", c.error().ToString());
      return 1;
    }
    coordinators.push_back(std::move(*c));
  }
  auto http = MakeCurlClient(HttpClientOptions{});
  CoordinatorClient admin(coordinators[0]->base_url(), *http);
  admin.set_admin_token(*coordinators[0]->first_admin_token());
  auto token = CreateEnrollmentToken(coordinators[0]->store(), "bench", SystemClock::Get().Now());
  if (!token) return 1;
  std::vector<std::unique_ptr<CoordinatorClient>> workers;
  for (const auto& c : coordinators) {
    workers.push_back(std::make_unique<CoordinatorClient>(c->base_url(), *http));
    auto reg = workers.back()->Register(*token, NodeInfo{fmt::format("w{}", workers.size())});
    if (!reg) {
      fmt::print(stderr, "cannot register: {}\n", reg.error().ToString());
      return 1;
    }
    workers.back()->set_node_token(reg->token);
  }
  Result<Figures> local = HttpRounds(admin, *workers[0], rounds, "http-local");
  Result<Figures> cross = HttpRounds(admin, *workers[1], rounds, "http-cross");
  for (auto& c : coordinators) c->Stop();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (!local || !cross) {
    fmt::print(stderr, "bench failed: {}\n", (local ? cross : local).error().ToString());
    return 1;
  }
  fmt::print(
      "\nthrough HTTP: POST /api/episodes on A -> a worker's long-polled claim returns "
      "({} rounds)\n",
      rounds);
  fmt::print("{:<34} {:>9} {:>9} {:>9}\n", "path", "p50 ms", "p99 ms", "mean ms");
  PrintRow("worker long-polling on A", *local);
  PrintRow("worker long-polling on B", *cross);
  fmt::print("B / A p99: {:.2f}x\n", cross->p99_ms / local->p99_ms);
  return 0;
}

int Run(const std::string& url, int rounds) {
  auto a = OpenPgStore(url);
  auto b = OpenPgStore(url);
  if (!a || !b) {
    fmt::print(stderr, "cannot open the store: {}\n", (a ? b : a).error().ToString());
    return 1;
  }
  const Clock& clock = SystemClock::Get();
  const Millis lease(600'000);
  Dispatcher on_a(**a, clock, lease);
  Dispatcher on_b(**b, clock, lease);
  Result<Figures> recheck = Rounds(**a, on_b, std::max(1, rounds / 25), false, "recheck");
  auto listener = ListenForWork(url, [&] { on_b.Notify(); });
  if (!listener) {
    fmt::print(stderr, "cannot listen: {}\n", listener.error().ToString());
    return 1;
  }
  Result<Figures> local = Rounds(**a, on_a, rounds, true, "local");
  Result<Figures> notify = Rounds(**a, on_b, rounds, false, "notify");
  for (const auto* r : {&recheck, &local, &notify}) {
    if (!*r) {
      fmt::print(stderr, "bench failed: {}\n", r->error().ToString());
      return 1;
    }
  }
  fmt::print("queue on A -> lease on a parked claim ({} rounds; no HTTP hop)\n", rounds);
  fmt::print("{:<34} {:>9} {:>9} {:>9}\n", "path", "p50 ms", "p99 ms", "mean ms");
  PrintRow("local (same coordinator)", *local);
  PrintRow("notify (A queues, B serves)", *notify);
  PrintRow("re-check only (no listener)", *recheck);
  fmt::print("notify / local p99: {:.2f}x; re-check / notify mean: {:.0f}x\n",
             notify->p99_ms / local->p99_ms, recheck->mean_ms / notify->mean_ms);
  return 0;
}

int Main(int argc, char** argv) {
  int rounds = 500;
  std::string url;
  bool durable = false;
  constexpr std::string_view kUsage = "[--rounds N] [--store postgres://...] [--durable on|off]";
  const int parsed = ParseBenchArgs(
      argc, argv, kUsage,
      {{"--rounds", [&](const char* v) { rounds = std::atoi(v); }},
       {"--store", [&](const char* v) { url = v; }},
       {"--durable", [&](const char* v) { durable = std::string_view(v) == "on"; }}});
  if (parsed >= 0) return parsed;
  if (rounds < 1) rounds = 1;
  const int http_rounds = std::max(1, rounds / 5);
  if (!url.empty()) return Run(url, rounds);
  // The tests' server runs without fsync; --durable on restores the server's defaults.
  const std::vector<std::string> settings = {"fsync=on", "synchronous_commit=on",
                                             "full_page_writes=on"};
  auto pg = BenchPgServer::Start("dispatch", durable ? settings : std::vector<std::string>{});
  if (!pg) return 1;
  fmt::print("PostgreSQL: a private server on this machine (tests/support/pg-server), {}\n\n",
             durable ? "fsync, synchronous_commit and full_page_writes on (the defaults)"
                     : "fsync, synchronous_commit and full_page_writes off (the tests' settings)");
  auto created = pg->CreateDb("bench");
  int rc = created ? Run(*created, rounds) : 1;
  auto http_db = created ? pg->CreateDb("http") : std::nullopt;
  if (rc == 0) rc = http_db ? RunHttp(*http_db, http_rounds) : 1;
  return rc;
}

}  // namespace
}  // namespace podfleet

int main(int argc, char** argv) { return podfleet::Main(argc, argv); }
