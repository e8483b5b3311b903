// The seed's GPU comparison and bandwidth tables, computed from what the fleet measured
// (fleet_facts.h). Pure functions.
//
// Economics: nodes are grouped by GPU model (machines without a GPU are "local", one row each).
// A group's speed is the audio its nodes transcribed over their engine time in 24 h, else their
// last stored speed; with neither the row says "not measured" and is left out of the ranking.
// $/audio-hour = price / speed; episodes per $ and cost per 100 episodes use the mean length of
// the episodes done in 24 h. The winner is the cheapest measured, unblocked, priced GPU per
// audio-hour.
//
// Bandwidth: bytes per audio-hour measured from what the coordinator served; the uplink's
// realtime capacity = uplink bytes per second / bytes per audio-second; how many nodes of each
// measured speed it feeds; the link is the bottleneck when the online nodes' speeds add up to
// more than its capacity, or when the last hour's traffic used 90 % of it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "coordinator/fleet_facts.h"

namespace podfleet {

struct GpuRow {
  std::string gpu;     // "RTX A5000", or "local: <node name>"
  bool local = false;  // a machine without a GPU
  int nodes = 0;
  std::vector<std::string> node_names;
  std::optional<double> price_per_hour;  // nullopt: not in the price table
  double realtime = 0;                   // x realtime; 0: not measured
  int64_t jobs_day = 0;
  std::optional<double> dollars_per_audio_hour;
  std::optional<double> episodes_per_dollar;  // nullopt also when free
  std::optional<double> cost_per_100_episodes;
  bool blocked = false;
  bool winner = false;
  std::string note;  // "not measured yet", "price unknown", "blocked: ..."
};

struct Economics {
  Millis mean_episode{0};  // 0: no episode done in 24 h
  std::vector<GpuRow> rows;
  std::string winner;  // empty: no measured, priced GPU
  std::vector<std::string> notes;
};

Economics ComputeEconomics(const FleetFacts& facts);

// What the publishers' transcripts saved (episodes done without the fleet): their audio as GPU
// time and dollars on the winner (the cheapest measured, priced GPU); without a winner, GPU time
// on the fastest measured row and no dollars; with no measured row, neither.
struct TranscriptSavings {
  int64_t episodes = 0;
  Millis audio{0};
  std::optional<double> gpu_seconds;
  std::optional<double> dollars;
  std::string gpu;  // the row the figures assume; empty when none
};
TranscriptSavings ComputeSavings(const Economics& e, int64_t episodes, Millis audio);

struct LinkFeed {
  double speed = 0;  // x realtime of one node
  std::string gpu;   // who runs at that speed
  double nodes = 0;  // how many such nodes the link feeds
};

struct Bandwidth {
  std::optional<double> bytes_per_audio_hour;  // nullopt: nothing served with known audio
  int64_t bytes_day = 0;
  double uplink_bits_per_second = 0;  // 0: not configured
  // x realtime the link can feed: at feed_path's bytes, else at the bytes served in 24 h.
  std::optional<double> realtime_capacity;
  std::optional<double> preparation_capacity;  // x realtime the relay can prepare (FleetSettings)
  // What limits the audio reaching the fleet: "gpu" (the fleet is slower than what feeds it),
  // "uplink" or "relay" (the coordinator's CPU preparing audio), whichever is smallest.
  std::string binding = "gpu";
  // The relay's audio path for its last episode ("opus", "copy"; empty: origin mode or none yet)
  // and why it was chosen; the path that feeds the most, which preparation_capacity and
  // realtime_capacity are for, and why (FleetSettings).
  std::string audio_path;
  std::string audio_path_reason;
  std::string feed_path;
  std::string feed_path_reason;
  double fleet_speed = 0;             // sum of online nodes' measured speeds
  double recent_bits_per_second = 0;  // traffic over the last hour
  std::vector<LinkFeed> feeds;  // per GPU: how many the uplink and the relay together can feed
  bool link_is_bottleneck = false;
  std::string verdict;
};

Bandwidth ComputeBandwidth(const FleetFacts& facts);

}  // namespace podfleet
