#include "coordinator/data_dir_lock.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "support/temp_dir.h"

namespace podfleet {
namespace {

using ::testing::HasSubstr;

// flock(2) locks belong to an open file description, so a second Acquire in this same process
// meets the first exactly as a second coordinator process would.
TEST(DataDirLock, ASecondHolderIsRefusedNamingTheFirst) {
  TempDir dir;
  auto first = DataDirLock::Acquire(dir.path(), FromUnixMillis(1'796'410'000'000));
  ASSERT_TRUE(first) << first.error().ToString();
  ASSERT_TRUE(first->SetUrl("http://127.0.0.1:8750"));
  auto second = DataDirLock::Acquire(dir.path(), FromUnixMillis(1'796'410'100'000));
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Code::kConflict);
  EXPECT_THAT(second.error().message,
              HasSubstr(fmt::format("is already used by PID {} since 2026-12-04 ", ::getpid())));
  EXPECT_THAT(second.error().message, HasSubstr("(http://127.0.0.1:8750)"));

  auto holder = DataDirLock::Holder(dir.path());
  ASSERT_TRUE(holder);
  EXPECT_EQ(holder->pid, ::getpid());
  EXPECT_EQ(holder->url, "http://127.0.0.1:8750");
}

TEST(DataDirLock, IsFreeAgainOnceReleased) {
  TempDir dir;
  EXPECT_FALSE(DataDirLock::Holder(dir.path()));
  {
    auto lock = DataDirLock::Acquire(dir.path(), FromUnixMillis(0));
    ASSERT_TRUE(lock);
  }
  EXPECT_FALSE(DataDirLock::Holder(dir.path()));  // a stale file is no holder
  EXPECT_TRUE(DataDirLock::Acquire(dir.path(), FromUnixMillis(0)));
}

}  // namespace
}  // namespace podfleet
