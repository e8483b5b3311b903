// How each node spent its time, sampled by the coordinator: busy (holding leases), idle while the
// queue had claimable work, idle with nothing to do. Kept in one-minute buckets for 24 hours.
//
// It lives in memory: a restarted coordinator starts a new log, and the shares it reports cover
// only the time since (`observed` says how much).
//
// Thread safety: safe for concurrent use.
#pragma once

#include <map>
#include <mutex>
#include <vector>

#include "core/ids.h"
#include "core/thread_annotations.h"
#include "core/units.h"

namespace podfleet {

struct Activity {
  Millis observed{0};        // time the node was sampled online
  Millis busy{0};            // of which it held leases
  Millis idle_with_work{0};  // of which it held none while jobs were queued
  // idle_with_work / observed; 0 when nothing was observed.
  double IdleWithWorkShare() const;
  // (observed - busy) / observed; 0 when nothing was observed.
  double IdleShare() const;
};

struct NodeSample {
  NodeId node;
  bool busy = false;
};

class ActivityLog {
 public:
  // Counts `elapsed` of time ending at `now` for each online node in `nodes`.
  void Record(TimePoint now, Millis elapsed, bool queue_has_work,
              const std::vector<NodeSample>& nodes);
  // The node's activity in the buckets that start at or after `since` (minute-aligned).
  Activity Since(NodeId node, TimePoint since) const;

 private:
  mutable Mutex mu_;
  // node -> minute (Unix ms of its start) -> activity
  std::map<NodeId, std::map<int64_t, Activity>> buckets_ GUARDED_BY(mu_);
};

}  // namespace podfleet
