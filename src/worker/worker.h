// The worker: `podfleet work`. It registers with a coordinator, keeps leased jobs downloaded and
// decoded ahead of the engine, transcribes as many at once as the engine runs states
// (EngineInfo::states; one for most engines), uploads the results and renews its
// leases with heartbeats that carry progress.
//
// Pipeline: claim (one thread: long-polls for as many jobs as the prefetch depth wants) ->
// fetch queue -> fetchers (up to `max_prefetch` threads: download, check, decode, side by side)
// -> ready queue -> engine (one thread per engine state) -> upload queue -> upload (one thread);
// plus heartbeat.
// The prefetch depth follows the measured fetch and engine speeds (worker/prefetch.h), between
// `prefetch` and `max_prefetch`, so the next audio is decoded before the engine finishes. The
// worker never touches the store: it speaks to the coordinator only through CoordinatorClient,
// as a remote worker must.
//
// Memory: a whole episode (origin mode) is decoded as a stream into pieces of about ten minutes
// written to the work directory (long_audio.h) and transcribed piece by piece, so a 12-hour
// episode needs no more memory than a short one.
//
// Failures: a 404/410, bytes that are not audio and undecodable audio fail the job permanently;
// network and server errors, and engine errors, fail it as retryable. A lease reported lost by a
// heartbeat stops that job at once if it is still being fetched or transcribed; a transcript
// already finished is still delivered, and the coordinator accepts it as a late result unless
// another attempt completed the job first (doc/api.md, "Leases under faults").
//
// Outbox (nothing lost): a finished transcript is written durably to `work_dir/outbox/
// job-<job id>-<attempt id>.json` before it is uploaded; the file holds
// {"version": 1, "lease": <ToJson(Lease)>, "transcript": <ToJson(Transcript)>} (api/wire.h) and is
// written to a temp file, fsync'd and renamed (outbox.h). It is removed only once the coordinator
// acknowledged it (200) or refused it for good (409/404: "result refused"). Transient upload
// errors are retried with exponential backoff and jitter (up to 30 s apart) until acknowledged;
// during shutdown the worker gives up after a few seconds and keeps the file (and does not
// release that lease). On start, after registering, files left by an earlier run are uploaded
// before any new claim. With several coordinators (WorkerOptions::server), every call, an upload
// or heartbeat of a job leased through another coordinator included, goes to the first one that
// answers. A worker with a saved identity (work_dir/node.json) waits for an
// unreachable coordinator rather than registering anew: only the node that held a lease may
// deliver its result.
//
// Preflight (preflight.h): before registering, the worker checks its GPU, driver and engine. A
// failure registers the node as blocked with the reason, and Run returns kUnavailable at once
// without claiming (a rented pod should then be stopped).
//
// Local faults (a full or read-only work directory or outbox) are the node's, not the episode's:
// a job whose download could not be written is released uncharged, and the worker stops
// claiming, probing the directory with a growing wait, until it can write again. The fault's
// reason goes to the coordinator with every heartbeat (one is sent at once when it starts or
// clears), which shows the node unhealthy meanwhile. Claims also
// pause while finished transcripts wait for the upload thread's backoff.
//
// Time: every wait of the worker's own (the heartbeat period, the pause after an empty claim, the
// back-off after a failed claim, register or upload, the probes of a faulty work directory, the
// idle limit, the speed probe's limit) is on the Clock it is given, so tests drive them with a
// ManualClock instead of sleeping. Two waits stay in real time: the coordinator's long poll (its
// own clock) and the upload grace after a stop request, which bounds how long a stopping process
// lingers whatever the clock says.
//
// Shutdown (RequestStop, e.g. on SIGTERM): stops claiming, cancels the job in the engine, releases
// every job it holds that is not finished, and returns from Run within seconds. The worker also
// stops by itself when idle for `exit_when_idle` (Run succeeds), and when
// `max_consecutive_failures` jobs in a row failed (Run returns kUnavailable saying so).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>

#include "api/client.h"
#include "core/clock.h"
#include "core/thread_annotations.h"
#include "engines/engine.h"
#include "worker/long_audio.h"
#include "worker/outbox.h"
#include "worker/prefetch.h"

namespace podfleet {

struct WorkerOptions {
  // The coordinator's URL, or a comma-separated list of coordinators sharing one store: calls
  // move to the next on connection failure, keeping the leases held (api/client.h).
  std::string server = "http://127.0.0.1:8750";
  std::string token;  // enrollment token
  std::string name;   // default: host name
  // Jobs kept downloaded and decoded (or being fetched) ahead of the one in the engine: at least
  // `prefetch`, more when fetching is slow next to the engine, at most `max_prefetch`.
  int prefetch = 2;
  int max_prefetch = 8;
  // Scratch space for downloads and the saved node identity.
  std::filesystem::path work_dir = "podfleet-work";
  // How long one claim waits for work at the coordinator (long poll). Also bounds shutdown time.
  Millis claim_wait{5'000};
  int64_t max_audio_bytes = int64_t{2} << 30;
  // First delay before retrying a failed upload; doubled (with jitter) up to 30 s.
  Millis upload_backoff{500};
  // Stop after this many jobs (0: never); for tests and one-shot runs.
  int64_t max_jobs = 0;
  // Stop once no job has been held and claims have returned nothing for this long (0: never);
  // for rented machines that should stop billing when the queue is empty.
  Millis exit_when_idle{0};
  // Circuit breaker: after this many jobs in a row fail (download, decode or engine failures),
  // stop claiming, release what is held and return an error from Run (0: off).
  int max_consecutive_failures = 0;
  // What this machine costs per hour in dollars, reported at registration; negative: let the
  // coordinator's price table decide.
  double price_per_hour = -1;
  // Before registering, time the engine on a built-in clip (speed_probe.h) and report the
  // realtime factor as NodeInfo::speed; at most `speed_probe_limit` (then 0, unknown). Tests
  // skip it.
  bool skip_speed_probe = false;
  Millis speed_probe_limit{60'000};
};

// The options of the HTTP client a worker is given (`podfleet work`, `podfleet up`): connections
// to the coordinator kept open between calls. Safe because a claim that a kept connection sends
// again is answered with the same leases (api/client.h, doc/api.md).
inline HttpClientOptions WorkerHttpOptions() { return {.reuse_connections = true}; }

struct WorkerStats {
  int64_t completed = 0;
  int64_t failed = 0;
  int64_t released = 0;
  int64_t lost = 0;  // leases lost or results refused
};

class Worker {
 public:
  // `engine`, `http` and `clock` must outlive the worker.
  Worker(WorkerOptions options, Engine& engine, HttpClient& http,
         const Clock& clock = SystemClock::Get());
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

  // How an upload ended.
  enum class Delivery { kAccepted, kRefused, kKept };

  Result<void> Register();
  double MeasureSpeed();
  void ReplayOutbox();
  // Removes what earlier runs (or this one's unfinished jobs) left in work_dir/audio.
  void RemoveScratch();
  // Waits `d` on the clock unless stopped first; false when stopped.
  bool Pause(Millis d);
  bool IdleTooLong(bool claimed_nothing, TimePoint& idle_since);
  void ClaimLoop();
  void PauseAfterEmptyClaim(TimePoint asked);
  void FetchLoop();
  // Jobs claimed and not yet handed to the engine.
  int AheadLocked() const REQUIRES(mu_);
  bool BreakerPendingLocked() const REQUIRES(mu_);
  void EngineLoop();
  void UploadLoop();
  void HeartbeatLoop();
  // Waits until `due`, or until the local fault differs from the one last `reported`; false when
  // stopped.
  bool WaitForHeartbeat(TimePoint due, const std::string& reported);
  void Prepare(const JobPtr& job);
  // Decodes the downloaded `path` for `job`: a whole episode in bounded memory (long_audio.h).
  Result<PreparedAudio> Decode(const JobPtr& job, const std::filesystem::path& path);
  // Reads a seam chunk's audio from its origin (worker/origin_chunk.h), downloading nothing; sets
  // the job's offset. The node token goes only where a download's would (AuthHeadersFor).
  Result<PreparedAudio> ReadFromOrigin(const JobPtr& job);
  // Hands `job`'s prepared audio to the engines; `started`: when its preparation began.
  void Ready(const JobPtr& job, std::chrono::steady_clock::time_point started);
  void Finish(const JobPtr& job, const Result<Transcript>& result);
  // Delivers one finished attempt and settles its outbox file (`file` may be empty).
  // `waited`: the job's prefetch wait (negative: unknown, e.g. replayed from the outbox).
  void Upload(const Lease& lease, const Transcript& transcript, const std::filesystem::path& file,
              Millis waited = Millis(-1));
  // Uploads until the coordinator acknowledges or refuses, or shortly after a stop request.
  Delivery Deliver(const Lease& lease, const Transcript& transcript, Millis waited);
  struct PendingUpload;
  // Delivers several finished attempts in one request (CoordinatorClient::CompleteMany); a result
  // that request could not settle, or all when it failed, goes on alone through Deliver.
  void UploadMany(const std::vector<PendingUpload>& batch);
  // Settles the outbox file and the counts of a delivery.
  void Settle(const Lease& lease, const std::filesystem::path& file, Delivery delivery);
  void ReportFailure(const JobPtr& job, const Error& error, bool permanent);
  // A download failed: when the work directory cannot be written now, the fault is this node's
  // (kUnavailable naming it), not the job's.
  // `needed`: bytes that must be free besides (0: the probe write alone).
  Result<void> CheckLocalDisk(int64_t needed);
  // Hands `job` back uncharged (Release) and pauses claims because of `fault`; claims resume
  // once `needed` bytes are free.
  void ReleaseForLocalFault(const JobPtr& job, const Error& fault, int64_t needed);
  // Marks the node faulty; logs only a new reason.
  void SetLocalFault(const Error& fault, int64_t needed);
  // While the node is faulty: waits (with backoff) and probes; true once it can write again.
  bool RecoverFromLocalFault(Millis wait);
  // The local fault's reason, empty when healthy: what heartbeats and claims report.
  std::string FaultLocked() const REQUIRES(mu_);
  void ReleaseAll();
  void Forget(const JobPtr& job);
  bool stopping() const { return stop_.stop_requested(); }

  // Constant after construction.
  const WorkerOptions options_;
  Engine& engine_;
  HttpClient& http_;
  const Clock& clock_;
  CoordinatorClient client_;
  const Outbox outbox_;

  std::stop_source stop_;
  Wakeup fault_changed_;  // ends the heartbeat's wait: a fault starts or clears
  std::atomic<Millis> heartbeat_interval_{Millis(10'000)};  // as the coordinator asks
  std::string blocked_reason_;  // set by Register (Run's thread): why the preflight failed

  Mutex mu_;
  std::condition_variable_any changed_;
  std::map<JobId, JobPtr> held_ GUARDED_BY(mu_);  // every job this worker holds a lease on
  std::deque<JobPtr> to_fetch_ GUARDED_BY(mu_);   // claimed, waiting for a fetcher
  std::deque<JobPtr> ready_ GUARDED_BY(mu_);      // decoded, waiting for the engine
  bool claiming_done_ GUARDED_BY(mu_) = false;    // no more jobs will be claimed
  PrefetchPlanner planner_;                       // thread-safe itself (prefetch.h)
  struct PendingUpload {
    JobPtr job;
    Transcript transcript;
    std::filesystem::path file;  // in the outbox; empty if it could not be written
  };
  std::deque<PendingUpload> uploads_ GUARDED_BY(mu_);
  int fetching_ GUARDED_BY(mu_) = 0;  // in to_fetch_ or being fetched
  bool engine_done_ GUARDED_BY(mu_) = false;
  int engines_running_ GUARDED_BY(mu_) = 0;  // engine loops not yet finished
  int consecutive_failures_ GUARDED_BY(mu_) = 0;
  std::optional<Error> tripped_ GUARDED_BY(mu_);  // why the circuit breaker stopped the worker
  // Why this node cannot write its work directory or outbox now (a full or read-only disk):
  // claims pause until a probe write succeeds again.
  std::optional<Error> local_fault_ GUARDED_BY(mu_);
  int64_t fault_needs_bytes_ GUARDED_BY(mu_) = 0;  // free space wanted before claiming again
  std::string last_fault_logged_ GUARDED_BY(mu_);  // a recurring fault is logged once
  // The upload thread is backing off: claims pause until it delivers again, so that finished
  // transcripts do not pile up behind new leases.
  bool uploads_stalled_ GUARDED_BY(mu_) = false;
  WorkerStats stats_ GUARDED_BY(mu_);
};

}  // namespace podfleet
