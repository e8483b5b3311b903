// Reading multipart/form-data request bodies (RFC 7578): the OpenAI-compatible upload route's
// reader of outside input. Bounded: at most `max_parts` parts, `max_header_bytes` of headers per
// part and `max_field_bytes` per non-file field; anything malformed or over a limit is
// kInvalidArgument with a message saying what, and nothing is partly returned.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace podfleet {

struct MultipartLimits {
  size_t max_parts = 64;
  size_t max_header_bytes = 8 * 1024;
  size_t max_field_bytes = 64 * 1024;  // parts without a filename
};

// One part. `data` points into the body given to ParseMultipart and lives as long as it does.
struct MultipartPart {
  std::string name;          // from Content-Disposition: form-data; name="..."
  std::string filename;      // empty for plain fields
  bool is_file = false;      // a filename parameter was present (even an empty one)
  std::string content_type;  // the part's Content-Type, or empty
  std::string_view data;
};

// The boundary of a "multipart/form-data; boundary=..." Content-Type (quoted or not).
// kInvalidArgument when the type is another one or the boundary is missing, empty or over 70 bytes.
Result<std::string> MultipartBoundary(std::string_view content_type);

// Splits `body` at `boundary`. Preamble and epilogue are ignored; every part needs a
// Content-Disposition of form-data with a name; the closing delimiter is required.
Result<std::vector<MultipartPart>> ParseMultipart(std::string_view body, std::string_view boundary,
                                                  const MultipartLimits& limits = {});

}  // namespace podfleet
