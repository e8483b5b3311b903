#include "coordinator/data_dir_lock.h"

#include <fcntl.h>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

namespace podfleet {
namespace {

std::filesystem::path LockPath(const std::filesystem::path& dir) { return dir / kDataDirLockFile; }

LockHolder ReadHolder(const std::filesystem::path& dir) {
  LockHolder h;
  std::ifstream in(LockPath(dir));
  int64_t since_ms = 0;
  in >> h.pid >> since_ms >> h.url;
  h.since = FromUnixMillis(since_ms);
  return h;
}

}  // namespace

std::string LockHolder::Describe() const {
  const std::time_t at = ToUnixMillis(since) / 1000;
  std::string s = pid > 0
                      ? fmt::format("PID {} since {:%Y-%m-%d %H:%M:%S} UTC", pid, fmt::gmtime(at))
                      : std::string("a process that has not said who it is yet");
  if (!url.empty()) s += fmt::format(" ({})", url);
  return s;
}

Result<DataDirLock> DataDirLock::Acquire(const std::filesystem::path& dir, TimePoint now) {
  const auto path = LockPath(dir);
  const int fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (fd < 0)
    return Unavailable(fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err != EWOULDBLOCK)
      return Unavailable(fmt::format("cannot lock {}: {}", path.string(), std::strerror(err)));
    return Conflict(fmt::format(
        "data directory {} is already used by {}: one coordinator per data directory (stop the "
        "other `podfleet serve` or `up` first, or give this one another --data)",
        dir.string(), ReadHolder(dir).Describe()));
  }
  DataDirLock lock(fd, LockHolder{static_cast<int64_t>(::getpid()), now, ""});
  if (Result<void> r = lock.WriteLine(); !r) return std::unexpected(r.error());
  return lock;
}

std::optional<LockHolder> DataDirLock::Holder(const std::filesystem::path& dir) {
  const int fd = ::open(LockPath(dir).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  const bool held = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);  // drops the shared lock if it was taken
  if (!held) return std::nullopt;
  return ReadHolder(dir);
}

DataDirLock::DataDirLock(DataDirLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), self_(std::move(other.self_)) {}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the descriptor releases the flock
}

Result<void> DataDirLock::SetUrl(const std::string& url) {
  self_.url = url;
  return WriteLine();
}

Result<void> DataDirLock::WriteLine() {
  const std::string line =
      fmt::format("{} {} {}\n", self_.pid, ToUnixMillis(self_.since), self_.url);
  if (::ftruncate(fd_, 0) != 0 ||
      ::pwrite(fd_, line.data(), line.size(), 0) != static_cast<ssize_t>(line.size()))
    return Unavailable(
        fmt::format("cannot write the data directory's lock file: {}", std::strerror(errno)));
  return {};
}

}  // namespace podfleet
