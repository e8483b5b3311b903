// How long a worker waits before its next heartbeat.
//
// The coordinator's interval, shortened by a random part of up to a quarter of it. Without the
// random part, workers that once heartbeat together (a fleet started at once, or all delayed by
// one slow moment of the coordinator) stay in step for good, since each waits the same interval
// after its answer, and the coordinator meets them as one burst every interval (bench/load
// measured it: bursts of ~50 heartbeats every 5 s among 1,000 workers, the slowest 1% of
// heartbeats 13 ms instead of 6). Shorter, never longer: a lease is still renewed at least as often
// as the coordinator asked.
#pragma once

#include <cstdint>

#include "core/units.h"

namespace podfleet {

// REQUIRES: interval > 0. `random` is any value of a uniform random generator. Returns a pause in
// [interval - interval / 4, interval].
Millis HeartbeatPause(Millis interval, std::uint64_t random);

}  // namespace podfleet
