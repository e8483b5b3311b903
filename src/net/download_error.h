// What a failed HttpClient::Download says about where it failed: a download that could not write
// its file (a full or read-only disk) failed on this machine, not at the server.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace podfleet {

// The start of the message of a download that failed writing its file (errno's text follows).
inline constexpr std::string_view kDownloadWriteFailed = "write download of ";

// Whether `error` is a download's failure to write its own file (kDownloadWriteFailed).
inline bool IsDownloadWriteFailure(const Error& error) {
  return error.code == Code::kUnavailable && error.message.starts_with(kDownloadWriteFailed);
}

}  // namespace podfleet
