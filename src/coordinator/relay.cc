#include "coordinator/relay.h"

#include <fmt/format.h>
#include <time.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "audio/audio.h"
#include "core/retry_pacer.h"
#include "net/public_address.h"

namespace podfleet {
namespace {

// Jobs whose backoff ends are found by this periodic check.
constexpr Millis kRecheck{500};
// The wait after a failure the store could not record, doubling up to the maximum.
constexpr Millis kPauseBase{1'000};
constexpr Millis kPauseMax{60'000};
constexpr std::string_view kUploadPrefix = "/api/media/";
// Chunks of one episode being encoded or waiting to be queued: two keep two encoders busy on a
// single long episode, and bound what it holds to about two chunks besides the cutter's.
constexpr size_t kMaxInFlight = 2;

void Log(const std::string& line) { fmt::print(stderr, "relay: {}\n", line); }

// A failed download's .part is not kept for a later resume: the episode may wait long for its
// retry, or never get one, and the scratch disk may be what failed.
void RemovePartial(const std::filesystem::path& dest) {
  std::error_code ec;
  std::filesystem::remove(dest.string() + ".part", ec);
  std::filesystem::remove(dest, ec);
}

bool Permanent(const Error& e) {
  return e.code == Code::kNotFound || e.code == Code::kInvalidArgument ||
         e.code == Code::kCorruption;
}

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Names the episode's URL, not the scratch file, in the reason the operator reads.
Error AboutUrl(Error error, const std::filesystem::path& source, const std::string& url) {
  const std::string scratch = source.filename().string() + ": ";
  if (error.message.starts_with(scratch)) error.message.erase(0, scratch.size());
  error.message = url + ": " + error.message;
  return error;
}

}  // namespace

// A chunk handed to the encoders, queued once it and those before it are written.
struct Relay::InFlight {
  Chunk chunk;
  bool last = false;
  std::future<Result<void>> written;
};

Relay::Relay(Store& store, HttpClient& http, const Clock& clock, RelayOptions options,
             std::function<void()> on_queued)
    : store_(store),
      http_(http),
      clock_(clock),
      options_(std::move(options)),
      on_queued_(std::move(on_queued)),
      encoders_(std::make_unique<TaskPool>(options_.encoders)) {
  std::error_code ec;
  std::filesystem::create_directories(options_.dir, ec);
  std::filesystem::create_directories(options_.scratch_dir, ec);
  RemoveScratchFiles();
  for (int i = 0; i < std::max(1, options_.episodes); ++i)
    wakeups_.push_back(std::make_unique<Wakeup>());
}

void Relay::Start(std::string holder) {
  holder_ = std::move(holder);
  for (auto& wakeup : wakeups_) threads_.emplace_back([this, w = wakeup.get()] { Loop(*w); });
}

Relay::~Relay() { Stop(); }

void Relay::Wake() {
  for (auto& wakeup : wakeups_) wakeup->Notify();
}

void Relay::Stop() {
  {
    MutexLock lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  stop_.request_stop();
  for (std::thread& t : threads_) t.join();
  encoders_.reset();
}

std::optional<double> Relay::Capacity() const {
  MutexLock lock(mu_);
  if (prepared_seconds_ <= 0 || cpu_seconds_ <= 0) return std::nullopt;
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  return cores * prepared_seconds_ / cpu_seconds_;
}

bool Relay::stopping() const {
  MutexLock lock(mu_);
  return stopping_;
}

std::filesystem::path Relay::ChunkFile(const std::filesystem::path& dir, EpisodeId episode,
                                       int index) {
  return dir / fmt::format("e{}-c{}.opus", episode.value(), index);
}

void Relay::RemoveChunkFiles(const std::filesystem::path& dir, EpisodeId episode, int count) {
  std::error_code ec;
  for (int i = 0; i < count; ++i) std::filesystem::remove(ChunkFile(dir, episode, i), ec);
}

std::optional<PreparingJob> Relay::Next(RetryPacer& pacer, Wakeup& wakeup) {
  while (true) {
    size_t busy = 0;
    uint64_t finished = 0;
    {
      MutexLock lock(mu_);
      if (stopping_) return std::nullopt;
      busy = in_hand_.size();
      finished = finished_;
    }
    // A store that stopped writing can record neither chunks nor failures: trying again at once
    // would download the same episode in a tight loop. Such failures pause this thread with a
    // growing, jittered wait.
    if (Result<void> healthy = store_.CheckHealth(); !healthy) {
      Pause(pacer.Failed(Error{healthy.error().code, "paused: " + healthy.error().message}));
      continue;
    }
    // Read without the lock: Wake, called by request threads, must not wait on the store.
    auto jobs = store_.ListPreparing(static_cast<int>(busy) + 1, clock_.Now(), holder_);
    if (!jobs) {
      Pause(pacer.Failed(jobs.error()));
      continue;
    }
    {
      MutexLock lock(mu_);
      // An episode finished since the read may be listed with the job it no longer holds.
      if (finished != finished_) continue;
      for (PreparingJob& j : *jobs) {
        if (in_hand_.insert(j.episode.id.value()).second) return std::move(j);
      }
    }
    // A Wake or a finished episode since the read has notified `wakeup`: the wait ends at once.
    clock_.WaitUntil(clock_.Now() + kRecheck, stop_.get_token(), wakeup);
  }
}

void Relay::Loop(Wakeup& wakeup) {
  RetryPacer pacer("relay", kPauseBase, kPauseMax);
  while (std::optional<PreparingJob> job = Next(pacer, wakeup)) {
    // Another coordinator may have taken it since the list was read: then it is theirs.
    Result<void> taken = holder_.empty() ? Result<void>{} : store_.TakePreparing(job->job, holder_);
    Result<void> prepared = taken ? Prepare(*job) : Result<void>{};
    Result<void> recorded = prepared ? Result<void>{} : Report(*job, prepared.error());
    if (!taken && taken.error().code != Code::kConflict) recorded = taken;
    {
      MutexLock lock(mu_);
      in_hand_.erase(job->episode.id.value());
      ++finished_;
    }
    for (auto& other : wakeups_) other->Notify();
    if (recorded) {
      pacer.Succeeded();
    } else {
      Pause(pacer.Failed(recorded.error()));
    }
  }
}

void Relay::Pause(Millis wait) { clock_.WaitUntil(clock_.Now() + wait, stop_.get_token()); }

void Relay::RemoveScratchFiles() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(options_.scratch_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("episode-")) std::filesystem::remove(entry.path(), ec);
  }
}

bool Relay::OwnUpload(const std::string& url) const {
  if (url.starts_with(kUploadPrefix)) return true;
  const std::string& own = holder_;
  return !own.empty() && url.starts_with(own) && url.substr(own.size()).starts_with(kUploadPrefix);
}

Result<std::filesystem::path> Relay::Fetch(const Episode& episode) {
  const std::string& url = episode.info.audio_url;
  if (OwnUpload(url)) return options_.uploads_dir / url.substr(url.rfind('/') + 1);
  const Millis longest = options_.max_episode_duration;
  if (episode.info.duration && *episode.info.duration > longest)
    return InvalidArgument(
        fmt::format("{}: declared {} min long, over the {} min allowed "
                    "(serve --max-episode-duration)",
                    url, episode.info.duration->count() / 60'000, longest.count() / 60'000));
  DownloadOptions download;
  download.max_bytes = options_.max_audio_bytes;
  download.deadline = DownloadDeadline(episode.info.duration, episode.info.audio_length, longest);
  if (options_.public_only)
    download.allow_address = [](const sockaddr* a) { return IsPublicAddress(a); };
  download.progress = [this](int64_t, int64_t) { return !stopping(); };
  const auto dest = options_.scratch_dir / fmt::format("episode-{}", episode.id.value());
  auto fetched = http_.Download(url, dest, download);
  if (!fetched) {
    RemovePartial(dest);
    return std::unexpected(fetched.error());
  }
  return dest;
}

// The chunking for what is left of the episode: spread over the free workers when the header
// tells how long it is. `estimate` gets the expected number of chunks (0 when unknown).
ChunkOptions Relay::Chunking(const std::filesystem::path& source, const PreparingJob& job,
                             int& estimate) {
  ChunkOptions chunking = options_.chunks;
  estimate = 0;
  Result<Millis> duration = ProbeAudioDuration(source);
  if (!duration || *duration <= job.next.start) return chunking;
  const Millis left = *duration - job.next.start;
  const int free = options_.free_workers ? options_.free_workers() : 0;
  chunking.target = SpreadTarget(left, chunking.target, free);
  if (chunking.target > Millis(0)) {
    const double chunks = static_cast<double>(left.count()) / chunking.target.count();
    estimate = job.next.index + std::max(1, static_cast<int>(std::lround(chunks)));
  }
  return chunking;
}

Result<void> Relay::Settle(PreparingJob& job, std::deque<InFlight>& in_flight, bool wait) {
  using namespace std::chrono_literals;
  while (!in_flight.empty()) {
    if (!wait && in_flight.front().written.wait_for(0s) != std::future_status::ready) return {};
    wait = false;
    InFlight f = std::move(in_flight.front());
    in_flight.pop_front();
    Result<void> r = f.written.get();
    if (r && f.last) {
      auto planned = store_.PlanChunks(job.job, {f.chunk}, clock_.Now());
      if (!planned) r = std::unexpected(planned.error());
    } else if (r) {
      auto rest = store_.QueueChunk(job.job, f.chunk, clock_.Now());
      if (rest) {
        job.job = *rest;
        ++job.next.index;
        job.next.start = *f.chunk.end;
      } else {
        r = std::unexpected(rest.error());
      }
    }
    if (!r) {
      std::error_code ec;
      std::filesystem::remove(ChunkFile(options_.dir, job.episode.id, f.chunk.index), ec);
      return r;
    }
    on_queued_();
  }
  return {};
}

Result<void> Relay::PrepareAgain(const PreparingJob& job, const std::filesystem::path& source) {
  const Chunk& chunk = job.next;
  const double cpu = ThreadCpuSeconds();
  auto audio = DecodeAudioRange(source, ToSamples(chunk.start), ToSamples(*chunk.end),
                                [this](double) { return !stopping(); });
  if (!audio) return std::unexpected(AboutUrl(audio.error(), source, job.episode.info.audio_url));
  const auto path = ChunkFile(options_.dir, job.episode.id, chunk.index);
  Result<void> written = WriteOpus(path, audio->samples, options_.opus);
  {
    MutexLock lock(mu_);
    cpu_seconds_ += ThreadCpuSeconds() - cpu;
    prepared_seconds_ += static_cast<double>(audio->samples.size()) / kSampleRate;
  }
  if (written) written = store_.QueuePreparedAgain(job.job, /*relayed=*/true, clock_.Now());
  std::error_code ec;
  if (!written) {
    std::filesystem::remove(path, ec);
    return written;
  }
  Log(fmt::format("episode {}: chunk {} prepared again", job.episode.id.value(), chunk.index));
  on_queued_();
  return {};
}

Result<void> Relay::Prepare(PreparingJob& job) {
  const Episode& episode = job.episode;
  auto source = Fetch(episode);
  if (!source) return std::unexpected(source.error());
  const bool scratch = !OwnUpload(episode.info.audio_url);
  if (job.next.end) {
    Result<void> again = PrepareAgain(job, *source);
    std::error_code ec;
    if (scratch) std::filesystem::remove(*source, ec);
    return again;
  }
  int estimate = 0;
  ChunkCutter cutter(Chunking(*source, job, estimate), ToSamples(job.next.start));
  std::deque<InFlight> in_flight;
  int index = job.next.index;
  std::optional<Error> failed;
  // Hands chunks to the encoders; false once something failed.
  auto encode = [&](std::vector<CutChunk> cut, bool ends) {
    for (size_t i = 0; i < cut.size() && !failed; ++i) {
      if (in_flight.size() >= kMaxInFlight)
        if (Result<void> r = Settle(job, in_flight, /*wait=*/true); !r) failed = r.error();
      if (failed) break;
      InFlight f;
      f.chunk = Chunk{index, estimate, ToMillis(cut[i].piece.begin), ToMillis(cut[i].piece.end),
                      /*relayed=*/true};
      f.last = ends && i + 1 == cut.size();
      f.written = encoders_->Submit([this, path = ChunkFile(options_.dir, episode.id, index++),
                                     samples = std::move(cut[i].samples), opus = options_.opus] {
        const double cpu = ThreadCpuSeconds();
        Result<void> r = WriteOpus(path, samples, opus);
        MutexLock lock(mu_);
        cpu_seconds_ += ThreadCpuSeconds() - cpu;
        return r;
      });
      in_flight.push_back(std::move(f));
    }
    if (!failed)
      if (Result<void> r = Settle(job, in_flight, /*wait=*/false); !r) failed = r.error();
    return !failed && !stopping();
  };
  const double cpu = ThreadCpuSeconds();
  auto decoded = DecodeAudioStream(*source, [&](std::span<const float> block) {
    return encode(cutter.Push(block), /*ends=*/false);
  });
  {
    MutexLock lock(mu_);
    cpu_seconds_ += ThreadCpuSeconds() - cpu;
    if (decoded) prepared_seconds_ += static_cast<double>(*decoded) / kSampleRate;
  }
  if (decoded && !failed) encode(cutter.Finish(), /*ends=*/true);
  while (!failed && !in_flight.empty())
    if (Result<void> r = Settle(job, in_flight, /*wait=*/true); !r) failed = r.error();
  // After a failure, the chunks still being written are not queued: wait for them, drop them.
  for (InFlight& f : in_flight) {
    (void)f.written.get();
    std::error_code ec;
    std::filesystem::remove(ChunkFile(options_.dir, episode.id, f.chunk.index), ec);
  }
  std::error_code ec;
  if (scratch) std::filesystem::remove(*source, ec);
  if (failed) return std::unexpected(*failed);
  if (!decoded) return std::unexpected(AboutUrl(decoded.error(), *source, episode.info.audio_url));
  Log(fmt::format("episode {}: {:.1f} min of audio in {} chunk(s)", episode.id.value(),
                  static_cast<double>(*decoded) / kSampleRate / 60.0, index));
  return {};
}

Result<void> Relay::Report(const PreparingJob& job, const Error& error) {
  if (stopping()) return {};  // a cancelled download is no failure: it resumes on the next start
  const bool permanent = Permanent(error);
  Log(fmt::format("episode {} ({}): {}", job.episode.id.value(),
                  permanent ? "permanent" : "will retry", error.ToString()));
  return WithContext(store_.FailPreparing(job.job, Failure{error.message, permanent},
                                          options_.retry, clock_.Now()),
                     fmt::format("recording episode {}'s failure", job.episode.id.value()));
}

}  // namespace podfleet
