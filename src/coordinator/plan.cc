#include "coordinator/plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>
#include <utility>

namespace podfleet {
namespace {

double Hours(Millis m) { return static_cast<double>(m.count()) / 3'600'000.0; }

struct Limits {
  double local = 0;
  std::optional<double> uplink;
  std::optional<double> coordinator;
  std::optional<double> relay;  // x realtime the relay prepares audio at
};

// Speed and first bottleneck of a fleet whose machines together run at `compute` x realtime;
// `by` names them ("gpu", or "cpu" for a fleet without GPUs).
std::pair<double, std::string> Capped(double compute, const Limits& l, std::string by = "gpu") {
  double speed = compute;
  if (l.uplink && *l.uplink < speed) speed = *l.uplink, by = "uplink";
  if (l.coordinator && *l.coordinator < speed) speed = *l.coordinator, by = "coordinator";
  if (l.relay && *l.relay < speed) speed = *l.relay, by = "relay";
  return {speed, by};
}

// The smallest known capacity feeding the fleet, and its name.
std::optional<std::pair<double, std::string>> SmallestFeed(const Limits& l) {
  auto [speed, by] = Capped(std::numeric_limits<double>::infinity(), l, "");
  if (by.empty()) return std::nullopt;
  return std::pair{speed, by};
}

PlanOption Evaluate(const GpuRow& row, int pods, double backlog, const Limits& l) {
  PlanOption o{row.gpu, row.realtime, row.price_per_hour.value_or(0), pods};
  if (auto feed = SmallestFeed(l)) o.pods_fed = PodsFed(feed->first, l.local, row.realtime);
  auto [speed, by] = Capped(pods * row.realtime + l.local, l);
  o.fleet_speed = speed;
  o.bottleneck = by;
  o.drain_hours = speed > 0 ? backlog / speed : std::numeric_limits<double>::infinity();
  o.cost = speed > 0 ? pods * o.price_per_hour * o.drain_hours : 0;
  return o;
}

// The fewest pods of `row` that drain `backlog` within the target, capped where adding pods stops
// making the fleet faster.
PlanOption BestFor(const GpuRow& row, double backlog, const PlanRequest& r, const Limits& l) {
  if (backlog <= 0) return Evaluate(row, 0, backlog, l);
  const double wanted = backlog / r.target_hours - l.local;
  int pods = std::clamp(static_cast<int>(std::ceil(wanted / row.realtime)), 1, r.max_pods);
  PlanOption o = Evaluate(row, pods, backlog, l);
  while (pods > 1) {
    PlanOption fewer = Evaluate(row, pods - 1, backlog, l);
    if (fewer.fleet_speed + 1e-9 < o.fleet_speed) break;
    o = fewer;
    --pods;
  }
  if (o.bottleneck != "gpu")
    o.note = fmt::format("more pods would not help: the {} carries {:.0f}x", o.bottleneck,
                         o.fleet_speed);
  else if (o.drain_hours > r.target_hours * 1.0001)
    o.note = fmt::format("capped at {} pods", r.max_pods);
  return o;
}

bool Cheaper(const PlanOption& a, const PlanOption& b) {
  if (std::abs(a.cost - b.cost) > 1e-9) return a.cost < b.cost;
  return a.drain_hours < b.drain_hours;
}

std::optional<PlanOption> Choose(const std::vector<GpuRow>& rows, double backlog,
                                 const PlanRequest& r, const Limits& l) {
  std::optional<PlanOption> best;
  for (const GpuRow& row : rows) {
    PlanOption o = BestFor(row, backlog, r, l);
    if (!best || Cheaper(o, *best)) best = o;
  }
  return best;
}

PlanOption Current(const FleetFacts& f, double backlog, const Limits& l) {
  PlanOption o{"current fleet"};
  double gpus = 0;
  for (const NodeFacts& n : f.nodes) {
    if (!n.working()) continue;
    gpus += n.speed;
    if (n.pod()) {
      ++o.pods;
      o.price_per_hour += *n.price;
    }
  }
  const bool any_gpu = std::any_of(f.nodes.begin(), f.nodes.end(), [](const NodeFacts& n) {
    return n.working() && !n.gpu.empty();
  });
  auto [speed, by] = Capped(gpus, l, any_gpu ? "gpu" : "cpu");
  o.speed = gpus;
  o.fleet_speed = speed;
  o.bottleneck = by;
  o.drain_hours = speed > 0 ? backlog / speed : std::numeric_limits<double>::infinity();
  o.cost = speed > 0 ? o.price_per_hour * o.drain_hours : 0;
  if (speed <= 0) o.note = "no online node with a measured speed";
  return o;
}

}  // namespace

int PodsFed(double feed, double local, double pod_speed) {
  // A hair of tolerance, so that a usable feed of exactly n pods' speed counts n.
  return std::max(0,
                  static_cast<int>(std::floor((kFeedHeadroom * feed - local) / pod_speed + 1e-9)));
}

Result<Plan> ComputePlan(const FleetFacts& f, const PlanRequest& r) {
  if (r.target_hours <= 0) return InvalidArgument("target_hours must be positive");
  if (r.max_pods <= 0) return InvalidArgument("max_pods must be positive");
  if (r.pod_speed && !(*r.pod_speed > 0)) return InvalidArgument("pod_speed must be positive");
  if ((r.backlog_hours && *r.backlog_hours < 0) || (r.episodes && *r.episodes < 0))
    return InvalidArgument("the backlog must not be negative");
  Plan p;
  const Economics economics = ComputeEconomics(f);
  const Bandwidth bandwidth = ComputeBandwidth(f);
  Limits l;
  // The uplink at the bytes of the path that feeds the most (FleetSettings::feed_path), where
  // known; else at the bytes served in the last day (ComputeBandwidth decides which).
  l.uplink = bandwidth.realtime_capacity;
  if (f.settings.claim_capacity > 0 && f.mean_episode > Millis(0))
    l.coordinator = f.settings.claim_capacity * f.mean_episode.count() / 1000.0;
  for (const NodeFacts& n : f.nodes)
    if (n.working() && !n.pod()) l.local += n.speed;
  p.local_speed = l.local;
  p.uplink_capacity = l.uplink;
  p.coordinator_capacity = l.coordinator;
  l.relay = f.settings.preparation_capacity;
  p.preparation_capacity = l.relay;
  p.audio_path = f.settings.feed_path;
  p.audio_path_reason = f.settings.feed_path_reason;
  if (auto feed = SmallestFeed(l)) {
    std::tie(p.feed_capacity, p.feed_limit) = *feed;
    if (r.pod_speed) p.pods_fed = PodsFed(feed->first, l.local, *r.pod_speed);
  }
  p.pod_speed = r.pod_speed;

  if (r.backlog_hours) {
    p.backlog_hours = *r.backlog_hours, p.backlog_source = "backlog_hours";
  } else if (r.episodes) {
    p.backlog_hours = *r.episodes * Hours(f.mean_episode), p.backlog_source = "episodes";
    if (f.mean_episode <= Millis(0))
      return InvalidArgument(
          "no episode done yet, so episodes cannot be turned into hours; "
          "give the backlog in hours");
  } else {
    p.backlog_hours = Hours(f.queued_audio), p.backlog_source = "queue";
  }

  std::vector<GpuRow> candidates;
  for (const GpuRow& row : economics.rows) {
    if (row.local) continue;
    if (row.blocked)
      p.excluded.push_back(row.gpu + ": blocked");
    else if (row.realtime <= 0)
      p.excluded.push_back(row.gpu + ": speed not measured");
    else if (!row.price_per_hour)
      p.excluded.push_back(row.gpu + ": price unknown");
    else
      candidates.push_back(row);
  }
  for (const GpuRow& row : candidates) p.options.push_back(BestFor(row, p.backlog_hours, r, l));
  p.recommendation = Choose(candidates, p.backlog_hours, r, l);
  if (p.recommendation) {
    for (PlanOption& o : p.options) o.recommended = o.gpu == p.recommendation->gpu;
    p.recommendation->recommended = true;
  }
  p.current = Current(f, p.backlog_hours, l);
  p.binding = p.current.bottleneck;
  if (f.mean_episode > Millis(0)) {
    for (int64_t episodes : {50, 200, 500, 1000}) {
      const double hours = episodes * Hours(f.mean_episode);
      p.brackets.push_back({episodes, hours, Choose(candidates, hours, r, l)});
    }
  }
  const bool cpu_only = std::none_of(f.nodes.begin(), f.nodes.end(),
                                     [](const NodeFacts& n) { return !n.gpu.empty(); });
  if (candidates.empty() && cpu_only) {
    p.notes.push_back(
        "CPU-only fleet: options are GPU pods to rent, and none has been measured here, so there "
        "are none; the current fleet above is what this fleet's CPUs can do");
  } else if (candidates.empty()) {
    p.notes.push_back(
        "no GPU type with a measured speed, a price and no block: run a pod of each "
        "type you may rent to measure it");
  }
  if (p.feed_capacity)
    p.notes.push_back(fmt::format(
        "the {}{} feeds {:.0f}x at most{}", p.feed_limit,
        p.feed_limit == "relay" && !p.audio_path.empty() ? " (" + p.audio_path + " path)" : "",
        *p.feed_capacity,
        p.pods_fed ? fmt::format(": {} pods of {:g}x at full speed", *p.pods_fed, *p.pod_speed)
                   : ""));
  if (!l.uplink) p.notes.push_back("uplink capacity unknown: " + bandwidth.verdict);
  if (!l.coordinator)
    p.notes.push_back("coordinator claim capacity not configured (serve --claim-capacity)");
  return p;
}

}  // namespace podfleet
