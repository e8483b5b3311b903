// Fetches feeds, reads their episodes and queues the new ones.
//
// One background thread polls every feed each `interval` and runs polls asked for through
// PollAsync (a feed just added, a refresh) in order. A feed that fails to fetch or parse keeps its
// episodes and records the error; the next poll tries again.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

#include "coordinator/source_policy.h"
#include "core/clock.h"
#include "core/thread_annotations.h"
#include "net/http_client.h"
#include "store/store.h"

namespace podfleet {

struct FeedPollerOptions {
  Millis interval{15 * 60'000};
  int64_t max_feed_bytes = int64_t{50} << 20;
  std::filesystem::path scratch_dir;  // where feed documents are downloaded
  // Which feed URLs are fetched and which enclosures queued (source_policy.h). A feed whose URL
  // the policy no longer allows fails its poll; refused enclosures are counted, not queued.
  SourcePolicy sources;
  JobIntake intake = JobIntake::kQueue;  // how new episodes' jobs are queued (relay mode: kPrepare)
};

struct PollResult {
  Feed feed;
  int64_t items = 0;         // items in the document
  int64_t new_episodes = 0;  // of which new
  int64_t refused = 0;       // items whose enclosure URL the source policy refused
};

class FeedPoller {
 public:
  using Done = std::function<void(Result<PollResult>)>;

  // `on_new_work` runs after a poll queued new episodes.
  FeedPoller(Store& store, HttpClient& http, const Clock& clock, FeedPollerOptions options,
             std::function<void()> on_new_work);
  ~FeedPoller();
  FeedPoller(const FeedPoller&) = delete;
  FeedPoller& operator=(const FeedPoller&) = delete;

  // Fetches and reads the feed now, on the calling thread.
  Result<PollResult> Poll(FeedId id);
  // Polls on the background thread, then calls `done` there.
  void PollAsync(FeedId id, Done done);
  void Stop();

 private:
  struct Request {
    FeedId feed;
    Done done;
  };
  void Loop();
  void PollAll();

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
  std::string last_sweep_error_;  // the loop's thread only: a sweep's error is logged once
  std::thread thread_;
};

// Turns what a user typed into a feed or audio URL: http(s) and file URLs stay; an existing local
// path becomes a file:// URL of its absolute path. kInvalidArgument for other schemes.
Result<std::string> NormalizeSourceUrl(std::string_view input);

// Resolves an enclosure URL found in a feed against the feed's URL (relative paths in archives
// on disk, "/path" on the same host).
std::string ResolveUrl(std::string_view base, std::string_view ref);

}  // namespace podfleet
