#include "coordinator/fleet_view.h"

#include <algorithm>
#include <map>

namespace podfleet {

NodeStatus DeriveStatus(const Node& node, size_t leased_jobs, TimePoint now, Millis offline_after,
                        bool faulty) {
  if (!node.info.blocked_reason.empty()) return NodeStatus::kBlocked;
  if (node.retired || now - node.last_seen > offline_after) return NodeStatus::kOffline;
  if (faulty) return NodeStatus::kUnhealthy;
  return leased_jobs > 0 ? NodeStatus::kBusy : NodeStatus::kIdle;
}

std::vector<NodeView> BuildNodeViews(const std::vector<Node>& nodes, const std::vector<Job>& leased,
                                     TimePoint now, Millis offline_after,
                                     const std::map<NodeId, NodeFault>& faults) {
  std::map<NodeId, std::vector<Job>> by_node;
  for (const Job& j : leased)
    if (j.lease) by_node[j.lease->node].push_back(j);
  std::vector<NodeView> views;
  views.reserve(nodes.size());
  for (const Node& n : nodes) {
    NodeView v{n, NodeStatus::kIdle, std::move(by_node[n.id]), std::nullopt};
    if (auto f = faults.find(n.id); f != faults.end()) v.fault = f->second;
    v.status = DeriveStatus(n, v.jobs.size(), now, offline_after, v.fault.has_value());
    views.push_back(std::move(v));
  }
  return views;
}

double Throughput::realtime() const {
  if (window <= Millis(0)) return 0;
  return static_cast<double>(audio.count()) / static_cast<double>(window.count());
}

Throughput ComputeThroughput(const std::vector<CompletedJob>& done, TimePoint now, Millis span) {
  Throughput t;
  TimePoint first_start = now;
  for (const CompletedJob& c : done) {
    if (c.finished_at < now - span || c.finished_at > now) continue;
    ++t.jobs;
    t.audio += c.audio_duration;
    t.engine_time += c.engine_time;
    first_start = std::min(first_start, c.finished_at - c.wall_time);
  }
  if (t.jobs == 0) return t;
  t.window = now - std::max(first_start, now - span);
  return t;
}

std::vector<Throughput> HourlyThroughput(const std::vector<CompletedJob>& done, TimePoint now,
                                         int hours) {
  const Millis hour{3'600'000};
  std::vector<Throughput> out;
  for (int i = 0; i < hours; ++i)
    out.push_back(ComputeThroughput(done, now - hour * (hours - 1 - i), hour));
  return out;
}

}  // namespace podfleet
