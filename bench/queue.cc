// bench/queue: durable claim-and-complete cycles per second through the coordinator's HTTP API
// on SQLite, next to the same cycles straight on the store, and next to a raw SQLite loop, all in
// the same run, with their ratios.
//
// The raw loop is the physical ceiling on this machine: one connection with the store's pragmas
// (WAL, synchronous=FULL), a one-table queue, two durable transactions per cycle (claim: one
// UPDATE ... RETURNING; complete: one UPDATE storing a transcript of the same size), nothing else.
// The store adds attempts, fencing, episode states and job results; HTTP adds the API.
//
// The store and the HTTP API commit concurrent writers together (group commit, store_sqlite.h),
// so their rate grows with the workers; the raw loop commits each transaction alone, as a
// straightforward queue on SQLite does.
//
// HTTP is measured twice: with the client as a worker uses it (one connection per call), the
// figure the ratios HTTP/raw and HTTP/store are of; and with the client keeping its connections
// open (HttpClientOptions::reuse_connections), labelled "keep-alive", where the coordinator no
// longer accepts and closes a connection per call.
//
// Usage: podfleet_bench_queue [--jobs N] [--workers N[,N...]]
// Each cycle leases one job and completes it with a one-segment transcript. Every run uses a
// fresh database in a temporary directory; a list of worker counts runs all three per count.
#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "api/client.h"
#include "args.h"
#include "coordinator/coordinator.h"
#include "net/http_client.h"
#include "store/sqlite_db.h"
#include "store/store.h"

namespace podfleet {
namespace {

struct Options {
  int jobs = 2000;
  int workers = 4;
};

// "1,8,64" -> {1, 8, 64}; counts below 1 are dropped.
std::vector<int> ParseCounts(const std::string& list) {
  std::vector<int> out;
  size_t at = 0;
  while (at <= list.size()) {
    const size_t comma = std::min(list.find(',', at), list.size());
    if (const int n = std::atoi(list.substr(at, comma - at).c_str()); n > 0) out.push_back(n);
    at = comma + 1;
  }
  return out;
}

// What the store keeps of OneSegment(), roughly: the raw loop writes as many bytes.
std::string EncodeTranscriptForBench() {
  return R"([{"start":0,"end":60000,"text":"benchmark","speaker":"","words":[]}])";
}

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

// The process's CPU time (user + system, every thread) in microseconds.
double CpuMicros() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto us = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e6 + t.tv_usec; };
  return us(u.ru_utime) + us(u.ru_stime);
}

// The CPU time per cycle of the last Measure, in microseconds: all threads of this process, the
// clients' included (for HTTP, curl and the coordinator both run here).
double last_cpu_us_per_cycle = 0;

// Runs `cycle` on `workers` threads until it returns false; returns cycles per second.
template <class Cycle>
double Measure(int workers, Cycle cycle) {
  std::atomic<int64_t> done{0};
  const double cpu_start = CpuMicros();
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      while (cycle(w)) ++done;
    });
  }
  for (auto& t : threads) t.join();
  last_cpu_us_per_cycle =
      (CpuMicros() - cpu_start) / static_cast<double>(std::max<int64_t>(1, done));
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

// The raw loop: the least SQLite work a durable claim and complete can be.
Result<double> RawRun(const Options& o, const std::filesystem::path& dir) {
  auto db = Db::Open((dir / "raw.db").string(), 5'000);
  if (!db) return std::unexpected(db.error());
  Result<void> r = db->Exec(
      "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; "
      "CREATE TABLE q (id INTEGER PRIMARY KEY, state INTEGER NOT NULL, node INTEGER, "
      "result TEXT);"
      "CREATE INDEX q_queued ON q(id) WHERE state = 0;");
  if (!r) return std::unexpected(r.error());
  if (r = db->Exec("BEGIN"); !r) return std::unexpected(r.error());
  for (int i = 0; i < o.jobs; ++i) {
    if (auto ins = db->Run("INSERT INTO q (state) VALUES (0)"); !ins)
      return std::unexpected(ins.error());
  }
  if (r = db->Exec("COMMIT"); !r) return std::unexpected(r.error());
  const std::string result = EncodeTranscriptForBench();
  std::mutex mu;  // one connection, as the store has
  auto in_transaction = [&](auto body) -> bool {
    std::lock_guard lock(mu);
    if (!db->Exec("BEGIN IMMEDIATE")) return false;
    const bool ok = body();
    return db->Exec(ok ? "COMMIT" : "ROLLBACK") && ok;
  };
  return Measure(o.workers, [&](int w) {
    int64_t job = 0;
    const bool claimed = in_transaction([&] {
      auto stmt = db->Prepare(
          "UPDATE q SET state = 1, node = ?1 WHERE id = "
          "(SELECT id FROM q WHERE state = 0 ORDER BY id LIMIT 1) RETURNING id",
          int64_t{w});
      if (!stmt) return false;
      auto row = stmt->Step();
      if (!row || !*row) return false;
      job = stmt->Int(0);
      return true;
    });
    if (!claimed) return false;
    return in_transaction([&] {
      auto done = db->Run("UPDATE q SET state = 2, result = ?2 WHERE id = ?1 AND node = ?3", job,
                          result, int64_t{w});
      return done && *done == 1;
    });
  });
}

Result<double> HttpRun(const Options& o, const std::filesystem::path& dir, bool keep_alive) {
  CoordinatorOptions co;
  co.data_dir = dir / (keep_alive ? "coordinator-keep-alive" : "coordinator");
  co.port = 0;
  auto coordinator = Coordinator::Start(co, SystemClock::Get());
  if (!coordinator) return std::unexpected(coordinator.error());
  if (auto r = (*coordinator)
                   ->store()
                   .AddEpisodes(std::nullopt, Episodes(o.jobs), SystemClock::Get().Now());
      !r)
    return std::unexpected(r.error());
  HttpClientOptions client_options;
  client_options.reuse_connections = keep_alive;
  auto http = MakeCurlClient(client_options);
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

// Runs the three loops with `o.workers` workers and prints their rates and ratios.
int RunOnce(const Options& o) {
  const auto dir = std::filesystem::temp_directory_path() /
                   fmt::format("podfleet-bench-queue-{}-{}", ::getpid(), o.workers);
  std::filesystem::create_directories(dir);
  auto raw = RawRun(o, dir);
  const double raw_cpu = last_cpu_us_per_cycle;
  auto store = StoreRun(o, dir);
  const double store_cpu = last_cpu_us_per_cycle;
  auto http = HttpRun(o, dir, /*keep_alive=*/false);
  const double http_cpu = last_cpu_us_per_cycle;
  auto kept = HttpRun(o, dir, /*keep_alive=*/true);
  const double kept_cpu = last_cpu_us_per_cycle;
  std::filesystem::remove_all(dir);
  for (const Result<double>* r : {&raw, &store, &http, &kept}) {
    if (!*r) {
      fmt::print(stderr, "bench/queue: {}\n", r->error().ToString());
      return 1;
    }
  }
  fmt::print("bench/queue: {} jobs, {} workers, SQLite (WAL, synchronous=FULL)\n", o.jobs,
             o.workers);
  fmt::print("  raw SQLite loop:  {:8.0f} claim+complete cycles/s (one transaction per call)\n",
             *raw);
  fmt::print("  store directly:   {:8.0f} claim+complete cycles/s\n", *store);
  fmt::print("  through HTTP API: {:8.0f} claim+complete cycles/s (a connection per call)\n",
             *http);
  fmt::print("  HTTP, keep-alive: {:8.0f} claim+complete cycles/s (client reuses connections)\n",
             *kept);
  fmt::print(
      "  CPU per cycle (all threads, clients included): raw {:.0f} us, store {:.0f} us, "
      "HTTP {:.0f} us, HTTP keep-alive {:.0f} us\n",
      raw_cpu, store_cpu, http_cpu, kept_cpu);
  fmt::print("  ratio store/raw:  {:.2f}\n", *store / *raw);
  fmt::print("  ratio HTTP/raw:   {:.2f}\n", *http / *raw);
  fmt::print("  ratio HTTP/store: {:.2f}\n", *http / *store);
  fmt::print("  ratio HTTP keep-alive/raw: {:.2f}\n", *kept / *raw);
  return 0;
}

int Main(int argc, char** argv) {
  Options o;
  std::vector<int> counts{o.workers};
  const int parsed =
      ParseBenchArgs(argc, argv, "[--jobs N] [--workers N[,N...]]",
                     {{"--jobs", [&](const char* v) { o.jobs = std::atoi(v); }},
                      {"--workers", [&](const char* v) { counts = ParseCounts(v); }}});
  if (parsed >= 0) return parsed;
  if (o.jobs < 1 || counts.empty()) {
    fmt::print(stderr, "usage: podfleet_bench_queue [--jobs N] [--workers N[,N...]]\n");
    return 2;
  }
  for (int workers : counts) {
    o.workers = workers;
    if (int rc = RunOnce(o); rc != 0) return rc;
  }
  return 0;
}

}  // namespace
}  // namespace podfleet

int main(int argc, char** argv) { return podfleet::Main(argc, argv); }
