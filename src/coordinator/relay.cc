#include "coordinator/relay.h"

#include <fmt/format.h>

#include <atomic>
#include <optional>
#include <span>

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

void Log(const std::string& line) { fmt::print(stderr, "relay: {}\n", line); }

bool Permanent(const Error& e) {
  return e.code == Code::kNotFound || e.code == Code::kInvalidArgument ||
         e.code == Code::kCorruption;
}

}  // namespace

Relay::Relay(Store& store, HttpClient& http, const Clock& clock, RelayOptions options,
             std::function<void()> on_queued)
    : store_(store),
      http_(http),
      clock_(clock),
      options_(std::move(options)),
      on_queued_(std::move(on_queued)),
      thread_([this] { Loop(); }) {}

Relay::~Relay() { Stop(); }

void Relay::Wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  wake_.notify_all();
}

void Relay::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::filesystem::path Relay::ChunkFile(const std::filesystem::path& dir, EpisodeId episode,
                                       int index) {
  return dir / fmt::format("e{}-c{}.opus", episode.value(), index);
}

void Relay::RemoveChunkFiles(const std::filesystem::path& dir, EpisodeId episode, int count) {
  std::error_code ec;
  for (int i = 0; i < count; ++i) std::filesystem::remove(ChunkFile(dir, episode, i), ec);
}

void Relay::Loop() {
  std::error_code ec;
  std::filesystem::create_directories(options_.dir, ec);
  std::filesystem::create_directories(options_.scratch_dir, ec);
  RemoveScratchFiles();
  // A store that stopped writing can record neither chunks nor failures: trying again at once
  // would download the same episode in a tight loop (issue 19, finding 4). Such failures pause
  // the loop with a growing, jittered wait.
  RetryPacer pacer("relay", kPauseBase, kPauseMax);
  while (true) {
    {
      std::unique_lock lock(mu_);
      if (stopping_) return;
    }
    if (Result<void> healthy = store_.CheckHealth(); !healthy) {
      Pause(pacer.Failed(Error{healthy.error().code, "paused: " + healthy.error().message}));
      continue;
    }
    auto jobs = store_.ListPreparing(1, clock_.Now());
    if (!jobs) {
      Pause(pacer.Failed(jobs.error()));
      continue;
    }
    if (jobs->empty()) {
      pacer.Succeeded();
      std::unique_lock lock(mu_);
      wake_.wait_for(lock, kRecheck, [this] { return woken_ || stopping_; });
      woken_ = false;
      continue;
    }
    const PreparingJob& job = jobs->front();
    if (Result<void> r = Prepare(job); !r) {
      if (Result<void> recorded = Report(job, r.error()); !recorded) {
        Pause(pacer.Failed(recorded.error()));
        continue;
      }
    } else {
      on_queued_();
    }
    pacer.Succeeded();
  }
}

void Relay::Pause(Millis wait) {
  std::unique_lock lock(mu_);
  wake_.wait_for(lock, wait, [this] { return stopping_; });
}

void Relay::RemoveScratchFiles() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(options_.scratch_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("episode-")) std::filesystem::remove(entry.path(), ec);
  }
}

Result<std::filesystem::path> Relay::Fetch(const Episode& episode) {
  const std::string& url = episode.info.audio_url;
  if (url.starts_with(kUploadPrefix))
    return options_.uploads_dir / url.substr(kUploadPrefix.size());
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
  download.progress = [this](int64_t, int64_t) {
    std::lock_guard lock(mu_);
    return !stopping_;
  };
  const auto dest = options_.scratch_dir / fmt::format("episode-{}", episode.id.value());
  auto fetched = http_.Download(url, dest, download);
  if (!fetched) return std::unexpected(fetched.error());
  return dest;
}

Result<void> Relay::Prepare(const PreparingJob& job) {
  const Episode& episode = job.episode;
  auto source = Fetch(episode);
  if (!source) return std::unexpected(source.error());
  auto audio = DecodeAudioFile(*source);
  std::error_code ec;
  if (!episode.info.audio_url.starts_with(kUploadPrefix)) std::filesystem::remove(*source, ec);
  if (!audio) {
    // Name the episode's URL, not the scratch file, in the reason the operator reads.
    Error error = audio.error();
    const std::string scratch = source->filename().string() + ": ";
    if (error.message.starts_with(scratch)) error.message.erase(0, scratch.size());
    error.message = episode.info.audio_url + ": " + error.message;
    return std::unexpected(error);
  }
  ChunkOptions chunking = options_.chunks;
  const int free = options_.free_workers ? options_.free_workers() : 0;
  chunking.target = SpreadTarget(audio->duration(), chunking.target, free);
  const std::vector<Piece> pieces = ChooseChunks(*audio, chunking);
  if (Result<void> r = EncodeChunks(episode.id, *audio, pieces); !r)
    return std::unexpected(r.error());
  std::vector<Chunk> chunks;
  for (const Piece& p : pieces) {
    Chunk c;
    c.start = ToMillis(p.begin);
    c.end = ToMillis(p.end);
    c.relayed = true;
    chunks.push_back(c);
  }
  auto planned = store_.PlanChunks(job.job, chunks, clock_.Now());
  if (!planned) return std::unexpected(planned.error());
  Log(fmt::format("episode {}: {:.1f} min of audio in {} chunk(s), {} worker(s) free",
                  episode.id.value(), static_cast<double>(audio->duration().count()) / 60'000.0,
                  chunks.size(), free));
  return {};
}

// Chunks are independent: they are encoded side by side on every core, so that a long episode's
// chunks are ready about as soon as a few pods could start on them.
Result<void> Relay::EncodeChunks(EpisodeId episode, const PcmAudio& audio,
                                 const std::vector<Piece>& pieces) {
  std::atomic<size_t> next{0};
  std::mutex failed_mu;
  std::optional<Error> failed;
  auto encode = [&] {
    for (size_t i = next++; i < pieces.size(); i = next++) {
      const Piece& p = pieces[i];
      std::span<const float> samples(audio.samples.data() + p.begin.count,
                                     static_cast<size_t>(p.end.count - p.begin.count));
      auto r =
          WriteOpus(ChunkFile(options_.dir, episode, static_cast<int>(i)), samples, options_.opus);
      if (!r) {
        std::lock_guard lock(failed_mu);
        failed = r.error();
        return;
      }
    }
  };
  const size_t threads = std::clamp<size_t>(std::thread::hardware_concurrency(), 1,
                                            std::max<size_t>(1, pieces.size()));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(encode);
  encode();
  for (std::thread& t : pool) t.join();
  if (failed) return std::unexpected(*failed);
  return {};
}

Result<void> Relay::Report(const PreparingJob& job, const Error& error) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return {};  // a cancelled download is no failure: it resumes on the next start
  }
  const bool permanent = Permanent(error);
  Log(fmt::format("episode {} ({}): {}", job.episode.id.value(),
                  permanent ? "permanent" : "will retry", error.ToString()));
  return WithContext(store_.FailPreparing(job.job, Failure{error.message, permanent},
                                          options_.retry, clock_.Now()),
                     fmt::format("recording episode {}'s failure", job.episode.id.value()));
}

}  // namespace podfleet
