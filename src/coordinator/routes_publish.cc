// Publishing transcripts: each feed's mirror, its original RSS document with
// <podcast:transcript> tags that point at this coordinator's stable transcript URLs
// (GET /api/episodes/{id}/transcript?format=...), so a podcast app subscribed to the mirror
// shows the transcripts; and a feed's transcripts as one ZIP or tar.gz download. Open, like the
// other reads.
#include <fmt/format.h>

#include <fstream>
#include <functional>
#include <sstream>

#include "coordinator/coordinator_context.h"
#include "coordinator/transcript_archive.h"
#include "feeds/mirror.h"
#include "transcripts/formats.h"

namespace podfleet {
namespace {

using Ctx = Coordinator::Context;

// The formats a mirror links, best first: WebVTT and SRT are captions (timed), JSON is the
// Podcasting 2.0 transcript format.
struct LinkedFormat {
  const char* format;
  const char* type;
  bool captions;
};
constexpr LinkedFormat kLinked[] = {
    {"vtt", "text/vtt", true},
    {"srt", "application/x-subrip", true},
    {"json", "application/json", false},
};

// This coordinator's address as the client named it (Host), http unless a proxy in front says
// https (X-Forwarded-Proto).
std::string BaseUrl(const HttpRequest& request) {
  const std::string_view proto = request.Header("x-forwarded-proto");
  return fmt::format("{}://{}", proto == "https" ? "https" : "http", request.Header("host"));
}

// Calls `use` with each episode of `feed` that has a transcript, and that transcript (the one
// shown), one at a time.
Result<void> ForEachTranscript(Ctx& c, FeedId feed,
                               const std::function<void(const Episode&, const Transcript&)>& use) {
  EpisodeFilter filter{.feed = feed, .limit = 1000};
  for (;; filter.offset += filter.limit) {
    auto episodes = c.store.ListEpisodes(filter);
    if (!episodes) return std::unexpected(episodes.error());
    for (const Episode& e : *episodes) {
      auto transcript = c.store.GetTranscript(e.id);
      if (!transcript && transcript.error().code == Code::kNotFound) continue;
      if (!transcript) return std::unexpected(transcript.error());
      use(e, *transcript);
    }
    if (static_cast<int64_t>(episodes->size()) < filter.limit) return {};
  }
}

// Links for each episode of `feed` that has a transcript, keyed by guid (and by audio URL for
// an item known by its enclosure).
Result<std::map<std::string, std::vector<MirrorLink>>> FeedLinks(Ctx& c, FeedId feed,
                                                                 const std::string& base) {
  std::map<std::string, std::vector<MirrorLink>> links;
  auto done = ForEachTranscript(c, feed, [&](const Episode& e, const Transcript& t) {
    std::vector<MirrorLink> out;
    for (const LinkedFormat& f : kLinked)
      out.push_back(
          {fmt::format("{}/api/episodes/{}/transcript?format={}", base, e.id.value(), f.format),
           f.type, t.language, f.captions});
    if (e.info.guid == e.info.audio_url) links[e.info.audio_url] = out;
    links[e.info.guid] = std::move(out);
  });
  if (!done) return std::unexpected(done.error());
  return links;
}

HttpResponse Mirror(Ctx& c, const HttpRequest& request) {
  auto id = IdParam(request, "id");
  if (!id) return ErrorReply(id.error());
  auto feed = c.store.GetFeed(FeedId(*id));
  if (!feed) return ErrorReply(feed.error());
  std::ifstream in(FeedDocumentPath(c.options.data_dir / "feeds", feed->id), std::ios::binary);
  if (!in)
    return ErrorReply({Code::kUnavailable,
                       fmt::format("feed {} has not been read since this coordinator began keeping "
                                   "feed documents: refresh it (POST /api/feeds/{}/refresh)",
                                   *id, *id)});
  std::ostringstream document;
  document << in.rdbuf();
  auto links = FeedLinks(c, feed->id, BaseUrl(request));
  if (!links) return ErrorReply(links.error());
  auto mirror = MirrorFeed(document.str(), *links);
  if (!mirror) return ErrorReply(mirror.error());
  HttpResponse r =
      HttpResponse::Text(200, std::move(*mirror), "application/rss+xml; charset=utf-8");
  r.headers.emplace_back("Access-Control-Allow-Origin", "*");
  return r;
}

// A file name's part from `text`: lower-case ASCII letters and digits, runs of anything else
// as one '-', at most 60 characters; "untitled" when nothing is left.
std::string Slug(std::string_view text) {
  std::string out;
  for (char ch : text) {
    const char lower = ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch;
    if ((lower >= 'a' && lower <= 'z') || (lower >= '0' && lower <= '9'))
      out += lower;
    else if (!out.empty() && out.back() != '-')
      out += '-';
    if (out.size() >= 60) break;
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "untitled" : out;
}

// Every transcript of `feed`'s episodes, in each written format, under a folder named after it.
Result<std::vector<ArchiveFile>> FeedFiles(Ctx& c, const Feed& feed) {
  const std::string folder = fmt::format("{}-{}", feed.id.value(), Slug(feed.title));
  std::vector<ArchiveFile> files;
  auto done = ForEachTranscript(c, feed.id, [&](const Episode& e, const Transcript& t) {
    const std::string name = fmt::format("{}/{}-{}", folder, e.id.value(), Slug(e.info.title));
    for (std::string_view extension : {"txt", "vtt", "srt", "json", "md"})
      files.push_back({fmt::format("{}.{}", name, extension),
                       WriteTranscript(t, *ParseTranscriptFormat(extension), {e.info.title})});
  });
  if (!done) return std::unexpected(done.error());
  return files;
}

HttpResponse Export(Ctx& c, const HttpRequest& request, ArchiveFormat format) {
  auto id = IdParam(request, "id");
  if (!id) return ErrorReply(id.error());
  auto feed = c.store.GetFeed(FeedId(*id));
  if (!feed) return ErrorReply(feed.error());
  auto files = FeedFiles(c, *feed);
  if (!files) return ErrorReply(files.error());
  auto archive = WriteArchive(format, *files, c.clock.Now());
  if (!archive) return ErrorReply(archive.error());
  const bool zip = format == ArchiveFormat::kZip;
  HttpResponse r =
      HttpResponse::Text(200, std::move(*archive), zip ? "application/zip" : "application/gzip");
  r.headers.emplace_back("Content-Disposition",
                         fmt::format("attachment; filename=\"{}-{}-transcripts.{}\"",
                                     feed->id.value(), Slug(feed->title), zip ? "zip" : "tar.gz"));
  return r;
}

}  // namespace

std::vector<Route> PublishRoutes(Ctx& c) {
  auto sync = [&c](HttpResponse (*f)(Ctx&, const HttpRequest&)) {
    return SyncHandler([&c, f](const HttpRequest& r) { return f(c, r); });
  };
  return {
      {"GET",
       "/api/feeds/{id}/mirror.rss",
       "the feed as published, with <podcast:transcript> links to podfleet's transcripts",
       sync(Mirror),
       {}},
      {"GET",
       "/api/feeds/{id}/transcripts.zip",
       "every transcript of the feed (txt, vtt, srt, json, md) as a ZIP",
       SyncHandler([&c](const HttpRequest& r) { return Export(c, r, ArchiveFormat::kZip); }),
       {}},
      {"GET",
       "/api/feeds/{id}/transcripts.tar.gz",
       "every transcript of the feed (txt, vtt, srt, json, md) as a gzipped tar",
       SyncHandler([&c](const HttpRequest& r) { return Export(c, r, ArchiveFormat::kTarGz); }),
       {}},
  };
}

}  // namespace podfleet
