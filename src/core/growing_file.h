// A file that one thread is still writing (a download's .part file) and another reads as it
// grows: a read past what is there waits for more bytes, for the writer's end or for its failure,
// instead of seeing the end of the file.
//
// The writer tells how it goes: Grew (more bytes may be in the file), Finished (complete, under
// its final name: a download renames its .part when done) or Failed (it never will be). The
// reader reads with ReadAt, or waits for the whole file with WaitFinished, and may Cancel: the
// writer then sees cancelled() and should stop. The bytes at an offset must not change once
// written; a writer that starts over (a server that ignored a Range) writes the same bytes
// again, and a read waits until they are back.
//
// Thread safety: every method may be called from any thread. The reader's side (ReadAt, Size)
// is for one reader at a time; the file descriptor it reads through is its own.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>

#include "core/error.h"
#include "core/thread_annotations.h"

namespace podfleet {

class GrowingFile {
 public:
  // A file being written at `path`. One already whole (an upload) is Finished at once.
  explicit GrowingFile(std::filesystem::path path);
  ~GrowingFile();
  GrowingFile(const GrowingFile&) = delete;
  GrowingFile& operator=(const GrowingFile&) = delete;

  // ---- the writer ----
  void Grew() EXCLUDES(mu_);
  // The whole file will be `bytes` long, as the origin announced (Content-Length).
  void Announced(int64_t bytes) EXCLUDES(mu_);
  // The file is whole, now at `path` (it may have been renamed).
  void Finished(std::filesystem::path path) EXCLUDES(mu_);
  void Failed(Error error) EXCLUDES(mu_);
  // The reader gave up: the writer should stop.
  bool cancelled() const EXCLUDES(mu_);

  // ---- the reader ----
  // Reads up to buffer.size() bytes at `offset`, waiting while there are none yet and the writer
  // may still add some. Returns the bytes read: at least one, or 0 at the end of the whole file
  // (those there when fewer than asked have come). Errors:
  // the writer's failure (as given to Failed); kUnavailable "cancelled" after Cancel; kUnavailable
  // when the file cannot be read.
  Result<size_t> ReadAt(int64_t offset, std::span<unsigned char> buffer) EXCLUDES(mu_);
  // Waits until the writer finished; the whole file's path, or the writer's failure.
  Result<std::filesystem::path> WaitFinished() EXCLUDES(mu_);
  // The whole file's size once finished; nullopt while it may still grow.
  std::optional<int64_t> Size() EXCLUDES(mu_);
  // The size the writer announced; nullopt when it did not. Not the whole file's size once
  // finished: a reader that asks while the writer works sees the same answer whatever the timing.
  std::optional<int64_t> ExpectedSize() EXCLUDES(mu_);
  // Stops waiting: reads fail with kUnavailable "cancelled" and the writer sees cancelled().
  void Cancel() EXCLUDES(mu_);
  // The writer's failure, if it failed on its own (not after Cancel).
  std::optional<Error> failure() const EXCLUDES(mu_);

 private:
  // Opens fd_ (the writer may not have created the file yet); false if it is not there yet.
  Result<bool> Open() REQUIRES(mu_);

  mutable Mutex mu_;
  std::condition_variable_any changed_;
  std::filesystem::path path_ GUARDED_BY(mu_);
  uint64_t grown_ GUARDED_BY(mu_) = 0;  // Grew calls so far
  bool finished_ GUARDED_BY(mu_) = false;
  bool cancelled_ GUARDED_BY(mu_) = false;
  std::optional<Error> failed_ GUARDED_BY(mu_);
  std::optional<int64_t> size_ GUARDED_BY(mu_);       // once finished
  std::optional<int64_t> announced_ GUARDED_BY(mu_);  // by the writer
  int fd_ GUARDED_BY(mu_) = -1;
};

}  // namespace podfleet
