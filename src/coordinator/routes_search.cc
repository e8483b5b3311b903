// Search over every stored transcript: GET /api/search (open, like the other reads) and the
// index's rebuild (admin).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "coordinator/coordinator_context.h"

namespace podfleet {
namespace {

using nlohmann::json;
using Ctx = Coordinator::Context;

// "2026-11-28" (midnight UTC) or Unix milliseconds.
Result<TimePoint> ParseDay(const std::string& name, const std::string& text) {
  const auto bad = [&] {
    return InvalidArgument(
        fmt::format("{} must be a date (YYYY-MM-DD) or Unix milliseconds, not '{}'", name, text));
  };
  if (text.find_first_not_of("0123456789") == std::string::npos && text.size() <= 15)
    return FromUnixMillis(std::stoll(text));
  int y = 0;
  unsigned m = 0, d = 0;
  char rest = 0;
  if (text.size() != 10 || std::sscanf(text.c_str(), "%4d-%2u-%2u%c", &y, &m, &d, &rest) != 3)
    return bad();
  const std::chrono::year_month_day day{std::chrono::year(y), std::chrono::month(m),
                                        std::chrono::day(d)};
  if (!day.ok()) return bad();
  return TimePoint(
      std::chrono::duration_cast<Millis>(std::chrono::sys_days(day).time_since_epoch()));
}

Result<SearchQuery> QueryFrom(const HttpRequest& request) {
  SearchQuery q;
  q.text = request.QueryOr("q", "");
  try {
    if (auto feed = request.QueryOr("feed", ""); !feed.empty()) q.feed = FeedId(std::stoll(feed));
    q.limit = std::clamp<int64_t>(std::stoll(request.QueryOr("limit", "20")), 1, 200);
    q.offset = std::max<int64_t>(0, std::stoll(request.QueryOr("offset", "0")));
  } catch (const std::exception&) {
    return InvalidArgument("feed, limit and offset must be integers");
  }
  for (auto [name, field] : {std::pair{"from", &q.from}, std::pair{"to", &q.to}}) {
    const std::string text = request.QueryOr(name, "");
    if (text.empty()) continue;
    Result<TimePoint> t = ParseDay(name, text);
    if (!t) return std::unexpected(t.error());
    *field = *t;
  }
  return q;
}

json HitJson(const SearchHit& h) {
  json out = {{"episode", h.episode.value()},
              {"title", h.title},
              {"start_ms", h.start.count()},
              {"end_ms", h.end.count()},
              {"speaker", h.speaker},
              {"snippet", SnippetText(h.snippet)},
              {"snippet_html", SnippetHtml(h.snippet)},
              {"score", h.score},
              {"ranked", h.ranked}};
  out["feed"] = h.feed ? json(h.feed->value()) : json();
  if (h.published_at) {
    out["published_at"] = ToUnixMillis(*h.published_at);
    out["published_at_iso"] = FormatIso8601(*h.published_at);
  }
  return out;
}

HttpResponse Search(Ctx& c, const HttpRequest& request) {
  auto query = QueryFrom(request);
  if (!query) return ErrorReply(query.error());
  auto hits = c.store.Search(*query);
  if (!hits) return ErrorReply(hits.error());
  json out = json::array();
  for (const SearchHit& h : *hits) out.push_back(HitJson(h));
  const bool ranked = std::all_of(hits->begin(), hits->end(), [](auto& h) { return h.ranked; });
  return JsonReply(200, {{"query", query->text}, {"ranked", ranked}, {"hits", std::move(out)}});
}

HttpResponse Reindex(Ctx& c, const HttpRequest&) {
  auto segments = c.store.RebuildSearchIndex();
  if (!segments) return ErrorReply(segments.error());
  return JsonReply(200, {{"segments", *segments}});
}

}  // namespace

std::string SnippetText(std::string_view marked) {
  std::string out;
  for (char ch : marked)
    if (ch != kMatchStart && ch != kMatchEnd) out += ch;
  return out;
}

std::string SnippetHtml(std::string_view marked) {
  std::string out;
  for (char ch : marked) {
    switch (ch) {
      case kMatchStart: out += "<mark>"; break;
      case kMatchEnd: out += "</mark>"; break;
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += ch;
    }
  }
  return out;
}

std::vector<Route> SearchRoutes(Ctx& c) {
  auto sync = [&c](HttpResponse (*f)(Ctx&, const HttpRequest&)) {
    return SyncHandler([&c, f](const HttpRequest& r) { return f(c, r); });
  };
  const Guard admin = [&c](const HttpRequest& r) { return RequireAdmin(c, r); };
  return {
      {"GET",
       "/api/search",
       "search every transcript (q, feed, from, to, limit, offset): hits with snippets",
       sync(Search),
       {}},
      {"POST",
       "/api/search/reindex",
       "rebuild the search index from the stored transcripts",
       sync(Reindex),
       {},
       admin},
  };
}

}  // namespace podfleet
