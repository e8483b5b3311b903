// Pieces shared by the CLI's coordinator-side command files (serve, up, demo, status...). The
// worker-side pieces are in local_common.h, which the worker-only build compiles alone.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "cli/flags.h"
#include "cli/local_common.h"
#include "coordinator/coordinator.h"

namespace podfleet {

std::vector<Flag> ServeFlags(CoordinatorOptions& options);

// Starts a coordinator and prints where it listens and, on first start, the enrollment token.
Result<std::unique_ptr<Coordinator>> StartCoordinator(const CoordinatorOptions& options);

// Prints GET /api/status as a person reads it.
void PrintStatus(const nlohmann::json& status);

}  // namespace podfleet
