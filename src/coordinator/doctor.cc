#include "coordinator/doctor.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>

namespace podfleet {
namespace {

Check EveryPodBusy(const FleetFacts& f) {
  Check c{"every_pod_busy"};
  int pods = 0, busy = 0;
  std::vector<std::string> idle;
  for (const NodeFacts& n : f.nodes) {
    if (!n.working() || !n.pod()) continue;
    ++pods;
    if (n.view.status == NodeStatus::kBusy)
      ++busy;
    else
      idle.push_back(n.view.node.info.name);
  }
  c.detail = fmt::format("{} of {} pods busy, {} jobs queued", busy, pods, f.queue.queued);
  if (pods == 0 || f.queue.queued == 0) return c;
  c.outcome = idle.empty() ? CheckOutcome::kPass : CheckOutcome::kFail;
  if (!idle.empty()) c.detail += fmt::format("; idle: {}", fmt::join(idle, ", "));
  return c;
}

Check PrefetchPopulated(const FleetFacts& f) {
  Check c{"prefetch_populated"};
  int64_t nodes = 0;
  for (const NodeFacts& n : f.nodes)
    if (n.working() && n.view.status == NodeStatus::kBusy) ++nodes;
  const double ratio = nodes > 0 ? static_cast<double>(f.queue.running) / nodes : 0;
  c.detail = fmt::format("{} leased jobs for {} busy nodes ({:.1f}x; want 2-3x), {} queued",
                         f.queue.running, nodes, ratio, f.queue.queued);
  if (nodes == 0 || f.queue.queued == 0) return c;
  c.outcome = ratio >= 2 ? CheckOutcome::kPass : CheckOutcome::kFail;
  return c;
}

Check NoCompletionGaps(const FleetFacts& f) {
  Check c{"no_completion_gaps"};
  std::map<NodeId, std::vector<const CompletedJob*>> by_node;
  for (const CompletedJob& j : f.done_day)
    if (j.finished_at >= f.now - kOneHour) by_node[j.node].push_back(&j);
  std::vector<std::string> bad;
  int measured = 0;
  for (const NodeFacts& n : f.nodes) {
    auto& jobs = by_node[n.view.node.id];
    if (jobs.size() < 2) continue;
    std::vector<double> gaps;
    for (size_t i = 1; i < jobs.size(); ++i) {
      Millis between = jobs[i]->finished_at - jobs[i - 1]->finished_at;
      // Only the time the node held the next job counts: before its lease the queue may simply
      // have been empty (idling while work waits is no_idle_with_work's business).
      if (jobs[i]->wall_time > Millis(0)) between = std::min(between, jobs[i]->wall_time);
      gaps.push_back(std::max<double>(0, (between - jobs[i]->engine_time).count() / 1000.0));
    }
    std::sort(gaps.begin(), gaps.end());
    const double p90 = gaps[std::min(gaps.size() - 1, gaps.size() * 9 / 10)];
    const double limit = std::max(5.0, 0.1 * n.hour.AvgEngine().count() / 1000.0);
    ++measured;
    if (p90 > limit)
      bad.push_back(fmt::format("{} p90 gap {:.1f}s > {:.1f}s", n.view.node.info.name, p90, limit));
  }
  c.detail = fmt::format("{} nodes with 2+ completions in the last hour", measured);
  if (measured == 0) return c;
  c.outcome = bad.empty() ? CheckOutcome::kPass : CheckOutcome::kFail;
  if (!bad.empty()) c.detail += "; " + fmt::format("{}", fmt::join(bad, "; "));
  return c;
}

Check NoIdleWithWork(const FleetFacts& f) {
  Check c{"no_idle_with_work"};
  std::vector<std::string> parts, bad;
  for (const NodeFacts& n : f.nodes) {
    if (!n.working() || n.hour.activity.observed <= Millis(0)) continue;
    const double share = n.hour.activity.IdleWithWorkShare();
    parts.push_back(fmt::format("{} {:.1f}%", n.view.node.info.name, 100 * share));
    if (share > 0.05) bad.push_back(n.view.node.info.name);
  }
  c.detail = parts.empty() ? "no node observed yet"
                           : fmt::format("idle while work was queued: {}", fmt::join(parts, ", "));
  if (parts.empty()) return c;
  c.outcome = bad.empty() ? CheckOutcome::kPass : CheckOutcome::kFail;
  return c;
}

Check NoIdleBilling(const FleetFacts& f) {
  Check c{"no_idle_billing"};
  std::vector<std::string> parts;
  bool fail = false;
  int pods = 0;
  for (const NodeFacts& n : f.nodes) {
    if (!n.working() || !n.pod()) continue;
    ++pods;
    const double share = n.hour.activity.IdleShare();
    const double wasted = share * *n.price;  // dollars of the last hour's price
    const bool idle_now = n.view.status == NodeStatus::kIdle;
    parts.push_back(fmt::format("{} {}idle {:.0f}% of the last hour (${:.3f})",
                                n.view.node.info.name, idle_now ? "idle now, " : "", 100 * share,
                                wasted));
    fail = fail || idle_now || share > 0.10;
  }
  c.detail = parts.empty() ? "no pod online" : fmt::format("{}", fmt::join(parts, "; "));
  if (pods == 0) return c;
  c.outcome = fail ? CheckOutcome::kFail : CheckOutcome::kPass;
  return c;
}

// The relay prepares audio at least as fast as the online fleet transcribes it.
Check RelayKeepsUp(const FleetFacts& f) {
  Check c{"relay_keeps_up"};
  const std::optional<double> prepares = f.settings.preparation_capacity;
  if (!prepares) {
    c.detail = "origin mode, or nothing prepared yet";
    return c;
  }
  const double fleet = FleetSpeed(f);
  c.detail = fmt::format(
      "the coordinator prepares {:.0f}x realtime{}, the fleet transcribes {:.0f}x", *prepares,
      f.settings.feed_path.empty() ? "" : fmt::format(" on its {} path", f.settings.feed_path),
      fleet);
  c.outcome = *prepares >= fleet ? CheckOutcome::kPass : CheckOutcome::kFail;
  return c;
}

// A node that registered blocked (failed its preflight: no usable GPU, an old driver, an engine
// below its speed floor) takes no work; if it is a pod it bills for nothing. Counted while it was
// seen recently (a blocked node stays blocked in the record after its worker exits).
Check NoBlockedNodes(const FleetFacts& f) {
  Check c{"no_blocked_nodes"};
  std::vector<std::string> blocked;
  for (const NodeFacts& n : f.nodes)
    if (n.view.status == NodeStatus::kBlocked && !n.view.node.retired &&
        f.now - n.view.node.last_seen <= f.settings.offline_after)
      blocked.push_back(
          fmt::format("{}: {}", n.view.node.info.name, n.view.node.info.blocked_reason));
  c.outcome = blocked.empty() ? CheckOutcome::kPass : CheckOutcome::kFail;
  c.detail =
      blocked.empty() ? "no node is blocked" : fmt::format("blocked: {}", fmt::join(blocked, "; "));
  return c;
}

// A node whose worker cannot write its work directory or outbox (a full or read-only disk)
// claims nothing until it recovers: the reason is the worker's own.
Check NoUnhealthyNodes(const FleetFacts& f) {
  Check c{"no_unhealthy_nodes"};
  std::vector<std::string> unhealthy;
  for (const NodeFacts& n : f.nodes)
    if (n.view.status == NodeStatus::kUnhealthy)
      unhealthy.push_back(fmt::format("{}: {}", n.view.node.info.name, n.view.fault->reason));
  c.outcome = unhealthy.empty() ? CheckOutcome::kPass : CheckOutcome::kFail;
  c.detail = unhealthy.empty() ? "no node reports a local fault"
                               : fmt::format("unhealthy: {}", fmt::join(unhealthy, "; "));
  return c;
}

}  // namespace

std::string_view ToString(CheckOutcome o) {
  switch (o) {
    case CheckOutcome::kPass: return "pass";
    case CheckOutcome::kFail: return "fail";
    case CheckOutcome::kNotApplicable: return "n/a";
  }
  return "n/a";
}

DoctorReport RunDoctor(const FleetFacts& f) {
  DoctorReport r;
  r.checks = {EveryPodBusy(f),  PrefetchPopulated(f), NoCompletionGaps(f), NoIdleWithWork(f),
              NoIdleBilling(f), RelayKeepsUp(f),      NoBlockedNodes(f),   NoUnhealthyNodes(f)};
  for (const Check& c : r.checks) r.healthy = r.healthy && c.outcome != CheckOutcome::kFail;
  return r;
}

}  // namespace podfleet
