#include "coordinator/metrics.h"

#include <fmt/format.h>

#include "coordinator/economics.h"

namespace podfleet {
namespace {

double SecondsOf(Millis m) { return static_cast<double>(m.count()) / 1000.0; }

// A label value with backslash, quote and newline escaped.
std::string Label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

void Header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void Gauge(std::string& out, std::string_view name, std::string_view help, double value) {
  Header(out, name, "gauge", help);
  out += fmt::format("{} {}\n", name, value);
}

bool AllDigits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

void NodeGauges(std::string& out, const FleetFacts& f) {
  std::map<std::string, int> by_status = {
      {"busy", 0}, {"idle", 0}, {"offline", 0}, {"blocked", 0}, {"unhealthy", 0}};
  for (const NodeFacts& n : f.nodes) ++by_status[std::string(ToString(n.view.status))];
  Header(out, "podfleet_nodes", "gauge", "nodes by status");
  for (const auto& [status, count] : by_status)
    out += fmt::format("podfleet_nodes{{status=\"{}\"}} {}\n", status, count);
  struct Series {
    const char* name;
    const char* help;
    double (*value)(const NodeFacts&);
  };
  const Series series[] = {
      {"podfleet_node_speed", "measured realtime factor (audio seconds per engine second)",
       [](const NodeFacts& n) { return n.speed; }},
      {"podfleet_node_leases", "jobs leased to the node now",
       [](const NodeFacts& n) { return static_cast<double>(n.view.jobs.size()); }},
      {"podfleet_node_jobs_last_hour", "jobs completed in the last hour",
       [](const NodeFacts& n) { return static_cast<double>(n.hour.jobs); }},
      {"podfleet_node_failures_last_day", "failed attempts in the last 24 hours",
       [](const NodeFacts& n) { return static_cast<double>(n.day.failures); }},
      {"podfleet_node_idle_with_work_ratio", "share of the last hour idle while jobs were queued",
       [](const NodeFacts& n) { return n.hour.activity.IdleWithWorkShare(); }},
      {"podfleet_node_price_dollars_per_hour", "what the node costs per hour (-1: unknown)",
       [](const NodeFacts& n) { return n.price.value_or(-1); }},
  };
  for (const Series& s : series) {
    Header(out, s.name, "gauge", s.help);
    for (const NodeFacts& n : f.nodes)
      out += fmt::format("{}{{node=\"{}\",name=\"{}\",gpu=\"{}\",status=\"{}\"}} {}\n", s.name,
                         n.view.node.id.value(), Label(n.view.node.info.name), Label(n.gpu),
                         ToString(n.view.status), s.value(n));
  }
}

void FleetGauges(std::string& out, const FleetFacts& f) {
  Header(out, "podfleet_queue_jobs", "gauge", "jobs by state");
  out += fmt::format("podfleet_queue_jobs{{state=\"queued\"}} {}\n", f.queue.queued);
  out += fmt::format("podfleet_queue_jobs{{state=\"running\"}} {}\n", f.queue.running);
  out += fmt::format("podfleet_queue_jobs{{state=\"done\"}} {}\n", f.queue.completed);
  out += fmt::format("podfleet_queue_jobs{{state=\"failed\"}} {}\n", f.queue.failed);
  Gauge(out, "podfleet_leases", "leases held by workers", static_cast<double>(f.queue.running));
  Gauge(out, "podfleet_queued_audio_seconds", "audio waiting in the queue",
        SecondsOf(f.queued_audio));
  Gauge(out, "podfleet_last_hour_episodes", "episodes done in the last hour",
        static_cast<double>(f.last_hour.jobs));
  Gauge(out, "podfleet_last_hour_audio_seconds", "audio transcribed in the last hour",
        SecondsOf(f.last_hour.audio));
  Gauge(out, "podfleet_throughput_realtime", "audio-hours per wall-hour over the last hour",
        f.last_hour.realtime());
  const double speeds = FleetSpeed(f);
  Gauge(out, "podfleet_fleet_efficiency", "throughput over the sum of online node speeds",
        speeds > 0 ? f.last_hour.realtime() / speeds : 0);
  Gauge(out, "podfleet_served_bytes_last_day", "audio bytes the coordinator served in 24 hours",
        static_cast<double>(f.bytes_day));
  const Bandwidth b = ComputeBandwidth(f);
  Gauge(out, "podfleet_bytes_per_audio_hour", "bytes served per hour of audio (0: not measured)",
        b.bytes_per_audio_hour.value_or(0));
  Gauge(out, "podfleet_uplink_capacity_realtime", "x realtime the uplink can feed (0: unknown)",
        b.realtime_capacity.value_or(0));
  Gauge(out, "podfleet_uplink_bottleneck", "1 when the link, not the GPUs, limits the fleet",
        b.link_is_bottleneck ? 1 : 0);
  Gauge(out, "podfleet_preparation_capacity_realtime",
        "x realtime the relay can prepare audio at, measured (0: unknown)",
        b.preparation_capacity.value_or(0));
  Gauge(out, "podfleet_relay_bottleneck",
        "1 when the relay's preparation, not the GPUs or the link, limits the fleet",
        b.binding == "relay" ? 1 : 0);
  Gauge(out, "podfleet_relay_copy_path",
        "1 when the relay copies the original's frames, 0 when it encodes Opus (or in origin mode)",
        b.audio_path == "copy" ? 1 : 0);
  int64_t failures = 0;
  for (const NodeFacts& n : f.nodes) failures += n.day.failures;
  Gauge(out, "podfleet_failed_attempts_last_day", "attempts that failed in 24 hours",
        static_cast<double>(failures));
}

}  // namespace

void Metrics::Histogram::Observe(double seconds) {
  for (size_t i = 0; i < buckets.size(); ++i)
    if (seconds <= kJobSecondsBuckets[i]) ++buckets[i];
  ++count;
  sum += seconds;
}

void Metrics::Histogram::Render(std::string& out, std::string_view name,
                                std::string_view help) const {
  Header(out, name, "histogram", help);
  for (size_t i = 0; i < buckets.size(); ++i)
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, kJobSecondsBuckets[i], buckets[i]);
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, count, name,
                     sum, name, count);
}

void Metrics::CountResponse(std::string_view method, std::string_view route, int status) {
  MutexLock lock(mu_);
  ++responses_[{std::string(method), std::string(route), status}];
}

void Metrics::ObserveJob(Millis engine_time, Millis wall_time, Millis audio) {
  MutexLock lock(mu_);
  engine_.Observe(SecondsOf(engine_time));
  wall_.Observe(SecondsOf(wall_time));
  audio_.Observe(SecondsOf(audio));
}

std::string Metrics::RenderCounters() const {
  std::string out;
  MutexLock lock(mu_);
  Header(out, "podfleet_http_responses_total", "counter", "HTTP responses by route and status");
  for (const auto& [key, count] : responses_) {
    const auto& [method, route, status] = key;
    out += fmt::format(
        "podfleet_http_responses_total{{method=\"{}\",route=\"{}\",status=\"{}\"}} {}\n",
        Label(method), Label(route), status, count);
  }
  engine_.Render(out, "podfleet_job_engine_seconds", "engine time per completed job");
  wall_.Render(out, "podfleet_job_wall_seconds", "lease to completion per completed job");
  audio_.Render(out, "podfleet_job_audio_seconds", "audio length per completed job");
  return out;
}

std::string RouteLabel(std::string_view path) {
  if (path == "/" || path == "/metrics" || path == "/feeds" || path == "/search")
    return std::string(path);
  const bool api = path.starts_with("/api/") || path == "/api";
  const bool web = path.starts_with("/web/");
  for (std::string_view page : {"/feeds/", "/episodes/"})
    if (path.starts_with(page) && AllDigits(path.substr(page.size())))
      return fmt::format("{}{{id}}", page);
  if (!api && !web) return "other";
  if (web) return "/web/{file}";
  if (path.starts_with("/api/media/")) return "/api/media/{name}";
  std::string out;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view segment = path.substr(start, end - start);
    out += '/';
    out += AllDigits(segment) ? "{id}" : std::string(segment);
    start = end + 1;
  }
  return out;
}

std::string RenderMetrics(const Metrics& metrics, const FleetFacts& facts) {
  std::string out;
  FleetGauges(out, facts);
  NodeGauges(out, facts);
  out += metrics.RenderCounters();
  return out;
}

}  // namespace podfleet
