// The simulated worker of the benchmarks (bench/fleet, bench/relay): a real CoordinatorClient
// that claims, fetches and completes over HTTP as `podfleet work` does (src/worker/worker.cc:
// long-poll claims for as many jobs as its prefetch depth wants, fetches side by side ahead of
// the engine), with the engine a sleep of audio / speed. It does not decode what it fetches (a
// real worker decodes in its fetchers, overlapped with the engine).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "api/client.h"
#include "core/thread_annotations.h"
#include "net/http_client.h"
#include "worker/prefetch.h"

namespace podfleet::bench {

using Steady = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;

struct Policy {
  std::string name;
  bool relay = true;      // chunks as Opus; false: whole episodes as MP3 via /api/media
  bool long_poll = true;  // false: claim without waiting, then sleep poll_interval
  Millis poll_interval{5'000};
  int min_depth = 2;  // jobs ahead of the engine
  int max_depth = 4;
  int fetchers = 2;  // downloads side by side
};

struct EngineSpan {
  Steady::time_point begin;
  Steady::time_point end;
};

// What one simulated worker saw.
struct WorkerLog {
  double speed = 0;
  std::vector<EngineSpan> spans;
  std::vector<Steady::time_point> grants;  // when each claim reply with work arrived
  int64_t bytes = 0;                       // of audio fetched
  // Where each chunk fetched ends (seconds), by episode; the last chunk's end is left out.
  std::map<int64_t, std::vector<double>> cuts;
};

// One worker: claim thread, `fetchers` download threads, engine thread, upload thread, as
// src/worker/worker.cc arranges them, with the engine a sleep of audio / speed.
// Start, RequestStop and Stop are called from one thread; log() only before Start or after Stop.
class SimWorker {
 public:
  SimWorker(const std::string& server, HttpClient& http, double speed, const Policy& policy);
  ~SimWorker();
  SimWorker(const SimWorker&) = delete;
  SimWorker& operator=(const SimWorker&) = delete;

  // The speeds 87 and 393 register as rented pods (an A5000, an H200), so that the planner
  // counts them as pods.
  Result<void> Register(const std::string& enrollment, int index);
  void Start();
  // Asks the threads to end (a claim being long-polled ends when answered); Stop waits for them.
  void RequestStop();
  void Stop();

  const WorkerLog& log() const { return log_; }
  int64_t completed() const { return completed_; }

 private:
  struct Held {
    WireGrant grant;
    Millis audio{0};
    Millis engine{0};  // the engine's time on it, reported as a real worker does
  };

  int AheadLocked() const REQUIRES(mu_) { return static_cast<int>(ready_.size()) + fetching_; }
  bool stopping();

  void ClaimLoop();
  void FetchLoop();
  void EngineLoop();
  void UploadLoop();

  // Constant after construction.
  CoordinatorClient client_;
  HttpClient& http_;
  const double speed_;
  const Policy policy_;
  PrefetchPlanner planner_;  // thread-safe itself

  Mutex mu_;
  std::condition_variable_any changed_;
  std::deque<WireGrant> to_fetch_ GUARDED_BY(mu_);
  std::deque<Held> ready_ GUARDED_BY(mu_);
  std::deque<Held> uploads_ GUARDED_BY(mu_);
  int fetching_ GUARDED_BY(mu_) = 0;
  bool stopping_ GUARDED_BY(mu_) = false;
  WorkerLog log_;  // written under mu_ while the threads run
  std::atomic<int64_t> completed_{0};
  std::vector<std::thread> threads_;
};

}  // namespace podfleet::bench
