// The coordinator: `podfleet serve`. It owns the store, the HTTP API, the dispatcher, the feed
// poller and the lease reaper, and keeps no state of its own that a restart would lose.
//
// Thread safety: Start/Stop from one thread; everything else runs on the coordinator's threads.
#pragma once

#include <atomic>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "audio/chunks.h"
#include "audio/opus.h"
#include "coordinator/audio_path.h"
#include "coordinator/autoscaler.h"
#include "coordinator/data_dir_lock.h"
#include "coordinator/feed_poller.h"
#include "coordinator/price_table.h"
#include "core/clock.h"
#include "core/error.h"
#include "pods/make_provider.h"
#include "store/store.h"

namespace podfleet {

class BundleShelf;
class Dispatcher;
class JoinToken;
class EgressPacer;
class Relay;
class FeedPoller;
class HttpClient;
class HttpServer;
class LeaseReaper;
class ActivityLog;
class Metrics;
class JobWaiters;
class HandlerPool;
class UploadDedup;
class WorkListener;
class TaskLocks;

struct CoordinatorOptions {
  // Where the database, uploads and scratch files live.
  std::filesystem::path data_dir = "podfleet-data";
  // Empty: the SQLite database in data_dir. Otherwise a PostgreSQL URL (postgres://...,
  // store_pg.h): the store lives there and data_dir keeps this coordinator's files (uploads,
  // relay chunks, its admin token).
  std::string store;
  std::string host = "127.0.0.1";
  uint16_t port = 8750;  // 0 picks a free port
  int http_threads = 2;
  // Threads that run the route handlers (store work), so that the I/O threads never block on the
  // store; as many concurrent writes as this can share one commit (store_sqlite.h).
  int handler_threads = 64;
  // A lease lasts this long unless renewed by a heartbeat. After a start, leases from before it get
  // this long again to be re-attached by their workers' heartbeats (lease_reaper.h).
  Millis lease_duration{30'000};
  // Workers are told to heartbeat this often. Zero: a third of the lease, or of offline_after
  // when that is shorter. Must be less than half the lease, so that one late heartbeat does not
  // lose the lease (ValidateOptions).
  Millis heartbeat_interval{0};
  // A node not heard from for this long is shown offline.
  Millis offline_after{30'000};
  // Feeds are polled this often (each jittered, see feed_poller.h).
  Millis feed_interval{15 * 60'000};
  // How much of a new feed's back catalogue is queued unless the add says otherwise.
  Backfill backfill;
  // The longest a claim waits for work (long poll); never longer than lease_duration -
  // heartbeat_interval, so that a dead worker's parked claim cannot take the job its death freed.
  Millis max_claim_wait{30'000};
  // Largest request body: audio uploads.
  size_t max_upload_bytes = size_t{512} << 20;
  RetryPolicy retry;
  // Relay mode (default): the coordinator downloads each episode once, cuts it into chunks at
  // pauses and serves workers the chunks as Opus (coordinator/relay.h). Origin mode (false):
  // workers fetch each episode whole from its own URL and the coordinator carries no audio.
  bool relay = true;
  // Relay mode with origin ranges (serve --audio ranges): episodes whose origin serves byte ranges
  // of an MP3 or M4A are only planned; workers read their chunks from the origin (relay.h).
  bool origin_ranges = false;
  ChunkOptions chunks;     // relay mode: chunk length
  OpusOptions opus;        // relay mode: the Opus encoder's settings
  int relay_episodes = 4;  // relay mode: episodes prepared at once (RelayOptions::episodes)
  // Relay mode: Opus, the original's frames copied, or chosen per episode (audio_path.h).
  AudioPathMode audio_path = AudioPathMode::kAuto;
  // Relay mode: the longest episode taken, and the base of download deadlines (relay.h).
  Millis max_episode_duration{24 * 3'600'000};
  // Cap on the audio bytes per second the coordinator serves, all workers together (0: none).
  int64_t egress_bytes_per_second = 0;
  // Take file:// URLs and local paths for feeds and audio (source_policy.h). Off by default:
  // whoever holds the admin token could otherwise make the coordinator read its own files and
  // workers theirs. `demo` and `up` turn it on.
  bool allow_file_urls = false;
  // Refuse feed and audio URLs whose host is or resolves to a private, loopback, link-local or
  // unique-local address (SSRF), checked when added and again on every connection.
  bool refuse_private_addresses = false;
  // Prices per hour by GPU model, for economics and planning (price_table.h).
  PriceTable prices;
  // The coordinator's upload link in bits per second, for the bandwidth view; 0: not configured.
  double uplink_bits_per_second = 0;
  // Claims per second the coordinator grants (measure with podfleet_bench_queue), for planning;
  // 0: unknown.
  double claim_capacity = 0;
  // POST /v1/audio/transcriptions (routes_openai.cc): a key accepted besides the admin token
  // (empty: the admin token only), and how long a request waits for its transcript before it is
  // answered 504 (the job goes on).
  std::string api_key;
  Millis transcription_wait{10 * 60'000};
  // How long a transcription upload can be joined by a retry of it (upload_dedup.h).
  Millis transcription_dedup_window{15 * 60'000};
  // Worker bundles (scripts/bundle) to serve at /api/worker/bundle/VARIANT, with a join line per
  // bundle (bundles.h); empty: none. The coordinator's URL as workers reach it, for that line
  // (empty: the address it listens on).
  std::filesystem::path bundles_dir;
  std::string join_url;
  // Several coordinators on one PostgreSQL store (doc/scale.md): this coordinator's base URL as
  // workers reach it, recorded with the audio it holds (relay chunks, uploads) so that leases
  // name it. Empty: the listening address, unless that is a wildcard (0.0.0.0, ::), which a
  // relaying coordinator on PostgreSQL refuses (ValidateOptions). Unused on SQLite.
  std::string advertise_url;
  // Start a new, empty database even though data_dir holds state from an earlier run (serve
  // --init). Without it a missing or empty podfleet.db there is refused (RequireDatabase).
  bool init = false;
  // Pods on demand (autoscaler.h, doc/pods.md): off while pod_provider.kind is empty. A pod runs
  // `pod_command` when set (an image with podfleet installed), else the join line of the cuda
  // bundle, else the cpu one; the autoscaler appends --name, --exit-when-idle, --price-per-hour.
  // The RunPod key file defaults to <data_dir>/runpod.key.
  ProviderOptions pod_provider;
  AutoscaleOptions autoscale;
  std::string pod_command;
};

inline constexpr char kDatabaseFile[] = "podfleet.db";

// Refuses to go on when `data_dir` holds podfleet state (an admin token, uploads, relay chunks,
// worker directories, a write-ahead log) but its database is missing or empty: starting afresh
// there would silently forget the fleet. kCorruption naming what was found, unless `init`.
Result<void> RequireDatabase(const std::filesystem::path& data_dir, bool init);

// The options with derived values filled in (heartbeat_interval), or kInvalidArgument naming the
// flag at fault: a lease, heartbeat or claim wait that is not positive, a heartbeat of half the
// lease or more, fewer than one HTTP or handler thread.
Result<CoordinatorOptions> ValidateOptions(CoordinatorOptions options);

class Coordinator {
 public:
  // Locks data_dir (data_dir_lock.h: kConflict when another coordinator uses it), opens the
  // store under data_dir, creates the first enrollment token if there is none and the
  // admin token file (admin_token.h) if there is none, and starts serving. kCorruption if the
  // admin token file is damaged. kUnavailable if the port is taken; store errors as the store
  // reports them.
  // kInvalidArgument for options ValidateOptions refuses.
  static Result<std::unique_ptr<Coordinator>> Start(const CoordinatorOptions& options,
                                                    const Clock& clock);
  ~Coordinator();
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  uint16_t port() const;
  // "http://127.0.0.1:8750"
  std::string base_url() const;
  // The URL recorded with the audio this coordinator holds (CoordinatorOptions::advertise_url, or
  // base_url()) when its store is PostgreSQL; empty on SQLite, whose one coordinator's workers
  // reach it at their own URL for it.
  std::string audio_base() const;
  Store& store() { return *store_; }
  // The enrollment token created on this start, when the store had none.
  const std::optional<std::string>& first_enrollment_token() const { return first_token_; }
  // The admin token, when this start created it; later starts know only its hash (it stays in
  // <data_dir>/admin.token).
  const std::optional<std::string>& first_admin_token() const { return first_admin_token_; }

  // The one-line join command per bundle, as (variant, command), with the live join token
  // (join_token.h); empty without bundles. Store errors as reported.
  Result<std::vector<std::pair<std::string, std::string>>> JoinCommands();

  // Tells the coordinator that jobs were queued in its store by someone else (a benchmark, a test
  // on the same store): waiting claims are served and the relay looks for work now.
  void JobsQueued();

  // Stops serving, joins every thread and releases the data directory. Idempotent.
  void Stop();

  // The autoscaler, when serve --autoscale runs one; else null.
  Autoscaler* autoscaler() { return autoscaler_.get(); }

  struct Context;  // what route handlers share; defined in coordinator_context.h

 private:
  Coordinator() = default;
  void ReapLoop(const std::stop_token& stop);
  // One pass of what the reaper's loop does for coordinators sharing a PostgreSQL store: this one's
  // heartbeat and, holding the reaper's lock, ReclaimAudio. `reachable_since`: since when every
  // store call of the loop succeeded (a reclaim waits until the others had the time to
  // heartbeat after an outage). Returns whether the store answered.
  bool TendCoordinators(bool reaping, TimePoint& reachable_since);
  // Counts the last `elapsed` of each online node's time as busy or idle (activity_log.h).
  void SampleActivity(Millis elapsed);
  // Whether this coordinator runs the periodic `task` now: it holds the task's lock
  // (store/coordination.h) and its store writes (a stopped store gives the lock up).
  bool HoldsTask(std::string_view task);
  // Starts the autoscaler (options_.pod_provider.kind set) on its own thread; with several
  // coordinators on one store, only the one holding kAutoscaleTask's lock ticks.
  Result<void> StartAutoscaler();
  Result<FleetSnapshot> AutoscaleSnapshot();

  std::optional<DataDirLock> lock_;  // released by Stop, once everything else has stopped
  CoordinatorOptions options_;
  const Clock* clock_ = nullptr;
  std::unique_ptr<Store> store_;
  // Which periodic tasks this coordinator runs (store/coordination.h); outlives their threads.
  std::unique_ptr<TaskLocks> task_locks_;
  std::unique_ptr<HttpClient> http_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<FeedPoller> poller_;
  std::unique_ptr<LeaseReaper> lease_reaper_;
  std::unique_ptr<ActivityLog> activity_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<JobWaiters> waiters_;
  std::unique_ptr<UploadDedup> uploads_;
  std::unique_ptr<EgressPacer> egress_;
  std::unique_ptr<Relay> relay_;
  std::unique_ptr<BundleShelf> bundles_;
  std::unique_ptr<JoinToken> join_;
  std::unique_ptr<PodProvider> pod_provider_;
  std::unique_ptr<Autoscaler> autoscaler_;
  std::jthread autoscale_thread_;
  std::unique_ptr<Context> context_;
  // PostgreSQL: wakes the dispatcher and relay when another coordinator queues work.
  std::unique_ptr<WorkListener> work_listener_;
  std::unique_ptr<HandlerPool> handlers_;
  std::unique_ptr<HttpServer> server_;
  std::optional<std::string> first_token_;
  std::optional<std::string> first_admin_token_;
  std::atomic<bool> stopping_{false};
  std::jthread reaper_;
};

// Creates an enrollment token in the store under `data_dir` and returns it (`podfleet token
// create`); the store keeps only its hash.
Result<std::string> CreateEnrollmentToken(Store& store, std::string_view label, TimePoint now);

// The enrollment token kept in `path` (one line, mode 0600) while the store still accepts it;
// else a new one (labelled `label`) written there. `podfleet up` uses it for its own workers, so
// restarts do not pile up tokens. kUnavailable when the file cannot be written.
Result<std::string> KeptEnrollmentToken(Store& store, const std::filesystem::path& path,
                                        std::string_view label, TimePoint now);

}  // namespace podfleet
