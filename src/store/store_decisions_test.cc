// The autoscaler's decision log in the store, on SQLite and PostgreSQL: kept in order, bounded,
// and there after the store is reopened.
#include <gtest/gtest.h>

#include "store/store.h"
#include "store/store_test_util.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

class StoreDecisions : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override { store_ = Must(GetParam().open(dir_)); }

  static std::vector<AutoscaleDecision> Numbered(int from, int to) {
    std::vector<AutoscaleDecision> out;
    for (int i = from; i < to; ++i)
      out.push_back({FromUnixMillis(1'000 * i), fmt::format("d{}", i)});
    return out;
  }
  std::vector<std::string> Texts(int limit) {
    std::vector<std::string> out;
    for (const AutoscaleDecision& d : Must(store_->ListDecisions(limit))) out.push_back(d.text);
    return out;
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
};

INSTANTIATE_ON_BOTH_STORES(StoreDecisions);

TEST_P(StoreDecisions, NewestAreListedOldestFirst) {
  EXPECT_TRUE(Must(store_->ListDecisions(10)).empty());
  ASSERT_OK(store_->AddDecisions(Numbered(0, 3), 100));
  ASSERT_OK(store_->AddDecisions({{FromUnixMillis(5'000), "with 'quotes' and\nlines"}}, 100));
  std::vector<AutoscaleDecision> all = Must(store_->ListDecisions(10));
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].text, "d0");
  EXPECT_EQ(ToUnixMillis(all[2].at), 2'000);
  EXPECT_EQ(all[3].text, "with 'quotes' and\nlines");
  EXPECT_EQ(Texts(2), (std::vector<std::string>{"d2", "with 'quotes' and\nlines"}));
  EXPECT_TRUE(Must(store_->ListDecisions(0)).empty());
}

TEST_P(StoreDecisions, OnlyTheNewestKeepAreKept) {
  ASSERT_OK(store_->AddDecisions(Numbered(0, 5), 3));
  EXPECT_EQ(Texts(100), (std::vector<std::string>{"d2", "d3", "d4"}));
  ASSERT_OK(store_->AddDecisions(Numbered(5, 6), 3));
  EXPECT_EQ(Texts(100), (std::vector<std::string>{"d3", "d4", "d5"}));
  ASSERT_OK(store_->AddDecisions({}, 3));
  EXPECT_CODE(store_->AddDecisions(Numbered(6, 7), 0), Code::kInvalidArgument);
  EXPECT_EQ(Texts(100), (std::vector<std::string>{"d3", "d4", "d5"}));
}

TEST(StoreDecisionsSqlite, KeptAcrossReopening) {
  TempDir dir;
  {
    auto store = Must(OpenSqliteStore(dir.File("podfleet.db")));
    ASSERT_OK(store->AddDecisions({{FromUnixMillis(7), "want 2 pod(s)"}}, 10));
  }
  auto store = Must(OpenSqliteStore(dir.File("podfleet.db")));
  std::vector<AutoscaleDecision> all = Must(store->ListDecisions(10));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].text, "want 2 pod(s)");
  EXPECT_EQ(ToUnixMillis(all[0].at), 7);
}

}  // namespace
}  // namespace podfleet
