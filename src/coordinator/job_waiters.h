// Requests waiting for a job to end: how POST /v1/audio/transcriptions answers once the fleet has
// transcribed the audio it queued.
//
// A waiter is answered once, with the job as it ended (kDone or kFailed), or with nullopt when its
// deadline passes first or the waiters stop. The job is checked in the store when Notify names it
// (the worker routes call it on complete and fail) and every `recheck` anyway, so no path that ends
// a job can leave a waiter hanging past its deadline. A waiter whose client went away is answered
// all the same (its responder then does nothing); the job is unaffected either way.
//
// Thread safety: every method may be called from any thread. Callbacks run on the waiters' own
// thread and must not block for long.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/thread_annotations.h"
#include "store/store.h"

namespace podfleet {

class JobWaiters {
 public:
  using Done = std::function<void(std::optional<Job>)>;

  JobWaiters(Store& store, const Clock& clock, Millis recheck = Millis(1'000));
  ~JobWaiters();
  JobWaiters(const JobWaiters&) = delete;
  JobWaiters& operator=(const JobWaiters&) = delete;

  void Wait(JobId job, TimePoint deadline, Done done);
  // The job may have ended: check it now.
  void Notify(JobId job);
  // Answers every waiter with nullopt and joins the thread. Idempotent.
  void Stop();

  size_t waiting() const;

 private:
  struct Waiter {
    TimePoint deadline;
    Done done;
  };
  void Loop();
  // Answers the waiters whose job ended or whose deadline passed.
  void Check(bool all);

  // Constant after construction.
  Store& store_;
  const Clock& clock_;
  const Millis recheck_;

  mutable Mutex mu_;
  std::condition_variable_any wake_;
  std::multimap<JobId, Waiter> waiters_ GUARDED_BY(mu_);
  std::vector<JobId> notified_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace podfleet
