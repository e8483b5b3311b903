// A thin RAII layer over the sqlite3 C API: a connection (Db), a prepared statement (Statement)
// and a transaction (Transaction). Each fallible call returns Result instead of a raw code.
//
// Error mapping (SqliteError), by primary result code:
//   SQLITE_BUSY, LOCKED, IOERR, FULL, CANTOPEN, READONLY, PROTOCOL  -> kUnavailable
//   SQLITE_CORRUPT, NOTADB                                           -> kCorruption
//   SQLITE_CONSTRAINT (UNIQUE or PRIMARY KEY only)                   -> kConflict
//   anything else (other constraints, misuse, out of memory)         -> kInternal
//
// Thread safety: none. A Db and its Statements are used by one thread at a time; the owner
// serialises access (SqliteStore holds a mutex). A Statement must not outlive its Db, and every
// Statement must be destroyed before its Transaction commits.
//
// Prepared statements are cached per connection, keyed by their SQL text: preparing the same SQL
// again reuses the compiled statement (SQLite re-prepares it itself after a schema change). A
// cached Statement is reset and its bindings cleared when it is destroyed, which ends its read as
// finalizing would. While one is in use, the same SQL prepared again gets a fresh, uncached one,
// so nested queries of the same text work. The cache holds at most kMaxCachedStatements; SQL
// beyond that (text built with varying lists, say) is prepared each time, as before.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "core/error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace podfleet {

// The Error for result code `rc` on connection `db` (which may be null), prefixed by `context`.
Error SqliteError(int rc, sqlite3* db, std::string_view context);

// One prepared statement. Parameters are bound by position (?1, ?2, ...); columns are read by
// 0-based index from the row the last Step produced.
class Statement {
 public:
  // Owns and finalizes `stmt`; or, with `in_use` (a cache entry's flag, which it clears), only
  // resets it on destruction.
  explicit Statement(sqlite3_stmt* stmt, bool* in_use = nullptr) : stmt_(stmt), in_use_(in_use) {}
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Binds `args` to ?1, ?2, ... in order. A binding error is reported by the next Step.
  template <class... Args>
  Statement& Bind(const Args&... args) {
    int index = 1;
    (BindAt(index++, args), ...);
    return *this;
  }

  void BindAt(int index, int64_t value);
  void BindAt(int index, int value) { BindAt(index, int64_t{value}); }
  void BindAt(int index, bool value) { BindAt(index, int64_t{value ? 1 : 0}); }
  void BindAt(int index, double value);
  void BindAt(int index, std::string_view value);
  void BindAt(int index, const std::string& value) { BindAt(index, std::string_view(value)); }
  void BindAt(int index, const char* value) { BindAt(index, std::string_view(value)); }
  void BindAt(int index, std::nullopt_t);
  template <class T>
  void BindAt(int index, const std::optional<T>& value) {
    if (value) {
      BindAt(index, *value);
    } else {
      BindAt(index, std::nullopt);
    }
  }

  // Advances to the next row: true when a row is ready, false when the statement is done.
  Result<bool> Step();
  // Steps until done, ignoring any rows.
  Result<void> Run();
  // Steps once and requires a row: kNotFound("<what> not found") when there is none.
  Result<void> StepRow(std::string_view what);

  bool IsNull(int col) const;
  int64_t Int(int col) const;
  double Real(int col) const;
  std::string Text(int col) const;
  std::optional<int64_t> OptionalInt(int col) const;

 private:
  // Finalizes, or resets and hands back a cached statement.
  void Release();
  sqlite3_stmt* stmt_;  // owned unless in_use_; null after a move
  bool* in_use_;        // the cache entry's flag when the statement is cached
  int bind_error_ = 0;  // the first failed bind's result code
};

// One open connection. Movable, not copyable; closing happens on destruction.
class Db {
 public:
  // Opens (creating if needed) the database file at `path`, with extended result codes on and a
  // busy timeout of `busy_timeout_ms`. Opening is lazy in SQLite: a damaged file is reported by
  // the first statement that reads it, not here.
  static Result<Db> Open(const std::string& path, int busy_timeout_ms);
  // The same, but never creates the file: kUnavailable when it is missing.
  static Result<Db> OpenExisting(const std::string& path, int busy_timeout_ms);

  Db(Db&& other) noexcept;
  Db& operator=(Db&& other) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();

  Result<Statement> PrepareSql(std::string_view sql);

  // Prepares `sql` and binds `args` to it.
  template <class... Args>
  Result<Statement> Prepare(std::string_view sql, const Args&... args) {
    Result<Statement> stmt = PrepareSql(sql);
    if (stmt) stmt->Bind(args...);
    return stmt;
  }

  // Runs one statement that returns no rows; returns how many rows it changed.
  template <class... Args>
  Result<int64_t> Run(std::string_view sql, const Args&... args) {
    Result<Statement> stmt = Prepare(sql, args...);
    if (!stmt) return std::unexpected(stmt.error());
    if (Result<void> r = stmt->Run(); !r) return std::unexpected(r.error());
    return Changes();
  }

  // Runs a script of statements without parameters (schema migrations, pragmas).
  Result<void> Exec(const std::string& script);

  int64_t Changes() const;
  int64_t LastInsertId() const;
  // True when no transaction is open.
  bool InAutocommit() const;
  sqlite3* handle() const { return db_; }

 private:
  // The most statements one connection keeps prepared.
  static constexpr size_t kMaxCachedStatements = 256;

  struct CachedStatement {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;  // a Statement holds it now
  };
  struct SqlHash {
    using is_transparent = void;
    size_t operator()(std::string_view sql) const { return std::hash<std::string_view>{}(sql); }
  };
  using StatementCache = std::unordered_map<std::string, CachedStatement, SqlHash, std::equal_to<>>;

  static Result<Db> OpenWith(const std::string& path, int flags, int busy_timeout_ms);
  explicit Db(sqlite3* db) : db_(db), cache_(std::make_unique<StatementCache>()) {}
  // Finalizes the cached statements and closes the connection.
  void Close();
  // Prepares `sql` without the cache.
  Result<sqlite3_stmt*> PrepareRaw(std::string_view sql);

  sqlite3* db_;  // owned; null after a move
  // On the heap, so that a Db moved while its Statements live leaves their flags in place.
  std::unique_ptr<StatementCache> cache_;
};

// An open transaction. Rolls back on destruction unless Commit succeeded.
class Transaction {
 public:
  enum class Kind {
    kRead,   // BEGIN DEFERRED: takes the read snapshot at the first read
    kWrite,  // BEGIN IMMEDIATE: takes the write lock now, so no later statement meets SQLITE_BUSY
  };

  static Result<Transaction> Begin(Db& db, Kind kind);

  Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  // kUnavailable after a failed COMMIT means the outcome is unknown to the caller.
  Result<void> Commit();

 private:
  explicit Transaction(Db* db) : db_(db) {}
  Db* db_;  // null once committed or moved from
};

// Copies every page of `from` into `to` with SQLite's online backup API (sqlite3_backup_*): one
// consistent snapshot of `from`, even while other connections write to it.
Result<void> BackupInto(Db& from, Db& to);

// Runs `sql` with `args` and decodes its one row with `read` (Statement -> Result<T>).
// kNotFound("<what> not found") when there is no row.
template <class Read, class... Args>
std::invoke_result_t<Read, const Statement&> QueryOne(Db& db, Read read, std::string_view what,
                                                      std::string_view sql, const Args&... args) {
  Result<Statement> stmt = db.Prepare(sql, args...);
  if (!stmt) return std::unexpected(stmt.error());
  if (Result<void> r = stmt->StepRow(what); !r) return std::unexpected(r.error());
  return read(*stmt);
}

// Runs `sql` with `args` and decodes every row with `read` (Statement -> Result<T>).
template <class Read, class... Args>
auto QueryAll(Db& db, Read read, std::string_view sql, const Args&... args)
    -> Result<std::vector<typename std::invoke_result_t<Read, const Statement&>::value_type>> {
  std::vector<typename std::invoke_result_t<Read, const Statement&>::value_type> rows;
  Result<Statement> stmt = db.Prepare(sql, args...);
  if (!stmt) return std::unexpected(stmt.error());
  for (;;) {
    Result<bool> more = stmt->Step();
    if (!more) return std::unexpected(more.error());
    if (!*more) return rows;
    auto row = read(*stmt);
    if (!row) return std::unexpected(row.error());
    rows.push_back(std::move(*row));
  }
}

// Reads column 0 as an integer: a Read for QueryOne and QueryAll.
inline Result<int64_t> ReadInt(const Statement& row) { return row.Int(0); }

}  // namespace podfleet
