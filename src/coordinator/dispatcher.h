// Hands out leases, including to workers that wait for work (long poll).
//
// A claim that finds nothing claimable waits, parked, until work appears (Notify) or its deadline
// passes; then it answers with whatever it could lease, possibly nothing. Parked claims are served
// first come, first served, and a claim that may wait is parked behind them while any are: it
// does not overtake them when work appears (a worker claiming ahead would take the chunk an idle
// worker waits for). Jobs whose retry backoff ends are picked up by a periodic re-check, so
// nothing depends on a Notify being sent. The re-check and the claims' deadlines run on the
// Clock: a test advances a ManualClock to end them.
//
// Thread safety: all methods may be called from any thread. Callbacks run on the caller's thread
// (immediate answers) or the dispatcher's thread (parked answers) and must not block for long.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/thread_annotations.h"
#include "store/store.h"

namespace podfleet {

class Dispatcher {
 public:
  using Done = std::function<void(Result<std::vector<Grant>>)>;

  Dispatcher(Store& store, const Clock& clock, Millis lease_for);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Leases up to `max_jobs` that `filter` lets `node` take (Store::Claim), waiting up to `wait`
  // if none is claimable now.
  void Claim(NodeId node, int max_jobs, ClaimFilter filter, Millis wait, Done done);
  void Claim(NodeId node, int max_jobs, Millis wait, Done done) {
    Claim(node, max_jobs, ClaimFilter{}, wait, std::move(done));
  }
  // Work may have become claimable: serve the parked claims.
  void Notify();
  // Answers every parked claim with what it can get now and stops the thread. Idempotent.
  void Stop();

  size_t parked() const;

 private:
  struct Parked {
    NodeId node;
    int max_jobs;
    ClaimFilter filter;
    TimePoint deadline;
    Done done;
  };

  void Loop(const std::stop_token& stop);
  // When the loop looks next: the periodic re-check or the first parked deadline.
  TimePoint NextCheck() const;
  // Tries each parked claim once; answers those that got work or whose deadline passed.
  void ServeParked(bool final);

  // Constant after construction.
  Store& store_;
  const Clock& clock_;
  const Millis lease_for_;

  mutable Mutex mu_;
  Wakeup wakeup_;
  std::atomic<uint64_t> notifications_{0};  // Notify calls so far
  std::deque<Parked> parked_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  std::jthread thread_;
};

}  // namespace podfleet
