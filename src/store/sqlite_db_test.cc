#include "store/sqlite_db.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "store/store_test_util.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

using ::testing::HasSubstr;

class SqliteDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = Must(Db::Open(dir_.File("test.db"), 1'000));
    ASSERT_OK(
        db_->Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, n INTEGER "
                  "CHECK (n >= 0), r REAL)"));
  }

  int64_t Count() { return Must(QueryOne(*db_, ReadInt, "count", "SELECT count(*) FROM t")); }

  TempDir dir_;
  std::optional<Db> db_;
};

// The statement cache: the same SQL prepared again starts from its first row with fresh
// bindings, and a second use while the first is still open gets its own statement.
TEST_F(SqliteDbTest, CachedStatementsStartAfreshAndNest) {
  for (const char* name : {"a", "b", "c"})
    ASSERT_OK(db_->Run("INSERT INTO t (name, n) VALUES (?1, 1)", name));
  constexpr std::string_view kSql = "SELECT name FROM t WHERE name >= ?1 ORDER BY name";
  {
    Statement first = Must(db_->Prepare(kSql, "b"));
    ASSERT_TRUE(Must(first.Step()));
    EXPECT_EQ(first.Text(0), "b");
    Statement nested = Must(db_->Prepare(kSql, "a"));  // `first` is still in use
    ASSERT_TRUE(Must(nested.Step()));
    EXPECT_EQ(nested.Text(0), "a");
    ASSERT_TRUE(Must(first.Step()));
    EXPECT_EQ(first.Text(0), "c");
  }
  Statement again = Must(db_->PrepareSql(kSql));  // no binding: the old one was cleared
  EXPECT_FALSE(Must(again.Step()));
  Statement moved = std::move(again);
  moved = Must(db_->Prepare(kSql, "c"));
  ASSERT_TRUE(Must(moved.Step()));
  EXPECT_EQ(moved.Text(0), "c");
}

// A cached statement left half-read ends its read when it is let go, as finalizing did, so
// its transaction can commit.
TEST_F(SqliteDbTest, ACachedStatementLetGoEndsItsRead) {
  ASSERT_OK(db_->Run("INSERT INTO t (name, n) VALUES ('a', 1), ('b', 2)"));
  {
    Result<Transaction> tx = Transaction::Begin(*db_, Transaction::Kind::kWrite);
    ASSERT_OK(tx);
    {
      Statement s = Must(db_->Prepare("SELECT name FROM t ORDER BY name"));
      ASSERT_TRUE(Must(s.Step()));
    }
    ASSERT_OK(db_->Run("DELETE FROM t WHERE name = 'a'"));
    ASSERT_OK(tx->Commit());
  }
  EXPECT_EQ(Count(), 1);
}

TEST_F(SqliteDbTest, BoundValuesReadBack) {
  ASSERT_OK(db_->Run("INSERT INTO t (name, n, r) VALUES (?1, ?2, ?3)", "caf\xc3\xa9", 7, 0.5));
  ASSERT_OK(db_->Run("INSERT INTO t (name, n, r) VALUES (?1, ?2, ?3)", std::string("b"),
                     std::optional<int64_t>(), std::nullopt));
  Statement s = Must(db_->Prepare("SELECT name, n, r FROM t ORDER BY id"));
  ASSERT_TRUE(Must(s.Step()));
  EXPECT_EQ(s.Text(0), "caf\xc3\xa9");
  EXPECT_EQ(s.OptionalInt(1), 7);
  EXPECT_DOUBLE_EQ(s.Real(2), 0.5);
  ASSERT_TRUE(Must(s.Step()));
  EXPECT_EQ(s.OptionalInt(1), std::nullopt);
  EXPECT_TRUE(s.IsNull(2));
  EXPECT_FALSE(Must(s.Step()));
}

TEST_F(SqliteDbTest, RunReturnsRowsChanged) {
  ASSERT_OK(db_->Run("INSERT INTO t (name) VALUES ('a'), ('b'), ('c')"));
  EXPECT_EQ(Must(db_->Run("UPDATE t SET n = 1 WHERE name != ?1", "a")), 2);
  EXPECT_EQ(Must(db_->Run("DELETE FROM t WHERE name = 'zzz'")), 0);
}

TEST_F(SqliteDbTest, UniqueViolationIsConflictOtherConstraintsInternal) {
  ASSERT_OK(db_->Run("INSERT INTO t (name) VALUES ('a')"));
  EXPECT_CODE(db_->Run("INSERT INTO t (name) VALUES ('a')"), Code::kConflict);
  EXPECT_CODE(db_->Run("INSERT INTO t (name, n) VALUES ('b', -1)"), Code::kInternal);
  EXPECT_CODE(db_->Run("INSERT INTO t (name) VALUES (NULL)"), Code::kInternal);
}

TEST_F(SqliteDbTest, BadSqlAndBadBindingsAreInternal) {
  Result<Statement> bad = db_->Prepare("SELEKT 1");
  EXPECT_CODE(bad, Code::kInternal);
  EXPECT_THAT(MessageOf(bad), HasSubstr("SELEKT"));
  EXPECT_CODE(db_->Run("INSERT INTO t (name) VALUES (?1)", "a", "extra"), Code::kInternal);
  EXPECT_EQ(Count(), 0);
}

TEST_F(SqliteDbTest, StepRowWithoutARowIsNotFound) {
  Result<int64_t> r = QueryOne(*db_, ReadInt, "row 5", "SELECT id FROM t WHERE id = 5");
  EXPECT_CODE(r, Code::kNotFound);
  EXPECT_EQ(MessageOf(r), "row 5 not found");
}

TEST_F(SqliteDbTest, TransactionRollsBackUnlessCommitted) {
  {
    Transaction tx = Must(Transaction::Begin(*db_, Transaction::Kind::kWrite));
    ASSERT_OK(db_->Run("INSERT INTO t (name) VALUES ('dropped')"));
  }
  EXPECT_EQ(Count(), 0);
  EXPECT_TRUE(db_->InAutocommit());
  {
    Transaction tx = Must(Transaction::Begin(*db_, Transaction::Kind::kWrite));
    ASSERT_OK(db_->Run("INSERT INTO t (name) VALUES ('kept')"));
    ASSERT_OK(tx.Commit());
  }
  EXPECT_EQ(Count(), 1);
}

TEST_F(SqliteDbTest, WriterWaitsOutTheBusyTimeoutThenIsUnavailable) {
  Db other = Must(Db::Open(dir_.File("test.db"), 50));
  Transaction held = Must(Transaction::Begin(*db_, Transaction::Kind::kWrite));
  EXPECT_CODE(Transaction::Begin(other, Transaction::Kind::kWrite), Code::kUnavailable);
}

TEST(SqliteDb, OpenInAMissingDirectoryIsUnavailable) {
  TempDir dir;
  EXPECT_CODE(Db::Open(dir.File("missing/x.db"), 0), Code::kUnavailable);
}

}  // namespace
}  // namespace podfleet
