// The lease reaper: requeues the jobs of workers that stopped renewing their leases, and
// quarantines jobs whose leases keep expiring (Store::ExpireLeases).
//
// Restart grace: for `grace` (one lease period) after it is created, the reaper expires nothing.
// A lease that was live when the previous coordinator process died may have passed its expires_at
// while no coordinator was there to renew it; its worker, still working, re-attaches it with its
// next heartbeat (a lease is lost only when reaped, store.h) and finishes. Leases granted by this
// process run for the lease period, so none of them could expire during the grace anyway: only
// leases from before the start are spared, and a dead worker's job waits at most one lease period
// longer after a coordinator restart.
//
// Freeze grace: when the caller's pass came `stalled` later than it meant to (measured on the
// monotonic clock) by more than a third of the grace (at least 5 s), this process was frozen
// (SIGSTOP, a stalled disk or store call): its workers could not reach it to renew, so the leases
// that ran out meanwhile are their coordinator's fault, not theirs. The grace starts again, as
// after a restart, instead of counting those expiries toward quarantine. (The Clock alone cannot
// tell: tests advance it to stand for dead workers.)
//
// Thread safety: Tick may be called from one thread at a time; the store and clock must outlive
// the reaper.
#pragma once

#include "core/clock.h"
#include "store/store.h"

namespace podfleet {

class LeaseReaper {
 public:
  LeaseReaper(Store& store, const Clock& clock, Millis grace, RetryPolicy policy);

  // One pass: expires the leases that ended before now, unless still inside the grace period.
  // `stalled`: how much later than planned this pass runs. Returns how many leases expired;
  // store errors as the store reports them.
  Result<int> Tick(Millis stalled = Millis(0));

 private:
  // Constant after construction.
  Store& store_;
  const Clock& clock_;
  const Millis grace_;
  const Millis freeze_after_;  // a gap between ticks longer than this is a freeze
  const RetryPolicy policy_;
  // Tick's thread only.
  TimePoint reap_from_;  // the end of the grace period
};

}  // namespace podfleet
