// The operator's admin token: one bearer secret that every mutating operator route requires
// (adding, refreshing and removing feeds; adding, uploading and retrying episodes).
//
// It lives in `<data dir>/admin.token`: one line, the token ("pfa_..."), mode 0600, created on
// the coordinator's first start and reused on every later one. A file and not the store, because
// the operator needs the token itself, not a hash: `podfleet feed add` on the coordinator's
// machine reads it from there by default, and whoever owns the data directory is the operator
// anyway (they can edit the database). The store keeps only hashes of secrets, so it could not
// hand the token back. To replace the token, delete the file and restart the coordinator.
//
// Thread safety: the functions may be called concurrently; two coordinators creating the file at
// once both end up with the one that was linked into place first.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "core/error.h"

namespace podfleet {

inline constexpr const char* kAdminTokenFile = "admin.token";

struct AdminToken {
  std::string hash;                    // HashToken(token): all the coordinator keeps
  std::optional<std::string> created;  // the token, when this call created the file
};

// Reads the token in `path`, or writes a new one there (mode 0600) if there is no file.
// kCorruption if the file holds no admin token (delete it to get a new one); kUnavailable if it
// cannot be read or written.
Result<AdminToken> LoadOrCreateAdminToken(const std::filesystem::path& path);

// The token in `path`. kNotFound if there is no such file; kUnavailable if it cannot be read;
// kCorruption if it holds no admin token.
Result<std::string> ReadAdminToken(const std::filesystem::path& path);

}  // namespace podfleet
