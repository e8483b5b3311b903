// Reading OPML subscription lists: the feed URLs a user wants transcribed.
// See ../shared/specs/podcasting20-transcripts.md section 8.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace podfleet {

// The feed URLs of an OPML document, in document order without duplicates. A feed is any
// <outline> with a non-empty xmlUrl attribute (the name matched case-insensitively: exporters
// write xmlURL, xmlurl), whatever its type, at any depth under <body> (folders nest outlines).
// kInvalidArgument "malformed OPML: ..." when the input is not well-formed XML, declares entities
// (see feeds/xml.h), or its root element is not <opml>. A well-formed OPML with no feeds gives an
// empty list. No network is touched. Thread-safe.
Result<std::vector<std::string>> ParseOpml(std::string_view xml);

// One subscription as WriteOpml writes it.
struct OpmlOutline {
  std::string title;
  std::string xml_url;
};

// An OPML 2.0 document listing `outlines` as <outline type="rss" text=".." title=".."
// xmlUrl=".."/> under <body>, with `title` in <head>; text is escaped, so any title is safe.
// ParseOpml reads back the same URLs in the same order.
std::string WriteOpml(std::string_view title, const std::vector<OpmlOutline>& outlines);

}  // namespace podfleet
