// One coordinator per data directory: an exclusive flock(2) on <data>/coordinator.lock, held for
// the coordinator's life. Two coordinators on one directory would race on the relay's scratch
// files and download every episode twice (issue 19, finding 1).
//
// The file holds one line, "PID START_UNIX_MS URL", so that a refused second start and a CLI
// command can say who holds it and reach its API. The kernel drops the lock when the holder dies,
// however it dies; the stale line left behind is overwritten by the next holder.
//
// Thread safety: a DataDirLock is not shared; Holder() may be called from any process.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "core/clock.h"
#include "core/error.h"
#include "core/units.h"

namespace podfleet {

inline constexpr char kDataDirLockFile[] = "coordinator.lock";

// Who holds a data directory's lock.
struct LockHolder {
  int64_t pid = 0;
  TimePoint since;
  std::string url;  // the holder's API, once it listens; empty before
  // "PID 1234 since 2026-12-04 18:49:40 UTC (http://127.0.0.1:8750)"
  std::string Describe() const;
};

class DataDirLock {
 public:
  // Takes the lock on `dir` (which must exist) without waiting. kConflict "data directory D is
  // already used by PID ... since ..." when another process holds it; kUnavailable when the lock
  // file cannot be opened or written.
  static Result<DataDirLock> Acquire(const std::filesystem::path& dir, TimePoint now);

  // The process holding `dir`'s lock, or nullopt when none does (probed with a non-blocking
  // shared lock that is released at once).
  static std::optional<LockHolder> Holder(const std::filesystem::path& dir);

  DataDirLock(DataDirLock&& other) noexcept;
  DataDirLock& operator=(DataDirLock&&) = delete;
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;
  ~DataDirLock();  // releases the lock

  // Records the API's URL in the lock file once the coordinator listens.
  Result<void> SetUrl(const std::string& url);

 private:
  DataDirLock(int fd, LockHolder self) : fd_(fd), self_(std::move(self)) {}
  Result<void> WriteLine();

  int fd_;  // owned; -1 after a move
  LockHolder self_;
};

}  // namespace podfleet
