// bench/load: many simulated workers against one coordinator, over real sockets, for a fixed time.
//
// The coordinator is the real `podfleet serve` (the binary beside this one), started as a child
// process on a fresh data directory, so its CPU time and peak memory are its own. Each simulated
// worker registers, then loops: claim (long poll), hold the job for a simulated work time while
// heartbeating its progress, complete it. A separate thread of each worker heartbeats whether it
// holds a job or not, paced as `podfleet work` paces it (worker/heartbeat_pace.h). A feeder adds
// episodes through the admin API at --feed-rate per second, so some workers wait in long polls
// while others work. All calls go through the project's CoordinatorClient (libcurl); each
// simulated worker has its own client keeping its connections open, as `podfleet work` does
// (WorkerHttpOptions), or with --keep-alive 0 a connection per call, as workers did before.
//
// All workers start at the same instant, a burst no fleet makes: the calls that start in the first
// --warmup-s seconds are reported apart, on one line. The table covers the --duration-s seconds
// after it; work still in hand when they end is dropped, not completed (a thousand completes at
// one instant would be the bench's burst again).
//
// Reports per route: calls, errors, p50/p99/max latency; requests per second; the coordinator's
// CPU time and peak resident memory (from /proc); and a consistency check: completes acknowledged
// equals jobs the coordinator counts as completed (nothing lost, nothing doubled). The load
// generator shares the machine with the coordinator, so its own scheduling delay is part of every
// latency it measures: "(generator lag)" is how late a 10 ms timer of its own wakes up, to tell the
// two apart. --samples writes every call (route, end, latency) to a CSV file.
//
// Usage: podfleet_bench_load [--workers 1000] [--duration-s 60] [--warmup-s 5]
//                            [--heartbeat-ms 5000] [--claim-wait-ms 5000] [--work-ms 2500]
//                            [--feed-rate 150] [--preload 1000] [--samples FILE.csv]
//                            [--steady-heartbeats 0|1] [--keep-alive 0|1]
// Episodes are queued before the start (--preload) and added during the run (--feed-rate); the
// feeder is one thread, so a slow coordinator also shows as fewer episodes added than asked.
#include <fmt/format.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "api/client.h"
#include "args.h"
#include "coordinator/admin_token.h"
#include "coordinator/coordinator.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "store/store.h"
#include "worker/heartbeat_pace.h"
#include "worker/worker.h"

namespace podfleet {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int workers = 1000;
  int duration_s = 60;  // measured, after the warm-up
  int warmup_s = 5;     // from the start of all workers at once, reported apart
  int heartbeat_ms = 5'000;
  int claim_wait_ms = 5'000;
  int work_ms = 2'500;        // mean simulated work per job; each job takes 0.5x-1.5x of it
  int feed_rate = 150;        // episodes added per second (0: none)
  int preload = 1000;         // episodes queued before the workers start
  int steady_heartbeats = 0;  // 1: every pause exactly --heartbeat-ms, as workers paced them
                              // before worker/heartbeat_pace.h (for comparison)
  int keep_alive = 1;   // 1: each worker keeps its connections (WorkerHttpOptions); 0: one per call
  std::string samples;  // a CSV file for every call: route, end (ms since start), latency (ms)
};

// Latencies and errors of one route, from every thread.
class RouteStats {
 public:
  void Add(Clock::duration d, const Result<void>& outcome) {
    const auto end = Clock::now();
    std::lock_guard lock(mu_);
    micros_.push_back(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
    ends_.push_back(end);
    if (!outcome) {
      ++errors_;
      if (first_error_.empty()) first_error_ = outcome.error().ToString();
    }
  }
  void Print(std::string_view route, double seconds) {
    std::lock_guard lock(mu_);
    if (micros_.empty()) return;
    std::sort(micros_.begin(), micros_.end());
    auto at = [&](double q) {
      return micros_[std::min(micros_.size() - 1, size_t(q * double(micros_.size())))] / 1000.0;
    };
    fmt::print("  {:<20} {:>8} {:>8.1f} {:>7} {:>9.2f} {:>9.2f} {:>9.2f}\n", route, micros_.size(),
               double(micros_.size()) / seconds, errors_, at(0.5), at(0.99),
               micros_.back() / 1000.0);
    if (!first_error_.empty()) fmt::print("    first error: {}\n", first_error_);
  }
  void Dump(std::string_view route, Clock::time_point start, FILE* out) {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < ends_.size(); ++i)
      fmt::print(out, "{},{:.3f},{:.3f}\n", route,
                 std::chrono::duration<double, std::milli>(ends_[i] - start).count(),
                 micros_[i] / 1000.0);
  }
  size_t calls() {
    std::lock_guard lock(mu_);
    return micros_.size();
  }
  int64_t errors() {
    std::lock_guard lock(mu_);
    return errors_;
  }

 private:
  std::mutex mu_;
  std::vector<int64_t> micros_;
  std::vector<Clock::time_point> ends_;
  int64_t errors_ = 0;
  std::string first_error_;
};

struct Stats {
  RouteStats reg, claim_job, claim_empty, heartbeat, complete, add_episode;
  RouteStats generator_lag;  // how late the load generator's own 10 ms timer wakes up
  RouteStats warmup;         // every call that started before `measured_from`, all routes
  std::atomic<int64_t> completed{0};
  Clock::time_point start;
  std::atomic<Clock::time_point> measured_from{Clock::time_point::min()};

  // Where a call that started at `at` is counted.
  RouteStats& For(RouteStats& route, Clock::time_point at) {
    return at < measured_from.load() ? warmup : route;
  }
};

// Times `call`, records it in `route` (or the warm-up) and returns its result.
template <class F>
auto Timed(Stats& stats, RouteStats& route, F&& call) {
  const auto start = Clock::now();
  auto result = call();
  Result<void> outcome;
  if (!result) outcome = std::unexpected(result.error());
  stats.For(route, start).Add(Clock::now() - start, outcome);
  return result;
}

// The coordinator as a child process: `podfleet serve` on `data` and `port`.
class ChildCoordinator {
 public:
  ChildCoordinator(const std::filesystem::path& binary, const std::filesystem::path& data, int port,
                   const Options& o) {
    const std::string port_text = std::to_string(port);
    const std::string heartbeat = fmt::format("{}ms", o.heartbeat_ms);
    const std::string log = (data / "serve.log").string();
    pid_ = fork();
    if (pid_ == 0) {
      FILE* out = std::freopen(log.c_str(), "w", stdout);
      if (out) dup2(fileno(out), STDERR_FILENO);
      // Origin mode: the episodes' URLs are never fetched, so the relay must not hold them.
      execl(binary.c_str(), "podfleet", "serve", "--data", data.c_str(), "--port",
            port_text.c_str(), "--heartbeat", heartbeat.c_str(), "--audio", "origin",
            static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~ChildCoordinator() { Stop(); }
  ChildCoordinator(const ChildCoordinator&) = delete;
  ChildCoordinator& operator=(const ChildCoordinator&) = delete;

  pid_t pid() const { return pid_; }
  // User+system CPU seconds so far (while it runs).
  double CpuSeconds() const {
    std::ifstream in(fmt::format("/proc/{}/stat", pid_));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t close = text.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream fields(text.substr(close + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; fields >> field; ++i) {  // field 3 is the state
      if (i == 14) utime = std::stod(field);
      if (i == 15) {
        stime = std::stod(field);
        break;
      }
    }
    return (utime + stime) / double(sysconf(_SC_CLK_TCK));
  }
  // A line of /proc/<pid>/status in MiB ("VmHWM" is the peak resident set).
  double StatusMiB(std::string_view key) const {
    std::ifstream in(fmt::format("/proc/{}/status", pid_));
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with(key) && line.size() > key.size() && line[key.size()] == ':')
        return std::stod(line.substr(key.size() + 1)) / 1024.0;
    }
    return 0;
  }
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

// A free loopback port, found by binding port 0.
Result<int> FreePort() {
  auto server = HttpServer::Start({.port = 0}, [](HttpRequest, HttpResponder) {});
  if (!server) return std::unexpected(server.error());
  const int port = (*server)->port();
  (*server)->Stop();
  return port;
}

void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
}

// One simulated worker: a claim/work loop and a heartbeat loop sharing what it holds.
class SimWorker {
 public:
  SimWorker(int index, const std::string& base_url, HttpClient& http, Stats& stats,
            const Options& o)
      : index_(index), client_(base_url, http), stats_(stats), options_(o) {}

  Result<void> Register(const std::string& enrollment) {
    NodeInfo info;
    info.name = fmt::format("sim-{:04d}", index_);
    info.engine = "simulated";
    auto reg = Timed(stats_, stats_.reg, [&] { return client_.Register(enrollment, info); });
    if (!reg) return std::unexpected(reg.error());
    client_.set_node_token(reg->token);
    return {};
  }

  void WorkLoop(const std::atomic<bool>& stop) {
    std::mt19937_64 rng(index_);
    std::uniform_int_distribution<int> work(options_.work_ms / 2, options_.work_ms * 3 / 2);
    while (!stop) {
      const auto start = Clock::now();
      auto grants = client_.Claim(1, Millis(options_.claim_wait_ms));
      const bool got = grants && !grants->empty();
      Result<void> outcome;
      if (!grants) outcome = std::unexpected(grants.error());
      stats_.For(got ? stats_.claim_job : stats_.claim_empty, start)
          .Add(Clock::now() - start, outcome);
      if (!grants) SleepUnless(stop, Millis(1'000));
      if (!got) continue;
      const Lease lease = grants->front().lease;
      Hold(lease);
      SleepUnless(stop, Millis(work(rng)));
      // Work cut short by the end of the run is not completed: 1,000 workers completing at the
      // same instant is a burst no fleet makes, and it would be measured as the route's tail.
      if (stop) break;
      if (Timed(stats_, stats_.complete, [&] { return client_.Complete(lease, OneSegment()); }))
        ++stats_.completed;
      Hold(std::nullopt);
    }
  }

  // Paced as `podfleet work` paces its heartbeats (worker/heartbeat_pace.h).
  void HeartbeatLoop(const std::atomic<bool>& stop) {
    std::mt19937_64 rng(index_ + 1'000'000);
    // Spread the first heartbeats over one interval, as workers started at different times do.
    SleepUnless(stop, Millis(index_ * 7919 % options_.heartbeat_ms));
    while (!stop) {
      std::vector<Progress> held;
      {
        std::lock_guard lock(mu_);
        if (held_) held.push_back(Progress{held_->job, held_->attempt, Stage::kTranscribing, 0.5});
      }
      Timed(stats_, stats_.heartbeat, [&] { return client_.Heartbeat(held); });
      const Millis interval(options_.heartbeat_ms);
      SleepUnless(stop, options_.steady_heartbeats ? interval : HeartbeatPause(interval, rng()));
    }
  }

 private:
  static Transcript OneSegment() {
    Transcript t;
    t.engine = "simulated";
    t.audio_duration = Millis(60'000);
    t.segments.push_back(Segment{Millis(0), Millis(60'000), "load test", "", {}});
    return t;
  }
  void Hold(std::optional<Lease> lease) {
    std::lock_guard lock(mu_);
    held_ = lease;
  }
  static void SleepUnless(const std::atomic<bool>& stop, Millis d) {
    const auto until = Clock::now() + d;
    while (!stop && Clock::now() < until)
      std::this_thread::sleep_for(std::min<Clock::duration>(Millis(100), until - Clock::now()));
  }

  const int index_;
  CoordinatorClient client_;
  Stats& stats_;
  const Options& options_;
  std::mutex mu_;
  std::optional<Lease> held_;  // guarded by mu_
};

// Adds `rate` episodes per second through the admin API until `stop`.
void Feed(CoordinatorClient& admin, Stats& stats, int rate, const std::atomic<bool>& stop) {
  const auto start = Clock::now();
  for (int64_t n = 0; !stop; ++n) {
    std::this_thread::sleep_until(start + std::chrono::microseconds(n * 1'000'000 / rate));
    const nlohmann::json body = {{"url", fmt::format("http://127.0.0.1:9/load/{}.mp3", n)},
                                 {"title", fmt::format("load {}", n)}};
    Timed(stats, stats.add_episode, [&] { return admin.PostJson("/api/episodes", body); });
  }
}

// Until `stop`, sleeps 10 ms at a time and records how late each wake-up is: the load generator's
// own scheduling delay, which every latency it measures also includes.
void ProbeScheduling(Stats& stats, const std::atomic<bool>& stop) {
  auto next = Clock::now();
  while (!stop) {
    next += Millis(10);
    std::this_thread::sleep_until(next);
    const auto now = Clock::now();
    if (next >= stats.measured_from.load()) stats.generator_lag.Add(now - next, {});
    next = std::max(next, now - Millis(10));
  }
}

// Queues `preload` episodes in the coordinator's store and returns an enrollment token.
Result<std::string> PrepareData(const std::filesystem::path& data, int preload) {
  std::filesystem::create_directories(data);
  auto store = OpenSqliteStore((data / "podfleet.db").string());
  if (!store) return std::unexpected(store.error());
  std::vector<EpisodeInfo> episodes;
  for (int i = 0; i < preload; ++i)
    episodes.push_back(EpisodeInfo{fmt::format("preload-{}", i), fmt::format("preload {}", i),
                                   fmt::format("http://127.0.0.1:9/preload/{}.mp3", i)});
  const TimePoint now = SystemClock::Get().Now();
  if (auto r = (*store)->AddEpisodes(std::nullopt, episodes, now); !r)
    return std::unexpected(r.error());
  return CreateEnrollmentToken(**store, "load test", now);
}

Result<void> WaitHealthy(CoordinatorClient& client) {
  const auto until = Clock::now() + std::chrono::seconds(30);
  Result<nlohmann::json> health = Unavailable("not started");
  while (Clock::now() < until) {
    health = client.GetJson("/api/health");
    if (health) return {};
    std::this_thread::sleep_for(Millis(50));
  }
  return std::unexpected(health.error());
}

struct Run {
  double seconds = 0;
  double cpu_seconds = 0;
  double peak_mib = 0;
  double rss_mib = 0;
  int64_t coordinator_completed = -1;
};

Result<Run> Load(const Options& o, const std::filesystem::path& binary,
                 const std::filesystem::path& data, Stats& stats) {
  auto enrollment = PrepareData(data, o.preload);
  if (!enrollment) return std::unexpected(enrollment.error());
  auto port = FreePort();
  if (!port) return std::unexpected(port.error());
  ChildCoordinator coordinator(binary, data, *port, o);
  const std::string base = fmt::format("http://127.0.0.1:{}", *port);
  auto http = MakeCurlClient(HttpClientOptions{});
  CoordinatorClient admin(base, *http);
  if (auto up = WaitHealthy(admin); !up) return std::unexpected(up.error());
  auto admin_token = ReadAdminToken(data / kAdminTokenFile);
  if (!admin_token) return std::unexpected(admin_token.error());
  admin.set_admin_token(*admin_token);

  std::vector<std::unique_ptr<HttpClient>> own_clients;  // --keep-alive 1: one per worker
  std::vector<std::unique_ptr<SimWorker>> workers;
  for (int i = 0; i < o.workers; ++i) {
    if (o.keep_alive) own_clients.push_back(MakeCurlClient(WorkerHttpOptions()));
    HttpClient& client = o.keep_alive ? *own_clients.back() : *http;
    workers.push_back(std::make_unique<SimWorker>(i, base, client, stats, o));
    if (auto r = workers.back()->Register(*enrollment); !r) return std::unexpected(r.error());
  }
  std::atomic<bool> stop{false};
  Run run;
  stats.start = Clock::now();
  const auto start = stats.start + std::chrono::seconds(o.warmup_s);
  stats.measured_from = start;
  std::vector<std::thread> threads;
  threads.emplace_back([&] { ProbeScheduling(stats, stop); });
  for (auto& w : workers) {
    threads.emplace_back([&w, &stop] { w->WorkLoop(stop); });
    threads.emplace_back([&w, &stop] { w->HeartbeatLoop(stop); });
  }
  if (o.feed_rate > 0) threads.emplace_back([&] { Feed(admin, stats, o.feed_rate, stop); });
  std::this_thread::sleep_until(start);
  const double cpu_before = coordinator.CpuSeconds();
  std::this_thread::sleep_for(std::chrono::seconds(o.duration_s));
  run.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  run.cpu_seconds = coordinator.CpuSeconds() - cpu_before;
  stop = true;
  for (auto& t : threads) t.join();
  run.peak_mib = coordinator.StatusMiB("VmHWM");
  run.rss_mib = coordinator.StatusMiB("VmRSS");
  if (auto q = admin.GetJson("/api/queue/status"); q)
    run.coordinator_completed = (*q)["transcribe_queue"].value("completed", int64_t{-1});
  return run;
}

void DumpSamples(const std::string& path, Stats& stats) {
  FILE* out = std::fopen(path.c_str(), "w");
  if (!out) {
    fmt::print(stderr, "bench/load: cannot write {}\n", path);
    return;
  }
  fmt::print(out, "route,end_ms,latency_ms\n");
  stats.claim_job.Dump("claim_job", stats.start, out);
  stats.claim_empty.Dump("claim_empty", stats.start, out);
  stats.heartbeat.Dump("heartbeat", stats.start, out);
  stats.complete.Dump("complete", stats.start, out);
  stats.add_episode.Dump("add_episode", stats.start, out);
  stats.generator_lag.Dump("generator_lag", stats.start, out);
  std::fclose(out);
}

int Main(int argc, char** argv) {
  Options o;
  BenchFlags flags;
  for (auto [name, field] : {std::pair{"--workers", &o.workers},
                             {"--duration-s", &o.duration_s},
                             {"--warmup-s", &o.warmup_s},
                             {"--heartbeat-ms", &o.heartbeat_ms},
                             {"--claim-wait-ms", &o.claim_wait_ms},
                             {"--work-ms", &o.work_ms},
                             {"--feed-rate", &o.feed_rate},
                             {"--preload", &o.preload},
                             {"--steady-heartbeats", &o.steady_heartbeats},
                             {"--keep-alive", &o.keep_alive}}) {
    flags.emplace(name, [field](const char* v) { *field = std::atoi(v); });
  }
  flags.emplace("--samples", [&o](const char* v) { o.samples = v; });
  const int parsed =
      ParseBenchArgs(argc, argv,
                     "[--workers N] [--duration-s S] [--warmup-s S] [--heartbeat-ms MS] "
                     "[--claim-wait-ms MS] [--work-ms MS] [--feed-rate N] "
                     "[--preload N] [--samples FILE.csv] [--steady-heartbeats 0|1] "
                     "[--keep-alive 0|1]",
                     flags);
  if (parsed >= 0) return parsed;
  if (o.workers <= 0 || o.duration_s <= 0 || o.warmup_s < 0 || o.heartbeat_ms <= 0 ||
      o.work_ms <= 1) {
    fmt::print(stderr,
               "{}: workers, duration, heartbeat and work must be positive, warm-up not negative\n",
               argv[0]);
    return 2;
  }
  RaiseFileLimit();
  const auto binary = std::filesystem::canonical("/proc/self/exe").parent_path() / "podfleet";
  const auto dir =
      std::filesystem::temp_directory_path() / fmt::format("podfleet-bench-load-{}", ::getpid());
  Stats stats;
  auto run = Load(o, binary, dir / "data", stats);
  std::filesystem::remove_all(dir);
  if (!run) {
    fmt::print(stderr, "bench/load: {}\n", run.error().ToString());
    return 1;
  }
  rusage self{};
  getrusage(RUSAGE_SELF, &self);
  const double seconds = run->seconds;
  const size_t requests = stats.claim_job.calls() + stats.claim_empty.calls() +
                          stats.heartbeat.calls() + stats.complete.calls() +
                          stats.add_episode.calls();
  fmt::print(
      "bench/load: {} simulated workers, {:.1f} s measured after a {} s warm-up, heartbeat {} ms, "
      "claim wait {} ms, work {} ms, feed {}/s, preload {}\n",
      o.workers, seconds, o.warmup_s, o.heartbeat_ms, o.claim_wait_ms, o.work_ms, o.feed_rate,
      o.preload);
  if (!o.samples.empty()) DumpSamples(o.samples, stats);
  fmt::print("  {:<20} {:>8} {:>8} {:>7} {:>9} {:>9} {:>9}\n", "route", "calls", "per s", "errors",
             "p50 ms", "p99 ms", "max ms");
  stats.reg.Print("register", seconds);
  stats.claim_job.Print("claim (got a job)", seconds);
  stats.claim_empty.Print("claim (long poll)", seconds);
  stats.heartbeat.Print("heartbeat", seconds);
  stats.complete.Print("complete", seconds);
  stats.add_episode.Print("add episode", seconds);
  stats.generator_lag.Print("(generator lag)", seconds);
  stats.warmup.Print("(warm-up, all)", o.warmup_s);
  fmt::print("  requests/s (after registering): {:.0f}\n", double(requests) / seconds);
  fmt::print(
      "  coordinator: {:.1f} s CPU ({:.0f}% of one core), peak RSS {:.1f} MiB, "
      "RSS at end {:.1f} MiB\n",
      run->cpu_seconds, 100 * run->cpu_seconds / seconds, run->peak_mib, run->rss_mib);
  fmt::print("  load generator: {:.1f} s CPU\n",
             double(self.ru_utime.tv_sec + self.ru_stime.tv_sec) +
                 double(self.ru_utime.tv_usec + self.ru_stime.tv_usec) / 1e6);
  const bool consistent = run->coordinator_completed == stats.completed.load();
  fmt::print("  completes acknowledged {}, coordinator counts {} completed: {}\n",
             stats.completed.load(), run->coordinator_completed,
             consistent ? "consistent" : "MISMATCH");
  return consistent ? 0 : 1;
}

}  // namespace
}  // namespace podfleet

int main(int argc, char** argv) { return podfleet::Main(argc, argv); }
