#include "coordinator/activity_log.h"

namespace podfleet {
namespace {

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kKeepMs = 24 * 3'600'000 + kMinuteMs;

}  // namespace

double Activity::IdleWithWorkShare() const {
  if (observed <= Millis(0)) return 0;
  return static_cast<double>(idle_with_work.count()) / static_cast<double>(observed.count());
}

double Activity::IdleShare() const {
  if (observed <= Millis(0)) return 0;
  return static_cast<double>((observed - busy).count()) / static_cast<double>(observed.count());
}

void ActivityLog::Record(TimePoint now, Millis elapsed, bool queue_has_work,
                         const std::vector<NodeSample>& nodes) {
  const int64_t at = ToUnixMillis(now);
  const int64_t minute = at - at % kMinuteMs;
  MutexLock lock(mu_);
  for (const NodeSample& n : nodes) {
    auto& per_node = buckets_[n.node];
    Activity& a = per_node[minute];
    a.observed += elapsed;
    if (n.busy) a.busy += elapsed;
    if (!n.busy && queue_has_work) a.idle_with_work += elapsed;
    per_node.erase(per_node.begin(), per_node.lower_bound(minute - kKeepMs));
  }
}

Activity ActivityLog::Since(NodeId node, TimePoint since) const {
  const int64_t from = ToUnixMillis(since);
  Activity total;
  MutexLock lock(mu_);
  auto it = buckets_.find(node);
  if (it == buckets_.end()) return total;
  for (auto b = it->second.lower_bound(from - from % kMinuteMs); b != it->second.end(); ++b) {
    total.observed += b->second.observed;
    total.busy += b->second.busy;
    total.idle_with_work += b->second.idle_with_work;
  }
  return total;
}

}  // namespace podfleet
