// What the coordinator's route handlers share. Internal to coordinator/.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "coordinator/coordinator.h"
#include "coordinator/dispatcher.h"
#include "coordinator/feed_poller.h"
#include "coordinator/job_waiters.h"
#include "net/router.h"

namespace podfleet {

struct Coordinator::Context {
  const CoordinatorOptions& options;
  const Clock& clock;
  Store& store;
  Dispatcher& dispatcher;
  FeedPoller& poller;
  const std::string admin_token_hash;  // HashToken of the admin token; see admin_token.h
  JobWaiters& waiters;                 // requests waiting for their jobs (routes_openai.cc)
  const std::string api_key_hash;      // HashToken of options.api_key; empty when none
};

// Route tables, one per audience.
std::vector<Route> WorkerRoutes(Coordinator::Context& c);
std::vector<Route> OperatorRoutes(Coordinator::Context& c);
std::vector<Route> OpenAiRoutes(Coordinator::Context& c);

// Helpers shared by the route files.
HttpResponse JsonReply(int status, const nlohmann::json& body);
HttpResponse ErrorReply(const Error& e);
template <class T>
HttpResponse Reply(const Result<T>& r, int status = 200) {
  if (!r) return ErrorReply(r.error());
  if constexpr (std::is_void_v<T>) {
    return JsonReply(status, nlohmann::json::object());
  } else {
    return JsonReply(status, *r);
  }
}
// The body as a JSON object, or kInvalidArgument.
Result<nlohmann::json> JsonBody(const HttpRequest& request);
// The path parameter as a positive id, or kInvalidArgument.
Result<int64_t> IdParam(const HttpRequest& request, const char* name);

}  // namespace podfleet
