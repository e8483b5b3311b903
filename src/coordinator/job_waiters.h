// Requests waiting for an episode's jobs to end: how POST /v1/audio/transcriptions answers once
// the fleet has transcribed the audio it queued, whether as one job or as chunks cut by the relay.
//
// A waiter is answered once, with the episode as it ended (kDone or kFailed), or with nullopt when
// its deadline passes first or the waiters stop. Before that, a waiter that asked for pieces gets
// the text of each of the episode's chunks as soon as it and every chunk before it are done, in
// order (how a streamed transcription sends deltas). Episodes are checked when Notify says a job
// ended (the worker routes call it on complete and fail) and every `recheck` anyway, so no path
// that ends a job can leave a waiter hanging past its deadline. The re-check and the deadlines run
// on the Clock: a test advances a ManualClock to end them. A waiter whose client went away is
// answered all the same (its responder then does nothing); the jobs are unaffected either way.
//
// Thread safety: every method may be called from any thread. Callbacks run on the waiters' own
// thread and must not block for long.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include "core/clock.h"
#include "core/thread_annotations.h"
#include "store/store.h"

namespace podfleet {

class JobWaiters {
 public:
  using Done = std::function<void(std::optional<Episode>)>;
  // The text of one chunk (empty when the chunk held no speech).
  using Piece = std::function<void(const std::string& text)>;

  JobWaiters(Store& store, const Clock& clock, Millis recheck = Millis(1'000));
  ~JobWaiters();
  JobWaiters(const JobWaiters&) = delete;
  JobWaiters& operator=(const JobWaiters&) = delete;

  // `piece` may be empty: then only `done` is called.
  void Wait(EpisodeId episode, TimePoint deadline, Done done, Piece piece = {});
  // A job may have ended: check the episodes now.
  void Notify();
  // Answers every waiter with nullopt and joins the thread. Idempotent.
  void Stop();

  size_t waiting() const;

 private:
  struct Waiter {
    TimePoint deadline;
    Done done;
    Piece piece;
    int next_chunk = 0;  // the first chunk whose text was not given yet
  };
  void Loop(const std::stop_token& stop);
  // Gives the pieces that are ready; answers the waiters whose episode ended or whose deadline
  // passed.
  void Check();
  // Calls w.piece for the chunks done since the last call.
  void GivePieces(EpisodeId episode, Waiter& w);

  // Constant after construction.
  Store& store_;
  const Clock& clock_;
  const Millis recheck_;

  mutable Mutex mu_;
  Wakeup wakeup_;
  std::multimap<EpisodeId, Waiter> waiters_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  std::jthread thread_;
};

}  // namespace podfleet
