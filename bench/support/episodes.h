// Episodes for the benchmarks, made as podcast hosts serve them, and the ffmpeg CLI doing the
// relay's work on them (the baseline bench/relay and bench/fleet measure the relay against).
//
// Episodes are the project's espeak-ng test speech (tests/support/speech.h) encoded once by
// ffmpeg and joined `minutes` times without re-encoding: "mp3" (128 kb/s stereo 44.1 kHz), "m4a"
// (96 kb/s AAC, stereo 44.1 kHz) or "lowrate" (16 kb/s mono MP3). Files are kept in `dir` and
// reused when they exist.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "audio/opus.h"
#include "core/error.h"

namespace podfleet::bench {

// CPU seconds (user + system) of getrusage(`who`): RUSAGE_SELF or RUSAGE_CHILDREN.
double CpuSeconds(int who);

// Runs the ffmpeg CLI with `args` (after -nostdin -y -loglevel error).
Result<void> Ffmpeg(std::vector<std::string> args);

// The path of the episode of `kind` ("mp3", "m4a", "lowrate") and `minutes`, made if missing.
Result<std::filesystem::path> MakeEpisode(const std::filesystem::path& dir, std::string_view kind,
                                          int minutes);

// The ffmpeg CLI doing the relay's Opus work (decode to 16 kHz mono, encode at `opus`), one
// process per file, one after another: wall and CPU seconds.
Result<std::pair<double, double>> FfmpegBaseline(const std::vector<std::filesystem::path>& files,
                                                 const std::filesystem::path& dir,
                                                 const OpusOptions& opus = OpusOptions{});

// The ffmpeg CLI doing the copy path's work, one file after another: decoding each to 16 kHz
// mono (to find its pauses) and then `-c copy -f segment` at `cuts` (seconds, per file): wall and
// CPU seconds.
Result<std::pair<double, double>> FfmpegCopyBaseline(
    const std::vector<std::filesystem::path>& files, const std::vector<std::vector<double>>& cuts,
    const std::filesystem::path& dir);

}  // namespace podfleet::bench
