// Pieces shared by the CLI's command files.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "cli/flags.h"
#include "coordinator/coordinator.h"
#include "engines/engine.h"
#include "worker/worker.h"

namespace podfleet {

std::vector<Flag> ServeFlags(CoordinatorOptions& options);
std::vector<Flag> EngineFlags(EngineConfig& config);
std::vector<Flag> WorkerFlags(WorkerOptions& options);

// Starts a coordinator and prints where it listens and, on first start, the enrollment token.
Result<std::unique_ptr<Coordinator>> StartCoordinator(const CoordinatorOptions& options);

// Prints GET /api/status as a person reads it.
void PrintStatus(const nlohmann::json& status);

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
