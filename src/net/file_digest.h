// Digests of files, streamed through OpenSSL: model checksums (models pull), worker bundles.
//
// Thread safety: may be called concurrently.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "core/error.h"

namespace podfleet {

// The lower-case hex digest of the file's bytes with OpenSSL's digest `algorithm` ("sha1",
// "sha256"). kUnavailable when the file cannot be read; kInvalidArgument for an unknown algorithm.
Result<std::string> FileDigest(const std::filesystem::path& path, std::string_view algorithm);

}  // namespace podfleet
