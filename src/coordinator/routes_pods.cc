// GET /api/pods: what the autoscaler (autoscaler.h) runs, decided and spent. Open like the other
// reads: it shows no token, no join line and no provider key.
#include <nlohmann/json.hpp>

#include "coordinator/autoscaler.h"
#include "coordinator/coordinator_context.h"

namespace podfleet {
namespace {

using nlohmann::json;

json PodJson(const PodRecord& r, TimePoint now) {
  const TimePoint end = r.ended.value_or(now);
  const double hours = static_cast<double>((end - r.created).count()) / 3'600'000.0;
  return {{"name", r.name},
          {"id", r.id},
          {"gpu", r.gpu},
          {"state", r.state},
          {"reason", r.reason},
          {"price_per_hour", r.price_per_hour},
          {"created_ms", ToUnixMillis(r.created)},
          {"ended_ms", r.ended ? json(ToUnixMillis(*r.ended)) : json(nullptr)},
          {"hours", hours},
          {"spend", hours * r.price_per_hour},
          {"adopted", r.adopted},
          {"cloud", r.cloud}};
}

// {"autoscale": bool, "provider", "limits": {...}, "wanted", "by_state": {state: n}, "pods": [...],
//  "decisions": [{"at_ms","text"}], "spend", "spend_per_hour"}
json StatusJson(const AutoscaleStatus& s, TimePoint now) {
  json pods = json::array();
  json by_state = json::object();
  for (const char* state :
       {"requested", "starting", "registered", "working", "draining", "terminated", "failed"})
    by_state[state] = 0;
  for (const PodRecord& r : s.pods) {
    pods.push_back(PodJson(r, now));
    by_state[r.state] = by_state.value(r.state, 0) + 1;
  }
  json decisions = json::array();
  for (const Decision& d : s.decisions)
    decisions.push_back({{"at_ms", ToUnixMillis(d.at)}, {"text", d.text}});
  return {{"autoscale", true},
          {"provider", s.provider},
          {"limits",
           {{"max_pods", s.options.max_pods},
            {"budget_per_hour", s.options.budget_per_hour},
            {"gpus", s.options.gpus},
            {"clouds", s.options.clouds},
            {"setup_deadline_s", s.options.setup_deadline.count() / 1000}}},
          {"wanted", s.wanted},
          {"by_state", by_state},
          {"pods", pods},
          {"decisions", decisions},
          {"spend", s.spend},
          {"spend_per_hour", s.spend_per_hour}};
}

}  // namespace

std::vector<Route> PodRoutes(Coordinator::Context& c) {
  return {
      {"GET",
       "/api/pods",
       "pods on demand: pods by state, the autoscaler's decisions, spend",
       SyncHandler([&c](const HttpRequest&) {
         Autoscaler* a = c.autoscaler.load();
         if (!a) return JsonReply(200, {{"autoscale", false}});
         return JsonReply(200, StatusJson(a->Status(), c.clock.Now()));
       }),
       {}},
  };
}

}  // namespace podfleet
