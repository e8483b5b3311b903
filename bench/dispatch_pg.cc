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
// stand for two coordinators: the HTTP hop of the worker's long poll is not included (labelled).
//
// Usage: podfleet_bench_dispatch_pg [--rounds N] [--store postgres://...]
// Without --store it starts its own server with tests/support/pg-server (run from the source
// tree; needs Debian's postgresql-15, scripts/setup --dev) and stops it at the end.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <string>
#include <vector>

#include "args.h"
#include "coordinator/dispatcher.h"
#include "store/coordination.h"
#include "store/store.h"

namespace podfleet {
namespace {

using Steady = std::chrono::steady_clock;

// Runs `command`; its standard output without the trailing newline, or nullopt when it failed.
std::optional<std::string> Output(const std::string& command) {
  FILE* p = popen(command.c_str(), "r");
  if (!p) return std::nullopt;
  std::string out;
  char buf[256];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  if (pclose(p) != 0) return std::nullopt;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

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
  auto row = [](std::string_view name, const Figures& f) {
    fmt::print("{:<34} {:>9.2f} {:>9.2f} {:>9.2f}\n", name, f.p50_ms, f.p99_ms, f.mean_ms);
  };
  row("local (same coordinator)", *local);
  row("notify (A queues, B serves)", *notify);
  row("re-check only (no listener)", *recheck);
  fmt::print("notify / local p99: {:.2f}x; re-check / notify mean: {:.0f}x\n",
             notify->p99_ms / local->p99_ms, recheck->mean_ms / notify->mean_ms);
  return 0;
}

int Main(int argc, char** argv) {
  int rounds = 500;
  std::string url;
  const int parsed = ParseBenchArgs(argc, argv, "[--rounds N] [--store postgres://...]",
                                    {{"--rounds", [&](const char* v) { rounds = std::atoi(v); }},
                                     {"--store", [&](const char* v) { url = v; }}});
  if (parsed >= 0) return parsed;
  if (rounds < 1) rounds = 1;
  if (!url.empty()) return Run(url, rounds);
  const std::string script = "tests/support/pg-server";
  const auto dir = std::filesystem::temp_directory_path() /
                   fmt::format("podfleet-bench-pg-{}", static_cast<long>(getpid()));
  if (!Output(fmt::format("{} start {} {}", script, dir.string(), getpid()))) {
    fmt::print(stderr, "cannot start PostgreSQL with {} (run from the source tree)\n", script);
    return 1;
  }
  auto created = Output(fmt::format("{} createdb {} bench", script, dir.string()));
  const int rc = created ? Run(*created, rounds) : 1;
  (void)Output(fmt::format("{} stop {}", script, dir.string()));
  return rc;
}

}  // namespace
}  // namespace podfleet

int main(int argc, char** argv) { return podfleet::Main(argc, argv); }
