#include "engines/engine.h"

#include <fmt/format.h>

#include "engines/engine_pocketsphinx.h"
#include "engines/engine_simulated.h"
#ifdef PODFLEET_HAVE_WHISPER
#include "engines/engine_whisper.h"
#endif

namespace podfleet {
namespace {

#ifndef PODFLEET_HAVE_WHISPER
Result<std::unique_ptr<Engine>> MakeWhisperEngine(const EngineConfig&) {
  return Unavailable(
      "this podfleet was built without whisper.cpp: run scripts/setup (or configure with "
      "-DPODFLEET_WHISPER_SOURCE=DIR) and rebuild");
}
#endif

struct EngineMaker {
  std::string_view name;
  Result<std::unique_ptr<Engine>> (*make)(const EngineConfig&);
};

constexpr EngineMaker kEngines[] = {
    {"pocketsphinx", MakePocketSphinxEngine},
    {"simulated", MakeSimulatedEngine},
    {"whisper", MakeWhisperEngine},
};

}  // namespace

Result<std::unique_ptr<Engine>> MakeEngine(const EngineConfig& config) {
  for (const EngineMaker& e : kEngines) {
    if (e.name == config.name) return e.make(config);
  }
  std::vector<std::string_view> known;
  for (const EngineMaker& e : kEngines) known.push_back(e.name);
  return InvalidArgument(
      fmt::format("unknown engine \"{}\"; known: {}", config.name, fmt::join(known, ", ")));
}

}  // namespace podfleet
