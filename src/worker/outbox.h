// The worker's outbox: finished transcripts kept on the worker's disk until the coordinator has
// acknowledged (or definitively refused) them, so that a transcript survives a coordinator outage
// and a worker restart.
//
// Format: one file per finished attempt, `<dir>/job-<job id>-<attempt id>.json`, holding one JSON
// object:
//   {"version": 1, "lease": <api/wire.h ToJson(Lease)>, "transcript": <ToJson(Transcript)>}
// A file is written as `<name>.tmp`, fsync'd, renamed into place and the directory fsync'd, so a
// file with the final name is always complete. Leftover `*.tmp` files (a crash mid-write) are
// ignored by Pending and may be deleted. Files of another version are reported as kCorruption and
// left where they are.
//
// Thread safety: an Outbox is safe for concurrent use; distinct leases touch distinct files. One
// worker owns a work directory (worker.cc locks it), so no other process writes the outbox.
#pragma once

#include <filesystem>
#include <vector>

#include "core/error.h"
#include "core/model.h"

namespace podfleet {

struct OutboxEntry {
  std::filesystem::path path;
  Lease lease;
  Transcript transcript;
};

// Writes `bytes` to a new file at `dir`/.probe, fsyncs and removes it: whether this node can
// write there now (a full or read-only disk is the node's fault, not a job's). kUnavailable
// "cannot write DIR/.probe: No space left on device" when not.
Result<void> ProbeWritable(const std::filesystem::path& dir, size_t bytes);

class Outbox {
 public:
  explicit Outbox(std::filesystem::path dir);

  const std::filesystem::path& dir() const { return dir_; }

  // Creates the directory and removes the temp files (*.tmp) an interrupted Put left there.
  // kUnavailable if it cannot be created.
  Result<void> Create() const;
  // Durably writes the finished attempt and returns the file's path. kUnavailable on I/O errors
  // (its temp file is then removed).
  Result<std::filesystem::path> Put(const Lease& lease, const Transcript& transcript) const;
  // Files waiting for upload, oldest job first. kUnavailable if the directory cannot be read.
  Result<std::vector<std::filesystem::path>> Pending() const;
  // Reads one file. kCorruption if it is not an outbox file; kUnavailable if it cannot be read.
  static Result<OutboxEntry> Load(const std::filesystem::path& path);
  // Removes a delivered file. kUnavailable if it cannot be removed.
  static Result<void> Remove(const std::filesystem::path& path);

 private:
  const std::filesystem::path dir_;
};

}  // namespace podfleet
