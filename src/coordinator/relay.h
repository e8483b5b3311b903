// The relay: the coordinator's side of relay mode (doc/relay.md).
//
// Jobs of new episodes are held as kPreparing (JobIntake::kPrepare). The relay takes them one at
// a time, oldest first: it downloads the episode once from its origin (an upload is read from
// disk), decodes it (audio/audio.h), cuts it at pauses into chunks of about `chunks.target`
// (audio/chunks.h), writes each chunk as 16 kHz mono Ogg Opus (audio/opus.h) into `dir`, and
// queues the chunks as jobs (Store::PlanChunks); then it calls `on_queued` so that waiting
// workers are served. Workers fetch a chunk from GET /api/jobs/{id}/audio.
//
// Failures the store cannot record (it stopped writing: store.h, CheckHealth) and a stopped
// store pause the loop with a growing, jittered wait (core/retry_pacer.h), logged once, so that
// the origin is not asked again and again for an episode that cannot be recorded.
//
// Failures: an origin answering 404/410, bytes that are not audio and undecodable audio fail the
// job for good; network errors, a full disk and other transient trouble are retried with the
// store's backoff (Store::FailPreparing). Nothing is lost on a restart: jobs stay kPreparing in
// the store until their chunks are planned, and a chunk file is written whole or not at all.
//
// Thread safety: Wake and Stop may be called from any thread; the work runs on one thread (chunks
// are encoded on every core).
#pragma once

#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

#include "audio/chunks.h"
#include "audio/opus.h"
#include "core/clock.h"
#include "net/http_client.h"
#include "store/store.h"

namespace podfleet {

struct RelayOptions {
  std::filesystem::path dir;          // chunk files: e<episode>-c<index>.opus
  std::filesystem::path uploads_dir;  // where /api/media/<name> uploads live
  std::filesystem::path scratch_dir;  // origin downloads, removed once decoded
  ChunkOptions chunks;
  OpusOptions opus;
  int64_t max_audio_bytes = int64_t{2} << 30;
  // Longest episode taken: one declaring more fails for good, and the download deadline of one
  // declaring nothing is derived from it (DownloadDeadline).
  Millis max_episode_duration{24 * 3'600'000};
  RetryPolicy retry;
  // Connect only to public addresses when downloading (serve --refuse-private-addresses): the URL
  // was checked when added, but its DNS answer may have changed since.
  bool public_only = false;
  // How many workers would wait for work now (online, unblocked nodes less the jobs already
  // queued); a long episode is then cut so that its chunks fill whole rounds of them
  // (SpreadTarget). Empty: chunks are cut at `chunks.target`.
  std::function<int()> free_workers;
};

class Relay {
 public:
  // Starts the relay's thread. `store`, `http` and `clock` must outlive it.
  Relay(Store& store, HttpClient& http, const Clock& clock, RelayOptions options,
        std::function<void()> on_queued);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // New jobs may be waiting: look now rather than at the next periodic check.
  void Wake();
  // Stops after the episode in hand (cancelling its download). Idempotent.
  void Stop();

  // The file of chunk `index` of `episode` under `dir`.
  static std::filesystem::path ChunkFile(const std::filesystem::path& dir, EpisodeId episode,
                                         int index);
  // Removes the chunk files of an episode that needs them no more.
  static void RemoveChunkFiles(const std::filesystem::path& dir, EpisodeId episode, int count);

 private:
  void Loop();
  // Prepares one job; the error says why not and whether for good.
  Result<void> Prepare(const PreparingJob& job);
  Result<std::filesystem::path> Fetch(const Episode& episode);
  Result<void> EncodeChunks(EpisodeId episode, const PcmAudio& audio,
                            const std::vector<Piece>& pieces);
  // Records the failure in the store; the error when the store could not.
  Result<void> Report(const PreparingJob& job, const Error& error);
  // Waits `wait` unless stopped (Wake does not cut it short).
  void Pause(Millis wait);
  // Removes downloads (and their .part files) a crash or a failure left in scratch_dir.
  void RemoveScratchFiles();

  // Constant after construction.
  Store& store_;
  HttpClient& http_;
  const Clock& clock_;
  const RelayOptions options_;
  const std::function<void()> on_queued_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool woken_ = false;     // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace podfleet
