// The operator's feed routes: adding (one URL or an OPML list), listing, polling, removing feeds,
// exporting them as OPML, and queueing episodes a backfill limit held back. Changing routes need
// the admin token.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "api/wire.h"
#include "coordinator/coordinator_context.h"
#include "feeds/opml.h"
#include "feeds/rss.h"

namespace podfleet {
namespace {

using nlohmann::json;
using Ctx = Coordinator::Context;

// The backfill limits of an add: "newest" (a count, 0 for all) and "since" (a date as feeds
// write them, e.g. "2024-01-01"); nullopt when neither is given (the coordinator's default).
Result<std::optional<Backfill>> BackfillFrom(const json& body) {
  if (!body.contains("newest") && !body.contains("since")) return std::nullopt;
  Backfill b;
  auto newest = IntField(body, "newest", 0);
  if (!newest) return std::unexpected(newest.error());
  if (*newest < 0) return InvalidArgument("'newest' must not be negative");
  b.newest = *newest;
  auto since = StringField(body, "since", "");
  if (!since) return std::unexpected(since.error());
  if (!since->empty()) {
    b.since = ParseFeedDate(*since);
    if (!b.since) return InvalidArgument("'since' is not a date (e.g. 2024-01-01): " + *since);
  }
  return b;
}

json ResultJson(const PollResult& r) {
  json out = {{"feed", ToJson(r.feed)}, {"items", r.items},  {"new_episodes", r.new_episodes},
              {"queued", r.queued},     {"skipped", r.held}, {"without_audio", r.without_audio}};
  if (r.refused > 0) out["refused_enclosures"] = r.refused;
  if (r.not_modified) out["not_modified"] = true;
  if (!r.note.empty()) out["note"] = r.note;
  return out;
}

void AddFeed(Ctx& c, HttpRequest request, HttpResponder respond) {
  auto body = JsonBody(request);
  if (!body) return respond(ErrorReply(body.error()));
  auto url = SourceUrl(c, *body);
  if (!url) return respond(ErrorReply(url.error()));
  auto backfill = BackfillFrom(*body);
  if (!backfill) return respond(ErrorReply(backfill.error()));
  auto shared = std::make_shared<HttpResponder>(std::move(respond));
  c.poller.AddAsync(*url, *backfill, [shared](Result<PollResult> r) {
    (*shared)(r ? JsonReply(201, ResultJson(*r)) : ErrorReply(r.error()));
  });
}

void RefreshFeed(Ctx& c, HttpRequest request, HttpResponder respond) {
  auto id = IdParam(request, "id");
  if (!id) return respond(ErrorReply(id.error()));
  auto shared = std::make_shared<HttpResponder>(std::move(respond));
  c.poller.PollAsync(FeedId(*id), [shared](Result<PollResult> r) {
    (*shared)(r ? JsonReply(200, ResultJson(*r)) : ErrorReply(r.error()));
  });
}

Result<json> FeedJson(Ctx& c, const Feed& f) {
  auto anyway = c.store.TranscribesAnyway(f.id);
  if (!anyway) return std::unexpected(anyway.error());
  json out = ToJson(f);
  out["transcribe_anyway"] = *anyway;
  return out;
}

HttpResponse ListFeeds(Ctx& c, const HttpRequest&) {
  auto feeds = c.store.ListFeeds();
  if (!feeds) return ErrorReply(feeds.error());
  json out = json::array();
  for (const Feed& f : *feeds) {
    auto feed = FeedJson(c, f);
    if (!feed) return ErrorReply(feed.error());
    out.push_back(std::move(*feed));
  }
  return JsonReply(200, {{"feeds", std::move(out)}});
}

HttpResponse GetFeed(Ctx& c, const HttpRequest& request) {
  auto id = IdParam(request, "id");
  if (!id) return ErrorReply(id.error());
  auto feed = c.store.GetFeed(FeedId(*id));
  if (!feed) return ErrorReply(feed.error());
  return Reply(FeedJson(c, *feed));
}

// POST /api/feeds/{id}/settings {"transcribe_anyway": bool}
HttpResponse SetFeedSettings(Ctx& c, const HttpRequest& request) {
  auto id = IdParam(request, "id");
  if (!id) return ErrorReply(id.error());
  auto body = JsonBody(request);
  if (!body) return ErrorReply(body.error());
  auto on = BoolField(*body, "transcribe_anyway", false);
  if (!on) return ErrorReply(on.error());
  if (auto r = c.store.SetTranscribeAnyway(FeedId(*id), *on); !r) return ErrorReply(r.error());
  auto feed = c.store.GetFeed(FeedId(*id));
  if (!feed) return ErrorReply(feed.error());
  return Reply(FeedJson(c, *feed));
}

HttpResponse RemoveFeed(Ctx& c, const HttpRequest& request) {
  auto id = IdParam(request, "id");
  if (!id) return ErrorReply(id.error());
  Result<void> removed = c.store.RemoveFeed(FeedId(*id));
  std::error_code ignored;  // a feed never read has no document
  if (removed)
    std::filesystem::remove(FeedDocumentPath(c.options.data_dir / "feeds", FeedId(*id)), ignored);
  return Reply(removed);
}

// ---- OPML ----

HttpResponse ExportOpml(Ctx& c, const HttpRequest&) {
  auto feeds = c.store.ListFeeds();
  if (!feeds) return ErrorReply(feeds.error());
  std::vector<OpmlOutline> outlines;
  for (const Feed& f : *feeds) outlines.push_back({f.title, f.url});
  return HttpResponse::Text(200, WriteOpml("podfleet subscriptions", outlines),
                            "text/x-opml; charset=utf-8");
}

// One OPML import in progress: the outlines, each added in turn on the poller's request thread.
struct Import {
  std::vector<std::string> urls;
  std::optional<Backfill> backfill;
  json results = json::array();
  HttpResponder respond;
};

json OutlineJson(const std::string& url, const Result<PollResult>& r) {
  if (r) {
    json out = ResultJson(*r);
    out["url"] = url;
    out["result"] = "added";
    return out;
  }
  const bool known = r.error().code == Code::kConflict;
  return {{"url", url}, {"result", known ? "exists" : "refused"}, {"error", r.error().message}};
}

void ImportNext(Ctx& c, std::shared_ptr<Import> import) {
  const size_t i = import->results.size();
  if (i == import->urls.size()) {
    int64_t added = 0;
    for (const json& r : import->results) added += r["result"] == "added" ? 1 : 0;
    import->respond(JsonReply(200, {{"outlines", import->results}, { "added", added }}));
    return;
  }
  const std::string& raw = import->urls[i];
  auto url = CheckedSourceUrl(c, raw);
  if (!url || SchemeOf(*url) == "file") {
    // An OPML list names feeds on the web; a local path in it is never looked up.
    Error e = url ? Error{Code::kInvalidArgument, "not an http or https URL"} : url.error();
    import->results.push_back(OutlineJson(raw, std::unexpected(e)));
    return ImportNext(c, std::move(import));
  }
  c.poller.AddAsync(*url, import->backfill, [&c, import, raw](Result<PollResult> r) {
    import->results.push_back(OutlineJson(raw, r));
    ImportNext(c, import);
  });
}

// POST /api/opml?newest=N&since=DATE with the OPML document as the body.
void ImportOpml(Ctx& c, HttpRequest request, HttpResponder respond) {
  auto urls = ParseOpml(request.body);
  if (!urls) return respond(ErrorReply(urls.error()));
  json limits = json::object();
  if (auto n = request.QueryOr("newest", ""); !n.empty()) {
    try {
      limits["newest"] = std::stoll(n);
    } catch (const std::exception&) {
      return respond(ErrorReply(Error{Code::kInvalidArgument, "'newest' must be an integer"}));
    }
  }
  if (auto s = request.QueryOr("since", ""); !s.empty()) limits["since"] = s;
  auto backfill = BackfillFrom(limits);
  if (!backfill) return respond(ErrorReply(backfill.error()));
  auto import = std::make_shared<Import>();
  import->urls = std::move(*urls);
  import->backfill = *backfill;
  import->respond = std::move(respond);
  ImportNext(c, std::move(import));
}

// ---- episodes held back ----

HttpResponse QueueEpisode(Ctx& c, const HttpRequest& request) {
  auto id = IdParam(request, "id");
  if (!id) return ErrorReply(id.error());
  auto r = c.store.QueueEpisode(EpisodeId(*id), c.clock.Now(), c.intake());
  if (r) c.JobsQueued();
  return Reply(r);
}

}  // namespace

std::vector<Route> FeedRoutes(Ctx& c) {
  auto sync = [&c](HttpResponse (*f)(Ctx&, const HttpRequest&)) {
    return SyncHandler([&c, f](const HttpRequest& r) { return f(c, r); });
  };
  auto async = [&c](void (*f)(Ctx&, HttpRequest, HttpResponder)) {
    return HttpHandler(
        [&c, f](HttpRequest r, HttpResponder respond) { f(c, std::move(r), std::move(respond)); });
  };
  const Guard admin = [&c](const HttpRequest& r) { return RequireAdmin(c, r); };
  return {
      {"GET", "/api/feeds", "list feeds", sync(ListFeeds), {}},
      {"POST",
       "/api/feeds",
       "add a feed by URL or local path (newest, since: backfill limits) and read it",
       {},
       async(AddFeed),
       admin},
      {"GET", "/api/feeds/{id}", "one feed", sync(GetFeed), {}},
      {"POST",
       "/api/feeds/{id}/settings",
       "set transcribe_anyway (queue items that link a transcript too)",
       sync(SetFeedSettings),
       {},
       admin},
      {"POST", "/api/feeds/{id}/refresh", "poll a feed now", {}, async(RefreshFeed), admin},
      {"DELETE", "/api/feeds/{id}", "remove a feed and its episodes", sync(RemoveFeed), {}, admin},
      {"GET", "/api/opml", "every feed as an OPML subscription list", sync(ExportOpml), {}},
      {"POST",
       "/api/opml",
       "add each feed of an OPML list (body; newest, since: backfill limits)",
       {},
       async(ImportOpml),
       admin},
      {"POST",
       "/api/episodes/{id}/queue",
       "queue an episode a backfill limit skipped",
       sync(QueueEpisode),
       {},
       admin},
  };
}

}  // namespace podfleet
