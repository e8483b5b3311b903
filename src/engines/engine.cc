#include "engines/engine.h"

#include <fmt/format.h>

#include <charconv>

#include "engines/engine_exec.h"
#include "engines/engine_openai.h"
#include "engines/engine_pocketsphinx.h"
#include "engines/engine_simulated.h"
#ifdef PODFLEET_HAVE_WHISPER
#include "engines/engine_whisper.h"
#endif
#ifdef PODFLEET_HAVE_PARAKEET
#include "engines/engine_parakeet.h"
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

#ifndef PODFLEET_HAVE_PARAKEET
Result<std::unique_ptr<Engine>> MakeParakeetEngine(const EngineConfig&) {
  return Unavailable(
      "this podfleet was built without whisper.cpp's Parakeet: run scripts/setup (or configure "
      "with -DPODFLEET_WHISPER_SOURCE=DIR, a whisper.cpp 1.9 or later tree) and rebuild");
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
    {"parakeet", MakeParakeetEngine},
    {"openai", MakeOpenAiEngine},
    {"exec", MakeExecEngine},
};

}  // namespace

int ParseCudaVersion(std::string_view text) {
  int major = 0, minor = 0;
  const char* end = text.data() + text.size();
  auto [dot, ec] = std::from_chars(text.data(), end, major);
  if (ec != std::errc() || major <= 0 || major > 999) return 0;  // CUDA majors are small
  if (dot != end) {
    if (*dot != '.') return 0;
    auto [rest, ec2] = std::from_chars(dot + 1, end, minor);
    if (ec2 != std::errc() || rest != end || minor < 0 || minor > 99) return 0;
  }
  return 1000 * major + 10 * minor;
}

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
