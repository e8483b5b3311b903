// Reading podcast feeds: RSS 2.0 and Atom, with the itunes, Podcasting 2.0 and Media RSS
// namespaces (matched by namespace URI, not prefix). See
// ../shared/specs/podcasting20-transcripts.md.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/model.h"

namespace podfleet {

struct ParsedFeed {
  std::string format;  // "rss" or "atom"
  std::string title;
  std::string link;
  std::string language;
  std::string new_feed_url;           // <itunes:new-feed-url>: the show moved there; empty if none
  std::string podcast_guid;           // <podcast:guid>; empty if none
  std::vector<EpisodeInfo> episodes;  // in document order
};

// Parses an RSS 2.0 or Atom document. Items without audio are kept with an empty audio_url.
// kInvalidArgument when it is not a feed, with a message an operator can act on:
//   "not a feed: an HTML page, not RSS or Atom"   (an HTML document, well-formed or not);
//   "not a feed: this is an OPML subscription list; ..."   (root <opml>);
//   "malformed feed: <pugixml description> at offset N"   not well-formed (empty input included);
//   "malformed feed: entity declarations are not allowed at offset N"   a DOCTYPE declaring
//       entities (XXE, billion laughs); a DOCTYPE without entity declarations is ignored;
//   "malformed feed: not a feed (...)" / "<rss> has no <channel>"   well-formed, neither format.
// No external entities are loaded and no network is touched; undeclared entity references such as
// "&nbsp;" are kept as literal text.
// RSS, per item: guid (else the enclosure URL), title, the first enclosure with a url,
// itunes:duration, pubDate (fields that fail to parse are left unset) and every
// podcast:transcript with a url (language defaults to the channel's).
// Atom, per entry: id as the guid, title, the first <link rel="enclosure"> (href, type, length),
// published (else updated), and the same extensions as RSS items.
// Media RSS (items and entries): <media:content> that is audio (medium="audio", or no medium and
// an audio/* type), alone or in <media:group>s; the best rendition (highest bitrate, then
// largest fileSize, then isDefault, then the first) is the audio when the item has no enclosure
// or its enclosure's type is not audio.
// Extension elements are matched by namespace URI whatever their prefix, the URI compared as
// podcast apps do: ignoring case, http/https, a leading "www." and trailing slashes. A prefix
// declared nowhere falls back to its conventional meaning ("itunes", "podcast", "media",
// "atom"). Channel-level itunes:new-feed-url and podcast:guid are read for identity.
// Thread-safe; REQUIRES: the caller bounds the size of `xml` (the document tree takes a few
// times its size in memory).
Result<ParsedFeed> ParseFeed(std::string_view xml);

// ParseFeed under its older name.
Result<ParsedFeed> ParseRss(std::string_view xml);

// itunes:duration in all its forms: "3600", "3600.5", "59:59", "1:02:03", "01:02:03.250".
// Seconds, M:SS / MM:SS or H:MM:SS, fraction on the last field only; surrounding whitespace is
// ignored. The leading field may exceed 59 ("75:00"), the others may not. nullopt for anything
// else: empty, negative, junk, four fields, over 100 years.
std::optional<Millis> ParseItunesDuration(std::string_view text);

// RFC 822/2822 dates ("Wed, 02 Oct 2002 13:00:00 GMT", "+0200", "CEST"), then ISO 8601/RFC 3339.
// RFC form: optional day-of-week (any abbreviation of 3+ letters, then an optional '.' or ','),
// 1-2 digit day, English month name (3+ letters, any case, optional '.'), the separators spaces
// or '-' with an optional ',' after the month, 2-, 3- or 4-digit year (RFC 2822 rules: 00-49 ->
// 20xx), H:MM[:SS[.fff]] with optional AM/PM, then a zone: GMT/UT/UTC/Z, a named zone of North
// America, Europe, Asia or Australia (EST, CET, CEST, BST, JST, AEST...), a numeric offset
// +HHMM/-HHMM/+HH:MM/+H/+HMM, a name followed by an offset ("GMT-0400", "UTC+5:30"), or none
// (UTC); then an optional "(comment)". ISO form: YYYY-MM-DD, optionally followed by
// [T| ]HH:MM[:SS[.fraction]] and a zone as above. nullopt when neither matches or a field is out
// of range (Feb 30, hour 24, an offset over 14 hours, an unknown zone name).
std::optional<TimePoint> ParseFeedDate(std::string_view text);

}  // namespace podfleet
