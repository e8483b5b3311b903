// podfleet: one binary for the coordinator, the workers and the operator's commands.
#include <fmt/format.h>

#include <cstring>

#include "cli/commands.h"

namespace {

using podfleet::Command;

// Coordinator-side commands first; a worker-only build (-DPODFLEET_WORKER_ONLY=ON) has only the
// commands that run an engine on this machine (the second group).
constexpr Command kCommands[] = {
#ifndef PODFLEET_WORKER_ONLY
    {"demo", "generate a sample feed and transcribe it on this machine (the quick start)",
     podfleet::RunDemo},
    {"serve", "run the coordinator", podfleet::RunServe},
    {"up", "run a coordinator and local workers in one process", podfleet::RunUp},
    {"status", "show nodes, queue and throughput", podfleet::RunStatus},
    {"feed", "add, list, refresh or remove feeds", podfleet::RunFeed},
    {"episodes", "list episodes, or add one audio file (URL or upload)", podfleet::RunEpisodes},
    {"transcript", "fetch an episode's transcript (txt, srt, vtt, json, md)",
     podfleet::RunTranscript},
    {"search", "search every transcript: episodes and moments where words are said",
     podfleet::RunSearch},
    {"reindex", "rebuild the transcripts' search index", podfleet::RunReindex},
    {"mcp", "a Model Context Protocol server for assistants (stdio or HTTP)", podfleet::RunMcp},
    {"token", "create, list or revoke enrollment tokens for workers", podfleet::RunToken},
    {"store", "check, back up or restore the coordinator's database", podfleet::RunStore},
    {"gpus", "GPU economics and bandwidth from measured speeds and prices", podfleet::RunGpus},
    {"plan", "how many pods of which GPU to run for the queue or a backlog", podfleet::RunPlan},
    {"pods", "list, rent (up N) or stop (down ID|all) pods through the provider",
     podfleet::RunPods},
    {"doctor", "the fleet's checks: pods busy, prefetch, gaps, idle billing", podfleet::RunDoctor},
#endif
    {"work", "run a worker against a coordinator", podfleet::RunWork},
    {"transcribe", "transcribe one audio file without a server", podfleet::RunTranscribe},
    {"wer", "word error rate of a hypothesis against a reference text", podfleet::RunWer},
    {"models", "list or download the whisper engine's models", podfleet::RunModels},
    {"bench", "measure this machine's engines (bench engine)", podfleet::RunBench},
};

void Usage() {
  fmt::print(
      "podfleet {} - podcast transcription on a fleet of workers\n\nUsage: podfleet COMMAND "
      "[options]\n\nCommands:\n",
      PODFLEET_VERSION);
  for (const Command& c : kCommands) fmt::print("  {:<12} {}\n", c.name, c.summary);
  fmt::print("\nRun 'podfleet COMMAND --help' for a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    Usage();
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    fmt::print("podfleet {}\n", PODFLEET_VERSION);
    return 0;
  }
  for (const Command& c : kCommands) {
    if (c.name == std::string_view(argv[1])) {
      try {
        return c.run(podfleet::Args(argv + 2, argv + argc));
      } catch (const std::exception& e) {
        return podfleet::Fail(std::string("internal error: ") + e.what());
      }
    }
  }
  fmt::print(stderr, "podfleet: unknown command '{}'\n\n", argv[1]);
  Usage();
  return 2;
}
