// A fresh directory for one test, removed with everything in it when the TempDir goes away.
// Not copyable. Not thread-safe to destroy while other threads still use the files.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace podfleet {

class TempDir {
 public:
  // Creates "podfleet-XXXXXX" under $TMPDIR (or /tmp). Throws std::system_error on failure, which
  // GoogleTest reports as the test's failure.
  TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::filesystem::path& path() const { return path_; }
  // path() / name, as a string.
  std::string File(std::string_view name) const;

 private:
  std::filesystem::path path_;
};

}  // namespace podfleet
