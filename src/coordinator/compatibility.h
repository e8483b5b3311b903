// Which GPU models work with which engine: the coordinator's compatibility record. It is seeded
// with the failures known before podfleet ran (RTX 4090, RTX 4080 and L4 fail with CUDA error 35
// under NeMo/Parakeet: ../shared/specs/cuda-error-35.md) and derived from what nodes reported:
// a node that failed its preflight marks its (GPU, driver, engine) blocked, a node that completed
// jobs marks it working. Pure functions of their inputs.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/model.h"

namespace podfleet {

struct CompatEntry {
  std::string gpu;     // GpuModel(): "RTX 4090"
  std::string driver;  // "550.54.15"; "*" for any
  std::string engine;  // "*" for any
  bool blocked = false;
  std::string reason;  // why blocked, or what showed it works
  std::string source;  // "seed" or "preflight"
  int nodes = 0;       // nodes that reported this combination
};

// The seeded entries.
std::vector<CompatEntry> SeedCompatibility();

// The seed entries followed by one entry per (GPU model, driver, engine) among `nodes` (retired
// ones included: their reports stay true). A combination is blocked when any node with it is
// blocked; `has_completed` says whether a node completed jobs (then its combination works).
std::vector<CompatEntry> BuildCompatibility(const std::vector<Node>& nodes,
                                            const std::vector<bool>& has_completed);

// Whether `gpu` with `engine` is blocked: a preflight entry for that GPU and engine decides;
// without one, a seed entry for that GPU does.
bool IsBlocked(const std::vector<CompatEntry>& record, std::string_view gpu,
               std::string_view engine);

}  // namespace podfleet
