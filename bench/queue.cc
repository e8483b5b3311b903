// bench/queue: durable claim-and-complete cycles per second through the coordinator's HTTP API,
// next to the same cycles straight on the store, and next to a raw loop on the same database, on
// SQLite and on PostgreSQL, all in the same run, with their ratios.
//
// The raw loops are the physical ceiling on this machine, two durable transactions per cycle
// (claim: one UPDATE ... RETURNING; complete: one UPDATE storing a transcript of the same size) on
// a one-table queue, nothing else:
//   SQLite      one connection with the store's pragmas (WAL, synchronous=FULL); each
//               transaction commits alone, as a straightforward queue on SQLite does.
//   PostgreSQL  a connection per worker; the claim picks its row with FOR UPDATE SKIP LOCKED.
// The store adds attempts, fencing, episode states and job results; HTTP adds the API. On
// PostgreSQL the HTTP rows run 1, 2 and 3 real coordinators on one database, the workers spread
// round-robin over them.
//
// Every commit is durable: SQLite's synchronous=FULL; a private PostgreSQL 15 server
// (tests/support/pg-server, run from the source tree) started with fsync, synchronous_commit and
// full_page_writes on, the server's defaults (the tests' server turns them off). The bench prints
// the settings the server reports. The SQLite store and HTTP API commit concurrent writers
// together (group commit, store_sqlite.h); PostgreSQL groups concurrent commits' WAL flushes.
//
// HTTP on SQLite is measured four ways: with the client as a worker used it before (one
// connection per call, a claim and a complete per cycle), the figure the ratios are of; with the
// complete that also leases the next job (Complete's "claim" field, one request per cycle),
// labelled "complete+claim"; and each again with the client keeping its connections open
// (HttpClientOptions::reuse_connections), labelled "keep-alive", where the coordinator no longer
// accepts and closes a connection per call. Then batched, as a worker with several engine slots
// calls (labelled "batch B"): each worker claims B jobs at once and completes them all in one
// request (POST /api/workers/complete, one store transaction) that also claims its next B, over
// kept connections. B=1 is the default worker's shape (one engine slot); B=8 a GPU worker with 8
// engine states. A cycle is still one job claimed and completed.
//
// CPU per cycle ("CPU us", this process) is split two ways: "clients" is what the worker threads
// spent themselves (curl, JSON, the kernel's side of their sockets; the rest is the coordinator's
// and the store's threads), and "kernel" is the system time of all threads (sockets, fsync,
// futexes), the rest being user time. For PostgreSQL's rows "CPU us" adds the server's processes.
//
// Usage: podfleet_bench_queue [--jobs N] [--workers N[,N...]] [--postgres on|off] [--only ROWS]
// Each cycle leases one job and completes it with a one-segment transcript. Every row uses a fresh
// database (SQLite files in a temporary directory, a new PostgreSQL database); a list of worker
// counts runs every row per count. --postgres off leaves out the PostgreSQL rows. --only runs just
// the SQLite rows named (a comma list of store, http, combined, keep-alive, combined-keep-alive,
// batch1, batch8, batch32) besides the raw loop, which always runs; it leaves out PostgreSQL.
#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/client.h"
#include "args.h"
#include "coordinator/coordinator.h"
#include "net/http_client.h"
#include "pg_server.h"
#include "store/pg_conn.h"
#include "store/sqlite_db.h"
#include "store/store.h"

namespace podfleet {
namespace {

struct Options {
  int jobs = 2000;
  int workers = 4;
  std::vector<std::string> only;  // the SQLite rows to run besides the raw loop; empty: all
};

// Whether `o` runs the row named `key` (--only).
bool Runs(const Options& o, std::string_view key) {
  return o.only.empty() || std::find(o.only.begin(), o.only.end(), key) != o.only.end();
}

// PostgreSQL's HTTP rows run 1 to this many coordinators.
constexpr int kMaxCoordinators = 3;

// "a,b,c" -> {"a", "b", "c"}; empty items are dropped.
std::vector<std::string> SplitList(const std::string& list) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at <= list.size()) {
    const size_t comma = std::min(list.find(',', at), list.size());
    if (comma > at) out.push_back(list.substr(at, comma - at));
    at = comma + 1;
  }
  return out;
}

// "1,8,64" -> {1, 8, 64}; counts below 1 are dropped.
std::vector<int> ParseCounts(const std::string& list) {
  std::vector<int> out;
  for (const std::string& item : SplitList(list))
    if (const int n = std::atoi(item.c_str()); n > 0) out.push_back(n);
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

double Micros(const timeval& t) { return static_cast<double>(t.tv_sec) * 1e6 + t.tv_usec; }

// The process's CPU time (user + system, every thread) in microseconds.
double CpuMicros() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return Micros(u.ru_utime) + Micros(u.ru_stime);
}

// The process's CPU time in the kernel (system time, every thread) in microseconds.
double KernelCpuMicros() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return Micros(u.ru_stime);
}

// The CPU time per cycle of the last Measure, in microseconds: all threads of this process, the
// clients' included (for HTTP, curl and the coordinators all run here), plus the PostgreSQL
// server's processes for its rows; and the part of it spent on the worker threads themselves.
double last_cpu_us_per_cycle = 0;
double last_client_cpu_us_per_cycle = 0;
double last_kernel_cpu_us_per_cycle = 0;  // this process's system time alone

// The calling thread's CPU time (user + system) in microseconds.
double ThreadCpuMicros() {
  rusage u{};
  ::getrusage(RUSAGE_THREAD, &u);
  return Micros(u.ru_utime) + Micros(u.ru_stime);
}

// Runs `cycle` on `workers` threads until it returns false (or 0); returns cycles per second. A
// `cycle` that returns a count did that many cycles.
// `server_cpu` reads the CPU time of a database server outside this process (0: none).
template <class Cycle>
double Measure(int workers, Cycle cycle, const std::function<double()>& server_cpu = {}) {
  auto cpu = [&] { return CpuMicros() + (server_cpu ? server_cpu() : 0.0); };
  std::atomic<int64_t> done{0};
  std::mutex mu;
  double client_cpu = 0;
  const double cpu_start = cpu();
  const double kernel_start = KernelCpuMicros();
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      while (const int n = cycle(w)) done += n;
      const double mine = ThreadCpuMicros();
      std::lock_guard lock(mu);
      client_cpu += mine;
    });
  }
  for (auto& t : threads) t.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto cycles = static_cast<double>(std::max<int64_t>(1, done));
  last_cpu_us_per_cycle = (cpu() - cpu_start) / cycles;
  last_client_cpu_us_per_cycle = client_cpu / cycles;
  last_kernel_cpu_us_per_cycle = (KernelCpuMicros() - kernel_start) / cycles;
  return static_cast<double>(done.load()) / seconds;
}

// Claim and complete through the Store interface, one node per worker.
Result<double> StoreRun(const Options& o, Store& store, const std::function<double()>& server_cpu) {
  const Clock& clock = SystemClock::Get();
  if (auto r = store.AddEpisodes(std::nullopt, Episodes(o.jobs), clock.Now()); !r)
    return std::unexpected(r.error());
  std::vector<NodeId> nodes;
  for (int w = 0; w < o.workers; ++w) {
    auto node =
        store.RegisterNode(NodeInfo{fmt::format("w{}", w)}, fmt::format("hash{}", w), clock.Now());
    if (!node) return std::unexpected(node.error());
    nodes.push_back(node->id);
  }
  const Transcript transcript = OneSegment();
  return Measure(
      o.workers,
      [&](int w) {
        auto grants = store.Claim(nodes[w], 1, Millis(30'000), clock.Now());
        if (!grants || grants->empty()) return false;
        const Lease& l = grants->front().lease;
        return static_cast<bool>(
            store.Complete(nodes[w], l.job, l.attempt, transcript, clock.Now()));
      },
      server_cpu);
}

// The raw SQLite loop: the least SQLite work a durable claim and complete can be.
Result<double> RawSqliteRun(const Options& o, const std::filesystem::path& dir) {
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

// The raw PostgreSQL loop: a one-table queue claimed with FOR UPDATE SKIP LOCKED, a connection
// per worker, two durable transactions per cycle (each statement commits on its own).
Result<double> RawPgRun(const Options& o, const std::string& url,
                        const std::function<double()>& server_cpu) {
  Result<PgConn> setup = PgConn::Connect(url);
  if (!setup) return std::unexpected(setup.error());
  Result<void> r = setup->Exec(
      fmt::format("CREATE TABLE q (id BIGSERIAL PRIMARY KEY, state INTEGER NOT NULL, node BIGINT, "
                  "result TEXT);"
                  "CREATE INDEX q_queued ON q (id) WHERE state = 0;"
                  "INSERT INTO q (state) SELECT 0 FROM generate_series(1, {});",
                  o.jobs));
  if (r) r = setup->Exec("VACUUM ANALYZE q");  // alone: not inside the script's transaction
  if (!r) return std::unexpected(r.error());
  std::vector<PgConn> conns;
  for (int w = 0; w < o.workers; ++w) {
    Result<PgConn> c = PgConn::Connect(url);
    if (!c) return std::unexpected(c.error());
    conns.push_back(std::move(*c));
  }
  const std::string result = EncodeTranscriptForBench();
  return Measure(
      o.workers,
      [&](int w) {
        PgConn& c = conns[static_cast<size_t>(w)];
        Result<PgResult> claimed = c.Query(
            "UPDATE q SET state = 1, node = $1 WHERE id = (SELECT id FROM q WHERE state = 0 "
            "ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id",
            int64_t{w});
        if (!claimed || claimed->Rows() != 1) return false;
        const int64_t job = claimed->Row(0).Int(0);
        Result<int64_t> done =
            c.Run("UPDATE q SET state = 2, result = $2 WHERE id = $1 AND node = $3", job, result,
                  int64_t{w});
        return done && *done == 1;
      },
      server_cpu);
}

// How the HTTP rows' workers call: whether they keep connections open, and whether a complete
// also leases the next job (one request per cycle) or a claim and a complete are two.
struct HttpMode {
  bool keep_alive = false;
  bool complete_claims = false;
  int batch = 0;  // > 0: B jobs per claim and per complete (CompleteMany), which also claims
};

// A batched worker's round: completes the jobs it holds in one request that claims the next
// `batch`; returns how many it completed, 0 when it holds none and none is left to claim.
int BatchRound(CoordinatorClient& client, int batch, const Transcript& transcript,
               std::vector<Lease>& held) {
  if (held.empty()) {
    auto grants = client.Claim(batch, Millis(0));
    if (!grants || grants->empty()) return 0;
    for (const WireGrant& g : *grants) held.push_back(g.lease);
  }
  std::vector<ReadyResult> ready;
  for (const Lease& l : held) ready.push_back(ReadyResult{l, transcript});
  held.clear();
  auto done = client.CompleteMany(ready, batch, Millis(0));
  if (!done) return 0;
  if (done->leases)
    for (const WireGrant& g : *done->leases) held.push_back(g.lease);
  const auto completed = std::count_if(done->results.begin(), done->results.end(),
                                       [](const Result<void>& r) { return r.has_value(); });
  return static_cast<int>(completed);
}

// Workers spread round-robin over `coordinators` (all on one store), claiming and completing
// through the HTTP API.
Result<double> HttpRun(const Options& o,
                       const std::vector<std::unique_ptr<Coordinator>>& coordinators,
                       const std::function<double()>& server_cpu, HttpMode mode) {
  Store& store = coordinators.front()->store();
  const TimePoint now = SystemClock::Get().Now();
  if (auto r = store.AddEpisodes(std::nullopt, Episodes(o.jobs), now); !r)
    return std::unexpected(r.error());
  auto token = CreateEnrollmentToken(store, "bench", now);
  if (!token) return std::unexpected(token.error());
  HttpClientOptions client_options;
  client_options.reuse_connections = mode.keep_alive;
  auto http = MakeCurlClient(client_options);
  std::vector<std::unique_ptr<CoordinatorClient>> clients;
  for (int w = 0; w < o.workers; ++w) {
    const Coordinator& c = *coordinators[static_cast<size_t>(w) % coordinators.size()];
    auto client = std::make_unique<CoordinatorClient>(c.base_url(), *http);
    auto reg = client->Register(*token, NodeInfo{fmt::format("w{}", w)});
    if (!reg) return std::unexpected(reg.error());
    client->set_node_token(reg->token);
    clients.push_back(std::move(client));
  }
  const Transcript transcript = OneSegment();
  // The lease each worker got with its last completion, when it asked for one.
  std::vector<std::optional<Lease>> next(static_cast<size_t>(o.workers));
  std::vector<std::vector<Lease>> held(static_cast<size_t>(o.workers));
  return Measure(
      o.workers,
      [&](int w) -> int {
        if (mode.batch > 0)
          return BatchRound(*clients[w], mode.batch, transcript, held[static_cast<size_t>(w)]);
        std::optional<Lease>& lease = next[static_cast<size_t>(w)];
        if (!lease) {
          auto grants = clients[w]->Claim(1, Millis(0));
          if (!grants || grants->empty()) return false;
          lease = grants->front().lease;
        }
        if (!mode.complete_claims) {
          auto done = clients[w]->Complete(*lease, transcript);
          lease.reset();
          return static_cast<bool>(done);
        }
        auto done = clients[w]->CompleteAndClaim(*lease, transcript, Millis(-1), 1, Millis(0));
        lease.reset();
        if (!done) return false;
        if (done->has_value() && !(*done)->empty()) lease = (*done)->front().lease;
        return true;
      },
      server_cpu);
}

// `count` coordinators with default options on `store` ("" for SQLite in their data directory),
// each with its own data directory under `dir`.
Result<std::vector<std::unique_ptr<Coordinator>>> StartCoordinators(
    int count, const std::string& store, const std::filesystem::path& dir) {
  std::vector<std::unique_ptr<Coordinator>> out;
  for (int i = 0; i < count; ++i) {
    CoordinatorOptions co;
    co.store = store;
    co.data_dir = dir / fmt::format("coordinator-{}", i);
    co.port = 0;
    auto c = Coordinator::Start(co, SystemClock::Get());
    if (!c) return std::unexpected(c.error());
    out.push_back(std::move(*c));
  }
  return out;
}

Result<double> HttpOn(const Options& o, int coordinators, const std::string& store,
                      const std::filesystem::path& dir, const std::function<double()>& server_cpu,
                      HttpMode mode = {}) {
  auto started = StartCoordinators(coordinators, store, dir);
  if (!started) return std::unexpected(started.error());
  Result<double> rate = HttpRun(o, *started, server_cpu, mode);
  for (auto& c : *started) c->Stop();
  return rate;
}

struct Row {
  std::string name;
  Result<double> rate;
  double cpu_us = 0;
  double client_cpu_us = 0;
  double kernel_cpu_us = 0;
  const Row* raw = nullptr;          // the same backend's raw loop
  const Row* sqlite_same = nullptr;  // the SQLite row of the same layer, for PostgreSQL's rows
};

// Runs `run` and records it as a row.
template <class Run>
Row Measured(std::string name, Run run) {
  Row row{std::move(name), run()};
  row.cpu_us = last_cpu_us_per_cycle;
  row.client_cpu_us = last_client_cpu_us_per_cycle;
  row.kernel_cpu_us = last_kernel_cpu_us_per_cycle;
  return row;
}

void PrintRow(const Row& r) {
  auto ratio = [&](const Row* base) {
    return base && base != &r ? fmt::format("{:.2f}", *r.rate / *base->rate) : std::string("-");
  };
  fmt::print("  {:<44} {:>9.0f} {:>9.0f} {:>9.0f} {:>9.0f} {:>8} {:>10}\n", r.name, *r.rate,
             r.cpu_us, r.client_cpu_us, r.kernel_cpu_us, ratio(r.raw), ratio(r.sqlite_same));
}

// The server's settings that decide what a commit costs, as it reports them.
std::string PgSettings(const std::string& url) {
  Result<PgConn> c = PgConn::Connect(url);
  if (!c) return "unknown (" + c.error().ToString() + ")";
  std::string out;
  for (const char* name : {"server_version", "fsync", "synchronous_commit", "full_page_writes",
                           "wal_sync_method", "shared_buffers", "max_connections"}) {
    Result<PgResult> r = c->Query(fmt::format("SHOW {}", name));
    out += fmt::format("{}{}={}", out.empty() ? "" : " ", name,
                       r && r->Rows() == 1 ? r->Row(0).Text(0) : "?");
  }
  return out;
}

// Runs every row with `o.workers` workers and prints their rates and ratios.
int RunOnce(const Options& o, const BenchPgServer* pg) {
  const auto dir = std::filesystem::temp_directory_path() /
                   fmt::format("podfleet-bench-queue-{}-{}", ::getpid(), o.workers);
  std::filesystem::create_directories(dir);
  std::vector<Row> rows;
  // raw, store, then HTTP: two calls, complete+claim, each with and without keep-alive; batched
  constexpr size_t kMaxSqliteRows = 9;
  rows.reserve(kMaxSqliteRows + 2 + kMaxCoordinators);
  rows.push_back(Measured("SQLite raw loop (1 connection)", [&] { return RawSqliteRun(o, dir); }));
  if (Runs(o, "store")) {
    rows.push_back(Measured("SQLite store", [&]() -> Result<double> {
      auto store = OpenSqliteStore((dir / "store.db").string());
      if (!store) return std::unexpected(store.error());
      return StoreRun(o, **store, {});
    }));
  }
  struct HttpRow {
    const char* key;
    const char* name;
    const char* subdir;
    HttpMode mode;
  };
  const HttpRow http_rows[] = {
      {"http", "SQLite HTTP, 1 coordinator", "sqlite-http", {}},
      {"combined",
       "SQLite HTTP, complete+claim",
       "sqlite-http-combined",
       {.complete_claims = true}},
      {"keep-alive",
       "SQLite HTTP, keep-alive client",
       "sqlite-http-keep-alive",
       {.keep_alive = true}},
      {"combined-keep-alive",
       "SQLite HTTP, complete+claim, keep-alive",
       "sqlite-http-combined-keep-alive",
       {.keep_alive = true, .complete_claims = true}},
  };
  for (const HttpRow& h : http_rows) {
    if (!Runs(o, h.key)) continue;
    rows.push_back(Measured(h.name, [&] { return HttpOn(o, 1, "", dir / h.subdir, {}, h.mode); }));
  }
  for (int batch : {1, 8, 32}) {
    if (!Runs(o, fmt::format("batch{}", batch))) continue;
    rows.push_back(Measured(fmt::format("SQLite HTTP, batch {}, keep-alive", batch), [&] {
      return HttpOn(o, 1, "", dir / fmt::format("sqlite-http-batch-{}", batch), {},
                    {.keep_alive = true, .batch = batch});
    }));
  }
  // PostgreSQL's rows compare with the SQLite rows of the same layer: Main starts no server
  // when --only leaves some out.
  const size_t sqlite_rows = rows.size();
  if (pg) {
    const std::function<double()> server_cpu = [pg] { return pg->CpuMicros(); };
    auto db = [&](const std::string& what) -> Result<std::string> {
      auto url = pg->CreateDb(fmt::format("{}_{}", what, o.workers));
      if (!url) return Unavailable("cannot create a database for " + what);
      return *url;
    };
    rows.push_back(Measured("PostgreSQL raw SKIP LOCKED loop", [&]() -> Result<double> {
      auto url = db("raw");
      if (!url) return std::unexpected(url.error());
      return RawPgRun(o, *url, server_cpu);
    }));
    rows.push_back(Measured("PostgreSQL store (PgStore)", [&]() -> Result<double> {
      auto url = db("store");
      if (!url) return std::unexpected(url.error());
      auto store = OpenPgStore(*url);
      if (!store) return std::unexpected(store.error());
      return StoreRun(o, **store, server_cpu);
    }));
    for (int n = 1; n <= kMaxCoordinators; ++n) {
      rows.push_back(Measured(fmt::format("PostgreSQL HTTP, {} coordinator{}", n, n > 1 ? "s" : ""),
                              [&]() -> Result<double> {
                                auto url = db(fmt::format("http{}", n));
                                if (!url) return std::unexpected(url.error());
                                return HttpOn(o, n, *url, dir / fmt::format("pg-http-{}", n),
                                              server_cpu);
                              }));
    }
  }
  std::filesystem::remove_all(dir);
  for (const Row& r : rows) {
    if (!r.rate) {
      fmt::print(stderr, "bench/queue: {}: {}\n", r.name, r.rate.error().ToString());
      return 1;
    }
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    rows[i].raw = &rows[i < sqlite_rows ? 0 : sqlite_rows];
    if (i >= sqlite_rows) rows[i].sqlite_same = &rows[std::min<size_t>(i - sqlite_rows, 2)];
  }
  fmt::print("bench/queue: {} jobs, {} workers (threads of this process)\n", o.jobs, o.workers);
  fmt::print("  {:<44} {:>9} {:>9} {:>9} {:>9} {:>8} {:>10}\n", "claim+complete cycles", "cycles/s",
             "CPU us", "clients", "kernel", "x raw", "x SQLite");
  for (const Row& r : rows) PrintRow(r);
  return 0;
}

int Main(int argc, char** argv) {
  Options o;
  std::vector<int> counts{o.workers};
  bool postgres = true;
  constexpr std::string_view kUsage =
      "[--jobs N] [--workers N[,N...]] [--postgres on|off] [--only ROW[,ROW...]]";
  const int parsed = ParseBenchArgs(
      argc, argv, kUsage,
      {{"--jobs", [&](const char* v) { o.jobs = std::atoi(v); }},
       {"--workers", [&](const char* v) { counts = ParseCounts(v); }},
       {"--postgres", [&](const char* v) { postgres = std::string_view(v) != "off"; }},
       {"--only", [&](const char* v) { o.only = SplitList(v); }}});
  if (parsed >= 0) return parsed;
  if (o.jobs < 1 || counts.empty()) {
    fmt::print(stderr, "usage: podfleet_bench_queue {}\n", kUsage);
    return 2;
  }
  fmt::print("SQLite: WAL, synchronous=FULL (the store's own settings), files in {}\n",
             std::filesystem::temp_directory_path().string());
  // pg-server's test defaults turn durability off; a bench pays for every commit.
  if (!o.only.empty()) postgres = false;  // its rows compare with all of SQLite's
  std::optional<BenchPgServer> pg =
      postgres ? BenchPgServer::Start("queue",
                                      {"fsync=on", "synchronous_commit=on", "full_page_writes=on"})
               : std::nullopt;
  if (postgres) {
    auto probe = pg ? pg->CreateDb("settings") : std::nullopt;
    if (!probe) return 1;
    fmt::print(
        "PostgreSQL: a private server on this machine (tests/support/pg-server, initdb defaults, "
        "TCP loopback): {}\n",
        PgSettings(*probe));
  }
  for (int workers : counts) {
    o.workers = workers;
    if (int rc = RunOnce(o, pg ? &*pg : nullptr); rc != 0) return rc;
  }
  return 0;
}

}  // namespace
}  // namespace podfleet

int main(int argc, char** argv) { return podfleet::Main(argc, argv); }
