#include "coordinator/compatibility.h"

#include <map>
#include <tuple>

#include "coordinator/price_table.h"

namespace podfleet {

std::vector<CompatEntry> SeedCompatibility() {
  const std::string why =
      "CUDA error 35 (driver older than the CUDA runtime) with NeMo/Parakeet on RunPod hosts; "
      "Ada Lovelace hosts there run drivers 550 (CUDA 12.4) and older";
  std::vector<CompatEntry> out;
  for (const char* gpu : {"RTX 4090", "RTX 4080", "L4"})
    out.push_back({gpu, "*", "*", true, why, "seed", 0});
  return out;
}

std::vector<CompatEntry> BuildCompatibility(const std::vector<Node>& nodes,
                                            const std::vector<bool>& has_completed) {
  std::vector<CompatEntry> out = SeedCompatibility();
  std::map<std::tuple<std::string, std::string, std::string>, size_t> index;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const NodeInfo& info = nodes[i].info;
    const std::string gpu = GpuModel(info);
    if (gpu.empty()) continue;
    const bool done = i < has_completed.size() && has_completed[i];
    if (info.blocked_reason.empty() && !done) continue;  // nothing learned yet
    auto key = std::make_tuple(gpu, info.hardware.gpus.front().driver, info.engine);
    auto [it, added] = index.emplace(key, out.size());
    if (added) out.push_back({gpu, std::get<1>(key), info.engine, false, "", "preflight", 0});
    CompatEntry& e = out[it->second];
    ++e.nodes;
    if (!info.blocked_reason.empty()) {
      e.blocked = true;
      e.reason = info.blocked_reason;
    } else if (!e.blocked) {
      e.reason = "preflight passed and jobs completed";
    }
  }
  return out;
}

bool IsBlocked(const std::vector<CompatEntry>& record, std::string_view gpu,
               std::string_view engine) {
  bool seen_preflight = false, blocked_preflight = false, blocked_seed = false;
  for (const CompatEntry& e : record) {
    if (e.gpu != gpu) continue;
    if (e.source == "seed") {
      blocked_seed = blocked_seed || e.blocked;
    } else if (e.engine == engine || e.engine == "*") {
      seen_preflight = true;
      blocked_preflight = blocked_preflight || e.blocked;
    }
  }
  return seen_preflight ? blocked_preflight : blocked_seed;
}

}  // namespace podfleet
