// Capacity planning: how many pods of which GPU to run for a backlog, computed from measured
// speeds, prices, the uplink and the coordinator's claim capacity. Pure functions.
//
// For pods of one GPU type (measured speed s, price p) next to the free local nodes (speed L):
// fleet speed with n pods = min(n*s + L, uplink capacity, coordinator capacity, relay
// preparation capacity); drain time =
// backlog audio / fleet speed; cost = n * p * drain time. The first bottleneck is whichever term
// is smallest. The recommendation for a type is the fewest pods that drain the backlog within
// the target time, but never more than the point where the uplink or the coordinator, not the
// GPUs, limits the fleet (more pods would only cost more). Across types, the cheapest wins, then
// the fastest. GPU types that are blocked, unmeasured or unpriced are never recommended.
//
// What the coordinator can feed: the feed is the smallest known of the uplink's, the
// coordinator's and the relay's capacity, the uplink and the relay taken on the relay's path that
// feeds the most (Opus or copy, BestFeed in audio_path.h), and the pods of speed s it
// feeds at full speed are floor((feed - L) / s). The binding limit is the current fleet's first
// bottleneck: "gpu" (or "cpu") while the fleet is slower than its feed, else the feed's name.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "coordinator/economics.h"

namespace podfleet {

struct PlanRequest {
  std::optional<double> backlog_hours;  // of audio; else from episodes, else the queue
  std::optional<int64_t> episodes;      // times the mean episode length
  double target_hours = 1;              // drain within this when pods allow
  int max_pods = 20;
  std::optional<double> pod_speed;  // x realtime: also say how many pods of this speed are fed
};

struct PlanOption {
  std::string gpu;
  double speed = 0;           // x realtime of one pod
  double price_per_hour = 0;  // of one pod
  int pods = 0;
  double fleet_speed = 0;  // x realtime with those pods and the local nodes
  double drain_hours = 0;
  double cost = 0;         // dollars for the pods until drained
  std::string bottleneck;  // "gpu", "uplink", "coordinator" or "relay"
  // Pods of this speed the coordinator feeds at full speed (PodsFed); nullopt: no limit known.
  std::optional<int> pods_fed;
  bool recommended = false;
  std::string note;
};

// One row of the queue-size table: the seed's hand table, computed.
struct PlanBracket {
  int64_t episodes = 0;
  double backlog_hours = 0;
  std::optional<PlanOption> best;
};

struct Plan {
  double backlog_hours = 0;
  std::string backlog_source;                  // "queue", "backlog_hours" or "episodes"
  double local_speed = 0;                      // free local nodes, online and unblocked
  std::optional<double> uplink_capacity;       // x realtime
  std::optional<double> coordinator_capacity;  // x realtime
  std::optional<double> preparation_capacity;  // x realtime the relay prepares at (measured)
  // The relay's path that feeds the most, which the two capacities above are for, and why
  // (FleetSettings::feed_path).
  std::string audio_path;
  std::string audio_path_reason;
  // The smallest of the three capacities above and its name ("uplink", "coordinator" or
  // "relay"); nullopt and empty when none is known.
  std::optional<double> feed_capacity;
  std::string feed_limit;
  // What limits the fleet as it runs now: current.bottleneck ("gpu", "cpu" or the feed's name).
  std::string binding;
  // For PlanRequest::pod_speed: how many pods of that speed the feed runs at full speed.
  std::optional<double> pod_speed;
  std::optional<int> pods_fed;
  std::vector<PlanOption> options;  // the best pod count per GPU type
  std::optional<PlanOption> recommendation;
  PlanOption current;                 // the fleet as it runs now
  std::vector<PlanBracket> brackets;  // 50, 200, 500, 1000 episodes
  std::vector<std::string> excluded;  // GPU types left out, and why
  std::vector<std::string> notes;
};

// The share of a feed that pods are planned to use. Audio reaches the fleet in lumps (a chunk is
// minutes of audio, prepared by one of several encoders at once and fetched whole), so a feed
// used to the last percent leaves pods waiting between lumps: bench/fleet's relay-pods measured
// 7 pods of 87x on a 631x Opus feed (96.5% of it) at efficiency 0.908, and 6 on 596-641x feeds
// (81-88%) at 0.967-0.981.
inline constexpr double kFeedHeadroom = 0.9;

// Pods of `pod_speed` that `feed` (x realtime) runs at full speed next to local nodes that
// together run at `local`: floor((kFeedHeadroom * feed - local) / pod_speed), at least 0.
// REQUIRES: pod_speed > 0.
int PodsFed(double feed, double local, double pod_speed);

// kInvalidArgument for a negative backlog, a non-positive target, max_pods or pod_speed.
Result<Plan> ComputePlan(const FleetFacts& facts, const PlanRequest& request);

}  // namespace podfleet
