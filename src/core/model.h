// The job and transcript model shared by the coordinator, the store, the worker and the engines.
//
// Episode state machine (stored in episodes.state):
//
//   queued ──claim──> running ──complete──> done
//     ^                  │
//     │   release, lease expiry, retryable failure (attempts left)
//     └──────────────────┤
//                        └──permanent failure, or retries exhausted──> failed
//
// An episode without a usable enclosure is recorded as `skipped` and never queued. `retry` of a
// failed episode (operator action) puts it back to `queued`. A job transcribes one episode, or
// one chunk of it (see Chunk): then the episode is running while any chunk is, done when every
// chunk is, failed when a chunk failed for good. A job's attempts are numbered 1, 2, ... and each
// holds a lease until it ends or expires.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ids.h"
#include "core/units.h"

namespace podfleet {

// ---- transcripts -------------------------------------------------------------------------------

struct Word {
  Millis start{0};
  Millis end{0};
  std::string text;
  float confidence = 1.0f;  // 0..1; 1 when the engine gives none
};

struct Segment {
  Millis start{0};
  Millis end{0};
  std::string text;
  std::string speaker;      // empty when unknown
  std::vector<Word> words;  // empty when the engine gives no word times
  // Decoder confidence, as OpenAI's verbose_json names it; none when the engine gives none (never
  // estimated). avg_logprob: the mean natural-log probability of the segment's text tokens
  // (whisper); no_speech_prob: the model's probability that the segment's window holds no speech.
  std::optional<double> avg_logprob;
  std::optional<double> no_speech_prob;
};

struct Transcript {
  std::string language;  // BCP-47-ish code, "en"; empty when unknown
  std::string engine;    // "pocketsphinx"
  std::string model;     // "en-us"
  Millis audio_duration{0};
  Millis engine_time{0};  // wall time the engine spent
  std::vector<Segment> segments;

  // The segments' text joined by single spaces.
  std::string Text() const;
};

// ---- feeds and episodes ------------------------------------------------------------------------

// A <podcast:transcript> tag found in a feed item.
struct TranscriptLink {
  std::string url;
  std::string type;
  std::string language;
  std::string rel;
};

// What a feed item (or a single added file) says about an episode.
struct EpisodeInfo {
  std::string guid;  // the item's guid, else its enclosure URL
  std::string title;
  std::string audio_url;
  std::string audio_type;    // enclosure type, e.g. "audio/mpeg"
  int64_t audio_length = 0;  // enclosure length in bytes as the feed claims it (often 0 or wrong)
  std::optional<Millis> duration;  // itunes:duration
  std::optional<TimePoint> published_at;
  std::vector<TranscriptLink> transcript_links;
};

struct Feed {
  FeedId id;
  std::string url;
  std::string title;
  TimePoint added_at;
  std::optional<TimePoint> polled_at;
  std::string last_error;  // empty after a successful poll
  int64_t episode_count = 0;
  std::string podcast_guid;  // <podcast:guid>, the show's identity wherever it moves; may be empty
  // Validators from the last full answer, sent back as If-None-Match / If-Modified-Since.
  std::string etag;
  std::string last_modified;
  int64_t failures = 0;                   // consecutive failed polls (backoff)
  std::optional<TimePoint> next_poll_at;  // unset: due now
};

enum class EpisodeState { kQueued, kRunning, kDone, kFailed, kSkipped };
std::string_view ToString(EpisodeState s);
std::optional<EpisodeState> ParseEpisodeState(std::string_view s);

struct Episode {
  EpisodeId id;
  std::optional<FeedId> feed_id;  // none for a file added on its own
  EpisodeInfo info;
  EpisodeState state = EpisodeState::kQueued;
  std::string error;  // why it failed or was skipped
  TimePoint created_at;
  TimePoint updated_at;
};

// ---- jobs, attempts, leases --------------------------------------------------------------------

// kPreparing: held for the coordinator's relay, which downloads, decodes and cuts the audio
// before the job (or its chunks) can be claimed.
enum class JobState { kQueued, kLeased, kDone, kFailed, kPreparing };
std::string_view ToString(JobState s);

// A lease: the right of one attempt, on one node, to work on a job until expires_at.
struct Lease {
  JobId job;
  AttemptId attempt;
  NodeId node;
  TimePoint expires_at;
};

// What a worker reports for a lease it holds.
enum class Stage { kWaiting, kDownloading, kDecoding, kTranscribing, kUploading };
std::string_view ToString(Stage s);
std::optional<Stage> ParseStage(std::string_view s);

struct Progress {
  JobId job;
  AttemptId attempt;
  Stage stage = Stage::kWaiting;
  double fraction = 0;  // 0..1 within the stage
};

// Why an attempt failed. Permanent failures (404/410, not audio, undecodable) are never retried.
struct Failure {
  std::string reason;
  bool permanent = false;
};

// A job's share of its episode's audio: the whole of it (index 0 of 1, no end), or one chunk cut
// at a pause by the coordinator's relay. Transcript times of a chunk's job are relative to
// `start`; the store shifts them by `start` when it stitches the episode's transcript.
//
// A seam chunk (seam > 0, origin-range mode, doc/relay.md "Origin ranges") was planned, not cut:
// its worker reads it from the origin and cuts each edge itself at the quietest point within
// `seam` of a planned boundary, as the neighbouring chunk does (audio/seams.h). Its boundaries are
// start + seam (none for chunk 0) and end - seam (none without an end), and `start` is where its
// left search begins (SeamStart), so its transcript's times still count from `start`.
struct Chunk {
  int index = 0;
  int count = 1;
  Millis start{0};
  std::optional<Millis> end;  // none: to the end of the audio
  bool relayed = false;       // the coordinator serves this chunk as Opus (relay mode)
  Millis seam{0};             // > 0: edges are seams searched this far either side; 0: exact

  bool whole() const { return count == 1 && start == Millis(0) && !end; }
};

// What a job asks of the worker that takes it (a transcription request's `model` and `language`,
// or "transcribe again with ..."). Empty fields ask nothing. A worker serves it when it runs that
// engine and model and its model transcribes that language (a multilingual model is told it).
struct JobRequirement {
  std::string engine;    // NodeInfo::engine, e.g. "whisper"
  std::string model;     // NodeInfo::model, e.g. "base.en"
  std::string language;  // ISO-639-1 code, e.g. "fr"

  bool operator==(const JobRequirement&) const = default;
};

struct Job {
  JobId id;
  EpisodeId episode;
  JobState state = JobState::kQueued;
  int attempts = 0;                     // attempts started so far
  int failures = 0;                     // retryable failures so far
  int lease_expiries = 0;               // attempts that ended because their lease ran out
  std::optional<TimePoint> not_before;  // backoff: not claimable before this
  std::optional<Lease> lease;           // set while leased
  std::optional<Progress> progress;     // the lease holder's last report
  std::string error;
  Chunk chunk;
  JobRequirement want;
  // Set when the job was quarantined: its lease expired RetryPolicy::max_lease_expiries times, as
  // when the episode crashes every worker that takes it. The job is then kFailed until retried.
  std::optional<TimePoint> quarantined_at;
};

// How an attempt ended; kRunning while it holds the lease.
enum class AttemptOutcome { kRunning, kDone, kFailed, kReleased, kExpired };
std::string_view ToString(AttemptOutcome o);
std::optional<AttemptOutcome> ParseAttemptOutcome(std::string_view s);

// One attempt at a job: who held the lease, when, and how it ended.
struct Attempt {
  JobId job;
  AttemptId number;
  NodeId node;
  TimePoint leased_at;
  TimePoint expires_at;  // the lease's last deadline (renewals move it)
  AttemptOutcome outcome = AttemptOutcome::kRunning;
  std::optional<TimePoint> finished_at;
  std::string error;
};

struct QueueCounts {
  int64_t queued = 0;
  int64_t running = 0;  // leased
  int64_t completed = 0;
  int64_t failed = 0;
};

// ---- nodes -------------------------------------------------------------------------------------

struct Gpu {
  std::string name;
  std::string driver;
  int64_t memory_mb = 0;
  std::string cuda;  // the newest CUDA version the driver serves ("12.4"); empty when unknown
};

struct Hardware {
  std::string cpu_model;
  int cpu_cores = 0;
  int64_t memory_mb = 0;
  std::string os;
  std::vector<Gpu> gpus;
};

// What a worker says about itself when it registers.
struct NodeInfo {
  std::string name;
  std::string engine;
  std::string model;
  std::string version;
  Hardware hardware;
  double speed = 0;  // measured realtime factor (audio seconds per wall second); 0 when unknown
  std::string blocked_reason;  // non-empty: the node failed its preflight and takes no jobs
  // What the node costs per hour in dollars, as its operator set it; negative: not set (the
  // coordinator's price table decides).
  double price_per_hour = -1;
  // Engine states on one loaded model, so jobs the node runs at once (EngineInfo::states).
  int engine_states = 1;
};

// Whether a worker running `node`'s engine and model can serve `want` (see JobRequirement; a
// model's language is core/language.h's FixedLanguage, multilingual when it has none).
bool CanServe(const NodeInfo& node, const JobRequirement& want);

// kUnhealthy: online, but its worker reports a local fault (a full or unwritable work directory or
// outbox) and claims nothing until it recovers.
enum class NodeStatus { kBusy, kIdle, kOffline, kBlocked, kUnhealthy };
std::string_view ToString(NodeStatus s);

struct Node {
  NodeId id;
  NodeInfo info;
  TimePoint registered_at;
  TimePoint last_seen;
  bool retired = false;  // deregistered on shutdown
};

// A finished job, for throughput statistics.
struct CompletedJob {
  JobId job;
  EpisodeId episode;
  NodeId node;
  TimePoint finished_at;
  Millis audio_duration{0};
  Millis engine_time{0};
  Millis wall_time{0};  // lease granted to completion
  // Of wall_time, the time the decoded audio waited in the worker's prefetch queue for the engine,
  // as the worker reported it; 0 when not reported.
  Millis waited{0};
};

// An attempt that ended in failure, for per-node statistics.
struct FailedAttempt {
  JobId job;
  NodeId node;
  TimePoint finished_at;
};

// Audio bytes the coordinator served in one hour, to one node (node 0: an unauthenticated
// client). `audio` is the duration of the audio those bytes carry, where the server knew it.
struct TransferTotal {
  NodeId node;
  TimePoint hour;  // start of the hour
  int64_t bytes = 0;
  Millis audio{0};
  int64_t requests = 0;
};

}  // namespace podfleet
