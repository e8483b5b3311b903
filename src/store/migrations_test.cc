#include "store/migrations.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>

#include "store/store_test_util.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

using ::testing::HasSubstr;

constexpr std::array kTwoSteps{
    Migration{1, "things", "CREATE TABLE things (id INTEGER PRIMARY KEY);"},
    Migration{2, "names", "ALTER TABLE things ADD COLUMN name TEXT NOT NULL DEFAULT 'x';"},
};

class SqliteMigrationsTest : public ::testing::Test {
 protected:
  void SetUp() override { db_ = Must(Db::Open(dir_.File("m.db"), 1'000)); }

  int64_t Pragma(const char* name) {
    return Must(QueryOne(*db_, ReadInt, name, fmt::format("PRAGMA {}", name)));
  }

  TempDir dir_;
  std::optional<Db> db_;
};

// Versions count up from one with no gaps: a released version is never renumbered.
TEST(SqliteMigrations, VersionsCountUpFromOne) {
  int expected = 1;
  for (const Migration& m : SchemaMigrations()) {
    EXPECT_EQ(m.version, expected++);
    EXPECT_FALSE(m.summary.empty());
  }
}

TEST_F(SqliteMigrationsTest, NewFileIsStampedAndMigratedToTheLatest) {
  EXPECT_EQ(Must(Migrate(*db_)), SchemaMigrations().back().version);
  EXPECT_EQ(Pragma("user_version"), SchemaMigrations().back().version);
  EXPECT_EQ(Pragma("application_id"), kApplicationId);
  EXPECT_EQ(Must(Migrate(*db_)), SchemaMigrations().back().version);  // nothing left to do
}

TEST_F(SqliteMigrationsTest, OnlyPendingMigrationsRunInOrder) {
  ASSERT_EQ(Must(Migrate(*db_, std::span(kTwoSteps).first(1))), 1);
  ASSERT_OK(db_->Run("INSERT INTO things (id) VALUES (7)"));
  // Migration 1 again would fail ("table things already exists"), so this proves it is skipped.
  ASSERT_EQ(Must(Migrate(*db_, kTwoSteps)), 2);
  EXPECT_EQ(Must(QueryOne(*db_, ReadInt, "thing", "SELECT count(*) FROM things WHERE name = 'x'")),
            1);
}

TEST_F(SqliteMigrationsTest, FailedMigrationLeavesThePreviousVersionWhole) {
  const std::array broken{kTwoSteps[0], Migration{2, "broken", "CREATE TABLE a (x); SELEKT;"}};
  Result<int> r = Migrate(*db_, broken);
  EXPECT_CODE(r, Code::kInternal);
  EXPECT_THAT(MessageOf(r), HasSubstr("schema migration 2"));
  EXPECT_EQ(Pragma("user_version"), 0);
  EXPECT_EQ(Must(QueryOne(*db_, ReadInt, "tables", "SELECT count(*) FROM sqlite_schema")), 0);
}

TEST_F(SqliteMigrationsTest, NewerVersionIsCorruption) {
  ASSERT_OK(Migrate(*db_, kTwoSteps));
  Result<int> r = Migrate(*db_, std::span(kTwoSteps).first(1));
  EXPECT_CODE(r, Code::kCorruption);
  EXPECT_THAT(MessageOf(r), HasSubstr("newer"));
  EXPECT_EQ(Pragma("user_version"), 2);
}

TEST_F(SqliteMigrationsTest, ForeignApplicationIdIsCorruption) {
  ASSERT_OK(db_->Exec("PRAGMA application_id = 1234"));
  EXPECT_CODE(Migrate(*db_), Code::kCorruption);
  EXPECT_EQ(Pragma("user_version"), 0);
}

TEST_F(SqliteMigrationsTest, BrokenForeignKeyFailsTheMigration) {
  const std::array steps{
      Migration{1, "parent",
                "CREATE TABLE p (id INTEGER PRIMARY KEY);"
                "CREATE TABLE c (p_id INTEGER REFERENCES p(id));"},
      Migration{2, "orphan", "INSERT INTO c (p_id) VALUES (5);"},
  };
  EXPECT_CODE(Migrate(*db_, steps), Code::kInternal);
  EXPECT_EQ(Pragma("user_version"), 0);
}

}  // namespace
}  // namespace podfleet
