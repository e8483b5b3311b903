#include "coordinator/admin_token.h"

#include <gtest/gtest.h>

#include <fstream>

#include "coordinator/coordinator.h"
#include "net/token.h"
#include "store/store.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

namespace fs = std::filesystem;

TEST(AdminToken, FirstCallCreatesAPrivateFileAndReturnsTheTokenOnce) {
  TempDir dir;
  const fs::path file = dir.path() / kAdminTokenFile;
  auto first = LoadOrCreateAdminToken(file);
  ASSERT_TRUE(first) << first.error().ToString();
  ASSERT_TRUE(first->created);
  EXPECT_EQ(first->created->substr(0, 4), "pfa_");
  EXPECT_EQ(first->hash, HashToken(*first->created));
  EXPECT_EQ(fs::status(file).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  auto read = ReadAdminToken(file);
  ASSERT_TRUE(read);
  EXPECT_EQ(*read, *first->created);

  auto again = LoadOrCreateAdminToken(file);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->hash, first->hash);
  for (const auto& entry : fs::directory_iterator(dir.path()))
    EXPECT_EQ(entry.path().filename(), kAdminTokenFile) << "left behind: " << entry.path();
}

TEST(AdminToken, MissingFileIsNotFound) {
  TempDir dir;
  auto read = ReadAdminToken(dir.path() / kAdminTokenFile);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, Code::kNotFound);
}

TEST(AdminToken, DamagedFileIsCorruptionAndNotReplaced) {
  TempDir dir;
  const fs::path file = dir.path() / kAdminTokenFile;
  for (const char* content : {"", "\n", "pfa_", "pfn_abc\n", "pfa_abc def\n", "pfa_\xff\xfe"}) {
    std::ofstream(file, std::ios::binary | std::ios::trunc) << content;
    auto loaded = LoadOrCreateAdminToken(file);
    ASSERT_FALSE(loaded) << "content '" << content << "'";
    EXPECT_EQ(loaded.error().code, Code::kCorruption);
    std::ifstream in(file, std::ios::binary);
    std::string kept((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(kept, content);
  }
}

TEST(AdminToken, TrailingWhitespaceIsIgnored) {
  TempDir dir;
  const fs::path file = dir.path() / kAdminTokenFile;
  std::ofstream(file) << "pfa_abc-_XYZ09 \r\n\n";
  auto read = ReadAdminToken(file);
  ASSERT_TRUE(read) << read.error().ToString();
  EXPECT_EQ(*read, "pfa_abc-_XYZ09");
}

TEST(KeptEnrollmentToken, ReusedWhileTheStoreAcceptsItThenReplaced) {
  TempDir dir;
  auto store = OpenSqliteStore((dir.path() / "podfleet.db").string());
  ASSERT_TRUE(store) << store.error().ToString();
  const fs::path file = dir.path() / "up.token";
  const TimePoint now = FromUnixMillis(1'700'000'000'000);
  auto first = KeptEnrollmentToken(**store, file, "up", now);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(first->substr(0, 4), "pfe_");
  EXPECT_EQ(fs::status(file).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  auto again = KeptEnrollmentToken(**store, file, "up", now);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *first) << "a restart reuses it";
  EXPECT_EQ(*(*store)->CountEnrollmentTokens(), 1);
  ASSERT_TRUE((*store)->RevokeEnrollmentToken(HashToken(*first)));
  auto replaced = KeptEnrollmentToken(**store, file, "up", now);
  ASSERT_TRUE(replaced);
  EXPECT_NE(*replaced, *first) << "a revoked token is not reused";
  EXPECT_EQ(*(*store)->CheckEnrollmentToken(HashToken(*replaced)), true);
  std::ifstream in(file);
  std::string kept;
  std::getline(in, kept);
  EXPECT_EQ(kept, *replaced);
}

}  // namespace
}  // namespace podfleet
