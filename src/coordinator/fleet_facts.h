// What the coordinator measured about its fleet, gathered in one place for the analyses built on
// it (economics.h, plan.h, doctor.h, metrics.h): per-node figures over the last hour and the last
// 24 hours, prices, byte counts and the compatibility record.
//
// The Compute* functions are pure; GatherFleetFacts reads the store and the activity log.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/activity_log.h"
#include "coordinator/audio_path.h"
#include "coordinator/compatibility.h"
#include "coordinator/fleet_view.h"
#include "coordinator/price_table.h"
#include "core/error.h"
#include "core/model.h"

namespace podfleet {

class Store;

inline constexpr Millis kOneHour{3'600'000};
inline constexpr Millis kOneDay{24 * 3'600'000};

// One node's work over one window.
struct NodeWindow {
  int64_t jobs = 0;
  int64_t failures = 0;
  Millis audio{0};
  Millis engine_time{0};  // the engine's own time
  Millis wall_time{0};    // lease granted to completion
  Millis waited{0};       // of wall_time, audio waiting in the worker's prefetch queue
  Activity activity;

  // Audio per engine time (x realtime); 0 without jobs.
  double Realtime() const;
  Millis AvgEngine() const;
  Millis AvgWall() const;
  // Wall time less prefetch waiting: what a job costs the node.
  Millis AvgJob() const;
};

// Completions and failures within `span` before `now`, per node.
std::map<NodeId, NodeWindow> ComputeNodeWindows(const std::vector<CompletedJob>& done,
                                                const std::vector<FailedAttempt>& failed,
                                                TimePoint now, Millis span);

struct NodeFacts {
  NodeView view;
  std::string gpu;              // GpuModel(); empty for a machine without a GPU
  std::optional<double> price;  // dollars per hour; nullopt: unknown
  double speed = 0;             // measured realtime factor; 0: not measured
  NodeWindow hour;
  NodeWindow day;
  bool online() const { return view.status != NodeStatus::kOffline; }
  // Online and able to take jobs: its speed counts towards the fleet's.
  bool working() const {
    return online() && view.status != NodeStatus::kBlocked && view.status != NodeStatus::kUnhealthy;
  }
  bool pod() const { return price && *price > 0; }  // a machine that bills by the hour
};

struct FleetSettings {
  PriceTable prices;
  double uplink_bits_per_second = 0;  // the coordinator's upload link; 0: not configured
  double claim_capacity = 0;          // claims per second the coordinator grants; 0: unknown
  Millis offline_after{30'000};
  // The relay's audio path for the episode it took last ("opus" or "copy", Relay::LastChoice)
  // and why; empty in origin mode or before any.
  std::string audio_path;
  std::string audio_path_reason;
  // The path that feeds the most (Relay::BestFeed: "opus" or "copy") and why; the two capacities
  // below are that path's. Empty in origin mode.
  std::string feed_path;
  std::string feed_path_reason;
  // x realtime the coordinator's relay prepares audio at on `feed_path`, measured (the smaller of
  // per CPU-second and per wall-second while backlogged); nullopt before it prepared anything
  // on that path (the path was chosen on its prior) and in origin mode.
  std::optional<double> preparation_capacity;
  // x realtime the uplink carries at that path's bytes: what the plan and /api/bandwidth take
  // for the uplink rather than the last day's mix of paths; nullopt: no uplink configured.
  std::optional<double> path_uplink_capacity;
};

// Fills the relay's part of `s` from its last choice and its best feed (either may be absent).
void SetRelayFeed(FleetSettings& s, const std::optional<AudioPathChoice>& last,
                  const std::optional<PathFeed>& best);

struct FleetFacts {
  TimePoint now;
  std::vector<NodeFacts> nodes;
  QueueCounts queue;
  Millis queued_audio{0};  // known durations of queued episodes, plus the mean for the rest
  Throughput last_hour;
  Millis mean_episode{0};  // mean audio length of the jobs done in 24 h; 0: none done
  std::vector<CompletedJob> done_day;
  // Audio bytes the coordinator served in 24 h and the audio they carried (where known).
  int64_t bytes_day = 0;
  Millis bytes_audio_day{0};
  // Bytes served in the hourly totals that overlap the last hour, and the time those cover.
  int64_t bytes_recent = 0;
  Millis bytes_recent_window{0};
  FleetSettings settings;
  std::vector<CompatEntry> compatibility;
};

// Bytes served against audio: each hourly total's own audio duration where the server knew it,
// else the audio the same node completed within that hour, plus, for the node's latest hour, the
// audio of the jobs it holds now (fetched, not yet done: `in_flight`, estimated by the caller),
// so that prefetching does not read as extra bytes per audio-hour.
Millis AudioOfTransfers(const std::vector<TransferTotal>& transfers,
                        const std::vector<CompletedJob>& done,
                        const std::map<NodeId, Millis>& in_flight);

// The sum of the working nodes' speeds (x realtime): what the fleet could do.
double FleetSpeed(const FleetFacts& f);

// `faults`: the nodes whose workers report a local fault now (node_faults.h).
Result<FleetFacts> GatherFleetFacts(Store& store, const ActivityLog& activity,
                                    const FleetSettings& settings, TimePoint now,
                                    const std::map<NodeId, NodeFault>& faults = {});

}  // namespace podfleet
