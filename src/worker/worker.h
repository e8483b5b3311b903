// The worker: `podfleet work`. It registers with a coordinator, keeps `prefetch` leased jobs
// downloaded and decoded ahead of the engine, transcribes them one at a time, uploads the results
// and renews its leases with heartbeats that carry progress.
//
// Pipeline (one thread each): fetch (claim, download, check, decode) -> ready queue -> engine ->
// upload queue -> upload; plus heartbeat. The worker never touches the store: it speaks to the
// coordinator only through CoordinatorClient, as a remote worker must.
//
// Failures: a 404/410, bytes that are not audio and undecodable audio fail the job permanently;
// network and server errors, and engine errors, fail it as retryable. A lease reported lost by a
// heartbeat stops that job at once and its result is dropped.
//
// Shutdown (RequestStop, e.g. on SIGTERM): stops claiming, cancels the job in the engine, releases
// every job it holds that is not finished, and returns from Run within seconds.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>

#include "api/client.h"
#include "engines/engine.h"

namespace podfleet {

struct WorkerOptions {
  std::string server = "http://127.0.0.1:8750";
  std::string token;  // enrollment token
  std::string name;   // default: host name
  // Jobs kept downloaded and decoded ahead of the one in the engine.
  int prefetch = 2;
  // Scratch space for downloads and the saved node identity.
  std::filesystem::path work_dir = "podfleet-work";
  // How long one claim waits for work at the coordinator (long poll). Also bounds shutdown time.
  Millis claim_wait{5'000};
  int64_t max_audio_bytes = int64_t{2} << 30;
  // Uploads retried this many times on transient errors before the job is given up.
  int upload_retries = 8;
  // Stop after this many jobs (0: never); for tests and one-shot runs.
  int64_t max_jobs = 0;
};

struct WorkerStats {
  int64_t completed = 0;
  int64_t failed = 0;
  int64_t released = 0;
  int64_t lost = 0;  // leases lost or results refused
};

class Worker {
 public:
  // `engine` and `http` must outlive the worker.
  Worker(WorkerOptions options, Engine& engine, HttpClient& http);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Registers and works until RequestStop (or max_jobs). Returns the error that ended it, if any.
  Result<WorkerStats> Run();
  // Thread-safe; may be called from a signal-watching thread.
  void RequestStop();

 private:
  struct HeldJob;
  using JobPtr = std::shared_ptr<HeldJob>;

  Result<void> Register();
  void FetchLoop();
  void EngineLoop();
  void UploadLoop();
  void HeartbeatLoop();
  void Prepare(const JobPtr& job);
  void Finish(const JobPtr& job, const Result<Transcript>& result);
  void Upload(const JobPtr& job, const Transcript& transcript);
  void ReportFailure(const JobPtr& job, const Error& error, bool permanent);
  void ReleaseAll();
  void Forget(const JobPtr& job);
  bool stopping() const { return stop_.stop_requested(); }

  // Constant after construction.
  const WorkerOptions options_;
  Engine& engine_;
  HttpClient& http_;
  CoordinatorClient client_;

  std::stop_source stop_;
  std::atomic<Millis> heartbeat_interval_{Millis(10'000)};  // as the coordinator asks

  std::mutex mu_;
  std::condition_variable changed_;
  std::map<JobId, JobPtr> held_;  // guarded by mu_: every job this worker holds a lease on
  std::deque<JobPtr> ready_;      // guarded by mu_: decoded, waiting for the engine
  std::deque<std::pair<JobPtr, Transcript>> uploads_;  // guarded by mu_
  int fetching_ = 0;                                   // guarded by mu_
  bool engine_done_ = false;                           // guarded by mu_
  WorkerStats stats_;                                  // guarded by mu_
};

}  // namespace podfleet
