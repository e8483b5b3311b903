// Readers for transcripts without timing, as feeds link them (text/plain, text/html). Same
// contract as the readers in formats.h: untrusted bytes in, a Transcript or kInvalidArgument out,
// linear cost, thread-safe.
#pragma once

#include <string_view>

#include "core/error.h"
#include "core/model.h"

namespace podfleet {

// Reads a plain-text transcript: one segment per paragraph (lines joined by spaces, paragraphs
// separated by blank lines), without times (all zero). A paragraph starting "Name: " (a name of
// at most 40 bytes without sentence punctuation) names its speaker. kInvalidArgument
// "not text: ..." for input with NUL bytes or invalid UTF-8; blank input gives no segments.
Result<Transcript> ReadPlainText(std::string_view text);

// Reads an HTML transcript: each block element (p, div, li, h1-h6, tr, section, article, br)
// ends a paragraph of ReadPlainText; script and style are skipped, comments and tags dropped,
// character references decoded.
Result<Transcript> ReadHtmlTranscript(std::string_view html);

}  // namespace podfleet
