// A mirror of a podcast feed: the original document with a <podcast:transcript> tag per format
// added to each item that has a transcript (Podcasting 2.0,
// shared/specs/podcasting20-transcripts.md).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace podfleet {

struct MirrorLink {
  std::string url;        // absolute
  std::string type;       // MIME type
  std::string language;   // "" leaves the attribute out (the channel's <language> applies)
  bool captions = false;  // rel="captions": the file carries timecodes
};

// `document` as it was fetched, with `links[key]` appended (in order, after the item's own
// children) to each <item> whose key matches: its <guid> text, else its <enclosure url>. Every
// other node is written back as read (pugixml reserializes: entities may be spelled differently;
// comments, the declaration and whitespace are kept). The podcast namespace is declared on the
// root when the document does not declare it; an existing declaration's prefix is reused.
// Tags the item already had are kept. kInvalidArgument when `document` is not well-formed XML or
// not RSS (<rss><channel>).
Result<std::string> MirrorFeed(std::string_view document,
                               const std::map<std::string, std::vector<MirrorLink>>& links);

}  // namespace podfleet
