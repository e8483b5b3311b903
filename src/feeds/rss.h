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
// kInvalidArgument "malformed feed: ..." when it is not well-formed XML or not RSS.
// No external entities are loaded and no network is touched.
Result<ParsedFeed> ParseRss(std::string_view xml);

// itunes:duration in all its forms: "3600", "3600.5", "59:59", "1:02:03", "01:02:03.250".
std::optional<Millis> ParseItunesDuration(std::string_view text);

// RFC 822/2822 dates ("Wed, 02 Oct 2002 13:00:00 GMT", "+0200", "EST"), then ISO 8601.
std::optional<TimePoint> ParseFeedDate(std::string_view text);

}  // namespace podfleet
