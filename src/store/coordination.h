// What several coordinators sharing one PostgreSQL store need from it beyond the Store itself
// (doc/scale.md): news that work was queued elsewhere (WorkListener), and which of them runs each
// periodic task (TaskLocks). On SQLite there is one coordinator per data directory: no listener,
// and every task lock is always held.
//
// Thread safety: see each class.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"

namespace podfleet {

// Holds one dedicated connection that LISTENs on the channel PgStore NOTIFYs whenever a
// transaction, in any process, queues work, releases or requeues a job, or hands the relay one to
// prepare (store_pg.h, kWorkChannel), and calls `poke` on its own thread for each notification
// (several at once may be folded into one call). When the connection breaks (a server restart)
// it reconnects, pacing its attempts, and calls `poke` once it listens again, since
// notifications sent meanwhile were lost. `poke` must be quick and must not block; callers keep
// polling as the fallback (a poke is news, not a guarantee).
//
// Thread safety: the destructor stops the thread (within ~100 ms); `listens` may be called from
// any thread.
class WorkListener {
 public:
  virtual ~WorkListener() = default;
  // How many times the connection has started listening (1 after the start, +1 per reconnect).
  virtual int listens() const = 0;
};

// Connects to `conninfo` and LISTENs before returning, so a NOTIFY committed after the return is
// seen. kUnavailable when the server cannot be reached; kInvalidArgument for a malformed string.
Result<std::unique_ptr<WorkListener>> ListenForWork(const std::string& conninfo,
                                                    std::function<void()> poke);

// Who runs a periodic task (reaping expired leases, polling feeds) when several coordinators
// share a store: the one holding the task's lock. On PostgreSQL each task is a session-level
// advisory lock (pg_try_advisory_lock, keyed by the task's name) on one connection the TaskLocks
// keeps for this purpose: once taken it stays with this process until the process ends, stops or
// loses that connection; the server then frees it and another coordinator takes it on its next
// try. A task's loop calls Hold before each pass and skips the pass when it is false.
//
// Thread safety: Hold may be called from any thread.
class TaskLocks {
 public:
  virtual ~TaskLocks() = default;
  // True when this process holds `task`'s lock, taking it when free; false when another process
  // holds it, or the database cannot be reached (then nobody can run the task anyway).
  virtual bool Hold(std::string_view task) = 0;
  // Gives up `task`'s lock if this process holds it, so that another coordinator takes it on its
  // next try: for a coordinator that cannot run the task now (its store stopped writing).
  virtual void Release(std::string_view task) = 0;
};

// The SQLite store's: every task's lock is always held (one coordinator per store).
std::unique_ptr<TaskLocks> SoleTaskLocks();

// Advisory locks on the PostgreSQL database `conninfo` names; connects on first use, and again
// after the connection broke (the locks it held are then free for anyone).
std::unique_ptr<TaskLocks> PgTaskLocks(const std::string& conninfo);

}  // namespace podfleet
