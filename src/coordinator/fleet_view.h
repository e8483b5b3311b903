// What the coordinator tells the operator about the fleet: node states and throughput, computed
// from the store's records. Pure functions of their inputs, so they are tested without a server.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/model.h"

namespace podfleet {

// A local fault a worker reports about its own machine (node_faults.h).
struct NodeFault {
  std::string reason;  // as the worker wrote it, e.g. "... No space left on device"
  TimePoint since;     // when the coordinator first heard of it
};

struct NodeView {
  Node node;
  NodeStatus status = NodeStatus::kIdle;
  std::vector<Job> jobs;           // leased to it now, with progress
  std::optional<NodeFault> fault;  // what its worker reports, if anything
};

// A node is blocked when it reported a failed preflight, offline when retired or not heard from
// within `offline_after`, unhealthy while its worker reports a local fault (`faulty`), busy while
// it holds leases, and idle otherwise.
NodeStatus DeriveStatus(const Node& node, size_t leased_jobs, TimePoint now, Millis offline_after,
                        bool faulty = false);

// `faults`: the nodes whose workers report a local fault now (NodeFaults::Snapshot).
std::vector<NodeView> BuildNodeViews(const std::vector<Node>& nodes, const std::vector<Job>& leased,
                                     TimePoint now, Millis offline_after,
                                     const std::map<NodeId, NodeFault>& faults = {});

struct Throughput {
  Millis window{0};  // the time the figures cover: the last hour, or less since work began
  int64_t jobs = 0;
  Millis audio{0};
  Millis engine_time{0};
  // Audio time transcribed per wall time over the window (audio-hours per wall-hour).
  double realtime() const;
};

// Throughput of the jobs completed within `span` before `now`. The window starts at the first of
// those jobs' leases when that is later than now - span, so a fleet that started ten minutes ago
// is not reported at a sixth of its speed.
Throughput ComputeThroughput(const std::vector<CompletedJob>& done, TimePoint now, Millis span);

// The throughput of each of the `hours` rolling hours that end at now, oldest first: hour i ends
// at now - (hours - 1 - i) h. The last is ComputeThroughput(done, now, 1 h), the dashboard's
// "last hour", so the chart's last point and that figure agree.
std::vector<Throughput> HourlyThroughput(const std::vector<CompletedJob>& done, TimePoint now,
                                         int hours);

}  // namespace podfleet
