// Hand-built fleets for the analyses' tests (test code only).
#pragma once

#include <optional>
#include <string>

#include "coordinator/fleet_facts.h"

namespace podfleet {

// A fleet whose nodes each did ten jobs of the mean episode length (two hours, as in the seed's
// cost table) at their speed within the last hour.
struct FleetBuilder {
  FleetFacts facts;

  FleetBuilder() {
    facts.now = FromUnixMillis(1'800'000'000'000);
    facts.mean_episode = Millis(120 * 60'000);
    facts.compatibility = SeedCompatibility();
  }

  // `gpu` is the model without vendor prefix ("RTX A5000"); empty for a local machine. Speed 0:
  // the node has completed nothing.
  NodeFacts& Add(const std::string& name, const std::string& gpu, double speed,
                 std::optional<double> price, NodeStatus status = NodeStatus::kBusy) {
    NodeFacts n;
    n.view.node.id = NodeId(static_cast<int64_t>(facts.nodes.size()) + 1);
    n.view.node.info.name = name;
    n.view.node.info.engine = "simulated";
    if (!gpu.empty())
      n.view.node.info.hardware.gpus = {{"NVIDIA " + gpu, "550.54.15", 24'564, "12.4"}};
    n.view.status = status;
    n.gpu = gpu;
    n.price = price;
    n.speed = speed;
    if (speed > 0) {
      n.day.jobs = 10;
      n.day.audio = facts.mean_episode * 10;
      n.day.engine_time = Millis(static_cast<int64_t>(n.day.audio.count() / speed));
      n.hour = n.day;
    }
    facts.nodes.push_back(n);
    return facts.nodes.back();
  }

  // The coordinator served `mb_per_audio_minute` per minute of audio for ten hours of audio, over
  // an uplink of `bits_per_second`.
  void Link(double mb_per_audio_minute, double bits_per_second) {
    facts.bytes_audio_day = Millis(10 * 3'600'000);
    facts.bytes_day = static_cast<int64_t>(mb_per_audio_minute * 1e6 * 600);
    facts.settings.uplink_bits_per_second = bits_per_second;
  }
};

}  // namespace podfleet
