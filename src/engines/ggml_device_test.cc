#include "engines/ggml_device.h"

#include <gtest/gtest.h>

namespace podfleet {
namespace {

const std::vector<ComputeDevice> kCpuOnly = {{"CPU", "Xeon", false, 0, 0}};
const std::vector<ComputeDevice> kWithGpu = {{"CUDA0", "NVIDIA H200", true, 140'000, 143'000},
                                             {"CPU", "Xeon", false, 0, 0}};

TEST(ComputeDevices, ThisBuildOffersTheCpu) {
  bool cpu = false;
  for (const ComputeDevice& d : ComputeDevices()) cpu = cpu || !d.gpu;
  EXPECT_TRUE(cpu);
}

TEST(GgmlBackends, ThisBuildHasACpuBackendAndNamesItsVariantWhenLoaded) {
  const GgmlBackends& b = LoadGgmlBackends();
  EXPECT_TRUE(b.problem.empty()) << b.problem;
  EXPECT_EQ(b.loadable, !b.cpu_variant.empty()) << b.folder;
}

TEST(GgmlBackends, ACpuVariantIsNamedByItsModule) {
  EXPECT_EQ(CpuVariantOf("/opt/podfleet-worker-cpu/lib/libggml-cpu-haswell.so"), "haswell");
  EXPECT_EQ(CpuVariantOf("libggml-cpu-x64.so"), "x64");
  EXPECT_EQ(CpuVariantOf("lib/libggml-cpu.so"), "cpu");
}

TEST(ChooseDevice, AGpuModuleThatDidNotLoadIsNamedInTheProblem) {
  EngineConfig c;
  const DeviceChoice d = ChooseDevice(c, kCpuOnly, true, "libggml-cuda.so: libcudart.so.13: none");
  EXPECT_NE(d.problem.find("(libggml-cuda.so: libcudart.so.13: none)"), std::string::npos)
      << d.problem;
}

TEST(ChooseDevice, TakesTheFirstGpu) {
  EngineConfig c;
  const DeviceChoice d = ChooseDevice(c, kWithGpu, true);
  EXPECT_TRUE(d.gpu);
  EXPECT_EQ(d.device, "CUDA0 (NVIDIA H200)");
  EXPECT_TRUE(d.problem.empty());
  c.no_gpu = true;
  EXPECT_EQ(ChooseDevice(c, kWithGpu, true).device, "CPU");
}

TEST(ChooseDevice, AGpuBuildWithoutAGpuIsAProblemNotACpuFallback) {
  EngineConfig c;
  c.name = "whisper";
  const DeviceChoice d = ChooseDevice(c, kCpuOnly, /*built_for_gpu=*/true);
  EXPECT_FALSE(d.gpu);
  EXPECT_NE(d.problem.find("built with a GPU backend"), std::string::npos) << d.problem;
  c.no_gpu = true;  // asked for the CPU on purpose
  EXPECT_TRUE(ChooseDevice(c, kCpuOnly, true).problem.empty());
}

TEST(ChooseDevice, RequireGpuRefusesTheCpuInAnyBuild) {
  EngineConfig c;
  EXPECT_TRUE(ChooseDevice(c, kCpuOnly, false).problem.empty());
  c.require_gpu = true;
  EXPECT_NE(ChooseDevice(c, kCpuOnly, false).problem.find("--require-gpu"), std::string::npos);
}

}  // namespace
}  // namespace podfleet
