#include "store/pg_conn.h"

#include <fmt/format.h>
#include <libpq-fe.h>
#include <poll.h>

#include <charconv>
#include <cstdlib>

namespace podfleet {
namespace {

std::string TrimmedMessage(const char* message) {
  std::string m = message ? message : "";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

}  // namespace

Error PgError(std::string_view state, std::string_view message) {
  Code code = Code::kInternal;
  if (state == "23505") {
    code = Code::kConflict;
  } else if (state.starts_with("08") || state.starts_with("53") || state.starts_with("57P") ||
             state == "40001" || state == "40P01" || state == "55P03" || state.empty()) {
    code = Code::kUnavailable;
  } else if (state == "XX001" || state == "XX002") {
    code = Code::kCorruption;
  }
  return Error{code, fmt::format("postgresql: {}", message)};
}

std::optional<std::string> PgConn::Param(double v) { return fmt::format("{}", v); }

bool IsPostgresUrl(std::string_view conninfo) {
  return conninfo.starts_with("postgres://") || conninfo.starts_with("postgresql://");
}

bool PgRow::IsNull(int col) const { return PQgetisnull(res_, row_, col + offset_) != 0; }

int64_t PgRow::Int(int col) const {
  col += offset_;
  const char* v = PQgetvalue(res_, row_, col);
  if (v[0] == 't') return 1;
  if (v[0] == 'f') return 0;
  int64_t out = 0;
  std::from_chars(v, v + PQgetlength(res_, row_, col), out);
  return out;
}

double PgRow::Real(int col) const {
  if (IsNull(col)) return 0;
  return std::strtod(PQgetvalue(res_, row_, col + offset_), nullptr);
}

std::string PgRow::Text(int col) const {
  col += offset_;
  return std::string(PQgetvalue(res_, row_, col), PQgetlength(res_, row_, col));
}

std::optional<int64_t> PgRow::OptionalInt(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Int(col);
}

PgResult::PgResult(pg_result* res) : res_(res) {}

void PgResult::Clear::operator()(pg_result* r) const { PQclear(r); }

int PgResult::Rows() const { return PQntuples(res_.get()); }

int64_t PgResult::Changed() const {
  const char* n = PQcmdTuples(res_.get());
  int64_t out = 0;
  if (n && *n) std::from_chars(n, n + std::char_traits<char>::length(n), out);
  return out;
}

void PgConn::Finish::operator()(pg_conn* c) const { PQfinish(c); }

Result<PgConn> PgConn::Connect(const std::string& conninfo) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (!opts) {
    std::string why = TrimmedMessage(err);
    PQfreemem(err);
    return InvalidArgument(fmt::format("postgresql: bad connection string: {}", why));
  }
  PQconninfoFree(opts);
  PgConn conn(PQconnectdb(conninfo.c_str()));
  if (!conn.conn_) return Unavailable("postgresql: out of memory");
  if (PQstatus(conn.conn_.get()) != CONNECTION_OK) {
    return Unavailable(fmt::format("postgresql: cannot connect: {}",
                                   TrimmedMessage(PQerrorMessage(conn.handle()))));
  }
  // Notices (NOTICE: relation exists, skipping) are not errors; keep stderr quiet.
  PQsetNoticeProcessor(
      conn.handle(), [](void*, const char*) {}, nullptr);
  return conn;
}

Error PgConn::ErrorOf(const pg_result* res, std::string_view context) {
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  last_state_ = state ? state : "";
  std::string message =
      TrimmedMessage(res ? PQresultErrorMessage(res) : PQerrorMessage(conn_.get()));
  if (message.empty()) message = TrimmedMessage(PQerrorMessage(conn_.get()));
  // A broken connection is kUnavailable whatever the server said last; LastState keeps what it
  // said (a FATAL 57P01 as it shut down means it refused the statement).
  Error e = PgError(Ok() ? last_state_ : "", message);
  if (!context.empty()) e.message = fmt::format("{} ({})", e.message, context);
  return e;
}

Result<PgResult> PgConn::QueryParams(std::string_view sql,
                                     const std::vector<std::optional<std::string>>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  const std::string text(sql);
  PgResult res(PQexecParams(conn_.get(), text.c_str(), static_cast<int>(params.size()), nullptr,
                            values.data(), nullptr, nullptr, 0));
  const ExecStatusType status = res.raw() ? PQresultStatus(res.raw()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return std::unexpected(ErrorOf(res.raw(), ""));
  }
  last_state_.clear();
  return res;
}

Result<void> PgConn::Exec(const std::string& script) {
  PgResult res(PQexec(conn_.get(), script.c_str()));
  const ExecStatusType status = res.raw() ? PQresultStatus(res.raw()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return std::unexpected(ErrorOf(res.raw(), ""));
  }
  last_state_.clear();
  return {};
}

bool PgConn::Ok() const { return conn_ && PQstatus(conn_.get()) == CONNECTION_OK; }

Result<std::vector<std::string>> PgConn::WaitForNotifications(int timeout_ms) {
  std::vector<std::string> channels;
  auto drain = [&] {
    while (PGnotify* n = PQnotifies(conn_.get())) {
      channels.emplace_back(n->relname);
      PQfreemem(n);
    }
  };
  if (PQconsumeInput(conn_.get()) == 0) return Unavailable("postgresql: connection lost");
  drain();
  if (!channels.empty()) return channels;
  pollfd fd{PQsocket(conn_.get()), POLLIN, 0};
  if (fd.fd < 0) return Unavailable("postgresql: connection lost");
  if (poll(&fd, 1, timeout_ms) > 0) {
    if (PQconsumeInput(conn_.get()) == 0) return Unavailable("postgresql: connection lost");
    drain();
  }
  return channels;
}

}  // namespace podfleet
