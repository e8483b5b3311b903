#include "coordinator/lease_reaper.h"

namespace podfleet {

LeaseReaper::LeaseReaper(Store& store, const Clock& clock, Millis grace, RetryPolicy policy)
    : store_(store), clock_(clock), reap_from_(clock.Now() + grace), policy_(policy) {}

Result<int> LeaseReaper::Tick() {
  const TimePoint now = clock_.Now();
  if (now < reap_from_) return 0;
  return store_.ExpireLeases(now, policy_);
}

}  // namespace podfleet
