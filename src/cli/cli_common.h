// Pieces shared by the CLI's coordinator-side command files (serve, up, demo, status...). The
// worker-side pieces are in local_common.h, which the worker-only build compiles alone.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "api/client.h"
#include "cli/client_args.h"
#include "cli/flags.h"
#include "cli/local_common.h"
#include "coordinator/coordinator.h"

namespace podfleet {

std::vector<Flag> ServeFlags(CoordinatorOptions& options);

// Starts a coordinator and prints where it listens and, on first start, the enrollment token.
Result<std::unique_ptr<Coordinator>> StartCoordinator(const CoordinatorOptions& options);

// --admin-token and --data, for the client commands that change something.
std::vector<Flag> AdminFlags(ClientArgs& a);
// Gives `client` the admin token: --admin-token (or PODFLEET_ADMIN_TOKEN), else
// <--data>/admin.token when that file exists, else none (the coordinator will refuse changes).
Result<void> UseAdminToken(const ClientArgs& c, CoordinatorClient& client);

// Prints GET /api/status as a person reads it.
void PrintStatus(const nlohmann::json& status);

}  // namespace podfleet
