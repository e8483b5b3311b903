// libFuzzer target for the analytics inputs an operator or a worker controls: price table entries
// (serve --price), link speeds (serve --uplink), CUDA versions (nvidia-smi's banner, the engine's
// runtime) and the preflight's reading of a GPU whose driver reports them.
// Build as fuzz/rss_fuzz.cc says, with src/coordinator/price_table.cc, src/cli/flags.cc,
// src/engines/engine.cc and src/worker/preflight.cc (and what they link) in place of src/feeds.
// Besides not crashing, it checks the contracts callers rely on.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cli/flags.h"
#include "coordinator/price_table.h"
#include "engines/engine.h"
#include "worker/preflight.h"

namespace {

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  podfleet::PriceTable prices;
  if (podfleet::Result<void> r = prices.Set(input); r) {
    for (const podfleet::PriceEntry& e : prices.entries)
      Check(!e.gpu.empty() && e.dollars_per_hour >= 0 && std::isfinite(e.dollars_per_hour));
  } else {
    Check(r.error().code == podfleet::Code::kInvalidArgument);
  }
  if (std::optional<double> p = prices.ForGpu(input)) Check(*p >= 0);

  if (podfleet::Result<double> rate = podfleet::ParseBitRate(input); rate)
    Check(*rate >= 0 && std::isfinite(*rate));

  const int cuda = podfleet::ParseCudaVersion(input);
  Check(cuda == 0 || (cuda >= 1000 && cuda % 10 == 0));

  podfleet::Hardware hw;
  hw.gpus = {{std::string(input), std::string(input), 0, std::string(input)}};
  podfleet::EngineInfo engine{"fuzz", "fuzz", false, 12080};
  (void)podfleet::CheckGpu(hw, engine);
  return 0;
}
