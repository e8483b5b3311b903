// The coordinator's side of pods on demand: starting the autoscaler and the fleet it sees.
#include <fmt/format.h>

#include "coordinator/bundles.h"
#include "coordinator/coordinator.h"
#include "coordinator/coordinator_context.h"
#include "coordinator/fleet_facts.h"
#include "coordinator/join_token.h"
#include "coordinator/plan.h"
#include "coordinator/relay.h"

namespace podfleet {

Result<FleetSnapshot> Coordinator::AutoscaleSnapshot() {
  FleetSettings s{options_.prices, options_.uplink_bits_per_second, options_.claim_capacity,
                  options_.offline_after};
  if (relay_)
    SetRelayFeed(s, relay_->LastChoice(), relay_->BestFeed(options_.uplink_bits_per_second));
  auto facts = GatherFleetFacts(*store_, *activity_, s, clock_->Now());
  if (!facts) return std::unexpected(facts.error());
  PlanRequest request;
  request.target_hours = options_.autoscale.target_hours;
  request.max_pods = std::max(1, options_.autoscale.max_pods);
  auto plan = ComputePlan(*facts, request);
  if (!plan) return std::unexpected(plan.error());
  FleetSnapshot snap;
  snap.queued = facts->queue.queued;
  snap.running = facts->queue.running;
  for (const NodeFacts& n : facts->nodes) {
    snap.nodes.push_back({n.view.node.info.name, n.online(), n.view.status == NodeStatus::kBlocked,
                          static_cast<int>(n.view.jobs.size())});
    if (n.view.status == NodeStatus::kBlocked && !n.gpu.empty()) snap.blocked_gpus.insert(n.gpu);
  }
  if (plan->recommendation) {
    const PlanOption& o = *plan->recommendation;
    snap.plan_gpu = o.gpu;
    snap.plan_pods = o.pods;
    snap.plan_reason = fmt::format(
        "{:.2f} audio-h queued, {:.0f}x each, drained in {:.2f} h, "
        "bottleneck {}",
        plan->backlog_hours, o.speed, o.drain_hours, o.bottleneck);
  }
  return snap;
}

// The autoscaler's task (store/coordination.h): one coordinator of a shared store rents pods.
constexpr std::string_view kAutoscaleTask = "autoscale";

Result<void> Coordinator::StartAutoscaler() {
  ProviderOptions provider = options_.pod_provider;
  if (provider.runpod_key_file.empty())
    provider.runpod_key_file = (options_.data_dir / "runpod.key").string();
  auto made = MakeProvider(provider, *http_, *clock_);
  if (!made) return std::unexpected(made.error());
  pod_provider_ = std::move(*made);

  AutoscaleOptions a = options_.autoscale;
  auto token = join_->Current();
  if (!token) return std::unexpected(token.error());
  a.token = *token;
  a.server_url = join_->base_url();
  if (!options_.pod_command.empty()) {
    a.join_command = options_.pod_command;
  } else {
    auto lines = JoinCommands();
    if (!lines) return std::unexpected(lines.error());
    for (const char* variant : {"cuda", "cpu"})
      for (const auto& [v, line] : *lines)
        if (v == variant && a.join_command.empty()) a.join_command = line;
    if (a.join_command.empty())
      return InvalidArgument(
          "--autoscale needs a join line for the pods: --bundles DIR (scripts/bundle) or "
          "--pod-command");
  }
  if (a.state_file.empty()) a.state_file = options_.data_dir / "pods.json";
  auto scaler = Autoscaler::Open(std::move(a), *pod_provider_, *clock_, store_.get());
  if (!scaler) return std::unexpected(scaler.error());
  autoscaler_ = std::move(*scaler);
  context_->autoscaler = autoscaler_.get();
  autoscale_thread_ = std::jthread([this](std::stop_token stop) {
    autoscaler_->Run([this] { return AutoscaleSnapshot(); }, stop,
                     [this] { return HoldsTask(kAutoscaleTask); });
  });
  return {};
}

}  // namespace podfleet
