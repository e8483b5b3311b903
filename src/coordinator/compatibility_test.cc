#include "coordinator/compatibility.h"

#include <gtest/gtest.h>

namespace podfleet {
namespace {

Node GpuNode(const std::string& gpu, const std::string& engine, const std::string& blocked) {
  Node n;
  n.info.name = "n";
  n.info.engine = engine;
  n.info.hardware.gpus = {{"NVIDIA GeForce " + gpu, "550.54.15", 24'564, "12.4"}};
  n.info.blocked_reason = blocked;
  return n;
}

TEST(Compatibility, SeedBlocksTheKnownAdaFailures) {
  auto record = SeedCompatibility();
  EXPECT_TRUE(IsBlocked(record, "RTX 4090", "whisper"));
  EXPECT_TRUE(IsBlocked(record, "RTX 4080", "whisper"));
  EXPECT_TRUE(IsBlocked(record, "L4", "whisper"));
  EXPECT_FALSE(IsBlocked(record, "RTX A5000", "whisper"));
}

TEST(Compatibility, PreflightResultsDecideForTheirEngine) {
  auto record = BuildCompatibility(
      {GpuNode("RTX 4090", "simulated", ""), GpuNode("RTX A5000", "simulated", "CUDA error 35")},
      {true, false});
  EXPECT_FALSE(IsBlocked(record, "RTX 4090", "simulated"));  // it worked here
  EXPECT_TRUE(IsBlocked(record, "RTX 4090", "parakeet"));    // the seed still speaks for others
  EXPECT_TRUE(IsBlocked(record, "RTX A5000", "simulated"));
  const CompatEntry& last = record.back();
  EXPECT_EQ(last.gpu, "RTX A5000");
  EXPECT_EQ(last.driver, "550.54.15");
  EXPECT_EQ(last.source, "preflight");
  EXPECT_EQ(last.reason, "CUDA error 35");
}

TEST(Compatibility, NodesThatLearnedNothingAddNothing) {
  auto record = BuildCompatibility({GpuNode("RTX 3090", "simulated", "")}, {false});
  EXPECT_EQ(record.size(), SeedCompatibility().size());
}

}  // namespace
}  // namespace podfleet
