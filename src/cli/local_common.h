// Pieces shared by the CLI's worker-side command files (work, transcribe, models, bench): all a
// worker-only build (-DPODFLEET_WORKER_ONLY=ON) compiles of the CLI. Nothing here may include a
// coordinator-side header (coordinator/, store/, feeds/, the HTTP server).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "cli/flags.h"
#include "engines/engine.h"
#include "worker/worker.h"

namespace podfleet {

std::vector<Flag> EngineFlags(EngineConfig& config);
std::vector<Flag> WorkerFlags(WorkerOptions& options);

// The sample podcast of the quick start.
struct SampleEpisode {
  std::string file;  // "ep1.mp3"
  std::string title;
  std::string text;  // what is spoken
};
const std::vector<SampleEpisode>& SampleEpisodes();
// Writes the sample episodes (espeak-ng speech encoded with ffmpeg) and feed.xml into `dir`,
// reusing files made before. Returns the feed's path. kUnavailable when a tool is missing.
Result<std::filesystem::path> MakeSampleFeed(const std::filesystem::path& dir);

}  // namespace podfleet
