// Fetches feeds, reads their episodes and queues the new ones. A new item that links a transcript
// (<podcast:transcript>) has it fetched first (publisher_transcript.h): when usable, the episode
// is stored done with it and skips the fleet, unless its feed transcribes anyway.
//
// Adding: Add fetches and reads the feed before anything is stored; a URL that is not a feed (an
// HTML page, an OPML list, a 404, an unparseable document) or a feed already present (by any URL
// it was known under, its podcast:guid or its content fingerprint, see FeedIdentity) is refused
// and leaves nothing behind.
//
// Polling: each feed has its own next poll time. After a poll it is `interval` later, jittered by
// +-`jitter` so thousands of feeds added at once spread out; after a failure it backs off
// (interval * 2^(failures-1), at most max_backoff, and never sooner than a 429/503's
// Retry-After). Requests are conditional (If-None-Match / If-Modified-Since from the last full
// answer) and accept gzip and br; a 304 costs no parsing and no episode writes. A sweep runs up
// to `threads` polls at once, at most `per_host` of them against one host. A feed that fails to
// fetch or parse keeps its episodes and records the error; the next poll tries again. A
// permanent redirect or itunes:new-feed-url moves the feed to its new URL (the old one is kept as
// an alias).
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "coordinator/source_policy.h"
#include "core/clock.h"
#include "core/thread_annotations.h"
#include "net/http_client.h"
#include "store/store.h"

namespace podfleet {

struct ParsedFeed;
struct FeedFetch;

// How much of a new feed's back catalogue is queued; the rest is stored kSkipped with the reason
// and can be queued later (Store::QueueEpisode). Applies to the episodes present when the feed is
// added; later episodes are always queued.
struct Backfill {
  int64_t newest = 0;              // queue only the newest N (by date, else document order); 0: all
  std::optional<TimePoint> since;  // queue only those published at or after (undated ones too)
};

struct FeedPollerOptions {
  Millis interval{15 * 60'000};
  double jitter = 0.2;  // each next poll time is interval * (1 +- jitter)
  Millis max_backoff{24 * 3'600'000};
  int threads = 4;   // polls at once in a sweep
  int per_host = 2;  // polls at once against one host
  int64_t max_feed_bytes = int64_t{50} << 20;
  // Send the stored validators. Off only to measure the unconditional baseline (bench/feeds).
  bool conditional = true;
  // Poll due feeds on a background thread. Off: only when the owner calls PollDue (tests,
  // benchmarks).
  bool sweep = true;
  Backfill backfill;  // the default for feeds added without their own limits
  // Cap on a transcript file an item links (<podcast:transcript>); fetched under `sources` as
  // enclosures are, and only for new items.
  int64_t max_transcript_bytes = int64_t{64} << 20;
  std::filesystem::path scratch_dir;  // where feed documents are downloaded
  // Where the last full answer of each feed is kept (FeedDocumentPath), for its mirror
  // (routes_publish.cc); "" keeps none. A feed with no kept document is polled unconditionally.
  std::filesystem::path documents_dir;
  // Which feed URLs are fetched and which enclosures queued (source_policy.h). A feed whose URL
  // the policy no longer allows fails its poll; refused enclosures are counted, not queued.
  SourcePolicy sources;
  JobIntake intake = JobIntake::kQueue;  // how new episodes' jobs are queued (relay mode: kPrepare)
  // Asked before each background sweep; false skips it (another coordinator on the same store
  // holds the feed polls' lock, store/coordination.h). Unset: always sweep.
  std::function<bool()> may_sweep;
};

struct PollResult {
  Feed feed;
  bool not_modified = false;  // the server answered 304: nothing was read
  int64_t items = 0;          // items in the document
  int64_t new_episodes = 0;   // of which new
  int64_t queued = 0;         // of the new ones, queued (the others: no audio, or held back)
  int64_t held = 0;           // new episodes held back by the backfill limits (kSkipped)
  int64_t refused = 0;        // items whose enclosure URL the source policy refused
  int64_t without_audio = 0;  // items with no enclosure or audio media at all
  std::string note;           // what an operator should know (refused, without audio), or ""
};

// The file under `dir` holding feed `id`'s last full answer, as fetched.
std::filesystem::path FeedDocumentPath(const std::filesystem::path& dir, FeedId id);

class FeedPoller {
 public:
  using Done = std::function<void(Result<PollResult>)>;

  // `on_new_work` runs after a poll queued new episodes.
  FeedPoller(Store& store, HttpClient& http, const Clock& clock, FeedPollerOptions options,
             std::function<void()> on_new_work);
  ~FeedPoller();
  FeedPoller(const FeedPoller&) = delete;
  FeedPoller& operator=(const FeedPoller&) = delete;

  // Adds the feed at `url` (normalized, feeds/feed_url.h) and reads it, on the calling thread.
  // kConflict "already added as feed N (URL)" when it is known; kInvalidArgument "not a feed..."
  // (HTML, OPML, HTTP 404/410 or another 4xx, unparseable) or kUnavailable (5xx, 429, network)
  // when it cannot be read. On any error nothing is stored. `backfill`: nullopt uses the default.
  Result<PollResult> Add(const std::string& url, const std::optional<Backfill>& backfill);
  // Fetches and reads the feed now, on the calling thread.
  Result<PollResult> Poll(FeedId id);
  // Add and Poll on the request thread, then `done` there.
  void AddAsync(std::string url, std::optional<Backfill> backfill, Done done);
  void PollAsync(FeedId id, Done done);
  // Polls every feed that is due now, on the calling thread (and `threads` - 1 helpers), and
  // returns how many were polled. The background sweep calls it; so do benchmarks.
  int64_t PollDue();
  void Stop();

 private:
  struct Request {
    std::function<Result<PollResult>()> run;
    Done done;
  };
  void RequestLoop();
  void SweepLoop(const std::stop_token& stop);
  void Enqueue(Request request);
  bool stopping();
  // Stores what a fetched document says: identity, episodes, the poll's outcome.
  Result<PollResult> Apply(const Feed& feed, const std::string& base, ParsedFeed parsed,
                           const std::optional<Backfill>& backfill, const FeedPoll& poll);
  Result<PollResult> Fail(FeedId id, const Feed& feed, const Error& error,
                          std::optional<Millis> retry_after);
  TimePoint NextPoll(TimePoint now, int64_t failures, std::optional<Millis> retry_after);
  // The poll record of a 200 answer: its validators stored, the next poll scheduled.
  FeedPoll FullAnswer(TimePoint now, const std::string& title, const FeedFetch& fetched);
  // Keeps `body` as feed `id`'s document (written aside, then renamed); a failure is logged.
  void KeepDocument(FeedId id, const std::string& body);
  // The feed's items, each new one that links a transcript with it fetched (or why not).
  Result<std::vector<FeedItem>> WithPublisherTranscripts(FeedId id, std::string_view base,
                                                         std::vector<EpisodeInfo> episodes);

  // Constant after construction.
  Store& store_;
  HttpClient& http_;
  const Clock& clock_;
  const FeedPollerOptions options_;
  const std::function<void()> on_new_work_;

  Mutex mu_;
  std::condition_variable_any wake_;
  std::deque<Request> requests_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  // The earliest next poll time known (after a sweep or a poll); the sweep sleeps until then.
  std::optional<TimePoint> next_due_ GUARDED_BY(mu_);
  std::string last_sweep_error_;  // the sweep thread only: a sweep's error is logged once
  std::thread request_thread_;
  std::jthread sweep_thread_;
};

// Turns what a user typed into a feed or audio URL: http(s) and file URLs stay; an existing local
// path becomes a file:// URL of its absolute path. kInvalidArgument for other schemes.
Result<std::string> NormalizeSourceUrl(std::string_view input);

// Resolves an enclosure URL found in a feed against the feed's URL (relative paths in archives
// on disk, "/path" on the same host).
std::string ResolveUrl(std::string_view base, std::string_view ref);

// Which of `episodes` the backfill limits hold back: the reason per episode, "" for those queued.
std::vector<std::string> BackfillHolds(const std::vector<EpisodeInfo>& episodes,
                                       const Backfill& backfill);

// The content fingerprint of a parsed feed (see FeedIdentity): its title and its newest item's
// guid; empty when it has no title or no items.
std::string FeedFingerprint(const ParsedFeed& feed);

}  // namespace podfleet
