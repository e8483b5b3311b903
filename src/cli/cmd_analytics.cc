// gpus, plan, doctor: the fleet's economics, capacity plan and checks, read from the coordinator's
// API (/api/economics, /api/bandwidth, /api/plan, /api/doctor) and printed as tables.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "api/client.h"
#include "cli/client_args.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "net/http.h"

namespace podfleet {
namespace {

using nlohmann::json;

// A number from a JSON field that may be null: "-" then.
std::string Num(const json& v, const char* format, const char* none = "-") {
  if (!v.is_number()) return none;
  return fmt::format(fmt::runtime(format), v.get<double>());
}

// Parses flags, which take no arguments besides; >= 0: exit with it (help printed or bad flag).
int ParseOr(std::vector<Flag> flags, std::string_view command, std::string_view usage,
            std::string_view summary, const Args& args) {
  Parsed parsed = Parse(std::move(flags), command, usage, summary, args);
  if (parsed.exit >= 0) return parsed.exit;
  if (!parsed.args.positional.empty())
    return Fail("unexpected argument " + parsed.args.positional[0]);
  return -1;
}

Result<json> Get(const ClientArgs& a, const std::string& path) {
  auto http = CoordinatorHttp(a);
  CoordinatorClient client(a.server, *http);
  return client.GetJson(path);
}

void PrintEconomics(const json& e) {
  fmt::print("GPU COMPARISON (measured; mean episode {} min)\n",
             Num(e["mean_episode_minutes"], "{:.1f}", "unknown"));
  fmt::print("  {:<22} {:>5} {:>8} {:>9} {:>13} {:>11} {:>12}  {}\n", "GPU", "NODES", "PRICE/H",
             "REALTIME", "$/AUDIO-HOUR", "EPISODES/$", "COST/100EPS", "NOTE");
  for (const json& g : e["gpus"]) {
    std::string name = g.value("gpu", "");
    if (g.value("winner", false)) name = "*" + name + "*";
    fmt::print("  {:<22} {:>5} {:>8} {:>9} {:>13} {:>11} {:>12}  {}\n", name, g.value("nodes", 0),
               Num(g["price_per_hour"], "${:.2f}", "?"), Num(g["realtime"], "{:.1f}x"),
               g["price_per_hour"].is_number() && g["price_per_hour"].get<double>() == 0
                   ? std::string("free")
                   : Num(g["dollars_per_audio_hour"], "${:.4f}"),
               Num(g["episodes_per_dollar"], "{:.0f}"), Num(g["cost_per_100_episodes"], "${:.2f}"),
               g.value("note", ""));
  }
  if (e["winner"].is_string())
    fmt::print("Winner: {} (lowest $ per audio-hour)\n", e["winner"].get<std::string>());
  for (const json& n : e["notes"]) fmt::print("note: {}\n", n.get<std::string>());
  // The record's blocks are about GPU types: a fleet without GPUs is told so once instead.
  const bool cpu_only = std::all_of(e["gpus"].begin(), e["gpus"].end(), [](const json& g) {
    return g.value("gpu", "").starts_with("local: ");
  });
  if (cpu_only) {
    fmt::print("\nCOMPATIBILITY: the GPU blocks on record do not concern this CPU-only fleet\n");
    return;
  }
  bool any_blocked = false;
  for (const json& c : e["compatibility"]) {
    if (c.value("status", "") != "blocked") continue;
    if (!any_blocked) fmt::print("\nBLOCKED\n");
    any_blocked = true;
    fmt::print("  {:<12} driver {:<10} engine {:<12} ({}) {}\n", c.value("gpu", ""),
               c.value("driver", ""), c.value("engine", ""), c.value("source", ""),
               c.value("reason", ""));
  }
}

void PrintBandwidth(const json& b) {
  fmt::print("\nBANDWIDTH\n  per audio-minute: {}   uplink: {}   link capacity: {}   fleet: {}\n",
             Num(b["mb_per_audio_minute"], "{:.2f} MB", "not measured"),
             b.value("uplink_bits_per_second", 0.0) > 0
                 ? fmt::format("{:.0f} Mbit/s ({:.2f} MB/s)",
                               b["uplink_bits_per_second"].get<double>() / 1e6,
                               b.value("uplink_megabytes_per_second", 0.0))
                 : "not configured",
             Num(b["realtime_capacity"], "{:.0f}x realtime", "unknown"),
             Num(b["fleet_speed"], "{:.1f}x"));
  for (const json& f : b["feeds"])
    fmt::print("  feeds {:.1f} nodes of {} at {:.0f}x\n", f.value("nodes", 0.0), f.value("gpu", ""),
               f.value("speed", 0.0));
  fmt::print("  {}\n", b.value("verdict", ""));
}

std::string Drain(const json& hours) {
  if (!hours.is_number()) return "never";
  const double h = hours.get<double>();
  return h < 1 ? fmt::format("{:.0f} min", h * 60) : fmt::format("{:.1f} h", h);
}

void PrintOption(const json& o) {
  fmt::print(
      "  {:<16} {:>4} pods  {:>8}  fleet {:>7}  drain {:>8}  cost {:>8}  bottleneck {:<11} {}\n",
      o.value("gpu", ""), o.value("pods", 0), Num(o["speed"], "{:.1f}x"),
      Num(o["fleet_speed"], "{:.1f}x"), Drain(o["drain_hours"]), Num(o["cost"], "${:.2f}"),
      o.value("bottleneck", ""), o.value("note", ""));
}

void PrintPlan(const json& p) {
  fmt::print(
      "BACKLOG {:.2f} audio hours (from {}); local nodes {:.1f}x; uplink {}; coordinator {}\n",
      p.value("backlog_hours", 0.0), p.value("backlog_source", ""), p.value("local_speed", 0.0),
      Num(p["uplink_capacity"], "{:.0f}x", "unknown"),
      Num(p["coordinator_capacity"], "{:.0f}x", "unknown"));
  fmt::print("\nOPTIONS (fewest pods of each GPU type that drain it within the target)\n");
  for (const json& o : p["options"]) PrintOption(o);
  if (p["options"].empty())
    fmt::print("  none: no GPU type is measured and priced (see the notes)\n");
  if (p["recommendation"].is_object()) {
    fmt::print("\nRECOMMENDED\n");
    PrintOption(p["recommendation"]);
  }
  fmt::print("\nCURRENT FLEET\n");
  PrintOption(p["current_fleet"]);
  if (!p["queue_table"].empty()) {
    fmt::print("\nBY QUEUE SIZE (mean episode length)\n  {:>8} {:>10}  {}\n", "EPISODES", "AUDIO H",
               "BEST");
    for (const json& b : p["queue_table"]) {
      const json& best = b["best"];
      fmt::print("  {:>8} {:>10.1f}  {}\n", b.value("episodes", 0), b.value("backlog_hours", 0.0),
                 best.is_object() ? fmt::format("{} x {}: drain {}, ${:.2f}, bottleneck {}",
                                                best.value("pods", 0), best.value("gpu", ""),
                                                Drain(best["drain_hours"]), best.value("cost", 0.0),
                                                best.value("bottleneck", ""))
                                  : std::string("no measured GPU type"));
    }
  }
  for (const json& e : p["excluded"]) fmt::print("excluded: {}\n", e.get<std::string>());
  for (const json& n : p["notes"]) fmt::print("note: {}\n", n.get<std::string>());
}

}  // namespace

int RunGpus(const Args& args) {
  ClientArgs a;
  auto flags = ClientFlags(a);
  if (int rc = ParseOr(flags, "gpus", "gpus [options]",
                       "The GPU comparison computed from measured speeds and prices, local "
                       "machines beside it, and the bandwidth view.",
                       args);
      rc >= 0)
    return rc;
  auto economics = Get(a, "/api/economics");
  if (!economics) return Fail(economics.error().message);
  auto bandwidth = Get(a, "/api/bandwidth");
  if (!bandwidth) return Fail(bandwidth.error().message);
  if (a.json) {
    fmt::print("{}\n", json{{"economics", *economics}, {"bandwidth", *bandwidth}}.dump(2));
    return 0;
  }
  PrintEconomics(*economics);
  PrintBandwidth(*bandwidth);
  return 0;
}

int RunPlan(const Args& args) {
  ClientArgs a;
  std::string backlog_hours, episodes, target = "1", max_pods = "20";
  auto flags = ClientFlags(a);
  flags.push_back(StringFlag("backlog-hours", &backlog_hours,
                             "plan for this many hours of audio instead of the queue", "H"));
  flags.push_back(StringFlag("episodes", &episodes,
                             "plan for this many episodes of the mean measured length", "N"));
  flags.push_back(StringFlag("target-hours", &target, "drain within this many hours", "H"));
  flags.push_back(StringFlag("max-pods", &max_pods, "never more pods of one type than this", "N"));
  if (int rc = ParseOr(flags, "plan", "plan [--backlog-hours H | --episodes N] [options]",
                       "How many pods of which GPU to run: drain time, cost and first bottleneck, "
                       "from measured speeds, prices, the uplink and the coordinator.",
                       args);
      rc >= 0)
    return rc;
  if (!backlog_hours.empty() && !episodes.empty())
    return Fail("give --backlog-hours or --episodes, not both");
  std::string path =
      "/api/plan?target_hours=" + PercentEncode(target) + "&max_pods=" + PercentEncode(max_pods);
  if (!backlog_hours.empty()) path += "&backlog_hours=" + PercentEncode(backlog_hours);
  if (!episodes.empty()) path += "&episodes=" + PercentEncode(episodes);
  auto plan = Get(a, path);
  if (!plan) return Fail(plan.error().message);
  if (a.json) {
    fmt::print("{}\n", plan->dump(2));
    return 0;
  }
  PrintPlan(*plan);
  return 0;
}

int RunDoctor(const Args& args) {
  ClientArgs a;
  auto flags = ClientFlags(a);
  if (int rc = ParseOr(flags, "doctor", "doctor [options]",
                       "The seed's verification as computed checks: pods busy, prefetch "
                       "populated, no gaps, no idle node while work waits, no idle billing. "
                       "Exits 1 when a check fails.",
                       args);
      rc >= 0)
    return rc;
  auto report = Get(a, "/api/doctor");
  if (!report) return Fail(report.error().message);
  if (a.json) {
    fmt::print("{}\n", report->dump(2));
  } else {
    for (const json& c : (*report)["checks"])
      fmt::print("{:<5} {:<20} {}\n", c.value("outcome", ""), c.value("name", ""),
                 c.value("detail", ""));
  }
  return report->value("healthy", false) ? 0 : 1;
}

}  // namespace podfleet
