#include "coordinator/price_table.h"

#include <gtest/gtest.h>

namespace podfleet {
namespace {

NodeInfo WithGpu(const std::string& name) {
  NodeInfo n;
  n.hardware.gpus = {{name, "550.54.15", 24'564, "12.4"}};
  return n;
}

TEST(PriceTable, SeededWithTheSeedsPrices) {
  PriceTable t;
  EXPECT_EQ(t.ForGpu("NVIDIA RTX A4000"), 0.16);
  EXPECT_EQ(t.ForGpu("NVIDIA RTX A5000"), 0.22);
  EXPECT_EQ(t.ForGpu("NVIDIA GeForce RTX 3090"), 0.30);
  EXPECT_EQ(t.ForGpu("nvidia rtx a6000"), 0.45);
  EXPECT_FALSE(t.ForGpu("NVIDIA H100 80GB HBM3"));
}

TEST(PriceTable, SetOverridesAndAddsAndPrefersTheLongestMatch) {
  PriceTable t;
  ASSERT_TRUE(t.Set("RTX A5000=0.19"));
  ASSERT_TRUE(t.Set(" RTX 3090 Ti = 0.35 "));
  EXPECT_EQ(t.ForGpu("NVIDIA RTX A5000"), 0.19);
  EXPECT_EQ(t.ForGpu("NVIDIA GeForce RTX 3090 Ti"), 0.35);
  EXPECT_EQ(t.ForGpu("NVIDIA GeForce RTX 3090"), 0.30);
}

TEST(PriceTable, BadEntriesAreRefused) {
  PriceTable t;
  for (const char* bad : {"RTX A5000", "=0.2", "RTX A5000=", "RTX A5000=-1", "RTX=abc", "X=1e999"})
    EXPECT_EQ(t.Set(bad).error().code, Code::kInvalidArgument) << bad;
  EXPECT_EQ(t.entries.size(), PriceTable::DefaultEntries().size());
}

TEST(PriceTable, NodePriceOverrideThenLocalThenTable) {
  PriceTable t;
  NodeInfo pod = WithGpu("NVIDIA RTX A5000");
  EXPECT_EQ(PriceOf(pod, t), 0.22);
  pod.price_per_hour = 0.25;
  EXPECT_EQ(PriceOf(pod, t), 0.25);
  EXPECT_EQ(PriceOf(NodeInfo{}, t), 0.0);  // a machine without a GPU is local
  EXPECT_FALSE(PriceOf(WithGpu("NVIDIA L40S"), t));
  EXPECT_EQ(GpuModel(WithGpu("NVIDIA GeForce RTX 4090")), "RTX 4090");
  EXPECT_EQ(GpuModel(NodeInfo{}), "");
}

}  // namespace
}  // namespace podfleet
