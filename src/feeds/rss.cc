#include "feeds/rss.h"

#include <array>
#include <charconv>
#include <cstdint>

#include "feeds/xml.h"

namespace podfleet {
namespace {

// The vocabulary an element belongs to, decided by namespace URI.
enum class Vocabulary { kRss, kItunes, kPodcast, kMedia, kAtom, kOther };

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// A namespace URI as podcast apps compare them: case, scheme, a leading "www." and a trailing
// slash do not matter ("HTTP://www.iTunes.com/DTDs/Podcast-1.0.dtd" is the iTunes namespace).
std::string CanonicalUri(std::string_view uri) {
  uri = TrimSpace(uri);
  std::string s;
  s.reserve(uri.size());
  for (char c : uri) s += Lower(c);
  for (std::string_view scheme : {"http://", "https://"}) {
    if (s.starts_with(scheme)) s.erase(0, scheme.size());
  }
  if (s.starts_with("www.")) s.erase(0, 4);
  while (s.ends_with('/')) s.pop_back();
  return s;
}

Vocabulary VocabularyOfUri(std::string_view uri) {
  const std::string canonical = CanonicalUri(uri);
  if (canonical == "itunes.com/dtds/podcast-1.0.dtd") return Vocabulary::kItunes;
  if (canonical == "podcastindex.org/namespace/1.0" ||
      canonical == "github.com/podcastindex-org/podcast-namespace/blob/main/docs/1.0.md")
    return Vocabulary::kPodcast;
  if (canonical == "search.yahoo.com/mrss") return Vocabulary::kMedia;
  if (canonical == "w3.org/2005/atom") return Vocabulary::kAtom;
  return Vocabulary::kOther;
}

Vocabulary VocabularyOf(pugi::xml_node element) {
  const std::optional<std::string_view> uri = NamespaceUri(element);
  const std::string_view prefix = Prefix(element);
  if (!uri) {
    // The prefix is declared nowhere. Feeds that forget the declaration always mean the
    // conventional namespaces, so only here does the prefix itself decide.
    if (prefix == "itunes") return Vocabulary::kItunes;
    if (prefix == "podcast") return Vocabulary::kPodcast;
    if (prefix == "media") return Vocabulary::kMedia;
    if (prefix == "atom") return Vocabulary::kAtom;
    return Vocabulary::kOther;
  }
  if (const Vocabulary v = VocabularyOfUri(*uri); v != Vocabulary::kOther) return v;
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

void SetAudio(EpisodeInfo& episode, std::string url, std::string type, int64_t length) {
  episode.audio_url = std::move(url);
  episode.audio_type = std::move(type);
  episode.audio_length = length;
}

void ReadEnclosure(pugi::xml_node enclosure, EpisodeInfo& episode) {
  if (!episode.audio_url.empty()) return;  // one enclosure per item; the first usable one wins
  std::string url = AttributeText(enclosure, "url");
  if (url.empty()) return;
  SetAudio(episode, std::move(url), AttributeText(enclosure, "type"),
           ParseLength(AttributeText(enclosure, "length")));
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

// ---- Media RSS ----

// One <media:content> that is audio (medium="audio" or an audio/* type).
struct Rendition {
  std::string url;
  std::string type;
  int64_t bytes = 0;
  int64_t bitrate = 0;  // kbit/s as the feed claims it, 0 unknown
  bool is_default = false;
};

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

std::optional<Rendition> AudioRendition(pugi::xml_node content) {
  Rendition r{.url = AttributeText(content, "url"),
              .type = AttributeText(content, "type"),
              .bytes = ParseLength(AttributeText(content, "fileSize")),
              .bitrate = ParseLength(AttributeText(content, "bitrate")),
              .is_default = AttributeText(content, "isDefault") == "true"};
  const std::string medium = AttributeText(content, "medium");
  const bool audio = EqualsIgnoreCase(medium, "audio") ||
                     (medium.empty() && StartsWithIgnoreCase(r.type, "audio/"));
  if (!audio || r.url.empty()) return std::nullopt;
  return r;
}

// Whether `a` is a better audio rendition than `b`: higher bitrate, then larger, then the
// default one; otherwise the earlier one stays.
bool Better(const Rendition& a, const Rendition& b) {
  if (a.bitrate != b.bitrate) return a.bitrate > b.bitrate;
  if (a.bytes != b.bytes) return a.bytes > b.bytes;
  return a.is_default && !b.is_default;
}

void ConsiderMedia(pugi::xml_node element, std::optional<Rendition>& best) {
  if (LocalName(element) == "group") {
    for (pugi::xml_node child : element.children()) {
      if (Is(child, Vocabulary::kMedia, "content")) ConsiderMedia(child, best);
    }
    return;
  }
  if (LocalName(element) != "content") return;
  std::optional<Rendition> r = AudioRendition(element);
  if (r && (!best || Better(*r, *best))) best = std::move(r);
}

// The enclosure wins when it is audio or says nothing of its type; a video or other enclosure
// gives way to an audio rendition from Media RSS.
void ApplyMedia(const std::optional<Rendition>& best, EpisodeInfo& episode) {
  if (!best) return;
  const bool enclosure_is_audio =
      !episode.audio_url.empty() &&
      (episode.audio_type.empty() || StartsWithIgnoreCase(episode.audio_type, "audio/"));
  if (enclosure_is_audio) return;
  SetAudio(episode, best->url, best->type, best->bytes);
}

// ---- items and entries ----

// Elements items and Atom entries share: itunes, podcast and media.
void ReadExtension(pugi::xml_node child, Vocabulary vocabulary, std::string_view channel_language,
                   EpisodeInfo& episode, std::optional<Rendition>& media) {
  const std::string_view name = LocalName(child);
  switch (vocabulary) {
    case Vocabulary::kItunes:
      if (name == "duration" && !episode.duration) {
        episode.duration = ParseItunesDuration(TextOf(child));
      }
      if (name == "title" && episode.title.empty()) episode.title = TextOf(child);
      break;
    case Vocabulary::kPodcast:
      if (name == "transcript") ReadTranscriptLink(child, channel_language, episode);
      break;
    case Vocabulary::kMedia: ConsiderMedia(child, media); break;
    default: break;
  }
}

EpisodeInfo ReadItem(pugi::xml_node item, std::string_view channel_language) {
  EpisodeInfo episode;
  std::optional<Rendition> media;
  for (pugi::xml_node child : item.children()) {
    if (child.type() != pugi::node_element) continue;
    const std::string_view name = LocalName(child);
    const Vocabulary vocabulary = VocabularyOf(child);
    if (vocabulary != Vocabulary::kRss) {
      ReadExtension(child, vocabulary, channel_language, episode, media);
      continue;
    }
    if (name == "guid" && episode.guid.empty()) episode.guid = TextOf(child);
    if (name == "title" && episode.title.empty()) episode.title = TextOf(child);
    if (name == "enclosure") ReadEnclosure(child, episode);
    if (name == "pubDate" && !episode.published_at) {
      episode.published_at = ParseFeedDate(TextOf(child));
    }
  }
  ApplyMedia(media, episode);
  if (episode.guid.empty()) episode.guid = episode.audio_url;
  return episode;
}

// An Atom <link rel="enclosure">: href, type and length.
void ReadAtomLink(pugi::xml_node link, EpisodeInfo& episode) {
  if (AttributeText(link, "rel") != "enclosure" || !episode.audio_url.empty()) return;
  std::string href = AttributeText(link, "href");
  if (href.empty()) return;
  SetAudio(episode, std::move(href), AttributeText(link, "type"),
           ParseLength(AttributeText(link, "length")));
}

// `atom`: the vocabulary of the feed's own elements (kRss for a feed that declares no namespace).
EpisodeInfo ReadEntry(pugi::xml_node entry, Vocabulary atom, std::string_view feed_language) {
  EpisodeInfo episode;
  std::optional<Rendition> media;
  std::optional<TimePoint> updated;
  for (pugi::xml_node child : entry.children()) {
    if (child.type() != pugi::node_element) continue;
    const std::string_view name = LocalName(child);
    const Vocabulary vocabulary = VocabularyOf(child);
    if (vocabulary != atom) {
      ReadExtension(child, vocabulary, feed_language, episode, media);
      continue;
    }
    if (name == "id" && episode.guid.empty()) episode.guid = TextOf(child);
    if (name == "title" && episode.title.empty()) episode.title = TextOf(child);
    if (name == "link") ReadAtomLink(child, episode);
    if (name == "published" && !episode.published_at) {
      episode.published_at = ParseFeedDate(TextOf(child));
    }
    if (name == "updated" && !updated) updated = ParseFeedDate(TextOf(child));
  }
  if (!episode.published_at) episode.published_at = updated;
  ApplyMedia(media, episode);
  if (episode.guid.empty()) episode.guid = episode.audio_url;
  return episode;
}

// Channel-level identity: itunes:new-feed-url and podcast:guid.
void ReadIdentity(pugi::xml_node channel, ParsedFeed& feed) {
  feed.new_feed_url = ChildText(channel, Vocabulary::kItunes, "new-feed-url");
  feed.podcast_guid = ChildText(channel, Vocabulary::kPodcast, "guid");
}

ParsedFeed ReadChannel(pugi::xml_node channel) {
  ParsedFeed feed;
  feed.format = "rss";
  feed.title = ChildText(channel, Vocabulary::kRss, "title");
  feed.link = ChildText(channel, Vocabulary::kRss, "link");
  feed.language = ChildText(channel, Vocabulary::kRss, "language");
  ReadIdentity(channel, feed);
  for (pugi::xml_node child : channel.children()) {
    if (Is(child, Vocabulary::kRss, "item"))
      feed.episodes.push_back(ReadItem(child, feed.language));
  }
  return feed;
}

ParsedFeed ReadAtom(pugi::xml_node root) {
  ParsedFeed feed;
  feed.format = "atom";
  const Vocabulary atom = VocabularyOf(root);
  feed.title = ChildText(root, atom, "title");
  feed.language = AttributeText(root, "xml:lang");
  for (pugi::xml_node child : root.children()) {
    if (Is(child, atom, "link") && feed.link.empty()) {
      const std::string rel = AttributeText(child, "rel");
      if (rel.empty() || rel == "alternate") feed.link = AttributeText(child, "href");
    }
  }
  ReadIdentity(root, feed);
  for (pugi::xml_node child : root.children()) {
    if (Is(child, atom, "entry")) feed.episodes.push_back(ReadEntry(child, atom, feed.language));
  }
  return feed;
}

// Whether the text starts like an HTML page (after a BOM and whitespace).
bool LooksLikeHtml(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  text = TrimSpace(text);
  return StartsWithIgnoreCase(text, "<!doctype html") || StartsWithIgnoreCase(text, "<html");
}

Error NotAFeed(pugi::xml_node root) {
  const std::string_view name = LocalName(root);
  if (EqualsIgnoreCase(name, "opml")) {
    return Error{Code::kInvalidArgument,
                 "not a feed: this is an OPML subscription list; import it with "
                 "`podfleet feed add FILE.opml` or POST /api/opml"};
  }
  if (EqualsIgnoreCase(name, "html")) {
    return Error{Code::kInvalidArgument, "not a feed: an HTML page, not RSS or Atom"};
  }
  return Error{Code::kInvalidArgument, "malformed feed: not a feed (the root element is <" +
                                           std::string(root.name()).substr(0, 64) +
                                           ">, not <rss> or <feed>)"};
}

}  // namespace

Result<ParsedFeed> ParseFeed(std::string_view xml) {
  if (LooksLikeHtml(xml)) return InvalidArgument("not a feed: an HTML page, not RSS or Atom");
  pugi::xml_document doc;
  if (Result<void> loaded = LoadUntrustedXml(xml, "feed", doc); !loaded) {
    return std::unexpected(loaded.error());
  }
  const pugi::xml_node root = doc.document_element();
  if (Is(root, Vocabulary::kAtom, "feed") ||
      (LocalName(root) == "feed" && NamespaceUri(root) == std::string_view())) {
    return ReadAtom(root);
  }
  if (!Is(root, Vocabulary::kRss, "rss")) return std::unexpected(NotAFeed(root));
  for (pugi::xml_node child : root.children()) {
    if (Is(child, Vocabulary::kRss, "channel")) return ReadChannel(child);
  }
  return InvalidArgument("malformed feed: <rss> has no <channel>");
}

Result<ParsedFeed> ParseRss(std::string_view xml) { return ParseFeed(xml); }

}  // namespace podfleet
