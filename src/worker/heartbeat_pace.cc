#include "worker/heartbeat_pace.h"

namespace podfleet {

Millis HeartbeatPause(Millis interval, std::uint64_t random) {
  const auto spread = static_cast<std::uint64_t>(interval.count() / 4);
  return interval - Millis(static_cast<int64_t>(random % (spread + 1)));
}

}  // namespace podfleet
