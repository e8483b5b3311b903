// Encoding audio as Ogg Opus, the compact speech format the coordinator's relay serves workers.
#pragma once

#include <filesystem>
#include <span>

#include "core/error.h"

namespace podfleet {

struct OpusOptions {
  // Bits per second. 24 kbps keeps PocketSphinx's word error rate on the project's test speech
  // where the original gives it (doc/relay.md has the measurement).
  int bitrate = 24'000;
  // libopus's complexity, 0..10: 10 (its default) encodes at about 30x realtime on one core of
  // this machine, 5 several times faster at a quality speech recognition does not notice.
  int complexity = 5;
};

// Writes `samples` (kSampleRate Hz mono, in [-1, 1]) to `path` as Ogg Opus through FFmpeg's
// libopus encoder; DecodeAudioFile reads it back. The file is written whole to a temporary name
// and renamed, so `path` never holds half a file. kInvalidArgument for a bitrate outside
// 6..256 kbps; kUnavailable when the encoder is missing or the file cannot be written.
Result<void> WriteOpus(const std::filesystem::path& path, std::span<const float> samples,
                       const OpusOptions& options = {});

}  // namespace podfleet
