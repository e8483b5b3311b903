#include "feeds/rss.h"

#include <array>
#include <charconv>
#include <cstdint>

#include "feeds/xml.h"

namespace podfleet {
namespace {

constexpr std::string_view kItunesNamespace = "http://www.itunes.com/dtds/podcast-1.0.dtd";
constexpr std::string_view kPodcastNamespace = "https://podcastindex.org/namespace/1.0";
constexpr std::string_view kPodcastGithubNamespace =
    "https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/1.0.md";

// The vocabulary an element belongs to, decided by namespace URI.
enum class Vocabulary { kRss, kItunes, kPodcast, kOther };

Vocabulary VocabularyOf(pugi::xml_node element) {
  const std::optional<std::string_view> uri = NamespaceUri(element);
  const std::string_view prefix = Prefix(element);
  if (!uri) {
    // The prefix is declared nowhere. Feeds that forget the declaration always mean the
    // conventional namespaces, so only here does the prefix itself decide.
    if (prefix == "itunes") return Vocabulary::kItunes;
    if (prefix == "podcast") return Vocabulary::kPodcast;
    return Vocabulary::kOther;
  }
  if (*uri == kItunesNamespace) return Vocabulary::kItunes;
  if (*uri == kPodcastNamespace || *uri == kPodcastGithubNamespace) return Vocabulary::kPodcast;
  // RSS 2.0 elements have no namespace; a stray default namespace does not change what they are.
  return prefix.empty() ? Vocabulary::kRss : Vocabulary::kOther;
}

bool Is(pugi::xml_node element, Vocabulary vocabulary, std::string_view local_name) {
  return element.type() == pugi::node_element && LocalName(element) == local_name &&
         VocabularyOf(element) == vocabulary;
}

// The first child element of `parent` in `vocabulary` named `local_name` with non-empty text.
std::string ChildText(pugi::xml_node parent, Vocabulary vocabulary, std::string_view local_name) {
  for (pugi::xml_node child : parent.children()) {
    if (!Is(child, vocabulary, local_name)) continue;
    std::string text = TextOf(child);
    if (!text.empty()) return text;
  }
  return {};
}

std::string AttributeText(pugi::xml_node element, const char* name) {
  return std::string(TrimSpace(element.attribute(name).value()));
}

// Enclosure lengths are advisory; anything unparseable or negative reads as 0 (unknown).
int64_t ParseLength(std::string_view text) {
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) return 0;
  return value;
}

void ReadEnclosure(pugi::xml_node enclosure, EpisodeInfo& episode) {
  if (!episode.audio_url.empty()) return;  // one enclosure per item; the first usable one wins
  std::string url = AttributeText(enclosure, "url");
  if (url.empty()) return;
  episode.audio_url = std::move(url);
  episode.audio_type = AttributeText(enclosure, "type");
  episode.audio_length = ParseLength(AttributeText(enclosure, "length"));
}

void ReadTranscriptLink(pugi::xml_node tag, std::string_view channel_language,
                        EpisodeInfo& episode) {
  TranscriptLink link{.url = AttributeText(tag, "url"),
                      .type = AttributeText(tag, "type"),
                      .language = AttributeText(tag, "language"),
                      .rel = AttributeText(tag, "rel")};
  if (link.url.empty()) return;
  if (link.language.empty()) link.language = std::string(channel_language);
  episode.transcript_links.push_back(std::move(link));
}

EpisodeInfo ReadItem(pugi::xml_node item, std::string_view channel_language) {
  EpisodeInfo episode;
  for (pugi::xml_node child : item.children()) {
    if (child.type() != pugi::node_element) continue;
    const std::string_view name = LocalName(child);
    switch (VocabularyOf(child)) {
      case Vocabulary::kRss:
        if (name == "guid" && episode.guid.empty()) episode.guid = TextOf(child);
        if (name == "title" && episode.title.empty()) episode.title = TextOf(child);
        if (name == "enclosure") ReadEnclosure(child, episode);
        if (name == "pubDate" && !episode.published_at) {
          episode.published_at = ParseFeedDate(TextOf(child));
        }
        break;
      case Vocabulary::kItunes:
        if (name == "duration" && !episode.duration) {
          episode.duration = ParseItunesDuration(TextOf(child));
        }
        break;
      case Vocabulary::kPodcast:
        if (name == "transcript") ReadTranscriptLink(child, channel_language, episode);
        break;
      case Vocabulary::kOther: break;
    }
  }
  if (episode.guid.empty()) episode.guid = episode.audio_url;
  return episode;
}

}  // namespace

Result<ParsedFeed> ParseRss(std::string_view xml) {
  pugi::xml_document doc;
  if (Result<void> loaded = LoadUntrustedXml(xml, "feed", doc); !loaded) {
    return std::unexpected(loaded.error());
  }
  const pugi::xml_node rss = doc.document_element();
  if (!Is(rss, Vocabulary::kRss, "rss")) {
    const std::string_view name = rss.name();
    return InvalidArgument("malformed feed: not RSS (the root element is <" +
                           std::string(name.substr(0, 64)) + ">)");
  }
  pugi::xml_node channel;
  for (pugi::xml_node child : rss.children()) {
    if (Is(child, Vocabulary::kRss, "channel")) {
      channel = child;
      break;
    }
  }
  if (!channel) return InvalidArgument("malformed feed: <rss> has no <channel>");

  ParsedFeed feed;
  feed.title = ChildText(channel, Vocabulary::kRss, "title");
  feed.link = ChildText(channel, Vocabulary::kRss, "link");
  feed.language = ChildText(channel, Vocabulary::kRss, "language");
  for (pugi::xml_node child : channel.children()) {
    if (Is(child, Vocabulary::kRss, "item"))
      feed.episodes.push_back(ReadItem(child, feed.language));
  }
  return feed;
}

}  // namespace podfleet
