// Many files as one ZIP or gzipped tar archive, in memory, written by libarchive: a feed's
// transcripts exported in one download (routes_publish.cc).
#pragma once

#include <string>
#include <vector>

#include "core/clock.h"
#include "core/error.h"

namespace podfleet {

enum class ArchiveFormat { kZip, kTarGz };

struct ArchiveFile {
  std::string path;  // relative, '/'-separated, ASCII (names are not converted)
  std::string data;
};

// The archive of `files` (regular files, mode 0644, modified at `mtime`), in order. ZIP entries
// are deflated. kInternal when libarchive fails.
Result<std::string> WriteArchive(ArchiveFormat format, const std::vector<ArchiveFile>& files,
                                 TimePoint mtime);

}  // namespace podfleet
