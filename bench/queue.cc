// bench/queue: durable claim-and-complete cycles per second through the coordinator's HTTP API
// on SQLite, next to the same cycles straight on the store in the same run (the ceiling that the
// HTTP layer can at best reach on this machine), and their ratio.
//
// Usage: podfleet_bench_queue [--jobs N] [--workers N]
// Each cycle leases one job and completes it with a one-segment transcript; every cycle is two
// durable transactions. Both runs use a fresh database in a temporary directory.
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "api/client.h"
#include "coordinator/coordinator.h"
#include "net/http_client.h"
#include "store/store.h"

namespace podfleet {
namespace {

struct Options {
  int jobs = 2000;
  int workers = 4;
};

Transcript OneSegment() {
  Transcript t;
  t.engine = "bench";
  t.audio_duration = Millis(60'000);
  t.segments.push_back(Segment{Millis(0), Millis(60'000), "benchmark", "", {}});
  return t;
}

std::vector<EpisodeInfo> Episodes(int n) {
  std::vector<EpisodeInfo> out;
  for (int i = 0; i < n; ++i)
    out.push_back(EpisodeInfo{fmt::format("bench-{}", i), "bench",
                              fmt::format("http://127.0.0.1:9/{}.mp3", i)});
  return out;
}

// Runs `cycle` on `workers` threads until it returns false; returns cycles per second.
template <class Cycle>
double Measure(int workers, Cycle cycle) {
  std::atomic<int64_t> done{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      while (cycle(w)) ++done;
    });
  }
  for (auto& t : threads) t.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return static_cast<double>(done.load()) / seconds;
}

Result<double> StoreRun(const Options& o, const std::filesystem::path& dir) {
  auto store = OpenSqliteStore((dir / "store.db").string());
  if (!store) return std::unexpected(store.error());
  const Clock& clock = SystemClock::Get();
  if (auto r = (*store)->AddEpisodes(std::nullopt, Episodes(o.jobs), clock.Now()); !r)
    return std::unexpected(r.error());
  std::vector<NodeId> nodes;
  for (int w = 0; w < o.workers; ++w) {
    auto node = (*store)->RegisterNode(NodeInfo{fmt::format("w{}", w)}, fmt::format("hash{}", w),
                                       clock.Now());
    if (!node) return std::unexpected(node.error());
    nodes.push_back(node->id);
  }
  const Transcript transcript = OneSegment();
  return Measure(o.workers, [&](int w) {
    auto grants = (*store)->Claim(nodes[w], 1, Millis(30'000), clock.Now());
    if (!grants || grants->empty()) return false;
    const Lease& l = grants->front().lease;
    return static_cast<bool>(
        (*store)->Complete(nodes[w], l.job, l.attempt, transcript, clock.Now()));
  });
}

Result<double> HttpRun(const Options& o, const std::filesystem::path& dir) {
  CoordinatorOptions co;
  co.data_dir = dir / "coordinator";
  co.port = 0;
  auto coordinator = Coordinator::Start(co, SystemClock::Get());
  if (!coordinator) return std::unexpected(coordinator.error());
  if (auto r = (*coordinator)
                   ->store()
                   .AddEpisodes(std::nullopt, Episodes(o.jobs), SystemClock::Get().Now());
      !r)
    return std::unexpected(r.error());
  auto http = MakeCurlClient(HttpClientOptions{});
  std::vector<std::unique_ptr<CoordinatorClient>> clients;
  for (int w = 0; w < o.workers; ++w) {
    auto client = std::make_unique<CoordinatorClient>((*coordinator)->base_url(), *http);
    auto reg = client->Register(*(*coordinator)->first_enrollment_token(),
                                NodeInfo{fmt::format("w{}", w)});
    if (!reg) return std::unexpected(reg.error());
    client->set_node_token(reg->token);
    clients.push_back(std::move(client));
  }
  const Transcript transcript = OneSegment();
  return Measure(o.workers, [&](int w) {
    auto grants = clients[w]->Claim(1, Millis(0));
    if (!grants || grants->empty()) return false;
    return static_cast<bool>(clients[w]->Complete(grants->front().lease, transcript));
  });
}

int Main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--jobs") o.jobs = std::atoi(argv[i + 1]);
    if (flag == "--workers") o.workers = std::atoi(argv[i + 1]);
  }
  const auto dir =
      std::filesystem::temp_directory_path() / fmt::format("podfleet-bench-queue-{}", ::getpid());
  std::filesystem::create_directories(dir);
  auto store = StoreRun(o, dir);
  auto http = HttpRun(o, dir);
  std::filesystem::remove_all(dir);
  if (!store || !http) {
    fmt::print(stderr, "bench/queue: {}\n", (!store ? store.error() : http.error()).ToString());
    return 1;
  }
  fmt::print("bench/queue: {} jobs, {} workers, SQLite (WAL, synchronous=FULL)\n", o.jobs,
             o.workers);
  fmt::print("  store directly:   {:8.0f} claim+complete cycles/s (ceiling)\n", *store);
  fmt::print("  through HTTP API: {:8.0f} claim+complete cycles/s\n", *http);
  fmt::print("  ratio HTTP/store: {:.2f}\n", *http / *store);
  return 0;
}

}  // namespace
}  // namespace podfleet

int main(int argc, char** argv) { return podfleet::Main(argc, argv); }
