// podfleet pods list | up N [--gpu TYPE] | down ID|all: manual control of the pods the
// autoscaler would rent, through the same provider (pods/provider.h, doc/pods.md).
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/client_args.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "coordinator/admin_token.h"
#include "core/clock.h"
#include "net/http_client.h"
#include "pods/make_provider.h"

namespace podfleet {
namespace {

using nlohmann::json;

// Pods `up` makes are named with this prefix, which the autoscaler's ("podfleet-") covers, so
// `down all` finds them, but the autoscaler does not adopt them (it adopts "podfleet-auto-").
constexpr char kManualPrefix[] = "podfleet-manual-";
constexpr char kPrefix[] = "podfleet-";

struct PodsArgs {
  ClientArgs client;
  ProviderOptions provider{"runpod"};
  std::string gpu = "RTX A5000";
  std::vector<std::string> clouds = {"ALL"};
  std::string image = "runpod/base:0.6.2-cuda12.4.1";
  std::string command;  // instead of the coordinator's join line
  std::string token;    // with --command: the enrollment token
  Millis idle{10 * 60'000};
};

std::vector<Flag> PodsFlags(PodsArgs& a) {
  std::vector<Flag> flags = ClientFlags(a.client);
  flags.push_back(StringFlag("provider", &a.provider.kind, "runpod or exec", "NAME"));
  flags.push_back(
      StringFlag("runpod-url", &a.provider.runpod_url, "RunPod GraphQL endpoint", "URL"));
  flags.push_back(StringFlag("runpod-key-file", &a.provider.runpod_key_file,
                             "file (mode 0600) with the RunPod API key (default DATA/runpod.key; "
                             "RUNPOD_API_KEY wins)",
                             "PATH"));
  flags.push_back(
      StringFlag("pods-exec", &a.provider.exec_program, "exec provider's program", "PROGRAM"));
  flags.push_back(PathFlag("data", &a.client.data, "the coordinator's data directory"));
  flags.push_back(StringFlag("admin-token", &a.client.admin_token,
                             "up: admin token to read the join line (default DATA/admin.token)",
                             "TOKEN"));
  flags.push_back(StringFlag("gpu", &a.gpu, "up: GPU type (\"RTX A5000\")", "TYPE"));
  flags.push_back(ListFlag("cloud", &a.clouds,
                           "up: clouds to try in order when one has no capacity (ALL, SECURE, "
                           "COMMUNITY; \"SECURE,COMMUNITY\")"));
  flags.push_back(StringFlag("pod-image", &a.image, "up: container image", "IMAGE"));
  flags.push_back(StringFlag("command", &a.command,
                             "up: what pods run instead of the coordinator's join line", "CMD"));
  flags.push_back(StringFlag("token", &a.token, "up, with --command: enrollment token", "TOKEN"));
  flags.push_back(DurationFlag("idle-exit", &a.idle, "up: pods' workers exit when idle this long"));
  return flags;
}

// The coordinator's join line (cuda bundle first), from GET /api/worker/join.
Result<std::string> JoinLine(PodsArgs& a) {
  std::string admin = a.client.admin_token;
  if (admin.empty()) {
    auto t = ReadAdminToken(a.client.data / kAdminTokenFile);
    if (!t) return std::unexpected(t.error());
    admin = *t;
  }
  auto http = CoordinatorHttp(a.client);
  ClientRequest r;
  r.url = a.client.server + "/api/worker/join";
  r.headers.emplace_back("Authorization", "Bearer " + admin);
  auto reply = http->Send(r);
  if (!reply) return std::unexpected(reply.error());
  if (reply->status != 200)
    return Unavailable(
        fmt::format("{}: HTTP {} (the coordinator needs --bundles DIR)", r.url, reply->status));
  json j = json::parse(reply->body, nullptr, false);
  if (!j.is_object() || !j.contains("bundles")) return Corruption(r.url + ": not a join answer");
  for (const char* variant : {"cuda", "cpu"})
    for (const json& b : j["bundles"])
      if (b.value("variant", "") == variant) return b.value("command", "");
  return NotFound("the coordinator serves no bundle: start it with --bundles DIR");
}

int List(PodProvider& p) {
  auto pods = p.List();
  if (!pods) return Fail(pods.error().ToString());
  fmt::print("{:<16} {:<32} {:<18} {:<10} {:<6} {}\n", "ID", "NAME", "GPU", "STATUS", "READY",
             "$/H");
  double total = 0;
  for (const PodInfo& pod : *pods) {
    if (!pod.name.starts_with(kPrefix)) continue;
    fmt::print("{:<16} {:<32} {:<18} {:<10} {:<6} {:.3f}\n", pod.id, pod.name, pod.gpu_type,
               pod.status, pod.ready ? "yes" : "no", pod.price_per_hour);
    total += pod.price_per_hour;
  }
  fmt::print("podfleet's pods cost ${:.3f}/h together\n", total);
  return 0;
}

int Up(PodsArgs& a, PodProvider& p, int n) {
  std::string join = a.command;
  std::vector<std::pair<std::string, std::string>> env = {{"PODFLEET_SERVER", a.client.server}};
  if (join.empty()) {
    auto line = JoinLine(a);
    if (!line) return Fail(line.error().ToString());
    join = *line;
  } else if (a.token.empty()) {
    return Fail("--command needs --token (an enrollment token: podfleet token create)");
  }
  if (!a.token.empty()) env.emplace_back("PODFLEET_TOKEN", a.token);
  auto offers = p.GpuTypes();
  if (!offers) return Fail(offers.error().ToString());
  const GpuOffer* offer = FindOffer(*offers, a.gpu);
  if (!offer || !offer->available()) return Fail(fmt::format("{} is not offered now", a.gpu));
  for (int i = 0; i < n; ++i) {
    PodSpec spec;
    spec.name = fmt::format("{}{}-{}", kManualPrefix, ToUnixMillis(SystemClock::Get().Now()), i);
    spec.gpu_type = offer->id;
    spec.image = a.image;
    spec.env = env;
    Result<PodInfo> pod = Unavailable("no cloud to try");
    for (const std::string& cloud : a.clouds) {
      spec.cloud = cloud;
      spec.command = PodCommand(join, spec.name, a.idle.count() / 1000, *offer->PriceOn(cloud));
      pod = p.Create(spec);
      if (pod || !IsNoCapacity(pod.error())) break;
      fmt::print(stderr, "no {} on the {} cloud\n", offer->name, cloud);
    }
    if (!pod) return Fail(fmt::format("pod {} of {}: {}", i + 1, n, pod.error().ToString()));
    fmt::print("created {} ({}, {}, {}, ${:.3f}/h)\n", pod->name, pod->id, offer->name, spec.cloud,
               *offer->PriceOn(spec.cloud));
  }
  return 0;
}

int Down(PodProvider& p, const std::string& which) {
  auto pods = p.List();
  if (!pods) return Fail(pods.error().ToString());
  int done = 0;
  for (const PodInfo& pod : *pods) {
    if (!pod.name.starts_with(kPrefix) || (which != "all" && pod.id != which)) continue;
    if (auto r = p.Terminate(pod.id); !r) return Fail(pod.id + ": " + r.error().ToString());
    fmt::print("terminated {} ({})\n", pod.name, pod.id);
    ++done;
  }
  if (done == 0 && which != "all") return Fail("no pod of podfleet's with id " + which);
  return 0;
}

}  // namespace

int RunPods(const Args& args) {
  PodsArgs a;
  Parsed parsed =
      Parse(PodsFlags(a), "pods", "pods list | up N [--gpu TYPE] | down ID|all [options]",
            "Rents and stops pods by hand through the autoscaler's provider "
            "(doc/pods.md).\nup: N pods running the coordinator's join line (or "
            "--command); down all: every pod named podfleet-*.",
            args);
  if (parsed.exit >= 0) return parsed.exit;
  const std::vector<std::string>& pos = parsed.args.positional;
  const bool known = (pos.size() == 1 && pos[0] == "list") ||
                     (pos.size() == 2 && (pos[0] == "up" || pos[0] == "down"));
  if (!known) return Fail("usage: podfleet pods list | up N [--gpu TYPE] | down ID|all");
  if (a.provider.runpod_key_file.empty())
    a.provider.runpod_key_file = (a.client.data / "runpod.key").string();
  auto http = MakeCurlClient({});
  auto provider = MakeProvider(a.provider, *http, SystemClock::Get());
  if (!provider) return Fail(provider.error().ToString());
  if (pos[0] == "list") return List(**provider);
  if (pos[0] == "down") return Down(**provider, pos[1]);
  int n = 0;
  try {
    n = std::stoi(pos[1]);
  } catch (const std::exception&) {
  }
  if (n < 1 || n > 100) return Fail("up N: N must be a number from 1 to 100");
  return Up(a, **provider, n);
}

}  // namespace podfleet
