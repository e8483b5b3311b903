#include "coordinator/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "coordinator/fleet_test_util.h"

namespace podfleet {
namespace {

using ::testing::HasSubstr;

TEST(Metrics, RouteLabelsFoldIds) {
  EXPECT_EQ(RouteLabel("/api/jobs/12/complete"), "/api/jobs/{id}/complete");
  EXPECT_EQ(RouteLabel("/api/episodes/7"), "/api/episodes/{id}");
  EXPECT_EQ(RouteLabel("/api/media/abc123"), "/api/media/{name}");
  EXPECT_EQ(RouteLabel("/api/status"), "/api/status");
  EXPECT_EQ(RouteLabel("/web/dashboard.js"), "/web/{file}");
  EXPECT_EQ(RouteLabel("/"), "/");
  EXPECT_EQ(RouteLabel("/metrics"), "/metrics");
  EXPECT_EQ(RouteLabel("/wp-admin/../etc"), "other");
  EXPECT_EQ(RouteLabel("/feeds"), "/feeds");
  EXPECT_EQ(RouteLabel("/feeds/12"), "/feeds/{id}");
  EXPECT_EQ(RouteLabel("/episodes/7"), "/episodes/{id}");
  EXPECT_EQ(RouteLabel("/episodes/7/../x"), "other");
  EXPECT_EQ(RouteLabel("/search"), "/search");
}

TEST(Metrics, CountersAndHistogramsAreExposed) {
  Metrics m;
  m.CountResponse("GET", "/api/status", 200);
  m.CountResponse("GET", "/api/status", 200);
  m.CountResponse("POST", "/api/jobs/{id}/complete", 409);
  m.ObserveJob(Millis(4'000), Millis(45'000), Millis(600'000));
  const std::string text = m.RenderCounters();
  EXPECT_THAT(text, HasSubstr("podfleet_http_responses_total{method=\"GET\",route=\"/api/status\","
                              "status=\"200\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("status=\"409\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE podfleet_job_engine_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("podfleet_job_engine_seconds_bucket{le=\"1\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("podfleet_job_engine_seconds_bucket{le=\"5\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("podfleet_job_wall_seconds_bucket{le=\"30\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("podfleet_job_wall_seconds_bucket{le=\"60\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("podfleet_job_wall_seconds_sum 45\n"));
  EXPECT_THAT(text, HasSubstr("podfleet_job_audio_seconds_bucket{le=\"+Inf\"} 1\n"));
}

TEST(Metrics, GaugesComeFromTheFleet) {
  FleetBuilder fleet;
  fleet.Add("pod \"1\"", "RTX A5000", 87, 0.22);
  fleet.Add("gone", "", 15, 0.0, NodeStatus::kOffline);
  fleet.facts.queue = {5, 3, 10, 1};
  const std::string text = RenderMetrics(Metrics(), fleet.facts);
  EXPECT_THAT(text, HasSubstr("podfleet_queue_jobs{state=\"queued\"} 5\n"));
  EXPECT_THAT(text, HasSubstr("podfleet_leases 3\n"));
  EXPECT_THAT(text, HasSubstr("podfleet_nodes{status=\"busy\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("podfleet_nodes{status=\"offline\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("podfleet_node_speed{node=\"1\",name=\"pod \\\"1\\\"\","
                              "gpu=\"RTX A5000\",status=\"busy\"} 87\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE podfleet_throughput_realtime gauge\n"));
  EXPECT_THAT(text, HasSubstr("podfleet_relay_copy_path 0\n"));
  fleet.facts.settings.preparation_capacity = 50;
  fleet.facts.settings.audio_path = "copy";
  const std::string copying = RenderMetrics(Metrics(), fleet.facts);
  EXPECT_THAT(copying, HasSubstr("podfleet_relay_copy_path 1\n"));
  EXPECT_THAT(copying, HasSubstr("podfleet_relay_bottleneck 1\n"));
}

}  // namespace
}  // namespace podfleet
