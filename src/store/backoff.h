// The retry delay after a retryable failure, shared by every Store implementation.
#pragma once

#include "core/ids.h"
#include "core/units.h"
#include "store/store.h"

namespace podfleet {

// How long `job` waits before its next attempt after its `failures`-th retryable failure:
// policy.base_backoff * 2^(failures - 1), capped at policy.max_backoff, then spread by up to
// +-20% so that jobs which failed together (a feed host down) do not all retry together. The
// spread is a hash of (job, failures), not a random draw: the same inputs give the same delay,
// which keeps tests and logs reproducible while different jobs still spread out.
// REQUIRES: failures >= 1.
Millis BackoffDelay(const RetryPolicy& policy, JobId job, int failures);

}  // namespace podfleet
