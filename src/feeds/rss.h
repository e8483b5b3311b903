// Reading podcast feeds: RSS 2.0 with the itunes and Podcasting 2.0 namespaces (matched by
// namespace URI, not prefix). See ../shared/specs/podcasting20-transcripts.md.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/model.h"

namespace podfleet {

struct ParsedFeed {
  std::string title;
  std::string link;
  std::string language;
  std::vector<EpisodeInfo> episodes;  // in document order
};

// Parses an RSS document. Items without an enclosure are kept with an empty audio_url.
// kInvalidArgument "malformed feed: ..." when it is not well-formed XML or not RSS:
//   "malformed feed: <pugixml description> at offset N"   not well-formed (empty input included);
//   "malformed feed: entity declarations are not allowed at offset N"   a DOCTYPE declaring
//       entities (XXE, billion laughs); a DOCTYPE without entity declarations is ignored;
//   "malformed feed: not RSS (...)" / "<rss> has no <channel>"   well-formed but not RSS.
// No external entities are loaded and no network is touched; undeclared entity references such as
// "&nbsp;" are kept as literal text. Per item: guid (else the enclosure URL), title, the first
// enclosure with a url, itunes:duration, pubDate (fields that fail to parse are left unset) and
// every podcast:transcript with a url (language defaults to the channel's). Extension elements
// are matched by namespace URI whatever their prefix; a prefix declared nowhere falls back to
// its conventional meaning ("itunes", "podcast"). Thread-safe; REQUIRES: the caller bounds the
// size of `xml` (the document tree takes a few times its size in memory).
Result<ParsedFeed> ParseRss(std::string_view xml);

// itunes:duration in all its forms: "3600", "3600.5", "59:59", "1:02:03", "01:02:03.250".
// Seconds, M:SS / MM:SS or H:MM:SS, fraction on the last field only; surrounding whitespace is
// ignored. The leading field may exceed 59 ("75:00"), the others may not. nullopt for anything
// else: empty, negative, junk, four fields, over 100 years.
std::optional<Millis> ParseItunesDuration(std::string_view text);

// RFC 822/2822 dates ("Wed, 02 Oct 2002 13:00:00 GMT", "+0200", "EST"), then ISO 8601.
// RFC form: optional day-of-week, 1-2 digit day, English month name (3+ letters, any case), 2-,
// 3- or 4-digit year (RFC 2822 rules: 00-49 -> 20xx), HH:MM[:SS], zone GMT/UT/UTC/Z, US zones,
// +HHMM/-HHMM/+HH:MM, or none (UTC), then an optional "(comment)". ISO form: YYYY-MM-DD, optionally
// followed by [T| ]HH:MM[:SS[.fff]] and Z/+HH[:MM]/none (UTC). nullopt when neither matches or a
// field is out of range (Feb 30, hour 24, unknown zone name).
std::optional<TimePoint> ParseFeedDate(std::string_view text);

}  // namespace podfleet
