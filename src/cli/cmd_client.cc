// status, feed, episodes, transcript: the operator's commands, spoken over the HTTP API.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "api/client.h"
#include "cli/cli_common.h"
#include "cli/client_args.h"
#include "cli/commands.h"
#include "coordinator/admin_token.h"
#include "coordinator/feed_poller.h"
#include "feeds/opml.h"
#include "net/http.h"

namespace podfleet {
namespace {

using nlohmann::json;

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

// The operator's changes to one episode: retry (a failed or quarantined one), again (transcribe a
// done one again, with what `again` asks of the worker), delete.
int ChangeEpisode(const ClientArgs& c, const std::string& verb, const std::string& id,
                  const json& again) {
  auto http = CoordinatorHttp(c);
  CoordinatorClient client(c.server, *http);
  if (auto r = UseAdminToken(c, client); !r) return Fail(r.error().ToString());
  const std::string path = "/api/episodes/" + PercentEncode(id);
  auto reply = verb == "delete"  ? client.DeleteJson(path)
               : verb == "again" ? client.PostJson(path + "/transcribe", again)
                                 : client.PostJson(path + "/retry", json::object());
  if (!reply) return FailChange(reply.error());
  fmt::print("episode {} {}\n", id, verb == "delete" ? "deleted" : "queued again");
  return 0;
}

}  // namespace

std::vector<Flag> AdminFlags(ClientArgs& a) {
  return {
      StringFlag("admin-token", &a.admin_token,
                 "admin token for the commands that change something (default: <data>/admin.token)",
                 "TOKEN"),
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
    if (const std::string fault = n.value("fault", ""); !fault.empty())
      fmt::print("    local fault, claims paused: {}\n", fault);
    if (const std::string why = n.value("blocked_reason", ""); !why.empty())
      fmt::print("    blocked: {}\n", why);
  }
  // Episodes, not jobs: a chunked episode is one episode whose chunks are its progress.
  const json& e = status.contains("episodes") ? status["episodes"] : status["transcribe_queue"];
  const json& q = status["transcribe_queue"];
  fmt::print("EPISODES\n  queued {}  running {}  done {}  failed {}\n", e.value("queued", 0),
             e.value("running", 0), e.value("completed", 0), e.value("failed", 0));
  fmt::print("  chunk jobs: {} queued, {} running, {} done, {} failed\n", q.value("queued", 0),
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

// Whether `path` names a local file holding an OPML subscription list; its text in `text`.
bool ReadOpmlFile(const std::string& path, std::string& text) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  std::ifstream in(path, std::ios::binary);
  text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return ParseOpml(text).has_value();
}

void PrintAdded(const json& reply) {
  const json& f = reply["feed"];
  fmt::print("feed {}: {} ({} items, {} new episodes, {} queued, {} skipped by backfill limits)\n",
             f.value("id", 0), f.value("title", ""), reply.value("items", 0),
             reply.value("new_episodes", 0), reply.value("queued", 0), reply.value("skipped", 0));
  if (reply.contains("note")) fmt::print("  note: {}\n", reply["note"].get<std::string>());
}

// Whether every outline of an OPML import was added or already there.
bool ImportOk(const json& reply) {
  for (const json& o : reply.value("outlines", json::array())) {
    if (o.value("result", "") == "refused") return false;
  }
  return true;
}

// Prints an OPML import's per-outline results.
void PrintImport(const json& reply) {
  for (const json& o : reply.value("outlines", json::array())) {
    if (o.value("result", "") == "added") {
      PrintAdded(o);
    } else {
      fmt::print("{}: {}: {}\n", o.value("url", ""), o.value("result", ""), o.value("error", ""));
    }
  }
}

int RunFeed(const Args& args) {
  ClientArgs c;
  std::string newest, since;
  auto flags = ClientFlags(c);
  for (Flag& f : AdminFlags(c)) flags.push_back(std::move(f));
  flags.push_back(StringFlag("newest", &newest, "add: queue only the newest N episodes", "N"));
  flags.push_back(
      StringFlag("since", &since, "add: queue only episodes published since DATE", "DATE"));
  auto p = Parse(
      flags, "feed",
      "feed add URL|PATH|FILE.opml [--newest N] [--since DATE] | list | export | refresh ID |\n"
      "                     remove ID [--server URL] [--admin-token TOKEN | --data DIR]",
      "Manages the feeds the coordinator polls. add, refresh and remove need the admin\n"
      "token: --admin-token, PODFLEET_ADMIN_TOKEN, or by default the admin.token file in\n"
      "the coordinator's data directory (--data, default podfleet-data). add takes a feed\n"
      "URL or an OPML subscription list (each feed in it added, with a result per feed);\n"
      "episodes a backfill limit leaves out are kept as skipped and can be queued later\n"
      "(POST /api/episodes/ID/queue). export prints every feed as OPML. A feed that is\n"
      "already there, or a URL that is not a feed, is refused and the command fails.",
      args);
  if (p.exit >= 0) return p.exit;
  const auto& pos = p.args.positional;
  auto http = CoordinatorHttp(c);
  CoordinatorClient client(c.server, *http);
  if (auto r = UseAdminToken(c, client); !r) return Fail(r.error().ToString());
  Result<json> reply =
      InvalidArgument("usage: podfleet feed add URL | list | export | refresh ID | remove ID");
  std::string opml;
  const bool import = pos.size() == 2 && pos[0] == "add" && ReadOpmlFile(pos[1], opml);
  if (import) {
    std::string query;
    if (!newest.empty()) query += "&newest=" + PercentEncode(newest);
    if (!since.empty()) query += "&since=" + PercentEncode(since);
    if (!query.empty()) query[0] = '?';
    reply = client.PostBytes("/api/opml" + query, std::move(opml), "text/x-opml");
  } else if (pos.size() == 2 && pos[0] == "add") {
    std::string url = pos[1];
    if (auto normalized = NormalizeSourceUrl(url)) url = *normalized;
    json body = {{"url", url}};
    if (!newest.empty()) {
      try {
        body["newest"] = std::stoll(newest);
      } catch (const std::exception&) {
        return Fail("--newest must be a number");
      }
    }
    if (!since.empty()) body["since"] = since;
    reply = client.PostJson("/api/feeds", body);
  } else if (pos.size() == 1 && pos[0] == "list") {
    reply = client.GetJson("/api/feeds");
  } else if (pos.size() == 1 && pos[0] == "export") {
    auto text = client.GetText("/api/opml");
    if (!text) return Fail(c.server + ": " + text.error().ToString());
    fmt::print("{}", *text);
    return 0;
  } else if (pos.size() == 2 && pos[0] == "refresh") {
    reply = client.PostJson("/api/feeds/" + PercentEncode(pos[1]) + "/refresh", json::object());
  } else if (pos.size() == 2 && pos[0] == "remove") {
    reply = client.DeleteJson("/api/feeds/" + PercentEncode(pos[1]));
  }
  if (!reply) return FailChange(reply.error());
  if (c.json) {
    fmt::print("{}\n", reply->dump(2));
    return import && !ImportOk(*reply) ? 1 : 0;
  }
  if (import) {
    PrintImport(*reply);
    return ImportOk(*reply) ? 0 : 1;
  }
  if (pos[0] == "remove") {
    fmt::print("feed {} removed\n", pos[1]);
  } else if (pos[0] == "list") {
    for (const json& f : reply->value("feeds", json::array()))
      fmt::print("{:>4}  {:<40} {:>5} episodes  {}\n", f.value("id", 0),
                 f.value("title", "").substr(0, 40), f.value("episode_count", 0),
                 f.value("last_error", "").empty() ? f.value("url", "")
                                                   : "ERROR: " + f.value("last_error", ""));
  } else {
    PrintAdded(*reply);
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
  flags.push_back(
      StringFlag("search", &search, "title contains, or transcript matches (as search)"));
  flags.push_back(Int64Flag("limit", &limit, "at most this many"));
  std::string title;
  flags.push_back(StringFlag("title", &title, "episodes add: the episode's title"));
  std::string engine, model, language;
  flags.push_back(
      StringFlag("engine", &engine, "episodes again: only a worker running this engine", "NAME"));
  flags.push_back(StringFlag("model", &model,
                             "episodes again: only a worker running this model (or ENGINE/MODEL)",
                             "NAME"));
  flags.push_back(StringFlag("language", &language,
                             "episodes again: the audio's language, told to the engine", "CODE"));
  auto p = Parse(
      flags, "episodes",
      "episodes [--state S] [--feed ID] [--search TEXT] [--server URL]\n"
      "       podfleet episodes add URL|FILE [--title TEXT] [--admin-token TOKEN | --data DIR]\n"
      "       podfleet episodes retry|delete ID [--admin-token TOKEN | --data DIR]\n"
      "       podfleet episodes again ID [--engine NAME] [--model NAME] [--language CODE]",
      "Lists episodes, newest first; or queues one audio file (a URL, or a local file uploaded);\n"
      "or queues a failed or quarantined episode again (retry); or transcribes a done one again,\n"
      "keeping its transcript until the new one is done (again; --engine, --model and --language\n"
      "send it only to a worker that can serve them); or deletes one with its jobs,\n"
      "transcripts and uploaded audio (delete).\n"
      "add, retry, again and delete need the admin token: --admin-token, PODFLEET_ADMIN_TOKEN, or "
      "by default the\n"
      "admin.token file in the coordinator's data directory (--data, default podfleet-data).",
      args);
  if (p.exit >= 0) return p.exit;
  if (!p.args.positional.empty()) {
    const std::string verb = p.args.positional[0];
    if (p.args.positional.size() == 2 && verb == "add")
      return AddEpisode(c, p.args.positional[1], title);
    if (p.args.positional.size() == 2 && (verb == "retry" || verb == "again" || verb == "delete"))
      return ChangeEpisode(c, verb, p.args.positional[1],
                           json{{"engine", engine}, {"model", model}, {"language", language}});
    return Fail(
        "usage: podfleet episodes add URL|FILE [--title TEXT] | episodes retry|again|delete ID");
  }
  std::string query = fmt::format("/api/episodes?limit={}", limit);
  if (!state.empty()) query += "&state=" + PercentEncode(state);
  if (!feed.empty()) query += "&feed=" + PercentEncode(feed);
  if (!search.empty()) query += "&q=" + PercentEncode(search);
  Listing reply = GetListing(c, query);
  if (reply.exit >= 0) return reply.exit;
  fmt::print("{:>5}  {:<8} {:>4}  {:<10} {:>8}  {:<9} {:<44} {}\n", "ID", "STATE", "FEED", "DATE",
             "DURATION", "SOURCE", "TITLE", "ERROR");
  for (const json& e : reply.body->value("episodes", json::array())) {
    // Published date when the feed gave one, else when it was added; YYYY-MM-DD.
    const json& when = e["published_at"].is_number() ? e["published_at"] : e["created_at"];
    const json& ms = e["duration_ms"];
    std::string duration = "-";
    if (ms.is_number()) {
      const int64_t s = ms.get<int64_t>() / 1000;
      duration = s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                           : fmt::format("{}:{:02}", s / 60, s % 60);
    }
    fmt::print("{:>5}  {:<8} {:>4}  {:<10} {:>8}  {:<9} {:<44} {}\n", e.value("id", 0),
               e.value("state", ""), e["feed_id"].is_number() ? e["feed_id"].dump() : "-",
               when.is_number() ? FormatIso8601(FromUnixMillis(when.get<int64_t>())).substr(0, 10)
                                : std::string("-"),
               duration, e.value("transcript_source", ""), e.value("title", "").substr(0, 44),
               e.value("error", ""));
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
                 "Fetches an episode's transcript (--json: the same as --format json).", args);
  if (p.exit >= 0) return p.exit;
  if (c.json) format = "json";
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
