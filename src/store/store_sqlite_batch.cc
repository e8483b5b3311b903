// SqliteStore: the write queue (group commit) and the pool of read connections. See the class
// comment in store_sqlite.h.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "store/store_sqlite.h"

namespace podfleet {
namespace {

// As the write connection's (store_sqlite.cc): a reader waits this long for a lock.
constexpr int kReaderBusyTimeoutMs = 5'000;

}  // namespace

void SqliteStore::Submit(Writer& w) {
  MutexLock lock(queue_mu_);
  writers_.push_back(&w);
  while (!w.done && writers_.front() != &w) w.wake.wait(lock);
  if (w.done) return;  // a leader ran it in its batch
  std::vector<Writer*> batch;
  for (Writer* queued : writers_) {
    if (batch.size() == kMaxBatch) break;
    batch.push_back(queued);
  }
  lock.unlock();
  {
    MutexLock db_lock(db_mu_);
    RunBatch(batch);
  }
  lock.lock();
  // Under the lock: a caller answered returns, and its Writer goes, only once it holds it again.
  for (Writer* done : batch) {
    writers_.pop_front();  // the batch is the head of the queue, in order
    done->done = true;
    if (done != &w) done->wake.notify_one();
  }
  if (!writers_.empty()) writers_.front()->wake.notify_one();  // the next leader
}

void SqliteStore::RunBatch(const std::vector<Writer*>& batch) {
  std::vector<Writer*> pending = batch;
  while (!pending.empty()) {
    if (stopped_.load()) {
      for (Writer* w : pending) w->error = StopError();
      return;
    }
    Result<Transaction> tx = Transaction::Begin(db_, Transaction::Kind::kWrite);
    if (!tx) {
      for (Writer* w : pending) w->error = tx.error();
      return;
    }
    // A body whose failure ended the transaction keeps its error; the others run again.
    auto killer = std::find_if(pending.begin(), pending.end(), [&](Writer* w) REQUIRES(db_mu_) {
      const bool ok = RunInSavepoint(*w);
      if (db_.InAutocommit() && ok)
        w->error = Unavailable("write: the transaction was rolled back").error();
      return db_.InAutocommit();
    });
    if (killer != pending.end()) {
      pending.erase(killer);
      continue;
    }
    if (Result<void> r = tx->Commit(); !r) {
      Stop(StopAfter(r.error()));
      for (Writer* w : pending) w->error = r.error();
    }
    return;
  }
}

bool SqliteStore::RunInSavepoint(Writer& w) {
  if (Result<int64_t> r = db_.Run("SAVEPOINT batch_writer"); !r) {
    w.error = r.error();
    return false;
  }
  bool ok = false;
  try {
    ok = w.body(db_);
  } catch (const std::exception& e) {
    w.error = Internal(fmt::format("write: {}", e.what())).error();
  }
  if (db_.InAutocommit()) return ok;  // the failure ended the whole transaction
  if (!ok) (void)db_.Run("ROLLBACK TO batch_writer");
  (void)db_.Run("RELEASE batch_writer");
  return ok;
}

Result<Db> SqliteStore::TakeReader() {
  {
    MutexLock lock(readers_mu_);
    if (!readers_.empty()) {
      Db db = std::move(readers_.back());
      readers_.pop_back();
      return db;
    }
  }
  Result<Db> db = Db::Open(path_, kReaderBusyTimeoutMs);
  if (!db) return db;
  if (Result<void> r = db->Exec("PRAGMA query_only = ON"); !r) return std::unexpected(r.error());
  return db;
}

void SqliteStore::ReturnReader(Db db) {
  MutexLock lock(readers_mu_);
  readers_.push_back(std::move(db));
}

Error SqliteStore::StopAfter(const Error& cause) {
  return Error{Code::kUnavailable,
               fmt::format("the store stopped writing after a commit failed ({}); whether that "
                           "change was saved is unknown until the coordinator restarts",
                           cause.message)};
}

void SqliteStore::Stop(Error why) {
  MutexLock lock(health_mu_);
  if (stop_error_) return;
  fmt::print(stderr, "store: {}\n", why.message);
  std::fflush(stderr);
  stop_error_ = std::move(why);
  stopped_.store(true);
}

Error SqliteStore::StopError() const {
  MutexLock lock(health_mu_);
  return stop_error_.value_or(Error{Code::kUnavailable, "the store stopped writing"});
}

Result<void> SqliteStore::CheckHealth() {
  if (!stopped_.load()) return {};
  return std::unexpected(StopError());
}

}  // namespace podfleet
