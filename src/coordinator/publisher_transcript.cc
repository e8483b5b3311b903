#include "coordinator/publisher_transcript.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <sstream>

#include "coordinator/feed_poller.h"
#include "net/public_address.h"
#include "transcripts/formats.h"
#include "transcripts/formats_plain.h"

namespace podfleet {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The type without parameters, lower-cased: "text/html; charset=utf-8" -> "text/html".
std::string BareType(std::string_view type) {
  std::string t = Lower(type.substr(0, type.find(';')));
  while (!t.empty() && t.back() == ' ') t.pop_back();
  while (!t.empty() && t.front() == ' ') t.erase(t.begin());
  return t;
}

// Lower is better; nullopt: a type podfleet does not read.
std::optional<int> Preference(std::string_view type) {
  const std::string bare = BareType(type);
  if (bare == "text/html") return 3;
  auto format = TranscriptFormatFromMimeType(type);
  if (!format) return std::nullopt;
  switch (*format) {
    case TranscriptFormat::kVtt: return 0;
    case TranscriptFormat::kJson: return 1;
    case TranscriptFormat::kSrt: return 2;
    case TranscriptFormat::kText: return 4;
    case TranscriptFormat::kMarkdown: return std::nullopt;
  }
  return std::nullopt;
}

bool HasWords(const Transcript& t) {
  return std::any_of(t.segments.begin(), t.segments.end(), [](const Segment& s) {
    return s.text.find_first_not_of(" \t\r\n") != std::string::npos;
  });
}

Result<std::string> Fetch(HttpClient& http, const std::string& url,
                          const PublisherFetchOptions& options) {
  static std::atomic<int64_t> counter{0};
  std::error_code ec;
  std::filesystem::create_directories(options.scratch_dir, ec);
  const auto path = options.scratch_dir / fmt::format("transcript-{}-{}", ::getpid(), ++counter);
  DownloadOptions download;
  download.max_bytes = options.max_bytes;
  download.retries = 1;
  if (options.sources.public_only)
    download.allow_address = [](const sockaddr* a) { return IsPublicAddress(a); };
  auto fetched = http.Download(url, path, download);
  std::string data;
  if (fetched) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    data = text.str();
  }
  std::filesystem::remove(path, ec);
  std::filesystem::remove(path.string() + ".part", ec);
  if (!fetched) return std::unexpected(fetched.error());
  return data;
}

Result<Transcript> TryLink(HttpClient& http, const TranscriptLink& link, const EpisodeInfo& item,
                           const PublisherFetchOptions& options) {
  auto data = Fetch(http, link.url, options);
  if (!data) return std::unexpected(data.error());
  auto t = ReadLinkedTranscript(*data, link.type);
  if (!t) return t;
  if (!HasWords(*t)) return InvalidArgument("no words in it");
  t->engine = "publisher";
  t->model = BareType(link.type);
  t->language = link.language;
  Millis end{0};
  for (const Segment& s : t->segments) end = std::max(end, s.end);
  t->audio_duration = item.duration.value_or(end);
  return t;
}

}  // namespace

Result<Transcript> ReadLinkedTranscript(std::string_view data, std::string_view type) {
  const std::string bare = BareType(type);
  if (bare == "text/html") return ReadHtmlTranscript(data);
  auto format = TranscriptFormatFromMimeType(type);
  if (format == TranscriptFormat::kText) return ReadPlainText(data);
  if (!format || *format == TranscriptFormat::kMarkdown)
    return InvalidArgument(
        fmt::format("type '{}' is not a transcript format podfleet reads", type));
  return ReadTranscriptFile(data, *format);
}

PublisherFetch FetchPublisherTranscript(HttpClient& http, const EpisodeInfo& item,
                                        std::string_view feed_url,
                                        const PublisherFetchOptions& options) {
  std::vector<std::pair<int, TranscriptLink>> links;
  std::vector<std::string> problems;
  for (TranscriptLink link : item.transcript_links) {
    link.url = ResolveUrl(feed_url, link.url);
    std::optional<int> rank = Preference(link.type);
    if (!rank) {
      problems.push_back(fmt::format("{}: type '{}' not read", link.url, link.type));
    } else if (!EnclosureAllowed(feed_url, link.url, options.sources)) {
      problems.push_back(fmt::format("{}: URL refused by the source policy", link.url));
    } else {
      links.emplace_back(*rank, std::move(link));
    }
  }
  std::stable_sort(links.begin(), links.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  PublisherFetch out;
  for (const auto& [rank, link] : links) {
    auto t = TryLink(http, link, item, options);
    if (t) {
      out.transcript = std::move(*t);
      out.link = link;
      return out;
    }
    const std::string& why = t.error().message;  // download errors name the URL already
    problems.push_back(why.starts_with(link.url) ? why : fmt::format("{}: {}", link.url, why));
  }
  for (const std::string& p : problems) out.note += (out.note.empty() ? "" : "; ") + p;
  if (!out.note.empty()) out.note = "publisher's transcript not used: " + out.note;
  return out;
}

}  // namespace podfleet
