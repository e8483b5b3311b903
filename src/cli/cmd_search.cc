// search and reindex: finding words in every transcript.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "api/client.h"
#include "cli/client_args.h"
#include "cli/commands.h"
#include "coordinator/admin_token.h"
#include "coordinator/coordinator.h"
#include "coordinator/data_dir_lock.h"
#include "net/http.h"
#include "net/http_client.h"
#include "store/store.h"

namespace podfleet {
namespace {

using nlohmann::json;

std::string Timestamp(int64_t ms) {
  const int64_t s = ms / 1000;
  return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
}

// The snippet's HTML as a terminal shows it: matches in [brackets], entities decoded.
std::string Plain(std::string_view html) {
  static const std::pair<std::string_view, std::string_view> kSwaps[] = {
      {"<mark>", "["}, {"</mark>", "]"}, {"&lt;", "<"},
      {"&gt;", ">"},   {"&quot;", "\""}, {"&amp;", "&"}};
  std::string out;
  for (size_t i = 0; i < html.size();) {
    bool swapped = false;
    for (auto [from, to] : kSwaps) {
      if (html.substr(i, from.size()) == from) {
        out += to;
        i += from.size();
        swapped = true;
        break;
      }
    }
    if (!swapped) out += html[i++];
  }
  return out;
}

}  // namespace

int RunSearch(const Args& args) {
  ClientArgs c;
  std::string feed, from, to;
  int64_t limit = 20;
  auto flags = ClientFlags(c);
  flags.push_back(StringFlag("feed", &feed, "only this feed's episodes", "ID"));
  flags.push_back(StringFlag("from", &from, "only episodes published on or after", "YYYY-MM-DD"));
  flags.push_back(StringFlag("to", &to, "only episodes published before", "YYYY-MM-DD"));
  flags.push_back(Int64Flag("limit", &limit, "at most this many hits"));
  auto p = Parse(flags, "search", "search TEXT... [--feed ID] [--from DATE] [--to DATE]",
                 "Searches every transcript, best matches first: each hit is an episode and the\n"
                 "moment its words are said. All words must occur; \"a phrase\" in quotes; amia*\n"
                 "matches a prefix; OR between two words accepts either.",
                 args);
  if (p.exit >= 0) return p.exit;
  std::string text;
  for (const std::string& word : p.args.positional) text += (text.empty() ? "" : " ") + word;
  if (text.empty()) return Fail("usage: podfleet search TEXT...");
  std::string query = fmt::format("/api/search?limit={}&q={}", limit, PercentEncode(text));
  if (!feed.empty()) query += "&feed=" + PercentEncode(feed);
  if (!from.empty()) query += "&from=" + PercentEncode(from);
  if (!to.empty()) query += "&to=" + PercentEncode(to);
  Listing reply = GetListing(c, query);
  if (reply.exit >= 0) return reply.exit;
  const json hits = reply.body->value("hits", json::array());
  if (hits.empty()) fmt::print("no transcript matches {}\n", text);
  for (const json& h : hits) {
    fmt::print("{:>5}  {:>9}  {}\n       {}\n", h.value("episode", 0),
               Timestamp(h.value("start_ms", int64_t{0})), h.value("title", ""),
               Plain(h.value("snippet_html", "")));
  }
  return 0;
}

int RunReindex(const Args& args) {
  std::filesystem::path data = "podfleet-data";
  auto p = Parse({PathFlag("data", &data, "the coordinator's data directory")}, "reindex",
                 "reindex [--data DIR]",
                 "Rebuilds the transcripts' search index from the stored transcripts (through the\n"
                 "running coordinator's API when one holds --data). Over HTTP: POST\n"
                 "/api/search/reindex (admin).",
                 args);
  if (p.exit >= 0) return p.exit;
  if (!p.args.positional.empty()) return Fail("usage: podfleet reindex [--data DIR]");
  // A running coordinator owns the store (data_dir_lock.h): ask it, as the token commands do.
  if (auto holder = DataDirLock::Holder(data)) {
    if (holder->url.empty())
      return Fail(fmt::format("a coordinator is starting on {} ({}); try again once it listens",
                              data.string(), holder->Describe()));
    auto admin = ReadAdminToken(data / kAdminTokenFile);
    if (!admin) return Fail(admin.error().ToString());
    auto http = MakeCurlClient(HttpClientOptions{});
    CoordinatorClient client(holder->url, *http);
    client.set_admin_token(*admin);
    auto reply = client.PostJson("/api/search/reindex", nlohmann::json::object());
    if (!reply)
      return Fail(fmt::format("through the running coordinator ({}): {}", holder->Describe(),
                              reply.error().ToString()));
    fmt::print("search index rebuilt: {} transcript segments\n", reply->value("segments", 0));
    return 0;
  }
  const std::filesystem::path file = data / kDatabaseFile;
  if (!std::filesystem::exists(file)) return Fail(file.string() + ": no such database");
  auto store = OpenSqliteStore(file.string());
  if (!store) return Fail(store.error().ToString());
  auto segments = (*store)->RebuildSearchIndex();
  if (!segments) return Fail(segments.error().ToString());
  fmt::print("search index rebuilt: {} transcript segments\n", *segments);
  return 0;
}

}  // namespace podfleet
