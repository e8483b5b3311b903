// Moving a SQLite store to PostgreSQL (`podfleet store migrate`, store.h CopySqliteToPg): every
// row of every table, ids kept, in one PostgreSQL transaction, then each identity column moved
// past the highest id copied. The columns are PostgreSQL's (information_schema), read from
// SQLite by name: both schemas use the same names (pg_schema.cc).
#include <fmt/format.h>

#include <string>
#include <vector>

#include "store/sqlite_db.h"
#include "store/store_pg.h"

namespace podfleet {
namespace {

// In an order that satisfies every foreign key.
constexpr std::string_view kTables[] = {
    "feeds",
    "feed_urls",
    "episodes",
    "jobs",
    "attempts",
    "job_results",
    "transcripts",
    "publisher_transcripts",
    "transcript_segments",
    "nodes",
    "enrollment_tokens",
    "transfers",
};

struct Column {
  std::string name;
  bool real = false;  // double precision: read as a number, not SQLite's 15-digit text
};

Result<std::vector<Column>> Columns(PgConn& c, std::string_view table) {
  return QueryAll(
      c,
      [](const PgRow& row) -> Result<Column> {
        return Column{row.Text(0), row.Text(1) == "double precision"};
      },
      "SELECT column_name, data_type FROM information_schema.columns "
      "WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER' "
      "ORDER BY ordinal_position",
      table);
}

Result<int64_t> CopyTable(Db& from, PgConn& to, std::string_view table) {
  Result<std::vector<Column>> columns = Columns(to, table);
  if (!columns) return std::unexpected(columns.error());
  std::string names, params;
  for (size_t i = 0; i < columns->size(); ++i) {
    names += fmt::format("{}{}", i ? ", " : "", (*columns)[i].name);
    params += fmt::format("{}${}", i ? ", " : "", i + 1);
  }
  Result<Statement> rows = from.PrepareSql(fmt::format("SELECT {} FROM {}", names, table));
  if (!rows) return std::unexpected(rows.error());
  const std::string insert = fmt::format("INSERT INTO {} ({}) VALUES ({})", table, names, params);
  int64_t copied = 0;
  std::vector<std::optional<std::string>> values(columns->size());
  for (;;) {
    Result<bool> row = rows->Step();
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    for (size_t i = 0; i < columns->size(); ++i) {
      const int col = static_cast<int>(i);
      if (rows->IsNull(col)) {
        values[i].reset();
      } else {
        values[i] = (*columns)[i].real ? *PgConn::Param(rows->Real(col)) : rows->Text(col);
      }
    }
    if (Result<PgResult> r = to.QueryParams(insert, values); !r)
      return std::unexpected(WithContext(std::move(r), fmt::format("copy {}", table)).error());
    ++copied;
  }
  return copied;
}

}  // namespace

Result<std::vector<std::pair<std::string, int64_t>>> CopySqliteToPg(const std::string& sqlite_path,
                                                                    const std::string& conninfo) {
  {
    // Brings the file to the latest schema (and refuses a damaged or foreign one).
    Result<std::unique_ptr<Store>> source = OpenSqliteStore(sqlite_path);
    if (!source) return std::unexpected(source.error());
  }
  Result<Db> from = Db::OpenExisting(sqlite_path, 5'000);
  if (!from) return std::unexpected(from.error());
  Result<PgConn> to = PgConn::Connect(conninfo);
  if (!to) return std::unexpected(to.error());
  if (Result<int> v = MigratePg(*to); !v) return std::unexpected(v.error());
  Result<Transaction> read = Transaction::Begin(*from, Transaction::Kind::kRead);
  if (!read) return std::unexpected(read.error());
  if (Result<void> r = to->Exec("BEGIN"); !r) return std::unexpected(r.error());
  auto fail = [&](const Error& e) -> Result<std::vector<std::pair<std::string, int64_t>>> {
    (void)to->Exec("ROLLBACK");
    return std::unexpected(e);
  };
  Result<int64_t> held =
      QueryOne(*to, ReadPgInt, "rows",
               "SELECT (SELECT count(*) FROM feeds) + (SELECT count(*) FROM episodes) + "
               "(SELECT count(*) FROM nodes) + (SELECT count(*) FROM enrollment_tokens)");
  if (!held) return fail(held.error());
  if (*held > 0)
    return fail(Error{Code::kConflict,
                      "the PostgreSQL database already holds a podfleet store; migrate into an "
                      "empty database"});
  std::vector<std::pair<std::string, int64_t>> counts;
  for (std::string_view table : kTables) {
    Result<int64_t> n = CopyTable(*from, *to, table);
    if (!n) return fail(n.error());
    counts.emplace_back(std::string(table), *n);
  }
  // New rows continue after the copied ids.
  for (std::string_view table : {"feeds", "episodes", "jobs", "transcript_segments", "nodes"}) {
    Result<int64_t> r = to->Run(fmt::format(
        "SELECT setval(pg_get_serial_sequence('{0}', 'id'), coalesce(max(id), 0) + 1, false) "
        "FROM {0}",
        table));
    if (!r) return fail(r.error());
  }
  if (Result<void> r = to->Exec("COMMIT"); !r) return std::unexpected(r.error());
  return counts;
}

}  // namespace podfleet
