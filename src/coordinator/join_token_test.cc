#include "coordinator/join_token.h"

#include <gtest/gtest.h>

#include "net/token.h"
#include "support/manual_clock.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

TEST(JoinToken, OneLiveTokenRevocableAndReplacedAfterRevocation) {
  TempDir dir;
  auto store = OpenSqliteStore(dir.File("podfleet.db"));
  ASSERT_TRUE(store);
  ManualClock clock;

  JoinToken first_start(**store, clock);
  ASSERT_TRUE(first_start.Start());
  auto old_token = first_start.Current();
  ASSERT_TRUE(old_token);
  EXPECT_EQ(*first_start.Current(), *old_token);  // stable while live
  EXPECT_TRUE(*(*store)->CheckEnrollmentToken(HashToken(*old_token)));

  // A second start revokes the first start's token.
  JoinToken second_start(**store, clock);
  ASSERT_TRUE(second_start.Start());
  auto token = second_start.Current();
  ASSERT_TRUE(token);
  EXPECT_NE(*token, *old_token);
  EXPECT_FALSE(*(*store)->CheckEnrollmentToken(HashToken(*old_token)));

  // Revoked by the operator: the next line has a new, live token.
  ASSERT_TRUE((*store)->RevokeEnrollmentToken(HashToken(*token)));
  auto replaced = second_start.Current();
  ASSERT_TRUE(replaced);
  EXPECT_NE(*replaced, *token);
  EXPECT_TRUE(*(*store)->CheckEnrollmentToken(HashToken(*replaced)));
  int live = 0;
  auto tokens = (*store)->ListEnrollmentTokens();
  ASSERT_TRUE(tokens);
  for (const EnrollmentToken& t : *tokens) {
    EXPECT_EQ(t.label, kJoinTokenLabel);
    live += t.revoked ? 0 : 1;
  }
  EXPECT_EQ(live, 1);
}

}  // namespace
}  // namespace podfleet
