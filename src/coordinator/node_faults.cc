#include "coordinator/node_faults.h"

#include <fmt/format.h>

namespace podfleet {

void NodeFaults::Report(NodeId id, std::string_view name, std::string_view reason, TimePoint now) {
  reason = reason.substr(0, kMaxReason);
  MutexLock lock(mu_);
  auto it = faults_.find(id);
  if (reason.empty()) {
    if (it == faults_.end()) return;
    faults_.erase(it);
    fmt::print(stderr, "coordinator: node {} ({}) recovered from its local fault\n", id.value(),
               name);
    return;
  }
  if (it != faults_.end()) {
    it->second.reason = reason;  // the same fault, maybe in other words (the free space left)
    return;
  }
  fmt::print(stderr, "coordinator: node {} ({}) is unhealthy: {}\n", id.value(), name, reason);
  faults_[id] = NodeFault{std::string(reason), now};
}

void NodeFaults::Forget(NodeId id) {
  MutexLock lock(mu_);
  faults_.erase(id);
}

std::map<NodeId, NodeFault> NodeFaults::Snapshot() const {
  MutexLock lock(mu_);
  return faults_;
}

}  // namespace podfleet
