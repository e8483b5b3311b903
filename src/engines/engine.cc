#include "engines/engine.h"

#include <fmt/format.h>

#include "engines/engine_exec.h"
#include "engines/engine_openai.h"
#include "engines/engine_pocketsphinx.h"
#include "engines/engine_simulated.h"

namespace podfleet {
namespace {

struct EngineMaker {
  std::string_view name;
  Result<std::unique_ptr<Engine>> (*make)(const EngineConfig&);
};

constexpr EngineMaker kEngines[] = {
    {"pocketsphinx", MakePocketSphinxEngine},
    {"simulated", MakeSimulatedEngine},
    {"openai", MakeOpenAiEngine},
    {"exec", MakeExecEngine},
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
