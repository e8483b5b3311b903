// coordination.h: LISTEN/NOTIFY and advisory locks on PostgreSQL; SQLite's sole task locks.
#include <atomic>
#include <set>
#include <thread>

#include "core/clock.h"
#include "core/retry_pacer.h"
#include "core/thread_annotations.h"
#include "store/coordination.h"
#include "store/store_pg.h"

namespace podfleet {
namespace {

// How long one wait for notifications lasts: the most a stop waits for the thread.
constexpr int kWaitMs = 100;

Result<PgConn> ConnectListening(const std::string& conninfo) {
  Result<PgConn> conn = PgConn::Connect(conninfo);
  if (!conn) return conn;
  if (Result<void> r = conn->Exec(fmt::format("LISTEN {}", pg::kWorkChannel)); !r)
    return std::unexpected(r.error());
  return conn;
}

class PgWorkListener final : public WorkListener {
 public:
  PgWorkListener(std::string conninfo, PgConn conn, std::function<void()> poke)
      : conninfo_(std::move(conninfo)),
        poke_(std::move(poke)),
        thread_([this, c = std::move(conn)](const std::stop_token& stop) mutable {
          Loop(std::move(c), stop);
        }) {}
  ~PgWorkListener() override {
    thread_.request_stop();
    if (thread_.joinable()) thread_.join();
  }

  int listens() const override { return listens_.load(); }

 private:
  void Loop(PgConn conn, const std::stop_token& stop) {
    RetryPacer pacer("work listener", Millis(100), Millis(5'000));
    std::optional<PgConn> c(std::move(conn));
    while (!stop.stop_requested()) {
      if (!c) {
        Result<PgConn> fresh = ConnectListening(conninfo_);
        if (!fresh) {
          const Millis wait = pacer.Failed(fresh.error());
          if (!SleepFor(wait, stop)) return;
          continue;
        }
        pacer.Succeeded();
        c.emplace(std::move(*fresh));
        listens_.fetch_add(1);
        poke_();  // what was queued while we did not listen
      }
      Result<std::vector<std::string>> got = c->WaitForNotifications(kWaitMs);
      if (!got) {
        c.reset();
        continue;
      }
      if (!got->empty()) poke_();
    }
  }

  // Constant after construction.
  const std::string conninfo_;
  const std::function<void()> poke_;

  std::atomic<int> listens_{1};
  std::jthread thread_;  // last: starts once the members above exist
};

// The first key of every task lock (two-int4 form: apart from the schema's bigint lock): "podf".
constexpr int kTaskLockSpace = 0x706f6466;

class PgLocks final : public TaskLocks {
 public:
  explicit PgLocks(std::string conninfo) : conninfo_(std::move(conninfo)) {}
  // Frees the locks at once rather than when the server notices the connection closed.
  ~PgLocks() override {
    MutexLock lock(mu_);
    if (conn_ && !held_.empty()) (void)conn_->Exec("SELECT pg_advisory_unlock_all()");
  }

  bool Hold(std::string_view task) override EXCLUDES(mu_) {
    MutexLock lock(mu_);
    if (conn_ && !conn_->Ok()) Forget();
    if (!conn_) {
      Result<PgConn> fresh = PgConn::Connect(conninfo_);
      if (!fresh) return false;
      conn_.emplace(std::move(*fresh));
    }
    const std::string name(task);
    // A lock held is checked by a round trip: a connection that broke since loses them all.
    Result<int64_t> held =
        held_.contains(name)
            ? QueryOne(*conn_, ReadPgInt, "check", "SELECT 1")
            : QueryOne(*conn_, ReadPgInt, "lock", "SELECT pg_try_advisory_lock($1, hashtext($2))",
                       kTaskLockSpace, name);
    if (!held) {
      Forget();
      return false;
    }
    if (*held == 1) held_.insert(name);
    return *held == 1;
  }

  void Release(std::string_view task) override EXCLUDES(mu_) {
    MutexLock lock(mu_);
    const std::string name(task);
    if (!conn_ || !held_.contains(name)) return;
    Result<int64_t> r =
        QueryOne(*conn_, ReadPgInt, "unlock", "SELECT pg_advisory_unlock($1, hashtext($2))::int",
                 kTaskLockSpace, name);
    if (!r) Forget();  // the connection broke: the server frees the lock anyway
    held_.erase(name);
  }

 private:
  void Forget() REQUIRES(mu_) {
    conn_.reset();
    held_.clear();
  }

  const std::string conninfo_;
  Mutex mu_;
  std::optional<PgConn> conn_ GUARDED_BY(mu_);
  std::set<std::string> held_ GUARDED_BY(mu_);  // the tasks whose locks conn_ holds
};

class SoleLocks final : public TaskLocks {
 public:
  bool Hold(std::string_view) override { return true; }
  void Release(std::string_view) override {}
};

}  // namespace

std::unique_ptr<TaskLocks> SoleTaskLocks() { return std::make_unique<SoleLocks>(); }

std::unique_ptr<TaskLocks> PgTaskLocks(const std::string& conninfo) {
  return std::make_unique<PgLocks>(conninfo);
}

Result<std::unique_ptr<WorkListener>> ListenForWork(const std::string& conninfo,
                                                    std::function<void()> poke) {
  Result<PgConn> conn = ConnectListening(conninfo);
  if (!conn) return std::unexpected(conn.error());
  return std::make_unique<PgWorkListener>(conninfo, std::move(*conn), std::move(poke));
}

}  // namespace podfleet
