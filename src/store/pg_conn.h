// A thin RAII layer over libpq: a connection (PgConn), a query's result (PgResult) and one row of
// it (PgRow), for the PostgreSQL store (store_pg.h). The row API matches sqlite_db.h's Statement
// (IsNull, Int, Real, Text, OptionalInt), so the row decoders in store_rows.h serve both stores.
//
// Parameters are sent as text ($1, $2, ...), bound by position from C++ values: integers, doubles
// (shortest round-trip form), strings, bools (as 1/0: podfleet's flag columns are integers) and
// std::optional / std::nullopt (NULL). Columns come back as text and are parsed on access.
//
// Error mapping (PgError), by SQLSTATE:
//   23505 unique_violation                                             -> kConflict
//   08* connection, 53* resources, 57P* shutdown, 40001, 40P01, 55P03  -> kUnavailable
//   XX001, XX002 data or index corrupted                               -> kCorruption
//   anything else                                                      -> kInternal
// A connection that broke is kUnavailable too.
//
// Thread safety: none. A PgConn is used by one thread at a time; PgStore keeps a pool.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/error.h"

struct pg_conn;
struct pg_result;

namespace podfleet {

// One row of a PgResult; valid while its result lives.
class PgRow {
 public:
  PgRow(const pg_result* res, int row, int offset = 0) : res_(res), row_(row), offset_(offset) {}
  // The same row with column 0 at `row`'s column `by` (to decode a join's second part).
  static PgRow Shifted(const PgRow& row, int by) {
    return PgRow(row.res_, row.row_, row.offset_ + by);
  }
  bool IsNull(int col) const;
  int64_t Int(int col) const;  // 0 for NULL; "t"/"f" read as 1/0
  double Real(int col) const;
  std::string Text(int col) const;
  std::optional<int64_t> OptionalInt(int col) const;

 private:
  const pg_result* res_;
  int row_;
  int offset_;
};

// A completed query's rows.
class PgResult {
 public:
  explicit PgResult(pg_result* res);
  int Rows() const;
  PgRow Row(int i) const { return PgRow(res_.get(), i); }
  // Rows an INSERT, UPDATE or DELETE changed.
  int64_t Changed() const;
  const pg_result* raw() const { return res_.get(); }

 private:
  struct Clear {
    void operator()(pg_result* r) const;
  };
  std::unique_ptr<pg_result, Clear> res_;
};

class PgConn {
 public:
  // Connects with a libpq connection string or URI (postgres://...). kUnavailable when the server
  // cannot be reached; kInvalidArgument for a malformed string.
  static Result<PgConn> Connect(const std::string& conninfo);

  PgConn(PgConn&&) noexcept = default;
  PgConn& operator=(PgConn&&) noexcept = default;
  ~PgConn() = default;

  // Runs one statement with `args` bound to $1, $2, ...
  template <class... Args>
  Result<PgResult> Query(std::string_view sql, const Args&... args) {
    std::vector<std::optional<std::string>> params;
    params.reserve(sizeof...(Args));
    (params.push_back(Param(args)), ...);
    return QueryParams(sql, params);
  }
  // Runs one statement that returns no rows; how many rows it changed.
  template <class... Args>
  Result<int64_t> Run(std::string_view sql, const Args&... args) {
    Result<PgResult> r = Query(sql, args...);
    if (!r) return std::unexpected(r.error());
    return r->Changed();
  }
  // Runs a script of statements without parameters (schema, BEGIN, COMMIT).
  Result<void> Exec(const std::string& script);

  Result<PgResult> QueryParams(std::string_view sql,
                               const std::vector<std::optional<std::string>>& params);

  // Whether the connection still works (false once the server went away).
  bool Ok() const;
  // The SQLSTATE of the last failed statement, as the server sent it (also when the connection
  // broke after it); "" when it failed without one, e.g. the connection was lost unanswered.
  const std::string& LastState() const { return last_state_; }
  // Waits up to `timeout_ms` for a NOTIFY on a channel this connection LISTENs to; the channel
  // names received (empty on a timeout). kUnavailable when the connection broke.
  Result<std::vector<std::string>> WaitForNotifications(int timeout_ms);
  pg_conn* handle() const { return conn_.get(); }

  static std::optional<std::string> Param(int64_t v) { return std::to_string(v); }
  static std::optional<std::string> Param(int v) { return std::to_string(v); }
  static std::optional<std::string> Param(bool v) { return v ? "1" : "0"; }
  static std::optional<std::string> Param(double v);
  static std::optional<std::string> Param(std::string_view v) { return std::string(v); }
  static std::optional<std::string> Param(const std::string& v) { return v; }
  static std::optional<std::string> Param(const char* v) { return std::string(v); }
  static std::optional<std::string> Param(std::nullopt_t) { return std::nullopt; }
  template <class T>
  static std::optional<std::string> Param(const std::optional<T>& v) {
    if (!v) return std::nullopt;
    return Param(*v);
  }

 private:
  struct Finish {
    void operator()(pg_conn* c) const;
  };
  explicit PgConn(pg_conn* conn) : conn_(conn) {}
  Error ErrorOf(const pg_result* res, std::string_view context);

  std::unique_ptr<pg_conn, Finish> conn_;
  std::string last_state_;
};

// Runs `sql` with `args` and decodes its one row with `read` (PgRow -> Result<T>).
// kNotFound("<what> not found") when there is no row.
template <class Read, class... Args>
std::invoke_result_t<Read, const PgRow&> QueryOne(PgConn& conn, Read read, std::string_view what,
                                                  std::string_view sql, const Args&... args) {
  Result<PgResult> r = conn.Query(sql, args...);
  if (!r) return std::unexpected(r.error());
  if (r->Rows() == 0) return NotFound(std::string(what) + " not found");
  return read(r->Row(0));
}

// Runs `sql` with `args` and decodes every row with `read` (PgRow -> Result<T>).
template <class Read, class... Args>
auto QueryAll(PgConn& conn, Read read, std::string_view sql, const Args&... args)
    -> Result<std::vector<typename std::invoke_result_t<Read, const PgRow&>::value_type>> {
  using T = typename std::invoke_result_t<Read, const PgRow&>::value_type;
  Result<PgResult> r = conn.Query(sql, args...);
  if (!r) return std::unexpected(r.error());
  std::vector<T> out;
  out.reserve(static_cast<size_t>(r->Rows()));
  for (int i = 0; i < r->Rows(); ++i) {
    Result<T> v = read(r->Row(i));
    if (!v) return std::unexpected(v.error());
    out.push_back(std::move(*v));
  }
  return out;
}

// The first column as an integer.
inline Result<int64_t> ReadPgInt(const PgRow& row) { return row.Int(0); }

// The Error for SQLSTATE `state` with `message`.
Error PgError(std::string_view state, std::string_view message);

// Whether `conninfo` names a PostgreSQL database (postgres:// or postgresql:// URI).
bool IsPostgresUrl(std::string_view conninfo);

}  // namespace podfleet
