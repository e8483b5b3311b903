// Joins repeated uploads of one transcription request to the episode the first one queued
// (routes_openai.cc): a client that retries after a timeout, a 5xx or a dropped connection (the
// OpenAI SDKs retry twice by default) waits for the same job instead of queueing the audio again.
// An upload is the same request when it carries the same Idempotency-Key, or the same audio with
// the same options, within the window. Kept in memory: a restarted coordinator starts afresh.
//
// Thread safety: every method may be called from any thread; JoinOrQueue runs one `queue` at a
// time, so two identical uploads arriving together make one episode.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/error.h"
#include "core/ids.h"
#include "core/thread_annotations.h"

namespace podfleet {

class UploadDedup {
 public:
  explicit UploadDedup(Millis window) : window_(window) {}

  struct Joined {
    EpisodeId episode;
    bool joined = false;  // true: an earlier upload's episode; false: `queue` made it now
  };

  // The episode remembered within the window under `idempotency_key` (when not empty) or else
  // under `content` (a digest of the audio and the options that change the job), provided
  // `joinable` says it still is (a failed episode is not); otherwise the episode `queue` makes,
  // remembered under both. Errors are `queue`'s, and nothing is remembered for them.
  Result<Joined> JoinOrQueue(std::string_view idempotency_key, std::string_view content,
                             TimePoint now, const std::function<bool(EpisodeId)>& joinable,
                             const std::function<Result<EpisodeId>()>& queue);

  size_t remembered() const;

 private:
  struct Entry {
    EpisodeId episode;
    TimePoint at;
  };
  // Forgets entries older than the window.
  void Expire(TimePoint now) REQUIRES(mu_);

  const Millis window_;
  mutable Mutex mu_;
  std::map<std::string, Entry, std::less<>> by_key_ GUARDED_BY(mu_);
  std::map<std::string, Entry, std::less<>> by_content_ GUARDED_BY(mu_);
};

}  // namespace podfleet
