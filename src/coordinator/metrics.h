// The coordinator's Prometheus metrics (GET /metrics, text exposition format 0.0.4).
//
// Counters and histograms kept since the process started: HTTP responses per method, route and
// status (podfleet_http_responses_total) and job durations (podfleet_job_engine_seconds,
// podfleet_job_wall_seconds, podfleet_job_audio_seconds). Gauges are computed from the store at
// each scrape (RenderMetrics): queue depths, node states, leases, throughput, bytes served,
// failures, speeds, prices and the uplink verdict.
//
// Thread safety: Metrics is safe for concurrent use.
#pragma once

#include <array>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>

#include "coordinator/fleet_facts.h"
#include "core/thread_annotations.h"

namespace podfleet {

// Upper bounds of the job duration histograms, in seconds.
inline constexpr std::array<double, 11> kJobSecondsBuckets = {1,   5,   10,   30,   60,  120,
                                                              300, 600, 1800, 3600, 7200};

class Metrics {
 public:
  void CountResponse(std::string_view method, std::string_view route, int status);
  void ObserveJob(Millis engine_time, Millis wall_time, Millis audio);
  // The counters and histograms, in exposition format.
  std::string RenderCounters() const;

 private:
  struct Histogram {
    std::array<int64_t, kJobSecondsBuckets.size()> buckets{};
    int64_t count = 0;
    double sum = 0;
    void Observe(double seconds);
    void Render(std::string& out, std::string_view name, std::string_view help) const;
  };

  mutable Mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, int64_t> responses_ GUARDED_BY(mu_);
  Histogram engine_ GUARDED_BY(mu_);
  Histogram wall_ GUARDED_BY(mu_);
  Histogram audio_ GUARDED_BY(mu_);
};

// The route a path belongs to, with ids folded so that labels stay few: "/api/jobs/12/complete"
// -> "/api/jobs/{id}/complete", "/api/media/ab12" -> "/api/media/{name}", "/feeds/3" ->
// "/feeds/{id}"; paths outside the API, the dashboard, the pages and /metrics -> "other".
std::string RouteLabel(std::string_view path);

// Every metric: the counters of `metrics` and the gauges of `facts`.
std::string RenderMetrics(const Metrics& metrics, const FleetFacts& facts);

}  // namespace podfleet
