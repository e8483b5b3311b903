#include "mcp/mcp_server.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <map>

#include "net/http.h"

namespace podfleet {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 3> kVersions = {"2025-06-18", "2025-03-26", "2024-11-05"};

json RpcError(const json& id, int code, std::string message) {
  return {
      {"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", std::move(message)}}}};
}

json Schema(json properties, json required = json::array()) {
  return {
      {"type", "object"}, {"properties", std::move(properties)}, {"required", std::move(required)}};
}

json Tools() {
  const json integer = {{"type", "integer"}, {"minimum", 1}};
  return json::array({
      {{"name", "search_transcripts"},
       {"description",
        "Full-text search over every transcript. Words must all occur; \"a phrase\" in quotes; "
        "word* matches a prefix; OR accepts either side. Each hit is an episode, the moment "
        "(start_ms) the words are said, and a snippet with the matches in [brackets]."},
       {"inputSchema",
        Schema({{"query", {{"type", "string"}, {"description", "what to search for"}}},
                {"feed", {{"type", "integer"}, {"description", "only this feed's episodes"}}},
                {"from", {{"type", "string"}, {"description", "published on or after YYYY-MM-DD"}}},
                {"to", {{"type", "string"}, {"description", "published before YYYY-MM-DD"}}},
                {"limit", {{"type", "integer"}, {"minimum", 1}, {"maximum", 100}}}},
               {"query"})}},
      {{"name", "read_transcript"},
       {"description",
        "An episode's transcript as timed lines '[h:mm:ss] Speaker: text', whole or only the "
        "segments overlapping [start_seconds, end_seconds)."},
       {"inputSchema", Schema({{"episode", integer},
                               {"start_seconds", {{"type", "number"}, {"minimum", 0}}},
                               {"end_seconds", {{"type", "number"}, {"minimum", 0}}}},
                              {"episode"})}},
      {{"name", "list_feeds"},
       {"description", "Every feed: id, title, URL, episode count, last poll and last error."},
       {"inputSchema", Schema(json::object())}},
      {{"name", "list_episodes"},
       {"description",
        "Episodes, newest first: id, title, state (queued, running, done, failed, skipped), "
        "published date, duration, transcript source. Filter by feed, state or a search query."},
       {"inputSchema", Schema({{"feed", {{"type", "integer"}}},
                               {"state",
                                {{"type", "string"},
                                 {"enum", {"queued", "running", "done", "failed", "skipped"}}}},
                               {"query", {{"type", "string"}}},
                               {"limit", {{"type", "integer"}, {"minimum", 1}, {"maximum", 1000}}},
                               {"offset", {{"type", "integer"}, {"minimum", 0}}}})}},
      {{"name", "queue_episode"},
       {"description",
        "Queue an episode for transcription: a skipped one (backfill limit) is queued, a failed "
        "one retried, a done one transcribed again (its transcript stays until the new one is "
        "done). Needs the admin token."},
       {"inputSchema", Schema({{"episode", integer}}, {"episode"})}},
  });
}

std::string Clock(double seconds) {
  const auto s = static_cast<int64_t>(std::floor(seconds));
  return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
}

// The tools' arguments, checked: an integer or string that is there, or nothing.
std::optional<int64_t> IntArg(const json& args, const char* name) {
  auto it = args.find(name);
  if (it == args.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer())
    throw std::invalid_argument(fmt::format("{} must be an integer", name));
  return it->get<int64_t>();
}

std::optional<double> NumberArg(const json& args, const char* name) {
  auto it = args.find(name);
  if (it == args.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) throw std::invalid_argument(fmt::format("{} must be a number", name));
  return it->get<double>();
}

std::string StringArg(const json& args, const char* name) {
  auto it = args.find(name);
  if (it == args.end() || it->is_null()) return "";
  if (!it->is_string()) throw std::invalid_argument(fmt::format("{} must be a string", name));
  return it->get<std::string>();
}

int64_t Required(const std::optional<int64_t>& value, const char* name) {
  if (!value) throw std::invalid_argument(fmt::format("{} is required", name));
  return *value;
}

// "?a=1&b=x" of the parameters that are set.
std::string Query(std::initializer_list<std::pair<const char*, std::string>> params) {
  std::string out;
  for (const auto& [name, value] : params)
    if (!value.empty())
      out += fmt::format("{}{}={}", out.empty() ? "?" : "&", name, PercentEncode(value));
  return out;
}

std::string Str(const std::optional<int64_t>& v) { return v ? std::to_string(*v) : ""; }

json TextResult(std::string text, json structured = nullptr) {
  json out = {{"content", json::array({{{"type", "text"}, {"text", std::move(text)}}})},
              {"isError", false}};
  if (!structured.is_null()) out["structuredContent"] = std::move(structured);
  return out;
}

json ErrorResult(std::string text) {
  return {{"content", json::array({{{"type", "text"}, {"text", std::move(text)}}})},
          {"isError", true}};
}

template <class T>
T Ok(Result<T> r) {
  if (!r) throw std::runtime_error(r.error().message);
  return std::move(*r);
}

json Search(CoordinatorClient& api, const json& args) {
  const std::string query = StringArg(args, "query");
  if (query.empty()) throw std::invalid_argument("query is required");
  json reply = Ok(api.GetJson("/api/search" + Query({{"q", query},
                                                     {"feed", Str(IntArg(args, "feed"))},
                                                     {"from", StringArg(args, "from")},
                                                     {"to", StringArg(args, "to")},
                                                     {"limit", Str(IntArg(args, "limit"))}})));
  std::string text;
  json hits = json::array();
  for (const json& h : reply.value("hits", json::array())) {
    hits.push_back({{"episode", h.value("episode", 0)},
                    {"title", h.value("title", "")},
                    {"start_ms", h.value("start_ms", 0)},
                    {"end_ms", h.value("end_ms", 0)},
                    {"speaker", h.value("speaker", "")},
                    {"snippet", h.value("snippet", "")}});
    text +=
        fmt::format("episode {} \"{}\" at {}: {}\n", h.value("episode", 0), h.value("title", ""),
                    Clock(h.value("start_ms", 0) / 1000.0), h.value("snippet", ""));
  }
  if (hits.empty()) text = fmt::format("no transcript matches {}", query);
  return TextResult(text, {{"hits", hits}});
}

json Read(CoordinatorClient& api, const json& args) {
  const int64_t id = Required(IntArg(args, "episode"), "episode");
  const double from = NumberArg(args, "start_seconds").value_or(0);
  const double to = NumberArg(args, "end_seconds").value_or(INFINITY);
  json doc = Ok(api.GetJson(fmt::format("/api/episodes/{}/transcript?format=json", id)));
  std::string text;
  json segments = json::array();
  for (const json& s : doc.value("segments", json::array())) {
    const double start = s.value("startTime", 0.0), end = s.value("endTime", start);
    if (end <= from && !(start == end && start == from)) continue;
    if (start >= to) continue;
    const std::string speaker = s.value("speaker", "");
    text += fmt::format("[{}] {}{}\n", Clock(start), speaker.empty() ? "" : speaker + ": ",
                        s.value("body", ""));
    segments.push_back(s);
  }
  if (segments.empty()) text = "no segment in that range";
  return TextResult(text, {{"episode", id}, {"segments", segments}});
}

json ListFeeds(CoordinatorClient& api, const json&) {
  json reply = Ok(api.GetJson("/api/feeds"));
  std::string text;
  for (const json& f : reply.value("feeds", json::array()))
    text += fmt::format(
        "feed {} \"{}\" {} ({} episodes){}\n", f.value("id", 0), f.value("title", ""),
        f.value("url", ""), f.value("episode_count", 0),
        f.value("last_error", "").empty() ? "" : " last error: " + f.value("last_error", ""));
  return TextResult(text.empty() ? "no feeds" : text, reply);
}

json ListEpisodes(CoordinatorClient& api, const json& args) {
  json reply = Ok(api.GetJson("/api/episodes" + Query({{"feed", Str(IntArg(args, "feed"))},
                                                       {"state", StringArg(args, "state")},
                                                       {"q", StringArg(args, "query")},
                                                       {"limit", Str(IntArg(args, "limit"))},
                                                       {"offset", Str(IntArg(args, "offset"))}})));
  std::string text;
  json episodes = json::array();
  for (const json& e : reply.value("episodes", json::array())) {
    episodes.push_back({{"id", e.value("id", 0)},
                        {"feed", e["feed_id"]},
                        {"title", e.value("title", "")},
                        {"state", e.value("state", "")},
                        {"published_at", e["published_at"]},
                        {"duration_ms", e["duration_ms"]},
                        {"transcript_source", e.value("transcript_source", "")}});
    text += fmt::format("episode {} [{}] \"{}\"{}\n", e.value("id", 0), e.value("state", ""),
                        e.value("title", ""),
                        e.value("transcript_source", "").empty()
                            ? ""
                            : " transcript: " + e.value("transcript_source", ""));
  }
  return TextResult(text.empty() ? "no episodes" : text, {{"episodes", episodes}});
}

json QueueEpisode(CoordinatorClient& api, const json& args) {
  const int64_t id = Required(IntArg(args, "episode"), "episode");
  json episode = Ok(api.GetJson(fmt::format("/api/episodes/{}", id)));
  const std::string state = episode.value("state", "");
  const char* verb = state == "skipped"  ? "queue"
                     : state == "failed" ? "retry"
                     : state == "done"   ? "transcribe"
                                         : nullptr;
  if (!verb) return ErrorResult(fmt::format("episode {} is already {}", id, state));
  Ok(api.PostJson(fmt::format("/api/episodes/{}/{}", id, verb), json::object()));
  return TextResult(
      fmt::format("episode {} \"{}\" was {}; now queued", id, episode.value("title", ""), state),
      {{"episode", id}, {"was", state}, {"state", "queued"}});
}

}  // namespace

json McpServer::CallTool(const json& params) {
  using Tool = std::function<json(CoordinatorClient&, const json&)>;
  static const std::map<std::string, Tool, std::less<>> kTools = {{"search_transcripts", Search},
                                                                  {"read_transcript", Read},
                                                                  {"list_feeds", ListFeeds},
                                                                  {"list_episodes", ListEpisodes},
                                                                  {"queue_episode", QueueEpisode}};
  const std::string name = params.value("name", "");
  auto tool = kTools.find(name);
  if (tool == kTools.end()) throw std::out_of_range(fmt::format("unknown tool '{}'", name));
  const json args = params.value("arguments", json::object());
  if (!args.is_object()) throw std::out_of_range("arguments must be an object");
  try {
    return tool->second(api_, args);
  } catch (const std::invalid_argument& e) {
    return ErrorResult(fmt::format("{}: {}", name, e.what()));
  } catch (const std::runtime_error& e) {
    return ErrorResult(fmt::format("{}: {}", name, e.what()));
  } catch (const json::exception& e) {
    return ErrorResult(
        fmt::format("{}: unexpected answer from the coordinator: {}", name, e.what()));
  }
}

std::optional<json> McpServer::Handle(const json& message) {
  if (!message.is_object() || message.value("jsonrpc", "") != "2.0")
    return RpcError(nullptr, -32600, "not a JSON-RPC 2.0 message");
  if (!message.contains("method")) return std::nullopt;  // a response to us: we ask nothing
  const json id = message.value("id", json());
  const std::string method = message.value("method", "");
  const json params = message.value("params", json::object());
  if (!message.contains("id")) return std::nullopt;  // notifications/initialized and the like
  json result;
  if (method == "initialize") {
    const std::string asked = params.value("protocolVersion", "");
    const bool known = std::find(kVersions.begin(), kVersions.end(), asked) != kVersions.end();
    result = {{"protocolVersion", known ? asked : std::string(kVersions[0])},
              {"capabilities", {{"tools", {{"listChanged", false}}}}},
              {"serverInfo", {{"name", "podfleet"}, {"version", PODFLEET_VERSION}}},
              {"instructions",
               "podfleet transcribes podcasts. Search transcripts to find where something is "
               "said, then read that episode's transcript around the hit's time."}};
  } else if (method == "ping") {
    result = json::object();
  } else if (method == "tools/list") {
    result = {{"tools", Tools()}};
  } else if (method == "tools/call") {
    try {
      result = CallTool(params);
    } catch (const std::out_of_range& e) {
      return RpcError(id, -32602, e.what());
    }
  } else {
    return RpcError(id, -32601, fmt::format("method '{}' not found", method));
  }
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

std::optional<json> McpServer::HandleText(std::string_view text) {
  json message = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (message.is_discarded()) return RpcError(nullptr, -32700, "parse error: not JSON");
  return Handle(message);
}

}  // namespace podfleet
