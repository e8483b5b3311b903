#include "coordinator/relay.h"

#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <future>
#include <thread>

#include "audio/audio.h"
#include "audio/frame_copy.h"
#include "audio/source_decoder.h"
#include "coordinator/origin_ranges.h"
#include "core/growing_file.h"
#include "core/retry_pacer.h"
#include "net/public_address.h"
#include "net/range_source.h"

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

int Cores() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

constexpr std::string_view kChunkExtensions[] = {"opus", "mp3", "aac"};

// Names the episode's URL, not the scratch file, in the reason the operator reads.
Error AboutUrl(Error error, const std::string& name, const std::string& url) {
  const std::string scratch = name + ": ";
  if (error.message.starts_with(scratch)) error.message.erase(0, scratch.size());
  error.message = url + ": " + error.message;
  return error;
}

}  // namespace

// A chunk handed to the encoders, queued once it and those before it are written.
struct Relay::InFlight {
  Chunk chunk;
  std::filesystem::path path;
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

std::optional<PathFeed> Relay::BestFeed(double uplink_bits_per_second) const {
  AudioPathFacts facts;
  facts.uplink_bits_per_second = uplink_bits_per_second;
  facts.cores = Cores();
  facts.opus_bits_per_second = options_.opus.bitrate;
  MutexLock lock(mu_);
  // Planned for workers to read from the origin: the coordinator prepares no audio.
  if (last_choice_ && (last_choice_->path == "ranges" || last_choice_->path == "origin"))
    return std::nullopt;
  facts.original_bits_per_second = static_cast<double>(copied_bit_rate_);
  facts.opus_capacity = PreparationCapacity(opus_, facts.cores);
  facts.copy_capacity = PreparationCapacity(copy_, facts.cores);
  return ::podfleet::BestFeed(options_.audio_path, facts);
}

PathSpent& Relay::SpentOn(const std::string& path) { return path == "copy" ? copy_ : opus_; }

void Relay::SetPath(int64_t episode, std::string path) {
  const TimePoint now = clock_.Now();
  auto cut = [this](const std::string& p) { return p == "copy" ? cut_copy_ : cut_opus_; };
  if (!backlog_path_.empty()) {
    PathSpent& spent = SpentOn(backlog_path_);
    spent.backlog_wall_seconds += static_cast<double>((now - backlog_since_).count()) / 1000.0;
    spent.backlog_seconds += cut(backlog_path_) - backlog_cut_at_start_;
  }
  if (path.empty()) {
    paths_.erase(episode);
  } else {
    paths_[episode] = std::move(path);
  }
  backlog_path_.clear();
  const std::string first = paths_.empty() ? "" : paths_.begin()->second;
  const bool one_path = std::all_of(paths_.begin(), paths_.end(),
                                    [&](const auto& entry) { return entry.second == first; });
  if (static_cast<int>(paths_.size()) >= std::max(1, options_.episodes) && one_path) {
    backlog_path_ = first;
    backlog_since_ = now;
    backlog_cut_at_start_ = cut(first);
  }
}

std::optional<AudioPathChoice> Relay::LastChoice() const {
  MutexLock lock(mu_);
  return last_choice_;
}

AudioPathChoice Relay::ChoosePath(int64_t bit_rate) {
  AudioPathFacts facts = options_.fleet ? options_.fleet() : AudioPathFacts{};
  facts.cores = Cores();
  facts.opus_bits_per_second = options_.opus.bitrate;
  facts.original_bits_per_second = static_cast<double>(bit_rate);
  MutexLock lock(mu_);
  if (bit_rate > 1) copied_bit_rate_ = bit_rate;
  facts.opus_capacity = PreparationCapacity(opus_, facts.cores);
  facts.copy_capacity = PreparationCapacity(copy_, facts.cores);
  last_choice_ = ChooseAudioPath(options_.audio_path, facts);
  return *last_choice_;
}

bool Relay::stopping() const {
  MutexLock lock(mu_);
  return stopping_;
}

std::filesystem::path Relay::ChunkFile(const std::filesystem::path& dir, EpisodeId episode,
                                       int index, std::string_view extension) {
  return dir / fmt::format("e{}-c{}.{}", episode.value(), index, extension);
}

std::filesystem::path Relay::FindChunkFile(const std::filesystem::path& dir, EpisodeId episode,
                                           int index) {
  std::error_code ec;
  for (std::string_view extension : kChunkExtensions) {
    auto path = ChunkFile(dir, episode, index, extension);
    if (std::filesystem::exists(path, ec)) return path;
  }
  return ChunkFile(dir, episode, index);
}

void Relay::RemoveChunkFiles(const std::filesystem::path& dir, EpisodeId episode, int count) {
  std::error_code ec;
  for (int i = 0; i < count; ++i)
    for (std::string_view extension : kChunkExtensions)
      std::filesystem::remove(ChunkFile(dir, episode, i, extension), ec);
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
    bool download_failed = false;
    Result<void> prepared = taken ? Prepare(*job, download_failed) : Result<void>{};
    Result<void> recorded =
        prepared ? Result<void>{} : Report(*job, prepared.error(), download_failed);
    if (!taken && taken.error().code != Code::kConflict) recorded = taken;
    {
      MutexLock lock(mu_);
      SetPath(job->episode.id.value(), "");
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

// An episode's audio as the relay decodes it: an upload, whole on disk, or a download from its
// origin that its own thread writes into a GrowingFile while the relay decodes what has come.
// Destroying it cancels a download still running, waits for its thread and removes its file.
class Relay::Source {
 public:
  // An upload at `path`.
  explicit Source(const std::filesystem::path& path)
      : file_(path), name_(path.filename().string()) {
    file_.Finished(path);
  }

  // Downloads `url` to `dest` on a thread of its own.
  Source(HttpClient& http, const std::string& url, std::filesystem::path dest,
         DownloadOptions options)
      : file_(dest.string() + ".part"), dest_(std::move(dest)), name_(dest_.filename().string()) {
    options.progress = [this, go_on = std::move(options.progress)](int64_t got, int64_t total) {
      if (total > 0) file_.Announced(total);
      file_.Grew();
      return !file_.cancelled() && (!go_on || go_on(got, total));
    };
    thread_ = std::thread([this, &http, url, options = std::move(options)] {
      auto fetched = http.Download(url, dest_, options);
      if (fetched) {
        file_.Finished(fetched->path);
      } else {
        file_.Failed(fetched.error());
      }
    });
  }

  ~Source() {
    if (!thread_.joinable()) return;
    file_.Cancel();
    thread_.join();
    RemovePartial(dest_);
  }
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  GrowingFile& file() { return file_; }
  // The name errors about the audio start with (AboutUrl takes it off).
  const std::string& name() const { return name_; }
  // Why the download failed on its own (not cancelled by the relay), if it did.
  std::optional<Error> download_failure() const { return file_.failure(); }

 private:
  GrowingFile file_;
  const std::filesystem::path dest_;  // empty for an upload
  const std::string name_;
  std::thread thread_;  // the download's; none for an upload
};

Result<std::unique_ptr<Relay::Source>> Relay::Open(const Episode& episode) {
  const std::string& url = episode.info.audio_url;
  if (OwnUpload(url))
    return std::make_unique<Source>(options_.uploads_dir / url.substr(url.rfind('/') + 1));

  const Millis longest = options_.max_episode_duration;
  if (episode.info.duration && *episode.info.duration > longest)
    return InvalidArgument(
        fmt::format("{}: declared {} min long, over the {} min allowed "
                    "(serve --max-episode-duration)",
                    url, episode.info.duration->count() / 60'000, longest.count() / 60'000));
  DownloadOptions download;
  download.max_bytes = options_.max_audio_bytes;
  download.retries = options_.download_retries;
  download.deadline = DownloadDeadline(episode.info.duration, episode.info.audio_length, longest);
  if (options_.public_only)
    download.allow_address = [](const sockaddr* a) { return IsPublicAddress(a); };
  download.progress = [this](int64_t, int64_t) { return !stopping(); };
  const auto dest = options_.scratch_dir / fmt::format("episode-{}", episode.id.value());
  RemovePartial(dest);  // a .part left by an earlier try is not resumed: it is decoded from 0
  return std::make_unique<Source>(http_, url, dest, std::move(download));
}

// The chunking for what is left of the episode, `duration` long in all if known: spread over the
// free workers. `estimate` gets the expected number of chunks (0 when unknown).
ChunkOptions Relay::Chunking(std::optional<Millis> duration, const PreparingJob& job,
                             int& estimate) {
  ChunkOptions chunking = options_.chunks;
  chunking.first = options_.first_chunk;
  estimate = 0;
  if (!duration || *duration <= job.next.start) return chunking;
  Millis left = *duration - job.next.start;
  // A short first chunk (ChunkOptions::first) comes before the spread ones.
  const Millis first = job.next.index == 0 && left > chunking.target + chunking.target / 4
                           ? FirstChunk(chunking)
                           : Millis(0);
  left -= first;
  const int free = options_.free_workers ? options_.free_workers() : 0;
  chunking.target = SpreadTarget(left, chunking.target, free, first);
  if (chunking.target > Millis(0)) {
    const double chunks = static_cast<double>(left.count()) / chunking.target.count();
    estimate = job.next.index + (first > Millis(0) ? 1 : 0) +
               std::max(1, static_cast<int>(std::lround(chunks)));
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
      std::filesystem::remove(f.path, ec);
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
  if (!audio)
    return std::unexpected(
        AboutUrl(audio.error(), source.filename().string(), job.episode.info.audio_url));
  const auto path = ChunkFile(options_.dir, job.episode.id, chunk.index);
  Result<void> written = WriteOpus(path, audio->samples, options_.opus);
  {
    MutexLock lock(mu_);
    opus_.cpu_seconds += ThreadCpuSeconds() - cpu;
    opus_.prepared_seconds += static_cast<double>(audio->samples.size()) / kSampleRate;
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

Result<bool> Relay::PlanFromOrigin(PreparingJob& job) {
  const Episode& episode = job.episode;
  const std::string& url = episode.info.audio_url;
  auto relay_it = [&](std::string_view why) {
    Log(fmt::format("episode {}: relay path, not origin ranges: {}", episode.id.value(), why));
    return false;
  };
  if (OwnUpload(url) || !(url.starts_with("http://") || url.starts_with("https://")))
    return relay_it("no http(s) origin");
  RangeSourceOptions ranges;
  if (options_.public_only)
    ranges.allow_address = [](const sockaddr* a) { return IsPublicAddress(a); };
  auto source = RangeSource::Open(http_, url, ranges);
  if (!source) return relay_it(source.error().message);
  auto probe = ProbeByteSource(**source);
  if (!probe) return relay_it(probe.error().message);
  if (std::string why = RangesRefusal(*probe); !why.empty()) return relay_it(why);
  if (probe->duration > options_.max_episode_duration)
    return InvalidArgument(fmt::format(
        "{}: {} min long, over the {} min allowed "
        "(serve --max-episode-duration)",
        url, probe->duration.count() / 60'000, options_.max_episode_duration.count() / 60'000));
  ChunkOptions chunking = options_.chunks;
  chunking.first = options_.first_chunk;
  const int free = options_.free_workers ? options_.free_workers() : 0;
  const std::vector<Chunk> chunks = PlanSeamChunks(probe->duration, chunking, free);
  if (auto planned = store_.PlanChunks(job.job, chunks, clock_.Now()); !planned)
    return std::unexpected(planned.error());
  const bool whole = chunks.size() == 1;
  AudioPathChoice choice;
  choice.path = whole ? "origin" : "ranges";
  choice.feed = options_.fleet ? options_.fleet().fleet_speed : 0;
  choice.reason = whole ? "one chunk long: its worker fetches the whole file from the origin"
                        : "the origin serves byte ranges: workers read their chunks from it";
  {
    MutexLock lock(mu_);
    last_choice_ = choice;
  }
  Log(fmt::format("episode {}: {} path, {:.1f} min in {} chunk(s) ({}; {} bytes probed)",
                  episode.id.value(), choice.path, probe->duration.count() / 60'000.0,
                  chunks.size(), probe->format, (*source)->traffic().bytes));
  on_queued_();
  return true;
}

Result<void> Relay::Prepare(PreparingJob& job, bool& download_failed) {
  const Episode& episode = job.episode;
  if (options_.origin_ranges && job.next.index == 0 && !job.next.end) {
    Result<bool> planned = PlanFromOrigin(job);
    if (!planned) return std::unexpected(planned.error());
    if (*planned) return {};
  }
  auto source = Open(episode);
  if (!source) return std::unexpected(source.error());
  if (job.next.end) {  // one chunk to cut again (Store::ReclaimAudio), from the whole file
    Result<std::filesystem::path> whole = (*source)->file().WaitFinished();
    if (!whole) return std::unexpected(whole.error());
    return PrepareAgain(job, *whole);
  }
  int estimate = 0;
  std::optional<ChunkCutter> cutter;  // once the header tells the duration, if it does
  std::deque<InFlight> in_flight;
  int index = job.next.index;
  std::optional<Error> failed;
  // The copy path's copier, from the first chunk on when that path is chosen; `copied_to` is
  // where the next chunk starts: the frame boundary the last copy ended at.
  std::optional<AudioPathChoice> choice;
  std::unique_ptr<FrameCopier> copier;
  Millis copied_to = job.next.start;
  auto choose = [&] {
    int64_t bit_rate = 0;
    // Opening the copier may wait for the whole download (an M4A): not when even the fewest
    // bytes would not make copying worth it. Then that answer (Opus, and why) stands.
    std::optional<AudioPathChoice> opus_enough;
    if (options_.audio_path == AudioPathMode::kAuto) {
      AudioPathChoice best = ChoosePath(/*bit_rate=*/1);
      if (best.path != "copy") opus_enough = std::move(best);
    }
    const bool may_copy = options_.audio_path == AudioPathMode::kCopy ||
                          (options_.audio_path == AudioPathMode::kAuto && !opus_enough);
    if (may_copy) {
      auto opened = FrameCopier::Open((*source)->file(), (*source)->name());
      // What cannot be copied is encoded: a read that failed fails the decoding too, which
      // reports it.
      if (opened) {
        copier = std::move(*opened);
        bit_rate = copier->bit_rate();
      } else if (opened.error().code != Code::kInvalidArgument) {
        Log(fmt::format("episode {}: not copied: {}", episode.id.value(),
                        opened.error().ToString()));
      }
    }
    choice = opus_enough ? *opus_enough : ChoosePath(bit_rate);
    if (choice->path != "copy") copier.reset();
    {
      MutexLock lock(mu_);
      SetPath(episode.id.value(), choice->path);
    }
    Log(fmt::format("episode {}: {} path, {} binds ({})", episode.id.value(), choice->path,
                    choice->binding, choice->reason));
  };
  // The chunk's frames copied into its file, on this thread (copying is cheap); its times become
  // its frames'.
  auto copy = [&](InFlight& f) {
    std::promise<Result<void>> done;
    f.path = ChunkFile(options_.dir, episode.id, f.chunk.index, copier->extension());
    const std::optional<Millis> cut = f.last ? std::nullopt : f.chunk.end;
    auto end = copier->Copy(copied_to, cut, f.path);
    if (end) {
      f.chunk.start = copied_to;
      if (!f.last) f.chunk.end = *end;
      copied_to = *end;
      done.set_value(Result<void>{});
    } else {
      done.set_value(std::unexpected(end.error()));
    }
    f.written = done.get_future();
  };
  // Hands chunks to the encoders (or copies them); false once something failed.
  auto encode = [&](std::vector<CutChunk> cut, bool ends) {
    for (size_t i = 0; i < cut.size() && !failed; ++i) {
      if (!choice) choose();
      if (in_flight.size() >= kMaxInFlight)
        if (Result<void> r = Settle(job, in_flight, /*wait=*/true); !r) failed = r.error();
      if (failed) break;
      InFlight f;
      f.chunk = Chunk{index, estimate, ToMillis(cut[i].piece.begin), ToMillis(cut[i].piece.end),
                      /*relayed=*/true};
      f.last = ends && i + 1 == cut.size();
      {
        MutexLock lock(mu_);
        (copier ? cut_copy_ : cut_opus_) +=
            static_cast<double>(cut[i].piece.end.count - cut[i].piece.begin.count) / kSampleRate;
      }
      if (copier) {
        copy(f);
      } else {
        f.path = ChunkFile(options_.dir, episode.id, index);
        f.written = encoders_->Submit(
            [this, path = f.path, samples = std::move(cut[i].samples), opus = options_.opus] {
              const double cpu = ThreadCpuSeconds();
              Result<void> r = WriteOpus(path, samples, opus);
              MutexLock lock(mu_);
              opus_.cpu_seconds += ThreadCpuSeconds() - cpu;
              return r;
            });
      }
      ++index;
      in_flight.push_back(std::move(f));
    }
    if (!failed)
      if (Result<void> r = Settle(job, in_flight, /*wait=*/false); !r) failed = r.error();
    return !failed && !stopping();
  };
  // The path is chosen as soon as the audio opens, so that a copy decodes only around its cuts
  // from the start (an M4A's copier waits for the whole file here instead of at the first chunk).
  auto opened = [&](std::optional<Millis> duration) {
    cutter.emplace(Chunking(duration ? duration : episode.info.duration, job, estimate),
                   ToSamples(job.next.start));
    choose();
  };
  // Copying needs the decoded audio only where the cuts are looked for: the rest is not decoded.
  auto wanted = [&](Samples begin, Samples end) { return !copier || cutter->LooksAt(begin, end); };
  const double cpu = ThreadCpuSeconds();
  // Decoded as the download comes: the first chunks are queued before it ends.
  auto decoded = DecodeGrowingFile(
      (*source)->file(), (*source)->name(), opened,
      [&](std::span<const float> block) { return encode(cutter->Push(block), /*ends=*/false); },
      wanted);
  {
    MutexLock lock(mu_);
    PathSpent& spent = copier ? copy_ : opus_;
    spent.cpu_seconds += ThreadCpuSeconds() - cpu;
    if (decoded) spent.prepared_seconds += static_cast<double>(*decoded) / kSampleRate;
  }
  if (decoded && !failed) encode(cutter->Finish(), /*ends=*/true);
  while (!failed && !in_flight.empty())
    if (Result<void> r = Settle(job, in_flight, /*wait=*/true); !r) failed = r.error();
  // After a failure, the chunks still being written are not queued: wait for them, drop them.
  for (InFlight& f : in_flight) {
    (void)f.written.get();
    std::error_code ec;
    std::filesystem::remove(f.path, ec);
  }
  copier.reset();  // it reads the download's file
  // The download's own failure is the cause of a failed decode (the decoder's error then names
  // a read that failed); cancelled by the relay, it is not.
  const std::optional<Error> download = (*source)->download_failure();
  const std::string name = (*source)->name();
  source->reset();  // the download is over and its file removed
  if (failed) return std::unexpected(*failed);
  if (!decoded && download) {
    download_failed = true;
    return std::unexpected(*download);
  }
  if (!decoded) return std::unexpected(AboutUrl(decoded.error(), name, episode.info.audio_url));
  Log(fmt::format("episode {}: {:.1f} min of audio in {} chunk(s)", episode.id.value(),
                  static_cast<double>(*decoded) / kSampleRate / 60.0, index));
  return {};
}

Result<void> Relay::Report(const PreparingJob& job, const Error& error, bool download_failed) {
  if (stopping()) return {};  // a cancelled download is no failure: it resumes on the next start
  const bool permanent = Permanent(error);
  const EpisodeId episode = job.episode.id;
  // Audio that never came whole for good (a live stream past its deadline) is no episode: the
  // chunks queued from it go too, rather than a transcript of some stretch of it.
  if (permanent && download_failed && job.next.index > 0) {
    Log(fmt::format("episode {} (permanent): {}; its {} queued chunk(s) withdrawn", episode.value(),
                    error.ToString(), job.next.index));
    Result<void> withdrawn = store_.WithdrawPreparing(job.job, error.message, clock_.Now());
    if (withdrawn) RemoveChunkFiles(options_.dir, episode, job.next.index);
    return WithContext(std::move(withdrawn),
                       fmt::format("recording episode {}'s failure", episode.value()));
  }
  Log(fmt::format("episode {} ({}): {}", episode.value(), permanent ? "permanent" : "will retry",
                  error.ToString()));
  return WithContext(store_.FailPreparing(job.job, Failure{error.message, permanent},
                                          options_.retry, clock_.Now()),
                     fmt::format("recording episode {}'s failure", episode.value()));
}

}  // namespace podfleet
