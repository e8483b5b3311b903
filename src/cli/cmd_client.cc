// status, feed, episodes, transcript: the operator's commands, spoken over the HTTP API.
#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "api/client.h"
#include "cli/cli_common.h"
#include "cli/client_args.h"
#include "cli/commands.h"
#include "coordinator/admin_token.h"
#include "coordinator/feed_poller.h"
#include "net/http.h"

namespace podfleet {
namespace {

using nlohmann::json;

std::vector<Flag> AdminFlags(ClientArgs& a) {
  return {StringFlag("admin-token", &a.admin_token,
                     "admin token for add, refresh, remove (default: <data>/admin.token)", "TOKEN"),
          PathFlag("data", &a.data, "the coordinator's data directory, to read admin.token from")};
}

// Gives `client` the admin token: --admin-token (or PODFLEET_ADMIN_TOKEN), else
// <--data>/admin.token when that file exists, else none (the coordinator will refuse changes).
Result<void> UseAdminToken(const ClientArgs& c, CoordinatorClient& client) {
  if (!c.admin_token.empty()) {
    client.set_admin_token(c.admin_token);
    return {};
  }
  auto token = ReadAdminToken(c.data / kAdminTokenFile);
  if (token) {
    client.set_admin_token(*token);
  } else if (token.error().code != Code::kNotFound) {
    return std::unexpected(token.error());
  }
  return {};
}

// The coordinator's error, with a hint where the admin token was missing or wrong.
int FailChange(const Error& e) {
  if (e.code != Code::kPermissionDenied) return Fail(e.message);
  return Fail(e.message +
              "\n(pass --admin-token TOKEN, set PODFLEET_ADMIN_TOKEN, or --data DIR with the "
              "coordinator's admin.token)");
}

std::string Elapsed(double s) {
  if (s < 120) return fmt::format("{:.0f}s", s);
  if (s < 7200) return fmt::format("{:.0f}m", s / 60);
  return fmt::format("{:.1f}h", s / 3600);
}

// Queues one audio file: a URL the workers fetch themselves, or a local file uploaded to the
// coordinator (which may be on another machine).
int AddEpisode(const ClientArgs& c, const std::string& source, const std::string& title) {
  auto http = CoordinatorHttp(c);
  CoordinatorClient client(c.server, *http);
  if (auto r = UseAdminToken(c, client); !r) return Fail(r.error().ToString());
  Result<json> reply = json::object();
  if (source.find("://") != std::string::npos) {
    reply = client.PostJson("/api/episodes",
                            {{"url", source}, {"title", title.empty() ? source : title}});
  } else {
    std::ifstream in(source, std::ios::binary);
    if (!in) return Fail("cannot read " + source);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string name =
        title.empty() ? std::filesystem::path(source).filename().string() : title;
    reply = client.PostBytes("/api/episodes/upload?title=" + PercentEncode(name), std::move(bytes),
                             "application/octet-stream");
  }
  if (!reply) return FailChange(reply.error());
  fmt::print("episode {} queued\n", reply->value("id", 0));
  return 0;
}

// Queues a failed or quarantined episode again (operator retry).
int RetryEpisode(const ClientArgs& c, const std::string& id) {
  auto http = CoordinatorHttp(c);
  CoordinatorClient client(c.server, *http);
  if (auto r = UseAdminToken(c, client); !r) return Fail(r.error().ToString());
  auto reply = client.PostJson("/api/episodes/" + PercentEncode(id) + "/retry", json::object());
  if (!reply) return FailChange(reply.error());
  fmt::print("episode {} queued again\n", id);
  return 0;
}

}  // namespace

void PrintStatus(const json& status) {
  if (const json& store = status.value("store", json::object()); !store.value("healthy", true))
    fmt::print("STORE UNHEALTHY (writes stopped)\n  {}\n", store.value("error", ""));
  fmt::print("NODES\n  {:<20} {:<8} {:<14} {:<28} {}\n", "NAME", "STATUS", "ENGINE", "HARDWARE",
             "JOBS");
  for (const json& n : status.value("nodes", json::array())) {
    const json& hw = n["hardware"];
    std::string hardware = hw.value("gpus", json::array()).empty()
                               ? fmt::format("{} cores", hw.value("cpu_cores", 0))
                               : hw["gpus"][0].value("name", "gpu");
    std::string jobs;
    for (const json& j : n.value("jobs", json::array())) {
      if (!jobs.empty()) jobs += ", ";
      jobs += fmt::format("#{} {} {:.0f}%", j.value("job", 0), j.value("stage", "waiting"),
                          j.value("progress", 0.0) * 100);
    }
    fmt::print("  {:<20} {:<8} {:<14} {:<28} {}\n", n.value("name", ""), n.value("status", ""),
               n.value("engine", ""), hardware.substr(0, 28), jobs.empty() ? "-" : jobs);
  }
  const json& q = status["transcribe_queue"];
  fmt::print("QUEUE\n  queued {}  running {}  completed {}  failed {}\n", q.value("queued", 0),
             q.value("running", 0), q.value("completed", 0), q.value("failed", 0));
  const json& t = status["last_hour"];
  fmt::print(
      "THROUGHPUT (last hour)\n  {} episodes, {:.1f} audio minutes in {}: {:.1f} audio-hours per "
      "wall-hour\n",
      t.value("episodes", 0), t.value("audio_minutes", 0.0),
      Elapsed(t.value("window_ms", 0) / 1000.0), t.value("audio_hours_per_hour", 0.0));
}

int RunStatus(const Args& args) {
  ClientArgs c;
  auto p = Parse(ClientFlags(c), "status", "status [--server URL] [--json]",
                 "Shows the nodes, the queue and the last hour's throughput.", args);
  if (p.exit >= 0) return p.exit;
  auto http = CoordinatorHttp(c);
  CoordinatorClient client(c.server, *http);
  auto status = client.GetJson("/api/status");
  if (!status) return Fail(c.server + ": " + status.error().ToString());
  if (c.json) {
    fmt::print("{}\n", status->dump(2));
  } else {
    PrintStatus(*status);
  }
  return 0;
}

int RunFeed(const Args& args) {
  ClientArgs c;
  auto flags = ClientFlags(c);
  for (Flag& f : AdminFlags(c)) flags.push_back(std::move(f));
  auto p =
      Parse(flags, "feed",
            "feed add URL|PATH | list | refresh ID | remove ID [--server URL]\n"
            "                     [--admin-token TOKEN | --data DIR]",
            "Manages the feeds the coordinator polls. add, refresh and remove need the admin\n"
            "token: --admin-token, PODFLEET_ADMIN_TOKEN, or by default the admin.token file in\n"
            "the coordinator's data directory (--data, default podfleet-data).",
            args);
  if (p.exit >= 0) return p.exit;
  const auto& pos = p.args.positional;
  auto http = CoordinatorHttp(c);
  CoordinatorClient client(c.server, *http);
  if (auto r = UseAdminToken(c, client); !r) return Fail(r.error().ToString());
  Result<json> reply =
      InvalidArgument("usage: podfleet feed add URL | list | refresh ID | remove ID");
  if (pos.size() == 2 && pos[0] == "add") {
    std::string url = pos[1];
    if (auto normalized = NormalizeSourceUrl(url)) url = *normalized;
    reply = client.PostJson("/api/feeds", {{"url", url}});
  } else if (pos.size() == 1 && pos[0] == "list") {
    reply = client.GetJson("/api/feeds");
  } else if (pos.size() == 2 && pos[0] == "refresh") {
    reply = client.PostJson("/api/feeds/" + PercentEncode(pos[1]) + "/refresh", json::object());
  } else if (pos.size() == 2 && pos[0] == "remove") {
    reply = client.DeleteJson("/api/feeds/" + PercentEncode(pos[1]));
  }
  if (!reply) return FailChange(reply.error());
  if (c.json || pos[0] == "remove") {
    fmt::print("{}\n", reply->dump(2));
  } else if (pos[0] == "list") {
    for (const json& f : reply->value("feeds", json::array()))
      fmt::print("{:>4}  {:<40} {:>5} episodes  {}\n", f.value("id", 0),
                 f.value("title", "").substr(0, 40), f.value("episode_count", 0),
                 f.value("last_error", "").empty() ? f.value("url", "")
                                                   : "ERROR: " + f.value("last_error", ""));
  } else {
    const json& f = (*reply)["feed"];
    fmt::print("feed {}: {} ({} items, {} new episodes queued){}\n", f.value("id", 0),
               f.value("title", ""), reply->value("items", 0), reply->value("new_episodes", 0),
               reply->contains("poll_error")
                   ? "\n  poll error: " + (*reply)["poll_error"].get<std::string>()
                   : "");
  }
  return 0;
}

int RunEpisodes(const Args& args) {
  ClientArgs c;
  std::string state, feed, search;
  int64_t limit = 50;
  auto flags = ClientFlags(c);
  for (Flag& f : AdminFlags(c)) flags.push_back(std::move(f));
  flags.push_back(StringFlag("state", &state, "queued, running, done, failed or skipped"));
  flags.push_back(StringFlag("feed", &feed, "only this feed's episodes", "ID"));
  flags.push_back(StringFlag("search", &search, "title contains"));
  flags.push_back(Int64Flag("limit", &limit, "at most this many"));
  std::string title;
  flags.push_back(StringFlag("title", &title, "episodes add: the episode's title"));
  auto p = Parse(
      flags, "episodes",
      "episodes [--state S] [--feed ID] [--search TEXT] [--server URL]\n"
      "       podfleet episodes add URL|FILE [--title TEXT] [--admin-token TOKEN | --data DIR]\n"
      "       podfleet episodes retry ID [--admin-token TOKEN | --data DIR]",
      "Lists episodes, newest first; or queues one audio file (a URL, or a local file uploaded);\n"
      "or queues a failed or quarantined episode again.\n"
      "add and retry need the admin token: --admin-token, PODFLEET_ADMIN_TOKEN, or by default the\n"
      "admin.token file in the coordinator's data directory (--data, default podfleet-data).",
      args);
  if (p.exit >= 0) return p.exit;
  if (!p.args.positional.empty()) {
    const std::string verb = p.args.positional[0];
    if (p.args.positional.size() == 2 && verb == "add")
      return AddEpisode(c, p.args.positional[1], title);
    if (p.args.positional.size() == 2 && verb == "retry")
      return RetryEpisode(c, p.args.positional[1]);
    return Fail("usage: podfleet episodes add URL|FILE [--title TEXT] | episodes retry ID");
  }
  std::string query = fmt::format("/api/episodes?limit={}", limit);
  if (!state.empty()) query += "&state=" + PercentEncode(state);
  if (!feed.empty()) query += "&feed=" + PercentEncode(feed);
  if (!search.empty()) query += "&q=" + PercentEncode(search);
  auto http = CoordinatorHttp(c);
  CoordinatorClient client(c.server, *http);
  auto reply = client.GetJson(query);
  if (!reply) return Fail(reply.error().message);
  if (c.json) {
    fmt::print("{}\n", reply->dump(2));
    return 0;
  }
  for (const json& e : reply->value("episodes", json::array())) {
    fmt::print("{:>5}  {:<8} {:<50} {}\n", e.value("id", 0), e.value("state", ""),
               e.value("title", "").substr(0, 50), e.value("error", ""));
  }
  return 0;
}

int RunTranscript(const Args& args) {
  ClientArgs c;
  std::string format = "txt";
  std::string output;
  auto flags = ClientFlags(c);
  flags.push_back(StringFlag("format", &format, "txt, srt, vtt, json or md", "FMT"));
  flags.push_back(StringFlag("output", &output, "write to this file instead of stdout", "FILE"));
  auto p = Parse(flags, "transcript", "transcript EPISODE_ID [--format srt] [--output FILE]",
                 "Fetches an episode's transcript.", args);
  if (p.exit >= 0) return p.exit;
  if (p.args.positional.size() != 1)
    return Fail("usage: podfleet transcript EPISODE_ID [--format srt]");
  auto http = CoordinatorHttp(c);
  CoordinatorClient client(c.server, *http);
  auto text = client.GetText("/api/episodes/" + PercentEncode(p.args.positional[0]) +
                             "/transcript?format=" + PercentEncode(format));
  if (!text) return Fail(text.error().message);
  if (output.empty()) {
    fmt::print("{}", *text);
  } else {
    std::ofstream(output, std::ios::binary) << *text;
  }
  return 0;
}

}  // namespace podfleet
