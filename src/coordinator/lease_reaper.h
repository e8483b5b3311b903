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
  // Returns how many leases expired; store errors as the store reports them.
  Result<int> Tick();

 private:
  // Constant after construction.
  Store& store_;
  const Clock& clock_;
  const TimePoint reap_from_;  // the end of the grace period
  const RetryPolicy policy_;
};

}  // namespace podfleet
