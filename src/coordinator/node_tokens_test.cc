#include "coordinator/node_tokens.h"

#include <gtest/gtest.h>

#include "store/store_test_util.h"
#include "support/manual_clock.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

class NodeTokensTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = Must(OpenSqliteStore(dir_.File("podfleet.db")));
    node_ = Must(store_->RegisterNode(NodeInfo{"w1"}, "hash-1", clock_.Now())).id;
  }

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Store> store_;
  NodeId node_;
  NodeTokens tokens_;
};

TEST_F(NodeTokensTest, FindsALiveNodeAndRefusesAnUnknownToken) {
  auto found = tokens_.Find(*store_, "hash-1", clock_.Now());
  ASSERT_TRUE(found) << found.error().ToString();
  EXPECT_EQ(found->id, node_);
  EXPECT_EQ(found->info.name, "w1");
  auto unknown = tokens_.Find(*store_, "hash-2", clock_.Now());
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, Code::kPermissionDenied);
}

// Registered after a lookup refused it: a refusal is not remembered.
TEST_F(NodeTokensTest, ATokenRefusedOnceIsFoundOnceRegistered) {
  ASSERT_FALSE(tokens_.Find(*store_, "hash-2", clock_.Now()));
  const NodeId second = Must(store_->RegisterNode(NodeInfo{"w2"}, "hash-2", clock_.Now())).id;
  auto found = tokens_.Find(*store_, "hash-2", clock_.Now());
  ASSERT_TRUE(found) << found.error().ToString();
  EXPECT_EQ(found->id, second);
}

TEST_F(NodeTokensTest, ARememberedTokenNeedsNoStore) {
  ASSERT_TRUE(tokens_.Find(*store_, "hash-1", clock_.Now()));
  store_.reset();  // the file stays; the tokens ask nothing of it any more
  auto other = Must(OpenSqliteStore(dir_.File("other.db")));
  auto found = tokens_.Find(*other, "hash-1", clock_.Now());
  ASSERT_TRUE(found) << found.error().ToString();
  EXPECT_EQ(found->id, node_);
}

TEST_F(NodeTokensTest, ATokenIsAskedForAgainAfterItsTime) {
  ASSERT_TRUE(tokens_.Find(*store_, "hash-1", clock_.Now()));
  auto other = Must(OpenSqliteStore(dir_.File("other.db")));
  clock_.Advance(NodeTokens::kRemember);
  auto again = tokens_.Find(*other, "hash-1", clock_.Now());
  ASSERT_FALSE(again) << "a token was trusted past its time";
  EXPECT_EQ(again.error().code, Code::kPermissionDenied);
}

// Retirement is final: the remembered token is refused at once, and so is the store's answer of a
// lookup that began before the node retired.
TEST_F(NodeTokensTest, ARetiredNodesTokenIsRefusedAtOnce) {
  ASSERT_TRUE(tokens_.Find(*store_, "hash-1", clock_.Now()));
  tokens_.Forget(node_);
  auto refused = tokens_.Find(*store_, "hash-1", clock_.Now());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Code::kPermissionDenied);
}

TEST_F(NodeTokensTest, SeenKeepsTheRememberedLastSeenCurrent) {
  ASSERT_TRUE(tokens_.Find(*store_, "hash-1", clock_.Now()));
  const TimePoint later = clock_.Now() + Millis(5'000);
  tokens_.Seen("hash-1", later);
  EXPECT_EQ(Must(tokens_.Find(*store_, "hash-1", clock_.Now())).last_seen, later);
}

}  // namespace
}  // namespace podfleet
