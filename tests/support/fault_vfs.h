// A fault-injecting SQLite VFS for tests, which also counts syncs: it wraps the default VFS (the
// real file system) and, when told to, makes every fsync fail with SQLITE_IOERR_FSYNC, as a dying
// disk does. A COMMIT that meets the failure returns an error although its pages may already be in
// the WAL: the ambiguous commit failure the store must not guess about (store.h, CheckHealth).
//
// While a FaultVfs exists it is SQLite's default VFS, so code under test opens databases through
// it without knowing (the coordinator, OpenSqliteStore). Only connections opened after it was
// created use it. One at a time per process; create and destroy it on the test's thread, with no
// connection open through it when it is destroyed.
#pragma once

#include <atomic>

struct sqlite3_vfs;

namespace podfleet {

class FaultVfs {
 public:
  FaultVfs();
  ~FaultVfs();
  FaultVfs(const FaultVfs&) = delete;
  FaultVfs& operator=(const FaultVfs&) = delete;

  // While on, every xSync fails. Thread-safe.
  void FailSyncs(bool on) { fail_syncs_ = on; }
  // How many syncs failed so far. Thread-safe.
  int failed_syncs() const { return failed_syncs_; }

  // How many syncs were asked for so far, failed or not (durable commits cost one or more each).
  // Thread-safe.
  int syncs() const { return syncs_; }

  // For the VFS callbacks.
  bool TakeSyncFault();

 private:
  sqlite3_vfs* real_;  // the default VFS before this one
  std::atomic<bool> fail_syncs_{false};
  std::atomic<int> failed_syncs_{0};
  std::atomic<int> syncs_{0};
};

}  // namespace podfleet
