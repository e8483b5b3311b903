#include "coordinator/lease_reaper.h"

#include <fmt/format.h>

#include <algorithm>

namespace podfleet {

LeaseReaper::LeaseReaper(Store& store, const Clock& clock, Millis grace, RetryPolicy policy)
    : store_(store),
      clock_(clock),
      grace_(grace),
      freeze_after_(std::max(Millis(5'000), grace / 3)),
      policy_(policy),
      reap_from_(clock.Now() + grace) {}

Result<int> LeaseReaper::Tick(Millis stalled) {
  const TimePoint now = clock_.Now();
  if (stalled > freeze_after_) {
    fmt::print(stderr,
               "lease reaper: this pass came {} s late (the coordinator was frozen); leases get "
               "{} s to be renewed before any expires\n",
               stalled.count() / 1000, grace_.count() / 1000);
    reap_from_ = std::max(reap_from_, now + grace_);
  }
  if (now < reap_from_) return 0;
  return store_.ExpireLeases(now, policy_);
}

}  // namespace podfleet
