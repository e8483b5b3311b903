#include "store/sqlite_db.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <mutex>
#include <utility>

namespace podfleet {
namespace {

// Statement journals (a savepoint's copy of the pages it changes) stay in memory up to this size
// before spilling to a temporary file; SQLite's default, 64 KiB, spills a group commit's
// savepoints to disk.
constexpr int kStatementJournalSpill = 4 << 20;

// Process-wide settings, made once before SQLite's first use (later, sqlite3_config refuses and
// the defaults stay: slower, not wrong). No memory statistics: they take a global mutex around
// every allocation, and nothing reads them.
void ConfigureSqlite() {
  static std::once_flag once;
  std::call_once(once, [] {
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    (void)sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, kStatementJournalSpill);
  });
}

Code CodeFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PROTOCOL: return Code::kUnavailable;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return Code::kCorruption;
    case SQLITE_CONSTRAINT:
      return rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY ? Code::kConflict
                                                                                  : Code::kInternal;
    default: return Code::kInternal;
  }
}

}  // namespace

Error SqliteError(int rc, sqlite3* db, std::string_view context) {
  // The connection's message describes its last failure, which is `rc` only when codes agree.
  const bool db_knows = db != nullptr && sqlite3_extended_errcode(db) == rc;
  const char* detail = db_knows ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return Error{CodeFor(rc), fmt::format("{}: {}", context, detail)};
}

// ---- Statement ---------------------------------------------------------------------------------

Statement::Statement(Statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)),
      in_use_(std::exchange(other.in_use_, nullptr)),
      bind_error_(other.bind_error_) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    Release();
    stmt_ = std::exchange(other.stmt_, nullptr);
    in_use_ = std::exchange(other.in_use_, nullptr);
    bind_error_ = other.bind_error_;
  }
  return *this;
}

Statement::~Statement() { Release(); }

void Statement::Release() {
  if (in_use_ == nullptr) {
    sqlite3_finalize(stmt_);
    return;
  }
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  *in_use_ = false;
}

void Statement::BindAt(int index, int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) bind_error_ = rc;
}

void Statement::BindAt(int index, double value) {
  const int rc = sqlite3_bind_double(stmt_, index, value);
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) bind_error_ = rc;
}

void Statement::BindAt(int index, std::string_view value) {
  const int rc =
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) bind_error_ = rc;
}

void Statement::BindAt(int index, std::nullopt_t) {
  const int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK && bind_error_ == SQLITE_OK) bind_error_ = rc;
}

Result<bool> Statement::Step() {
  sqlite3* db = sqlite3_db_handle(stmt_);
  if (bind_error_ != SQLITE_OK) {
    return std::unexpected(SqliteError(bind_error_, nullptr, sqlite3_sql(stmt_)));
  }
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return std::unexpected(SqliteError(rc, db, sqlite3_sql(stmt_)));
}

Result<void> Statement::Run() {
  for (;;) {
    Result<bool> row = Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return {};
  }
}

Result<void> Statement::StepRow(std::string_view what) {
  Result<bool> row = Step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return NotFound(fmt::format("{} not found", what));
  return {};
}

bool Statement::IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

int64_t Statement::Int(int col) const { return sqlite3_column_int64(stmt_, col); }

double Statement::Real(int col) const { return sqlite3_column_double(stmt_, col); }

std::string Statement::Text(int col) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  if (text == nullptr) return {};
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

std::optional<int64_t> Statement::OptionalInt(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Int(col);
}

// ---- Db ----------------------------------------------------------------------------------------

Result<Db> Db::Open(const std::string& path, int busy_timeout_ms) {
  return OpenWith(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, busy_timeout_ms);
}

Result<Db> Db::OpenExisting(const std::string& path, int busy_timeout_ms) {
  return OpenWith(path, SQLITE_OPEN_READWRITE, busy_timeout_ms);
}

Result<Db> Db::OpenWith(const std::string& path, int flags, int busy_timeout_ms) {
  ConfigureSqlite();
  sqlite3* raw = nullptr;
  // No mutex per call: a Db is used by one thread at a time (sqlite_db.h).
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw);  // sqlite3_open_v2 allocates a handle even on failure; db closes it
  if (rc != SQLITE_OK) return std::unexpected(SqliteError(rc, raw, "open " + path));
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  return db;
}

Db::Db(Db&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), cache_(std::move(other.cache_)) {}

Db& Db::operator=(Db&& other) noexcept {
  if (this != &other) {
    Close();
    db_ = std::exchange(other.db_, nullptr);
    cache_ = std::move(other.cache_);
  }
  return *this;
}

Db::~Db() { Close(); }

void Db::Close() {
  if (cache_) {
    for (auto& [sql, cached] : *cache_) sqlite3_finalize(cached.stmt);
    cache_->clear();
  }
  sqlite3_close_v2(db_);
}

Result<sqlite3_stmt*> Db::PrepareRaw(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return std::unexpected(SqliteError(rc, db_, fmt::format("prepare {}", sql)));
  }
  return stmt;
}

Result<Statement> Db::PrepareSql(std::string_view sql) {
  auto it = cache_->find(sql);
  if (it == cache_->end() && cache_->size() < kMaxCachedStatements) {
    Result<sqlite3_stmt*> stmt = PrepareRaw(sql);
    if (!stmt) return std::unexpected(stmt.error());
    it = cache_->emplace(std::string(sql), CachedStatement{*stmt, false}).first;
  }
  if (it == cache_->end() || it->second.in_use) {
    Result<sqlite3_stmt*> stmt = PrepareRaw(sql);
    if (!stmt) return std::unexpected(stmt.error());
    return Statement(*stmt);
  }
  it->second.in_use = true;
  return Statement(it->second.stmt, &it->second.in_use);
}

Result<void> Db::Exec(const std::string& script) {
  const int rc = sqlite3_exec(db_, script.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    const std::string_view head = std::string_view(script).substr(0, script.find('\n'));
    return std::unexpected(SqliteError(rc, db_, fmt::format("exec {}", head)));
  }
  return {};
}

int64_t Db::Changes() const { return sqlite3_changes64(db_); }

int64_t Db::LastInsertId() const { return sqlite3_last_insert_rowid(db_); }

bool Db::InAutocommit() const { return sqlite3_get_autocommit(db_) != 0; }

Result<void> BackupInto(Db& from, Db& to) {
  sqlite3_backup* backup = sqlite3_backup_init(to.handle(), "main", from.handle(), "main");
  if (backup == nullptr)
    return std::unexpected(SqliteError(sqlite3_errcode(to.handle()), to.handle(), "backup"));
  int rc = SQLITE_OK;
  // A few hundred pages a step, so that a writer on `from` is not shut out for the whole copy.
  while ((rc = sqlite3_backup_step(backup, 256)) == SQLITE_OK || rc == SQLITE_BUSY ||
         rc == SQLITE_LOCKED) {
    if (rc != SQLITE_OK) sqlite3_sleep(20);
  }
  const int finished = sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) return std::unexpected(SqliteError(rc, nullptr, "backup step"));
  if (finished != SQLITE_OK) return std::unexpected(SqliteError(finished, to.handle(), "backup"));
  return {};
}

// ---- Transaction -------------------------------------------------------------------------------

Result<Transaction> Transaction::Begin(Db& db, Kind kind) {
  const char* sql = kind == Kind::kWrite ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED";
  if (Result<int64_t> r = db.Run(sql); !r) return std::unexpected(r.error());
  return Transaction(&db);
}

Transaction::~Transaction() {
  // A failed statement may already have rolled the transaction back (SQLITE_FULL, IOERR, ...).
  if (db_ != nullptr && !db_->InAutocommit()) (void)db_->Run("ROLLBACK");
}

Result<void> Transaction::Commit() {
  Result<int64_t> r = db_->Run("COMMIT");
  if (!r) return std::unexpected(r.error());
  db_ = nullptr;
  return {};
}

}  // namespace podfleet
