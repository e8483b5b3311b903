// Analytics routes: what the fleet measured (per node and fleet), GPU economics, bandwidth,
// planning, the doctor's checks, the compatibility record, Prometheus metrics and the dashboard.
// All are reads, open like the rest of the operator API.
#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "coordinator/coordinator_context.h"
#include "coordinator/doctor.h"
#include "coordinator/economics.h"
#include "coordinator/metrics.h"
#include "coordinator/plan.h"
#include "coordinator/relay.h"
#include "coordinator/web_assets.h"

namespace podfleet {
namespace {

using nlohmann::json;
using Ctx = Coordinator::Context;

// Each completed job moves the node's stored speed this far towards its own realtime factor.

double Secs(Millis m) { return static_cast<double>(m.count()) / 1000.0; }
double Hours(Millis m) { return static_cast<double>(m.count()) / 3'600'000.0; }

template <class T>
json Opt(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

// A double that JSON can carry: infinity (nothing drains) becomes null.
json Finite(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

Result<FleetFacts> Facts(Ctx& c) {
  FleetSettings s{c.options.prices, c.options.uplink_bits_per_second, c.options.claim_capacity,
                  c.options.offline_after};
  if (c.relay)
    SetRelayFeed(s, c.relay->LastChoice(), c.relay->BestFeed(c.options.uplink_bits_per_second));
  return GatherFleetFacts(c.store, c.activity, s, c.clock.Now(), c.faults.Snapshot());
}

json WindowJson(const NodeWindow& w) {
  return {{"jobs", w.jobs},
          {"failures", w.failures},
          {"audio_hours", Hours(w.audio)},
          {"realtime", w.Realtime()},
          {"avg_engine_s", Secs(w.AvgEngine())},
          {"avg_wall_s", Secs(w.AvgWall())},
          {"avg_job_s", Secs(w.AvgJob())},
          {"avg_prefetch_wait_s", w.jobs > 0 ? Secs(w.waited / w.jobs) : 0.0},
          {"observed_s", Secs(w.activity.observed)},
          {"idle_share", w.activity.IdleShare()},
          {"idle_with_work_share", w.activity.IdleWithWorkShare()}};
}

json NodeFactsJson(const NodeFacts& n) {
  json jobs = json::array();
  for (const Job& j : n.view.jobs) {
    json job = {{"job", j.id.value()}, {"episode", j.episode.value()}};
    if (j.progress) {
      job["stage"] = ToString(j.progress->stage);
      job["progress"] = j.progress->fraction;
    }
    jobs.push_back(std::move(job));
  }
  return {{"id", n.view.node.id.value()},
          {"name", n.view.node.info.name},
          {"status", ToString(n.view.status)},
          {"blocked_reason", n.view.node.info.blocked_reason},
          {"fault", n.view.fault ? json(n.view.fault->reason) : json(nullptr)},
          {"engine", n.view.node.info.engine},
          {"gpu", n.gpu},
          {"engine_states", n.view.node.info.engine_states},
          {"price_per_hour", Opt(n.price)},
          {"speed", n.speed},
          {"jobs", std::move(jobs)},
          {"last_hour", WindowJson(n.hour)},
          {"last_day", WindowJson(n.day)}};
}

// Audio-hours per wall-hour in each of the last 24 rolling hours, oldest first; the last is the
// "last hour" figure.
json History(const FleetFacts& f) {
  json out = json::array();
  const std::vector<Throughput> hours = HourlyThroughput(f.done_day, f.now, 24);
  for (size_t i = 0; i < hours.size(); ++i) {
    const Throughput& t = hours[i];
    out.push_back({{"hour_at", ToUnixMillis(f.now - kOneHour * static_cast<int64_t>(24 - i))},
                   {"episodes", t.jobs},
                   {"audio_hours", Hours(t.audio)},
                   {"audio_hours_per_hour", t.realtime()}});
  }
  return out;
}

json AnalyticsJson(const FleetFacts& f) {
  json nodes = json::array();
  for (const NodeFacts& n : f.nodes) nodes.push_back(NodeFactsJson(n));
  const double speeds = FleetSpeed(f);
  return {{"nodes", std::move(nodes)},
          {"queue",
           {{"queued", f.queue.queued},
            {"running", f.queue.running},
            {"completed", f.queue.completed},
            {"failed", f.queue.failed},
            {"queued_audio_hours", Hours(f.queued_audio)}}},
          {"last_hour",
           {{"episodes", f.last_hour.jobs},
            {"audio_minutes", f.last_hour.audio.count() / 60'000.0},
            {"audio_hours_per_hour", f.last_hour.realtime()},
            {"sum_of_node_speeds", speeds},
            {"fleet_efficiency", speeds > 0 ? f.last_hour.realtime() / speeds : 0.0}}},
          {"mean_episode_minutes", f.mean_episode.count() / 60'000.0},
          {"history", History(f)}};
}

json EconomicsJson(const Economics& e) {
  json rows = json::array();
  for (const GpuRow& r : e.rows)
    rows.push_back({{"gpu", r.gpu},
                    {"local", r.local},
                    {"nodes", r.nodes},
                    {"node_names", r.node_names},
                    {"price_per_hour", Opt(r.price_per_hour)},
                    {"realtime", r.realtime > 0 ? json(r.realtime) : json(nullptr)},
                    {"jobs_24h", r.jobs_day},
                    {"dollars_per_audio_hour", Opt(r.dollars_per_audio_hour)},
                    {"episodes_per_dollar", Opt(r.episodes_per_dollar)},
                    {"cost_per_100_episodes", Opt(r.cost_per_100_episodes)},
                    {"blocked", r.blocked},
                    {"winner", r.winner},
                    {"note", r.note}});
  return {{"mean_episode_minutes", e.mean_episode.count() / 60'000.0},
          {"gpus", std::move(rows)},
          {"winner", e.winner.empty() ? json(nullptr) : json(e.winner)},
          {"notes", e.notes}};
}

json BandwidthJson(const Bandwidth& b) {
  json feeds = json::array();
  for (const LinkFeed& f : b.feeds)
    feeds.push_back({{"gpu", f.gpu}, {"speed", f.speed}, {"nodes", f.nodes}});
  return {{"bytes_per_audio_hour", Opt(b.bytes_per_audio_hour)},
          {"mb_per_audio_minute",
           b.bytes_per_audio_hour ? json(*b.bytes_per_audio_hour / 60 / 1e6) : json(nullptr)},
          {"bytes_24h", b.bytes_day},
          {"uplink_bits_per_second", b.uplink_bits_per_second},
          {"uplink_megabytes_per_second", b.uplink_bits_per_second / 8e6},
          {"realtime_capacity", Opt(b.realtime_capacity)},
          {"preparation_capacity", Opt(b.preparation_capacity)},
          {"binding", b.binding},
          {"audio_path", b.audio_path},
          {"audio_path_reason", b.audio_path_reason},
          {"feed_path", b.feed_path},
          {"feed_path_reason", b.feed_path_reason},
          {"fleet_speed", b.fleet_speed},
          {"recent_bits_per_second", b.recent_bits_per_second},
          {"feeds", std::move(feeds)},
          {"link_is_bottleneck", b.link_is_bottleneck},
          {"verdict", b.verdict}};
}

json OptionJson(const PlanOption& o) {
  return {{"gpu", o.gpu},
          {"speed", o.speed},
          {"price_per_hour", o.price_per_hour},
          {"pods", o.pods},
          {"fleet_speed", o.fleet_speed},
          {"drain_hours", Finite(o.drain_hours)},
          {"cost", Finite(o.cost)},
          {"bottleneck", o.bottleneck},
          {"pods_fed", Opt(o.pods_fed)},
          {"recommended", o.recommended},
          {"note", o.note}};
}

json PlanJson(const Plan& p) {
  json options = json::array(), brackets = json::array();
  for (const PlanOption& o : p.options) options.push_back(OptionJson(o));
  for (const PlanBracket& b : p.brackets)
    brackets.push_back({{"episodes", b.episodes},
                        {"backlog_hours", b.backlog_hours},
                        {"best", b.best ? OptionJson(*b.best) : json(nullptr)}});
  return {{"backlog_hours", p.backlog_hours},
          {"backlog_source", p.backlog_source},
          {"local_speed", p.local_speed},
          {"uplink_capacity", Opt(p.uplink_capacity)},
          {"coordinator_capacity", Opt(p.coordinator_capacity)},
          {"preparation_capacity", Opt(p.preparation_capacity)},
          {"audio_path", p.audio_path},
          {"audio_path_reason", p.audio_path_reason},
          {"feed_capacity", Opt(p.feed_capacity)},
          {"feed_limit", p.feed_limit},
          {"binding", p.binding},
          {"pod_speed", Opt(p.pod_speed)},
          {"pods_fed", Opt(p.pods_fed)},
          {"options", std::move(options)},
          {"recommendation", p.recommendation ? OptionJson(*p.recommendation) : json(nullptr)},
          {"current_fleet", OptionJson(p.current)},
          {"queue_table", std::move(brackets)},
          {"excluded", p.excluded},
          {"notes", p.notes}};
}

json CompatibilityJson(const std::vector<CompatEntry>& record) {
  json out = json::array();
  for (const CompatEntry& e : record)
    out.push_back({{"gpu", e.gpu},
                   {"driver", e.driver},
                   {"engine", e.engine},
                   {"status", e.blocked ? "blocked" : "works"},
                   {"reason", e.reason},
                   {"source", e.source},
                   {"nodes", e.nodes}});
  return out;
}

json DoctorJson(const DoctorReport& r) {
  json checks = json::array();
  for (const Check& c : r.checks)
    checks.push_back({{"name", c.name}, {"outcome", ToString(c.outcome)}, {"detail", c.detail}});
  return {{"healthy", r.healthy}, {"checks", std::move(checks)}};
}

// Alerts for the dashboard: blocked GPUs, unhealthy nodes, pods billing while idle, a saturated
// link.
json Alerts(const FleetFacts& f, const Bandwidth& b) {
  json out = json::array();
  for (const NodeFacts& n : f.nodes) {
    if (n.view.status == NodeStatus::kBlocked)
      out.push_back({{"kind", "blocked_gpu"},
                     {"message", fmt::format("{} ({}) is blocked: {}", n.view.node.info.name,
                                             n.gpu.empty() ? "no GPU" : n.gpu,
                                             n.view.node.info.blocked_reason)}});
    if (n.view.status == NodeStatus::kUnhealthy)
      out.push_back({{"kind", "unhealthy_node"},
                     {"message", fmt::format("{} is unhealthy and claims nothing: {}",
                                             n.view.node.info.name, n.view.fault->reason)}});
    if (n.pod() && n.view.status == NodeStatus::kIdle)
      out.push_back({{"kind", "idle_pod"},
                     {"message", fmt::format("{} is idle and costs ${:.2f}/h",
                                             n.view.node.info.name, *n.price)}});
  }
  if (b.link_is_bottleneck) out.push_back({{"kind", "link_saturated"}, {"message", b.verdict}});
  return out;
}

// Runs `f` on freshly gathered facts and answers with its JSON.
template <class F>
HttpResponse WithFacts(Ctx& c, F&& f) {
  auto facts = Facts(c);
  if (!facts) return ErrorReply(facts.error());
  return f(*facts);
}

HttpResponse GetAnalytics(Ctx& c, const HttpRequest&) {
  return WithFacts(c, [](const FleetFacts& f) { return JsonReply(200, AnalyticsJson(f)); });
}

json SavingsJson(const TranscriptSavings& s) {
  return {{"episodes", s.episodes},
          {"audio_seconds", static_cast<double>(s.audio.count()) / 1000.0},
          {"gpu_seconds_saved", Opt(s.gpu_seconds)},
          {"dollars_saved", Opt(s.dollars)},
          {"assumed_gpu", s.gpu.empty() ? json(nullptr) : json(s.gpu)}};
}

HttpResponse GetEconomics(Ctx& c, const HttpRequest&) {
  auto saved = c.store.CountPublisherSavings();
  if (!saved) return ErrorReply(saved.error());
  return WithFacts(c, [&](const FleetFacts& f) {
    const Economics e = ComputeEconomics(f);
    json out = EconomicsJson(e);
    out["compatibility"] = CompatibilityJson(f.compatibility);
    out["publisher_transcripts"] = SavingsJson(ComputeSavings(e, saved->episodes, saved->audio));
    return JsonReply(200, out);
  });
}

HttpResponse GetBandwidth(Ctx& c, const HttpRequest&) {
  return WithFacts(
      c, [](const FleetFacts& f) { return JsonReply(200, BandwidthJson(ComputeBandwidth(f))); });
}

Result<PlanRequest> PlanRequestOf(const HttpRequest& request) {
  PlanRequest r;
  try {
    if (auto v = request.QueryOr("backlog_hours", ""); !v.empty()) r.backlog_hours = std::stod(v);
    if (auto v = request.QueryOr("episodes", ""); !v.empty()) r.episodes = std::stoll(v);
    if (auto v = request.QueryOr("target_hours", ""); !v.empty()) r.target_hours = std::stod(v);
    if (auto v = request.QueryOr("max_pods", ""); !v.empty()) r.max_pods = std::stoi(v);
    if (auto v = request.QueryOr("pod_speed", ""); !v.empty()) r.pod_speed = std::stod(v);
  } catch (const std::exception&) {
    return InvalidArgument(
        "backlog_hours, episodes, target_hours, max_pods and pod_speed must be numbers");
  }
  if (r.backlog_hours && !std::isfinite(*r.backlog_hours))
    return InvalidArgument("backlog_hours must be finite");
  if (r.pod_speed && !std::isfinite(*r.pod_speed))
    return InvalidArgument("pod_speed must be finite");
  return r;
}

HttpResponse GetPlan(Ctx& c, const HttpRequest& request) {
  auto r = PlanRequestOf(request);
  if (!r) return ErrorReply(r.error());
  return WithFacts(c, [&](const FleetFacts& f) {
    auto plan = ComputePlan(f, *r);
    if (!plan) return ErrorReply(plan.error());
    return JsonReply(200, PlanJson(*plan));
  });
}

HttpResponse GetDoctor(Ctx& c, const HttpRequest&) {
  return WithFacts(c, [](const FleetFacts& f) { return JsonReply(200, DoctorJson(RunDoctor(f))); });
}

HttpResponse GetCompatibility(Ctx& c, const HttpRequest&) {
  return WithFacts(c, [](const FleetFacts& f) {
    return JsonReply(200, {{"compatibility", CompatibilityJson(f.compatibility)}});
  });
}

HttpResponse GetPrices(Ctx& c, const HttpRequest&) {
  json out = json::array();
  for (const PriceEntry& e : c.options.prices.entries)
    out.push_back({{"gpu", e.gpu}, {"price_per_hour", e.dollars_per_hour}});
  return JsonReply(200, {{"prices", std::move(out)}, {"local_price_per_hour", 0}});
}

// Everything the dashboard shows, in one request per refresh.
// Names each node's current jobs by their episode's title, for the dashboard.
void AddJobTitles(Ctx& c, json& nodes) {
  for (json& n : nodes) {
    for (json& j : n["jobs"]) {
      if (auto e = c.store.GetEpisode(EpisodeId(j.value("episode", int64_t{0}))))
        j["title"] = e->info.title;
    }
  }
}

HttpResponse GetDashboard(Ctx& c, const HttpRequest&) {
  return WithFacts(c, [&c](const FleetFacts& f) {
    const Bandwidth b = ComputeBandwidth(f);
    json out = AnalyticsJson(f);
    AddJobTitles(c, out["nodes"]);
    out["economics"] = EconomicsJson(ComputeEconomics(f));
    out["bandwidth"] = BandwidthJson(b);
    out["compatibility"] = CompatibilityJson(f.compatibility);
    out["doctor"] = DoctorJson(RunDoctor(f));
    out["alerts"] = Alerts(f, b);
    out["now"] = ToUnixMillis(f.now);
    return JsonReply(200, out);
  });
}

HttpResponse GetMetrics(Ctx& c, const HttpRequest&) {
  return WithFacts(c, [&c](const FleetFacts& f) {
    return HttpResponse::Text(200, RenderMetrics(c.metrics, f),
                              "text/plain; version=0.0.4; charset=utf-8");
  });
}

HttpResponse ServeAsset(std::string_view path) {
  const WebAsset* asset = FindWebAsset(path);
  if (!asset) return HttpResponse::ErrorJson(404, Code::kNotFound, "no such file");
  if (asset->bytes.empty())
    return HttpResponse::ErrorJson(503, Code::kUnavailable,
                                   std::string(path) +
                                       " was not built in: run `npm ci` in the "
                                       "source tree (scripts/setup does) and rebuild");
  HttpResponse r = HttpResponse::Text(200, std::string(asset->bytes), std::string(asset->type));
  r.headers.emplace_back("Cache-Control", "no-cache");
  return r;
}

// A page for people: every one is pages.html, whose script shows the part the path names.
Route Page(std::string pattern, std::string_view file, std::string about) {
  return {"GET",
          std::move(pattern),
          std::move(about),
          SyncHandler([file](const HttpRequest&) { return ServeAsset(fmt::format("/{}", file)); }),
          {},
          {},
          /*on_io_thread=*/true};
}

}  // namespace

std::vector<Route> AnalyticsRoutes(Ctx& c) {
  auto sync = [&c](HttpResponse (*f)(Ctx&, const HttpRequest&)) {
    return SyncHandler([&c, f](const HttpRequest& r) { return f(c, r); });
  };
  return {
      {"GET",
       "/api/analytics",
       "per-node and fleet figures over 1 h and 24 h",
       sync(GetAnalytics),
       {}},
      {"GET",
       "/api/economics",
       "GPU comparison from measured speeds and prices",
       sync(GetEconomics),
       {}},
      {"GET",
       "/api/bandwidth",
       "bytes per audio-hour, uplink capacity, bottleneck",
       sync(GetBandwidth),
       {}},
      {"GET",
       "/api/plan",
       "pods to run (backlog_hours, episodes, target_hours, max_pods)",
       sync(GetPlan),
       {}},
      {"GET", "/api/doctor", "the seed's verification as pass/fail checks", sync(GetDoctor), {}},
      {"GET",
       "/api/compatibility",
       "GPU/driver/engine compatibility record",
       sync(GetCompatibility),
       {}},
      {"GET", "/api/prices", "the price table", sync(GetPrices), {}},
      {"GET", "/api/dashboard", "everything the dashboard shows", sync(GetDashboard), {}},
      {"GET", "/metrics", "Prometheus metrics", sync(GetMetrics), {}},
      {"GET",
       "/",
       "the dashboard",
       SyncHandler([](const HttpRequest&) { return ServeAsset("/index.html"); }),
       {},
       {},
       /*on_io_thread=*/true},
      Page("/feeds", "pages.html", "the feeds page (add, remove, refresh)"),
      Page("/feeds/{id}", "pages.html", "a feed's episodes page (retry, transcribe again, delete)"),
      Page("/episodes/{id}", "pages.html", "an episode's transcript page (play from a segment)"),
      Page("/search", "pages.html", "the transcript search page"),
      {"GET",
       "/web/{file}",
       "dashboard files",
       SyncHandler([](const HttpRequest& r) { return ServeAsset("/" + r.params.at("file")); }),
       {},
       {},
       /*on_io_thread=*/true},
  };
}

}  // namespace podfleet
