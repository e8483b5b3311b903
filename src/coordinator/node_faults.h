// What workers report of their own machine: a local fault (a full or read-only work directory, an
// outbox that cannot be written) makes a node unhealthy until its worker reports it cleared. The
// worker sends its current fault (or none) with each heartbeat and claim, so the latest report is
// always at most a heartbeat old; it is held in memory only, and after a coordinator restart the
// record is whole again within one heartbeat interval. Shown as the node's status "unhealthy"
// with the reason (fleet_view.h), in `doctor` (no_unhealthy_nodes) and on the dashboard.
//
// Thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "coordinator/fleet_view.h"
#include "core/thread_annotations.h"

namespace podfleet {

class NodeFaults {
 public:
  // The longest reason kept; a longer one is cut.
  static constexpr size_t kMaxReason = 512;

  // Records what node `id` (named `name`, for the log) reported at `now`: `reason` empty means
  // healthy. The node's becoming unhealthy and its recovery are logged once each; a changed
  // reason in between replaces the old one silently, and `since` stays.
  void Report(NodeId id, std::string_view name, std::string_view reason, TimePoint now);
  // The node is retired: its record goes.
  void Forget(NodeId id);
  // The nodes that report a fault now.
  std::map<NodeId, NodeFault> Snapshot() const;

 private:
  mutable Mutex mu_;
  std::map<NodeId, NodeFault> faults_ GUARDED_BY(mu_);
};

}  // namespace podfleet
