#include "core/growing_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace podfleet {
namespace {

// A writer's Grew may come before its bytes leave its stdio buffer; a read that found nothing
// looks again after this even without another Grew.
constexpr std::chrono::milliseconds kRecheck{50};

}  // namespace

GrowingFile::GrowingFile(std::filesystem::path path) : path_(std::move(path)) {}

GrowingFile::~GrowingFile() {
  MutexLock lock(mu_);
  if (fd_ >= 0) ::close(fd_);
}

void GrowingFile::Grew() {
  {
    MutexLock lock(mu_);
    ++grown_;
  }
  changed_.notify_all();
}

void GrowingFile::Announced(int64_t bytes) {
  MutexLock lock(mu_);
  announced_ = bytes;
}

std::optional<int64_t> GrowingFile::ExpectedSize() {
  MutexLock lock(mu_);
  return announced_;
}

void GrowingFile::Finished(std::filesystem::path path) {
  {
    MutexLock lock(mu_);
    path_ = std::move(path);
    finished_ = true;
  }
  changed_.notify_all();
}

void GrowingFile::Failed(Error error) {
  {
    MutexLock lock(mu_);
    failed_ = std::move(error);
  }
  changed_.notify_all();
}

bool GrowingFile::cancelled() const {
  MutexLock lock(mu_);
  return cancelled_;
}

void GrowingFile::Cancel() {
  {
    MutexLock lock(mu_);
    cancelled_ = true;
  }
  changed_.notify_all();
}

std::optional<Error> GrowingFile::failure() const {
  MutexLock lock(mu_);
  if (cancelled_) return std::nullopt;
  return failed_;
}

Result<bool> GrowingFile::Open() {
  if (fd_ >= 0) return true;
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ >= 0) return true;
  // Not created yet, or renamed between our look and the writer's Finished.
  if (errno == ENOENT && !finished_) return false;
  return Unavailable(fmt::format("open {}: {}", path_.string(), std::strerror(errno)));
}

Result<size_t> GrowingFile::ReadAt(int64_t offset, std::span<unsigned char> buffer) {
  size_t done = 0;
  MutexLock lock(mu_);
  while (done < buffer.size()) {
    if (cancelled_) return Unavailable("cancelled");
    if (failed_) return std::unexpected(*failed_);
    // Whether the writer had finished before this read: then a short read is the end.
    const bool whole = finished_;
    const uint64_t grown = grown_;
    Result<bool> open = Open();
    if (!open) return std::unexpected(open.error());
    if (*open) {
      const int fd = fd_;
      lock.unlock();  // the writer's Grew must not wait for the disk
      const ssize_t n = ::pread(fd, buffer.data() + done, buffer.size() - done,
                                static_cast<off_t>(offset) + static_cast<off_t>(done));
      const int read_errno = errno;
      lock.lock();
      if (n < 0 && read_errno != EINTR)
        return Unavailable(fmt::format("read {}: {}", path_.string(), std::strerror(read_errno)));
      if (n > 0) {
        done += static_cast<size_t>(n);
        continue;
      }
      if (n == 0 && whole) break;
    }
    if (done > 0) break;  // what is there now; the caller asks again for more
    changed_.wait_for(lock, kRecheck, [&]() REQUIRES(mu_) {
      return grown_ != grown || finished_ || cancelled_ || failed_.has_value();
    });
  }
  return done;
}

Result<std::filesystem::path> GrowingFile::WaitFinished() {
  MutexLock lock(mu_);
  changed_.wait(lock, [&]() REQUIRES(mu_) { return finished_ || cancelled_ || failed_; });
  if (cancelled_) return Unavailable("cancelled");
  if (failed_) return std::unexpected(*failed_);
  return path_;
}

std::optional<int64_t> GrowingFile::Size() {
  MutexLock lock(mu_);
  if (!finished_) return std::nullopt;
  if (!size_) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path_, ec);
    if (!ec) size_ = static_cast<int64_t>(size);
  }
  return size_;
}

}  // namespace podfleet
