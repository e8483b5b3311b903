// The relay: the coordinator's side of relay mode (doc/relay.md).
//
// Jobs of new episodes are held as kPreparing (JobIntake::kPrepare). The relay prepares up to
// `episodes` of them at once, oldest first, each on its own thread, so that a slow origin or a
// long episode holds up no other: it downloads the episode once from its origin on a thread of
// its own (an upload is read from disk) and, while the download goes on, decodes what has come
// block by block (DecodeGrowingFile: formats that need the whole file wait for it), cuts it at
// pauses into chunks of about `chunks.target`, the first about `first_chunk`, as the audio comes
// (ChunkCutter), and encodes each
// chunk as 16 kHz mono Ogg Opus (audio/opus.h) into `dir` on a pool of encoder threads shared by
// all episodes, or, on the copy path, copies the original's MP3 or AAC frames of each chunk into
// its file (audio/frame_copy.h: no encoding; the chunk's times are its frames'), decoding only
// around the cuts (ChunkCutter::LooksAt). The path is chosen per episode as its audio opens
// (coordinator/audio_path.h, `audio_path`). Each chunk is
// queued as a job as soon as it and those before it are encoded (Store::QueueChunk, the last one
// Store::PlanChunks), and `on_queued` is called so that waiting workers are served at once. Memory
// per episode is bounded by a few chunks of decoded audio, not by the episode's length. Workers
// fetch a chunk from GET /api/jobs/{id}/audio.
//
// Failures the store cannot record (it stopped writing: store.h, CheckHealth) and a stopped
// store pause the loop with a growing, jittered wait (core/retry_pacer.h), logged once, so that
// the origin is not asked again and again for an episode that cannot be recorded.
//
// Several coordinators on one store (doc/scale.md): each relay takes a job before preparing it
// (Store::TakePreparing, as the `holder` given to Start: this coordinator's base URL), so no two
// prepare one episode, and the chunks it queues are held by it: leases name it, workers fetch
// them from it. A chunk
// whose coordinator was lost comes back kPreparing with its end (Store::ReclaimAudio); the relay
// that takes it cuts that one chunk again from the episode's audio and queues it as it was. An
// upload held by another coordinator ("<its URL>/api/media/NAME") is downloaded from it.
//
// Failures: an origin answering 404/410, bytes that are not audio and undecodable audio fail the
// job for good; network errors, a full disk and other transient trouble are retried with the
// store's backoff (Store::FailPreparing); the retry decodes from the start again and queues from
// the next chunk on, so a download cut part-way queues no chunk twice. A download that fails for
// good after chunks were queued (a live stream past its deadline, DownloadDeadline) withdraws
// them (Store::WithdrawPreparing): the episode fails with the download's reason and no stretch
// of it is transcribed. A file found damaged or truncated only at its end fails the episode
// after its first chunks were queued, which stay. Nothing is lost on a restart: what is not yet
// queued stays kPreparing in the store, resuming at its next chunk, and a chunk file is written
// whole or not at all.
//
// Thread safety: Wake and Stop may be called from any thread.
#pragma once

#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string_view>
#include <thread>
#include <vector>

#include "audio/chunks.h"
#include "audio/opus.h"
#include "coordinator/audio_path.h"
#include "core/clock.h"
#include "core/retry_pacer.h"
#include "core/task_pool.h"
#include "core/thread_annotations.h"
#include "net/http_client.h"
#include "store/store.h"

namespace podfleet {

struct RelayOptions {
  std::filesystem::path dir;  // chunk files: e<episode>-c<index>.opus (.mp3, .aac when copied)
  std::filesystem::path uploads_dir;  // where /api/media/<name> uploads live
  std::filesystem::path scratch_dir;  // origin downloads, removed once decoded
  ChunkOptions chunks;
  // The short first chunk of an episode longer than one chunk (ChunkOptions::first), so that
  // its first lease comes as soon as this much is encoded.
  Millis first_chunk{60'000};
  OpusOptions opus;
  int64_t max_audio_bytes = int64_t{2} << 30;
  // Longest episode taken: one declaring more fails for good, and the download deadline of one
  // declaring nothing is derived from it (DownloadDeadline).
  Millis max_episode_duration{24 * 3'600'000};
  RetryPolicy retry;
  // Transient failures retried within one download (DownloadOptions::retries); past them the
  // episode waits for the store's retry (`retry`).
  int download_retries = 3;
  // Connect only to public addresses when downloading (serve --refuse-private-addresses): the URL
  // was checked when added, but its DNS answer may have changed since.
  bool public_only = false;
  // Episodes prepared at once (each on a thread that downloads, decodes and cuts it).
  int episodes = 4;
  // Threads encoding chunks, shared by those episodes; 0: one per core.
  int encoders = 0;
  // How many workers would wait for work now (online, unblocked nodes less the jobs already
  // queued); a long episode is then cut so that its chunks fill whole rounds of them
  // (SpreadTarget). Empty: chunks are cut at `chunks.target`.
  std::function<int()> free_workers;
  // Opus, copy, or chosen per episode (ChooseAudioPath) from `fleet`: the fleet's speed and the
  // uplink (AudioPathFacts::fleet_speed and uplink_bits_per_second; the relay fills the rest).
  // Empty `fleet`: a fleet speed of 0, which keeps Opus.
  AudioPathMode audio_path = AudioPathMode::kAuto;
  std::function<AudioPathFacts()> fleet;
  // Origin-range mode (serve --audio ranges, origin_ranges.h): an episode whose origin serves
  // byte ranges of an MP3 or M4A with a usable index is only probed and planned as seam chunks
  // that workers read from the origin; any other is relayed as above, the reason logged.
  bool origin_ranges = false;
};

class Relay {
 public:
  // `store`, `http` and `clock` must outlive it. Nothing runs until Start.
  Relay(Store& store, HttpClient& http, const Clock& clock, RelayOptions options,
        std::function<void()> on_queued);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // Starts the relay's threads. `holder`: this coordinator's base URL when several share the store
  // (Store::TakePreparing), empty when it is the store's only one. REQUIRES: called once.
  void Start(std::string holder);
  // New jobs may be waiting: look now rather than at the next periodic check.
  void Wake();
  // Stops after the chunks being encoded (cancelling downloads and decoding). Idempotent.
  void Stop();

  // The path that would feed the most behind an uplink of `uplink_bits_per_second` (0: none
  // known), as `audio_path` allows (BestFeed), and what it feeds. Each path's preparation
  // capacity is what the relay measured on it since it started (PreparationCapacity: the cores
  // times the audio prepared per CPU-second spent downloading, decoding, cutting and encoding or
  // copying it, but no more than it cut per wall-second while every episode slot was busy on that
  // path), else its prior; copy's bytes are the last copyable original's bit rate; nullopt when the
  // last episode was planned for workers to read from its origin (the coordinator prepares no
  // audio).
  std::optional<PathFeed> BestFeed(double uplink_bits_per_second) const EXCLUDES(mu_);
  // The path chosen for the episode whose preparation started last, and why; nullopt before any.
  std::optional<AudioPathChoice> LastChoice() const EXCLUDES(mu_);

  // The file of chunk `index` of `episode` under `dir`, as Opus or as the original's frames
  // (`extension` "mp3" or "aac").
  static std::filesystem::path ChunkFile(const std::filesystem::path& dir, EpisodeId episode,
                                         int index, std::string_view extension = "opus");
  // The file chunk `index` of `episode` was written to, whichever its format; the Opus name
  // when there is none.
  static std::filesystem::path FindChunkFile(const std::filesystem::path& dir, EpisodeId episode,
                                             int index);
  // Removes the chunk files (of any format) of an episode that needs them no more.
  static void RemoveChunkFiles(const std::filesystem::path& dir, EpisodeId episode, int count);

 private:
  struct InFlight;
  class Source;

  void Loop(Wakeup& wakeup);
  // The next kPreparing job of an episode no other thread has in hand, marked as in hand; none
  // when stopping.
  std::optional<PreparingJob> Next(RetryPacer& pacer, Wakeup& wakeup);
  // Prepares what is left of `job`'s episode; `job.job` follows the job that holds the rest.
  // The error says why not and whether for good.
  // `download_failed`: the error is the download's own.
  Result<void> Prepare(PreparingJob& job, bool& download_failed);
  // Prepares again the one chunk `job` names (it has an end), from the whole file at `source`.
  Result<void> PrepareAgain(const PreparingJob& job, const std::filesystem::path& source);
  // Whether `url` names an upload in uploads_dir (this coordinator's own).
  bool OwnUpload(const std::string& url) const;
  // The episode's audio: an upload, or its download started.
  Result<std::unique_ptr<Source>> Open(const Episode& episode);
  // Origin-range mode: plans `job`'s episode as chunks workers read from its origin; false (the
  // reason logged) when it is to be relayed instead. Errors: the store's; kInvalidArgument for an
  // episode longer than allowed.
  Result<bool> PlanFromOrigin(PreparingJob& job);
  // The path for an episode whose original copies at `bit_rate` bits per second (0: it does not).
  AudioPathChoice ChoosePath(int64_t bit_rate) EXCLUDES(mu_);
  ChunkOptions Chunking(std::optional<Millis> duration, const PreparingJob& job, int& estimate);
  // Queues the oldest encoded chunks; with `wait`, waits for the oldest one first.
  Result<void> Settle(PreparingJob& job, std::deque<InFlight>& in_flight, bool wait);
  // Records the failure in the store; the error when the store could not.
  Result<void> Report(const PreparingJob& job, const Error& error, bool download_failed);
  // Waits `wait` of the Clock's time unless stopped (Wake does not cut it short).
  void Pause(Millis wait);
  // Removes downloads (and their .part files) a crash or a failure left in scratch_dir.
  void RemoveScratchFiles();
  bool stopping() const EXCLUDES(mu_);

  // Constant after construction.
  Store& store_;
  HttpClient& http_;
  const Clock& clock_;
  const RelayOptions options_;
  const std::function<void()> on_queued_;
  std::string holder_;  // constant after Start

  mutable Mutex mu_;
  std::stop_source stop_;
  // One per thread (a Wakeup serves one waiter), notified by Wake and by a thread letting an
  // episode go. Constant after construction.
  std::vector<std::unique_ptr<Wakeup>> wakeups_;
  uint64_t finished_ GUARDED_BY(mu_) = 0;  // episodes let go of
  bool stopping_ GUARDED_BY(mu_) = false;
  std::set<int64_t> in_hand_ GUARDED_BY(mu_);  // episodes being prepared
  // Records an episode's path ("" when let go) and accounts the backlogged time since the last
  // change (PathSpent::backlog_*): time counts while every episode slot holds an episode on one
  // path.
  void SetPath(int64_t episode, std::string path) REQUIRES(mu_);
  PathSpent& SpentOn(const std::string& path) REQUIRES(mu_);

  // Per path: audio decoded and cut, for this much CPU (with its encoding or copying).
  PathSpent opus_ GUARDED_BY(mu_);
  PathSpent copy_ GUARDED_BY(mu_);
  // Per path: audio of the chunks cut so far, and, for the backlogged stretch going on (on
  // `backlog_path_`, empty when none), when it began and what had been cut then.
  double cut_opus_ GUARDED_BY(mu_) = 0;
  double cut_copy_ GUARDED_BY(mu_) = 0;
  std::map<int64_t, std::string> paths_ GUARDED_BY(mu_);  // episode in hand -> its path
  std::string backlog_path_ GUARDED_BY(mu_);
  TimePoint backlog_since_ GUARDED_BY(mu_){};
  double backlog_cut_at_start_ GUARDED_BY(mu_) = 0;
  int64_t copied_bit_rate_ GUARDED_BY(mu_) = 0;  // of the last original copied
  std::optional<AudioPathChoice> last_choice_ GUARDED_BY(mu_);
  std::unique_ptr<TaskPool> encoders_;  // constant after construction
  std::vector<std::thread> threads_;    // constant after Start
};

}  // namespace podfleet
