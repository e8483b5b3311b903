#include "worker/preflight.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engines/engine_simulated.h"

namespace podfleet {
namespace {

using ::testing::HasSubstr;

Hardware Machine(const std::string& gpu, const std::string& driver, const std::string& cuda) {
  Hardware h;
  h.gpus = {{gpu, driver, 24'564, cuda}};
  return h;
}

EngineInfo GpuEngine(const char* cuda) {
  return {"parakeet", "tdt", false, ParseCudaVersion(cuda)};
}

TEST(Preflight, CudaVersionsParse) {
  EXPECT_EQ(ParseCudaVersion("12.8"), 12080);
  EXPECT_EQ(ParseCudaVersion("12.4"), 12040);
  EXPECT_EQ(ParseCudaVersion("13"), 13000);
  for (const char* bad : {"", "x", "12.", "12.4.1", "-1", "12.100"})
    EXPECT_EQ(ParseCudaVersion(bad), 0) << bad;
}

// Found by fuzz/analytics_fuzz.cc: a huge major number overflowed int (UBSan).
TEST(Preflight, HugeCudaMajorIsRefusedNotOverflowed) {
  EXPECT_EQ(ParseCudaVersion("1212123123"), 0);
  EXPECT_EQ(ParseCudaVersion("999.9"), 999090);
}

TEST(Preflight, OlderDriverFamilyIsCudaError35) {
  PreflightResult r =
      CheckGpu(Machine("NVIDIA GeForce RTX 4090", "470.256.02", "11.4"), GpuEngine("12.8"));
  EXPECT_FALSE(r.passed());
  EXPECT_THAT(r.blocked_reason, HasSubstr("CUDA error 35"));
  EXPECT_THAT(r.blocked_reason, HasSubstr("470.256.02 supports CUDA 11.4"));
  EXPECT_THAT(r.blocked_reason, HasSubstr("CUDA 12.x family"));
}

TEST(Preflight, OlderMinorVersionOnlyWarns) {
  PreflightResult r = CheckGpu(Machine("NVIDIA L4", "550.54.15", "12.4"), GpuEngine("12.8"));
  EXPECT_TRUE(r.passed());
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_THAT(r.warnings[0], HasSubstr("minor-version compatibility"));
}

TEST(Preflight, GpuEngineNeedsAGpuAndAKnownDriver) {
  EXPECT_THAT(CheckGpu(Hardware{}, GpuEngine("12.4")).blocked_reason,
              HasSubstr("no NVIDIA GPU visible"));
  EXPECT_THAT(
      CheckGpu(Machine("NVIDIA RTX A5000", "550.54.15", ""), GpuEngine("12.4")).blocked_reason,
      HasSubstr("CUDA version is unknown"));
  EXPECT_TRUE(CheckGpu(Machine("NVIDIA RTX A5000", "570.1", "12.8"), GpuEngine("12.8")).passed());
}

TEST(Preflight, CpuEngineIgnoresTheGpuAndPassesItsSelfTest) {
  EngineConfig config;
  config.name = "simulated";
  config.simulated_speed = 1000;
  auto engine = MakeSimulatedEngine(config);
  ASSERT_TRUE(engine);
  EXPECT_TRUE(RunPreflight(Hardware{}, **engine).passed());
}

TEST(Preflight, SimulatedGpuEngineIsBlockedOnAnOldDriver) {
  EngineConfig config;
  config.name = "simulated";
  config.simulated_speed = 1000;
  config.simulated_cuda = "12.8";
  auto engine = MakeSimulatedEngine(config);
  ASSERT_TRUE(engine);
  EXPECT_THAT(
      RunPreflight(Machine("NVIDIA GeForce RTX 4080", "470.1", "11.4"), **engine).blocked_reason,
      HasSubstr("CUDA error 35"));
  config.simulated_cuda = "twelve";
  EXPECT_FALSE(MakeSimulatedEngine(config));
}

// The start-up probe checks a speed floor for the device the engine claims: a "GPU" engine that
// runs its warm self-test at CPU speed is blocked, one at GPU speed passes.
TEST(Preflight, GpuEngineBelowItsSpeedFloorIsBlocked) {
  EngineConfig config;
  config.name = "simulated";
  config.simulated_cuda = "12.8";
  config.simulated_speed = 1.5;  // below kGpuSpeedFloor
  auto slow = MakeSimulatedEngine(config);
  ASSERT_TRUE(slow);
  const Hardware h = Machine("NVIDIA L4", "570.1", "12.8");
  EXPECT_THAT(RunPreflight(h, **slow).blocked_reason, HasSubstr("below the 3.0x floor"));
  config.simulated_speed = 200;
  auto fast = MakeSimulatedEngine(config);
  ASSERT_TRUE(fast);
  EXPECT_TRUE(RunPreflight(h, **fast).passed());
}

TEST(Preflight, EngineDeviceProblemBlocks) {
  EngineInfo info{"parakeet", "m", true, 13000};
  info.device_problem = "the parakeet engine needs a GPU but ggml found no usable one";
  const Hardware h = Machine("NVIDIA H200", "580.159.04", "13.0");
  EXPECT_THAT(CheckEngine(h, info).blocked_reason, HasSubstr("found no usable one"));
  info.device_problem.clear();
  EXPECT_TRUE(CheckEngine(h, info).passed());
}

}  // namespace
}  // namespace podfleet
