#include "worker/worker.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "audio/audio.h"
#include "core/clock.h"
#include "core/retry_pacer.h"
#include "net/download_error.h"
#include "net/public_address.h"
#include "worker/hardware.h"
#include "worker/heartbeat_pace.h"
#include "worker/long_audio.h"
#include "worker/origin_chunk.h"
#include "worker/preflight.h"
#include "worker/speed_probe.h"

namespace podfleet {
namespace {

using nlohmann::json;

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "worker";
  return buf;
}

void Log(const std::string& line) { fmt::print(stderr, "worker: {}\n", line); }

// How long uploads go on being retried after a stop request; the file stays in the outbox.
constexpr Millis kShutdownUploadGrace{3'000};
constexpr Millis kMaxUploadBackoff{30'000};
// The download deadline of audio that declares no duration is derived from this.
constexpr Millis kLongestEpisode{24 * 3'600'000};
// The longest wait between probes of a work directory that could not be written.
constexpr Millis kMaxFaultWait{30'000};
// What a probe writes: enough that a disk with a few blocks free still fails it.
constexpr size_t kProbeBytes = 256 * 1024;

// A delay in [d/2, d], so that workers that failed together do not retry together.
Millis Jittered(Millis d) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<int64_t> half(0, d.count() / 2);
  return Millis(d.count() - half(rng));
}

// Waits on `clock` until `deadline` unless `stop` comes first; false when stopped. Through a
// Wakeup of its own: then a wall clock set back meanwhile does not stretch the wait (SystemClock).
bool WaitOn(const Clock& clock, TimePoint deadline, const std::stop_token& stop) {
  Wakeup none;
  return clock.WaitUntil(deadline, stop, none);
}

}  // namespace

struct Worker::HeldJob {
  explicit HeldJob(WireGrant g) : grant(std::move(g)) {}
  const WireGrant grant;
  std::stop_source stop;  // requested when the lease is lost or the worker shuts down
  std::atomic<Stage> stage{Stage::kWaiting};
  std::atomic<double> fraction{0};
  PreparedAudio audio;                             // owned by whichever stage holds the job
  std::chrono::steady_clock::time_point ready_at;  // decoded and queued for the engine
  Millis waited{-1};                               // ready_at until the engine took it
  Millis offset{0};  // a seam chunk's audio starts this far past its chunk's start

  const Lease& lease() const { return grant.lease; }
  void Report(Stage s, double f) {
    stage = s;
    fraction = f;
  }
};

Worker::Worker(WorkerOptions options, Engine& engine, HttpClient& http, const Clock& clock)
    : options_(std::move(options)),
      engine_(engine),
      http_(http),
      clock_(clock),
      client_(options_.server, http),
      outbox_(options_.work_dir / "outbox"),
      planner_(options_.prefetch, options_.max_prefetch) {
  client_.set_failover_observer(
      [](const std::string& from, const std::string& to, const Error& why) {
        Log(fmt::format("coordinator {} unreachable ({}); moved to {}", from, why.message, to));
      });
}

Worker::~Worker() { RequestStop(); }

void Worker::RequestStop() {
  stop_.request_stop();
  MutexLock lock(mu_);
  for (auto& [id, job] : held_) job->stop.request_stop();
  changed_.notify_all();
}

double Worker::MeasureSpeed() {
  if (options_.skip_speed_probe) return 0;
  // A remote engine whose server is still loading must not hold the worker back for long.
  std::stop_source limit;
  std::stop_callback forward(stop_.get_token(), [&] { limit.request_stop(); });
  std::thread timer([&] {
    WaitOn(clock_, clock_.Now() + options_.speed_probe_limit, limit.get_token());
    limit.request_stop();
  });
  auto speed = MeasureEngineSpeed(engine_, limit.get_token());
  limit.request_stop();
  timer.join();
  if (!speed) {
    Log("speed probe failed (" + speed.error().ToString() + "); reporting speed unknown");
    return 0;
  }
  Log(fmt::format("speed probe: {:.1f}x realtime on the built-in clip", *speed));
  return *speed;
}

Result<void> Worker::Register() {
  NodeInfo info;
  info.name = options_.name.empty() ? HostName() : options_.name;
  EngineInfo engine = engine_.info();
  info.engine = engine.name;
  info.model = engine.model;
  info.engine_states = std::max(1, engine.states);
  if (!engine.states_note.empty()) Log("engine states: " + engine.states_note);
  if (!engine.device.empty()) Log("engine device: " + engine.device);
  if (!engine.cpu_variant.empty())
    Log("engine CPU variant: " + engine.cpu_variant + " (ggml's best for this CPU, at run time)");
  info.version = PODFLEET_VERSION;
  info.hardware = DetectHardware();
  info.price_per_hour = options_.price_per_hour;
  const PreflightResult preflight = RunPreflight(info.hardware, engine_);
  for (const std::string& w : preflight.warnings) Log("preflight: " + w);
  info.blocked_reason = preflight.blocked_reason;
  blocked_reason_ = preflight.blocked_reason;

  const auto identity = options_.work_dir / "node.json";
  // A blocked node registers afresh so that the coordinator records why.
  if (std::ifstream in(identity); in && preflight.passed()) {
    // The saved token is tried whatever URL the coordinator has now (a local fleet's port
    // changes between runs): a token the coordinator accepts is one it issued.
    json saved = json::parse(in, nullptr, false);
    if (saved.is_object()) {
      client_.set_node_token(saved.value("token", ""));
      // Only a refused token means a new identity: registering anew while the coordinator is
      // merely down would orphan the outbox, whose results only this node may deliver.
      while (true) {
        auto hb = client_.Heartbeat({});
        if (hb) {
          heartbeat_interval_ = std::max(Millis(100), hb->heartbeat_interval);
          Log(fmt::format("resumed as node {} ({})", saved.value("node_id", 0), info.name));
          return {};
        }
        if (hb.error().code != Code::kUnavailable) break;
        Log("coordinator unavailable (" + hb.error().message + "), retrying");
        if (!Pause(Millis(1000))) return Unavailable("stopped before resuming");
      }
    }
  }
  info.speed = MeasureSpeed();
  while (true) {
    auto reg = client_.Register(options_.token, info);
    if (reg) {
      client_.set_node_token(reg->token);
      heartbeat_interval_ = std::max(Millis(100), reg->heartbeat_interval);
      if (!preflight.passed()) {
        // Not kept: a later run that passes its preflight registers afresh, unblocked.
        std::error_code ec;
        std::filesystem::remove(identity, ec);
        Log(fmt::format("registered as blocked node {} ({})", reg->node.value(), info.name));
        return {};
      }
      std::ofstream out(identity, std::ios::trunc);
      out << json{{"server", client_.base_url()},
                  {"node_id", reg->node.value()},
                  {"token", reg->token}}
                 .dump();
      ::chmod(identity.c_str(), 0600);
      Log(fmt::format("registered as node {} ({})", reg->node.value(), info.name));
      return {};
    }
    if (reg.error().code != Code::kUnavailable) return std::unexpected(reg.error());
    Log("coordinator unavailable (" + reg.error().message + "), retrying");
    if (!Pause(Millis(1000))) return Unavailable("stopped before registering");
  }
}

Result<WorkerStats> Worker::Run() {
  std::error_code ec;
  std::filesystem::create_directories(options_.work_dir / "audio", ec);
  if (ec) return Unavailable("cannot create " + options_.work_dir.string() + ": " + ec.message());
  if (auto r = outbox_.Create(); !r) return std::unexpected(r.error());
  // One worker per work directory: the node identity and scratch files are not shared.
  const int lock_fd =
      ::open((options_.work_dir / "lock").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  if (lock_fd < 0 || ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    if (lock_fd >= 0) ::close(lock_fd);
    return Conflict("work directory " + options_.work_dir.string() + " is used by another worker");
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } lock_closer{lock_fd};
  RemoveScratch();

  if (auto r = Register(); !r) return std::unexpected(r.error());
  if (!blocked_reason_.empty()) {
    Log("preflight failed: " + blocked_reason_);
    return Unavailable("preflight failed, registered as blocked and taking no jobs: " +
                       blocked_reason_);
  }

  std::jthread heartbeat([this] { HeartbeatLoop(); });
  ReplayOutbox();
  std::thread upload([this] { UploadLoop(); });
  // As many jobs in the engine at once as it runs states (engine.h EngineInfo::states).
  const int engines = std::max(1, engine_.info().states);
  {
    MutexLock lock(mu_);
    engines_running_ = engines;
  }
  std::vector<std::thread> engine_loops;
  for (int i = 0; i < engines; ++i) engine_loops.emplace_back([this] { EngineLoop(); });
  std::vector<std::thread> fetchers;
  for (int i = 0; i < std::max(1, options_.max_prefetch); ++i)
    fetchers.emplace_back([this] { FetchLoop(); });
  ClaimLoop();
  {
    MutexLock lock(mu_);
    claiming_done_ = true;
    changed_.notify_all();
  }
  for (std::thread& t : fetchers) t.join();
  {
    MutexLock lock(mu_);
    ready_.push_back(nullptr);  // tells the engine loops that no more work comes
    changed_.notify_all();
  }
  for (std::thread& t : engine_loops) t.join();
  upload.join();
  ReleaseAll();
  stop_.request_stop();
  changed_.notify_all();
  heartbeat.join();
  RemoveScratch();  // pieces of jobs prepared but never transcribed
  MutexLock lock(mu_);
  if (tripped_) return std::unexpected(*tripped_);
  return stats_;
}

// Only this worker uses the work directory (its lock): every file in audio/ is its own, and none
// outlives a run (a new run gets new attempts, downloaded afresh).
void Worker::RemoveScratch() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(options_.work_dir / "audio", ec)) {
    std::error_code rm;
    std::filesystem::remove_all(entry.path(), rm);
  }
}

void Worker::ReplayOutbox() {
  auto files = outbox_.Pending();
  if (!files) return Log("outbox: " + files.error().ToString());
  for (const auto& file : *files) {
    if (stopping()) return;
    auto entry = Outbox::Load(file);
    if (!entry) {
      Log("outbox: " + entry.error().ToString() + "; left in place");
      continue;
    }
    Log(fmt::format("job {} attempt {}: uploading the transcript an earlier run left in the outbox",
                    entry->lease.job.value(), entry->lease.attempt.value()));
    Upload(entry->lease, entry->transcript, file);
  }
}

bool Worker::Pause(Millis d) { return WaitOn(clock_, clock_.Now() + d, stop_.get_token()); }

// Resets `idle_since` while a job is held or a claim returned work, and when the clock was set
// back past it (the wall clock), rather than wait out the step.
bool Worker::IdleTooLong(bool claimed_nothing, TimePoint& idle_since) {
  const TimePoint now = clock_.Now();
  bool holding = false;
  {
    MutexLock lock(mu_);
    holding = !held_.empty();
  }
  if (!claimed_nothing || holding || now < idle_since) {
    idle_since = now;
    return false;
  }
  if (options_.exit_when_idle <= Millis(0) || now - idle_since < options_.exit_when_idle)
    return false;
  Log(fmt::format("idle for {} ms with nothing to claim; exiting",
                  options_.exit_when_idle.count()));
  return true;
}

int Worker::AheadLocked() const { return static_cast<int>(ready_.size()) + fetching_; }

// After a failure, a job claimed while others are still being fetched would only be abandoned if
// those fail too and trip the circuit breaker: wait for them first.
bool Worker::BreakerPendingLocked() const {
  const int limit = options_.max_consecutive_failures;
  return limit > 0 && consecutive_failures_ > 0 && consecutive_failures_ + fetching_ >= limit;
}

// A claim that came back empty at once (the coordinator waited less than asked, or the worker
// asked for no wait) is not repeated at once: an idle worker would otherwise claim in a loop.
void Worker::PauseAfterEmptyClaim(TimePoint asked) {
  constexpr Millis kMinClaimPeriod{250};
  WaitOn(clock_, asked + kMinClaimPeriod, stop_.get_token());
}

void Worker::ClaimLoop() {
  int64_t claimed = 0;
  Millis backoff{500};
  Millis fault_wait{1'000};
  TimePoint idle_since = clock_.Now();
  while (!stopping()) {
    if (options_.max_jobs > 0 && claimed >= options_.max_jobs) break;
    int want = 0;
    {
      MutexLock lock(mu_);
      changed_.wait(lock, [&]() REQUIRES(mu_) {
        return stopping() || local_fault_ ||
               (AheadLocked() < planner_.Depth() && !BreakerPendingLocked() && !uploads_stalled_);
      });
      if (stopping()) break;
      if (local_fault_) {
        lock.unlock();
        // The wait keeps growing across recoveries: a fault that comes back is not probed for
        // (nor jobs claimed and released) every second.
        RecoverFromLocalFault(fault_wait);
        fault_wait = std::min(fault_wait * 2, kMaxFaultWait);
        continue;
      }
      want = planner_.Depth() - AheadLocked();
    }
    if (options_.max_jobs > 0)
      want = static_cast<int>(std::min<int64_t>(want, options_.max_jobs - claimed));
    const TimePoint asked = clock_.Now();
    // Sent only while healthy: a claim without a fault tells the coordinator the node recovered.
    auto grants = client_.Claim(want, options_.claim_wait);
    if (grants && grants->empty()) PauseAfterEmptyClaim(asked);
    if (!grants) {
      Log("claim: " + grants.error().ToString());
      if (grants.error().code == Code::kPermissionDenied) break;
      if (IdleTooLong(/*claimed_nothing=*/true, idle_since)) break;
      Pause(backoff);
      backoff = std::min(backoff * 2, Millis(10'000));
      continue;
    }
    backoff = Millis(500);
    if (IdleTooLong(grants->empty(), idle_since)) break;
    MutexLock lock(mu_);
    for (WireGrant& g : *grants) {
      auto job = std::make_shared<HeldJob>(std::move(g));
      held_[job->lease().job] = job;
      to_fetch_.push_back(std::move(job));
      ++fetching_;
      ++claimed;
    }
    changed_.notify_all();
  }
}

void Worker::FetchLoop() {
  while (true) {
    JobPtr job;
    {
      MutexLock lock(mu_);
      changed_.wait(lock, [&]() REQUIRES(mu_) { return !to_fetch_.empty() || claiming_done_; });
      if (to_fetch_.empty()) return;
      job = std::move(to_fetch_.front());
      to_fetch_.pop_front();
    }
    Prepare(job);
    MutexLock lock(mu_);
    --fetching_;
    changed_.notify_all();
  }
}

void Worker::Prepare(const JobPtr& job) {
  if (job->stop.stop_requested()) return;
  const auto started = std::chrono::steady_clock::now();
  const auto path =
      options_.work_dir / "audio" /
      fmt::format("job-{}-{}", job->lease().job.value(), job->lease().attempt.value());
  job->Report(Stage::kDownloading, 0);
  if (job->grant.chunk.seam > Millis(0)) {
    auto audio = ReadFromOrigin(job);
    if (!audio && job->stop.stop_requested()) return;
    // Retried like any failed chunk (an origin that stopped serving ranges may serve them
    // again), unless the audio is gone.
    if (!audio) return ReportFailure(job, audio.error(), audio.error().code == Code::kNotFound);
    job->audio = std::move(*audio);
    return Ready(job, started);
  }
  DownloadOptions download;
  download.max_bytes = options_.max_audio_bytes;
  std::optional<Millis> declared = job->grant.episode.info.duration;
  if (const Chunk& c = job->grant.chunk; c.relayed && c.end) declared = *c.end - c.start;
  download.deadline =
      DownloadDeadline(declared, job->grant.episode.info.audio_length, kLongestEpisode);
  if (job->grant.public_only)
    download.allow_address = [](const sockaddr* a) { return IsPublicAddress(a); };
  download.progress = [&job](int64_t done, int64_t total) {
    if (total > 0) job->fraction = static_cast<double>(done) / static_cast<double>(total);
    return !job->stop.stop_requested();
  };
  download.headers = client_.AuthHeadersFor(job->grant.audio_url, job->grant.audio_from_fleet);
  auto fetched = http_.Download(client_.Resolve(job->grant.audio_url), path, download);
  if (!fetched) {
    // Probed before the .part is removed: the space it holds is part of the fault. The rest of
    // the download must fit too: another job's released .part may have just freed the probe's
    // few bytes while this download still had no room.
    std::error_code ec;
    const auto partial = std::filesystem::file_size(path.string() + ".part", ec);
    const int64_t rest = std::max<int64_t>(
        0, job->grant.episode.info.audio_length - (ec ? 0 : static_cast<int64_t>(partial)));
    Result<void> disk = job->stop.stop_requested() ? Result<void>{} : CheckLocalDisk(rest);
    std::filesystem::remove(path.string() + ".part", ec);
    if (job->stop.stop_requested()) return;
    // A download that could not write its file failed here, whatever the probe finds now (another
    // job's .part, removed meanwhile, may have made room): the fault already held, if any, or
    // the write's.
    if (!disk || IsDownloadWriteFailure(fetched.error())) {
      Error fault = disk ? fetched.error() : disk.error();
      if (disk) {
        MutexLock lock(mu_);
        if (local_fault_) fault = *local_fault_;
      }
      // Room for the whole download is needed before claiming again, not just for the probe.
      const int64_t needed = std::max<int64_t>(job->grant.episode.info.audio_length,
                                               ec ? 0 : 2 * static_cast<int64_t>(partial));
      return ReleaseForLocalFault(job, fault, needed);
    }
    const Code code = fetched.error().code;
    return ReportFailure(job, fetched.error(),
                         code == Code::kNotFound || code == Code::kInvalidArgument);
  }
  job->Report(Stage::kDecoding, 0);
  auto audio = Decode(job, path);
  std::error_code ec;
  std::filesystem::remove(path, ec);
  if (!audio) {
    if (job->stop.stop_requested()) return;
    // Pieces of a long episode that could not be written: the node's fault, not the episode's.
    if (Result<void> disk = CheckLocalDisk(0); !disk)
      return ReleaseForLocalFault(job, disk.error(), 0);
    // Name the episode's URL, not the scratch file, in the reason the operator reads.
    Error error = audio.error();
    const std::string scratch = path.filename().string() + ": ";
    if (error.message.starts_with(scratch)) error.message.erase(0, scratch.size());
    error.message = job->grant.audio_url + ": " + error.message;
    const Code code = error.code;
    return ReportFailure(job, error, code == Code::kCorruption || code == Code::kInvalidArgument);
  }
  job->audio = std::move(*audio);
  Ready(job, started);
}

void Worker::Ready(const JobPtr& job, std::chrono::steady_clock::time_point started) {
  job->ready_at = std::chrono::steady_clock::now();
  planner_.Fetched(std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - started),
                   job->audio.duration());
  job->Report(Stage::kWaiting, 0);
  MutexLock lock(mu_);
  ready_.push_back(job);
  changed_.notify_all();
}

Result<PreparedAudio> Worker::ReadFromOrigin(const JobPtr& job) {
  RangeSourceOptions options;
  options.headers = client_.AuthHeadersFor(job->grant.audio_url, job->grant.audio_from_fleet);
  if (job->grant.public_only)
    options.allow_address = [](const sockaddr* a) { return IsPublicAddress(a); };
  options.stop = job->stop.get_token();
  const Chunk& chunk = job->grant.chunk;
  auto read =
      ReadOriginChunk(http_, client_.Resolve(job->grant.audio_url), chunk, std::move(options));
  if (!read) return std::unexpected(read.error());
  Log(fmt::format("job {}: chunk {} of {} read from its origin ({} bytes in {} requests)",
                  job->lease().job.value(), chunk.index + 1, chunk.count, read->traffic.bytes,
                  read->traffic.requests));
  job->offset = read->offset;
  PreparedAudio prepared;
  prepared.held = std::move(read->audio);
  return prepared;
}

Result<PreparedAudio> Worker::Decode(const JobPtr& job, const std::filesystem::path& path) {
  auto progress = [&job](double f) {
    job->fraction = f;
    return !job->stop.stop_requested();
  };
  const Chunk& chunk = job->grant.chunk;
  PreparedAudio prepared;
  if (chunk.whole() && !chunk.relayed) {
    // A whole episode, as long as its origin made it: decoded in bounded memory (long_audio.h).
    return DecodeBounded(path, path.string() + "-piece", ChunkOptions{}, progress);
  }
  // A relayed chunk is short; a chunk not relayed is a stretch of the whole episode at
  // audio_url: only it is kept.
  std::optional<Samples> end;
  if (chunk.end) end = ToSamples(*chunk.end);
  auto audio = chunk.relayed ? DecodeAudioFile(path, progress)
                             : DecodeAudioRange(path, ToSamples(chunk.start), end, progress);
  if (!audio) return std::unexpected(audio.error());
  prepared.held = std::move(*audio);
  return prepared;
}

void Worker::EngineLoop() {
  while (true) {
    JobPtr job;
    {
      MutexLock lock(mu_);
      changed_.wait(lock, [&]() REQUIRES(mu_) { return stopping() || !ready_.empty(); });
      if (stopping() || !ready_.front()) break;  // the end marker stays for the other loops
      job = std::move(ready_.front());
      ready_.pop_front();
      changed_.notify_all();
    }
    if (job->stop.stop_requested()) {
      RemoveSpilled(job->audio);
      continue;
    }
    job->Report(Stage::kTranscribing, 0);
    const auto started = std::chrono::steady_clock::now();
    job->waited = std::chrono::duration_cast<Millis>(started - job->ready_at);
    auto result = TranscribePrepared(
        engine_, job->audio, [&job](double f) { job->fraction = f; }, job->stop.get_token(),
        TranscribeOptions{job->grant.language});
    if (result) {
      const auto took =
          std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - started);
      if (result->engine_time == Millis(0)) result->engine_time = took;
      result->audio_duration = job->audio.duration();
      planner_.Transcribed(took, result->audio_duration);
      ShiftOntoChunk(*result, job->offset);
    }
    RemoveSpilled(job->audio);
    job->audio = PreparedAudio{};
    Finish(job, result);
  }
  MutexLock lock(mu_);
  if (--engines_running_ == 0) engine_done_ = true;
  changed_.notify_all();
}

void Worker::Finish(const JobPtr& job, const Result<Transcript>& result) {
  if (!result && job->stop.stop_requested()) return;  // cancelled: lost, or released at shutdown
  if (!result) return ReportFailure(job, result.error(), /*permanent=*/false);
  job->Report(Stage::kUploading, 0);
  auto file = outbox_.Put(job->lease(), *result);
  if (!file) {
    Log(fmt::format("job {}: cannot keep the transcript in the outbox ({}); uploading it anyway",
                    job->lease().job.value(), file.error().ToString()));
    SetLocalFault(file.error(), 0);
  }
  MutexLock lock(mu_);
  consecutive_failures_ = 0;
  uploads_.push_back(PendingUpload{job, *result, file ? *file : std::filesystem::path()});
  changed_.notify_all();
}

void Worker::UploadLoop() {
  // The results that are ready go together (one request, one store transaction); one ready alone
  // goes at once, never held back to wait for others.
  constexpr size_t kMaxUploadBatch = 64;
  while (true) {
    std::vector<PendingUpload> batch;
    {
      MutexLock lock(mu_);
      changed_.wait(lock, [&]() REQUIRES(mu_) { return !uploads_.empty() || engine_done_; });
      if (uploads_.empty()) break;
      while (!uploads_.empty() && batch.size() < kMaxUploadBatch) {
        batch.push_back(std::move(uploads_.front()));
        uploads_.pop_front();
      }
    }
    if (batch.size() == 1) {
      const PendingUpload& next = batch.front();
      Upload(next.job->lease(), next.transcript, next.file, next.job->waited);
    } else {
      UploadMany(batch);
    }
    MutexLock lock(mu_);
    for (const PendingUpload& done : batch) {
      auto it = held_.find(done.job->lease().job);
      if (it != held_.end() && it->second == done.job) held_.erase(it);
    }
  }
}

void Worker::UploadMany(const std::vector<PendingUpload>& batch) {
  std::vector<ReadyResult> ready;
  for (const PendingUpload& u : batch)
    ready.push_back(ReadyResult{u.job->lease(), u.transcript, u.job->waited});
  auto reply = client_.CompleteMany(ready);
  for (size_t i = 0; i < batch.size(); ++i) {
    const PendingUpload& u = batch[i];
    const Lease& lease = u.job->lease();
    const Result<void> one =
        reply ? reply->results[i] : Result<void>(std::unexpected(reply.error()));
    if (one) {
      Settle(lease, u.file, Delivery::kAccepted);
    } else if (one.error().code == Code::kConflict || one.error().code == Code::kNotFound) {
      Log(fmt::format("job {} attempt {}: result refused ({}); moving on", lease.job.value(),
                      lease.attempt.value(), one.error().message));
      Settle(lease, u.file, Delivery::kRefused);
    } else {
      Settle(lease, u.file, Deliver(lease, u.transcript, u.job->waited));
    }
  }
}

void Worker::Upload(const Lease& lease, const Transcript& transcript,
                    const std::filesystem::path& file, Millis waited) {
  Settle(lease, file, Deliver(lease, transcript, waited));
}

void Worker::Settle(const Lease& lease, const std::filesystem::path& file, Delivery delivery) {
  if (delivery == Delivery::kKept) {
    Log(fmt::format("job {} attempt {}: giving up on the upload for now; {}", lease.job.value(),
                    lease.attempt.value(),
                    file.empty() ? "the transcript is lost" : "kept in " + file.string()));
    if (file.empty()) {
      MutexLock lock(mu_);
      ++stats_.lost;
    }
    return;
  }
  if (!file.empty()) {
    if (auto r = Outbox::Remove(file); !r) Log("outbox: " + r.error().ToString());
  }
  MutexLock lock(mu_);
  if (delivery == Delivery::kAccepted) ++stats_.completed;
  if (delivery == Delivery::kRefused) ++stats_.lost;
}

Worker::Delivery Worker::Deliver(const Lease& lease, const Transcript& transcript, Millis waited) {
  RetryPacer pacer(fmt::format("worker: job {} upload", lease.job.value()),
                   std::max(Millis(1), options_.upload_backoff), kMaxUploadBackoff);
  std::optional<std::chrono::steady_clock::time_point> give_up;
  auto stalled = [this](bool now) {
    MutexLock lock(mu_);
    uploads_stalled_ = now;
    changed_.notify_all();
  };
  while (true) {
    auto r = client_.Complete(lease, transcript, waited);
    if (r) {
      if (pacer.failures() > 0) stalled(false);
      pacer.Succeeded();
      return Delivery::kAccepted;
    }
    const Code code = r.error().code;
    if (code == Code::kConflict || code == Code::kNotFound) {
      if (pacer.failures() > 0) stalled(false);
      Log(fmt::format("job {} attempt {}: result refused ({}); moving on", lease.job.value(),
                      lease.attempt.value(), r.error().message));
      return Delivery::kRefused;
    }
    if (code != Code::kUnavailable && code != Code::kInternal) {
      Log(fmt::format("job {}: upload failed ({})", lease.job.value(), r.error().ToString()));
      if (pacer.failures() > 0) stalled(false);
      return Delivery::kKept;
    }
    if (pacer.failures() == 0) stalled(true);
    const Millis delay = pacer.Failed(r.error());
    if (!stopping()) {
      Pause(delay);
      continue;
    }
    // Stopping: a few more tries, spaced out, then the outbox keeps the transcript. In real time:
    // the grace bounds how long a stopping process lingers (worker.h).
    const auto now = std::chrono::steady_clock::now();
    if (!give_up) give_up = now + kShutdownUploadGrace;
    if (now >= *give_up) {
      stalled(false);
      return Delivery::kKept;
    }
    std::this_thread::sleep_for(
        std::min(delay, std::chrono::duration_cast<Millis>(*give_up - now)));
  }
}

Result<void> Worker::CheckLocalDisk(int64_t needed) {
  const auto dir = options_.work_dir / "audio";
  if (Result<void> r = ProbeWritable(dir, kProbeBytes); !r) return r;
  struct statvfs fs {};
  if (needed > 0 && ::statvfs(dir.c_str(), &fs) == 0) {
    const auto free = static_cast<int64_t>(fs.f_bavail) * static_cast<int64_t>(fs.f_frsize);
    if (free < needed)
      return Unavailable(fmt::format("{} has {} KiB free, a download needs about {} KiB",
                                     dir.string(), free / 1024, needed / 1024));
  }
  return {};
}

void Worker::SetLocalFault(const Error& fault, int64_t needed) {
  MutexLock lock(mu_);
  // A fault that comes back after each recovery (a disk with a little room) is logged once.
  if (fault.message != last_fault_logged_)
    Log(
        fmt::format("node fault: {}; claims pause until this machine can write its work "
                    "directory again (jobs are released, not failed)",
                    fault.message));
  last_fault_logged_ = fault.message;
  // Heartbeat it even when it is the fault already held: a claim sent while it was being set
  // (without a fault) told the coordinator that the node recovered.
  fault_changed_.Notify();
  local_fault_ = fault;
  fault_needs_bytes_ = std::max(fault_needs_bytes_, needed);
  changed_.notify_all();
}

void Worker::ReleaseForLocalFault(const JobPtr& job, const Error& fault, int64_t needed) {
  SetLocalFault(fault, needed);
  auto r = client_.Release(job->lease());
  Log(fmt::format("job {} attempt {}: released uncharged (the fault is this node's){}",
                  job->lease().job.value(), job->lease().attempt.value(),
                  r ? "" : ": " + r.error().ToString()));
  MutexLock lock(mu_);
  held_.erase(job->lease().job);
  ++stats_.released;
}

bool Worker::RecoverFromLocalFault(Millis wait) {
  if (!Pause(Jittered(wait))) return false;
  int64_t needed = 0;
  {
    MutexLock lock(mu_);
    needed = fault_needs_bytes_;
  }
  Result<void> disk = CheckLocalDisk(needed);
  if (disk) disk = ProbeWritable(outbox_.dir(), kProbeBytes);
  if (!disk) {
    SetLocalFault(disk.error(), 0);
    return false;
  }
  MutexLock lock(mu_);
  Log("node fault cleared: the work directory is writable again; claiming");
  local_fault_.reset();
  fault_needs_bytes_ = 0;
  fault_changed_.Notify();
  return true;
}

void Worker::ReportFailure(const JobPtr& job, const Error& error, bool permanent) {
  Log(fmt::format("job {} attempt {} failed ({}): {}", job->lease().job.value(),
                  job->lease().attempt.value(), permanent ? "permanent" : "retryable",
                  error.ToString()));
  auto r = client_.Fail(job->lease(), Failure{error.message, permanent});
  if (!r)
    Log(fmt::format("job {}: reporting the failure: {}", job->lease().job.value(),
                    r.error().ToString()));
  std::string why;
  {
    MutexLock lock(mu_);
    ++stats_.failed;
    held_.erase(job->lease().job);
    ++consecutive_failures_;
    if (options_.max_consecutive_failures <= 0 || tripped_ ||
        consecutive_failures_ < options_.max_consecutive_failures)
      return;
    tripped_ = Error{Code::kUnavailable,
                     fmt::format("{} jobs in a row failed (the last: job {}: {}); stopped claiming "
                                 "and released the jobs held: check this machine's network, disk "
                                 "and engine",
                                 consecutive_failures_, job->lease().job.value(), error.message)};
    why = tripped_->message;
  }
  Log("circuit breaker: " + why);
  RequestStop();
}

void Worker::ReleaseAll() {
  std::vector<JobPtr> jobs;
  {
    MutexLock lock(mu_);
    for (auto& [id, job] : held_) jobs.push_back(job);
    held_.clear();
  }
  for (const JobPtr& job : jobs) {
    auto r = client_.Release(job->lease());
    Log(fmt::format("released job {} attempt {}{}", job->lease().job.value(),
                    job->lease().attempt.value(), r ? "" : ": " + r.error().ToString()));
    MutexLock lock(mu_);
    ++stats_.released;
  }
}

std::string Worker::FaultLocked() const { return local_fault_ ? local_fault_->message : ""; }

void Worker::HeartbeatLoop() {
  std::mt19937_64 rng{std::random_device{}()};
  std::string reported;  // the fault the last heartbeat carried
  while (!stopping()) {
    std::vector<Progress> held;
    std::string fault;
    // A fault that starts or clears is reported at once, not a heartbeat interval later.
    if (!WaitForHeartbeat(clock_.Now() + HeartbeatPause(heartbeat_interval_.load(), rng()),
                          reported))
      break;
    {
      MutexLock lock(mu_);
      fault = FaultLocked();
      for (auto& [id, job] : held_)
        held.push_back(Progress{job->lease().job, job->lease().attempt, job->stage.load(),
                                job->fraction.load()});
    }
    // Failed or not, the next heartbeat carries the fault again.
    reported = fault;
    auto reply = client_.Heartbeat(held, fault);
    if (!reply) {
      Log("heartbeat: " + reply.error().ToString());
      continue;
    }
    heartbeat_interval_ = std::max(Millis(100), reply->heartbeat_interval);
    MutexLock lock(mu_);
    for (const Lease& lost : reply->lost) {
      auto it = held_.find(lost.job);
      if (it == held_.end() || it->second->lease().attempt != lost.attempt) continue;
      Log(fmt::format("job {} attempt {}: lease lost; stopping it", lost.job.value(),
                      lost.attempt.value()));
      it->second->stop.request_stop();
      held_.erase(it);
      ++stats_.lost;
    }
  }
}

bool Worker::WaitForHeartbeat(TimePoint due, const std::string& reported) {
  while (clock_.WaitUntil(due, stop_.get_token(), fault_changed_)) {
    if (clock_.Now() >= due) return true;
    MutexLock lock(mu_);
    if (FaultLocked() != reported) return true;
  }
  return false;
}

}  // namespace podfleet
