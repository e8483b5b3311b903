// Encoding audio as Ogg Opus, the compact speech format the coordinator's relay serves workers.
#pragma once

#include <filesystem>
#include <span>
#include <string>

#include "core/error.h"

namespace podfleet {

struct OpusOptions {
  // Bits per second. 24 kbps keeps PocketSphinx's word error rate on the project's test speech
  // where the original gives it (doc/relay.md has the measurement).
  int bitrate = 24'000;
  // libopus's complexity, 0..10, its frame length in ms (20, 40 or 60) and its application
  // ("voip", "audio" or "lowdelay"). The relay's encoding is most of the coordinator's CPU; the
  // defaults were chosen by bench/opus_settings, speed against PocketSphinx's WER on test speech
  // (doc/relay.md): complexity 0 with 60 ms frames encodes about 2.5x faster than the
  // complexity 5 / 20 ms shipped before, at a WER a recognizer does not tell apart.
  int complexity = 0;
  int frame_ms = 60;
  std::string application = "voip";
};

// kInvalidArgument naming the first setting libopus would refuse (bitrate outside 6..256 kbps,
// complexity outside 0..10, a frame other than 20, 40 or 60 ms, an unknown application).
Result<void> CheckOpusOptions(const OpusOptions& options);

// Writes `samples` (kSampleRate Hz mono, in [-1, 1]) to `path` as Ogg Opus through FFmpeg's
// libopus encoder; DecodeAudioFile reads it back. The file is written whole to a temporary name
// and renamed, so `path` never holds half a file. kInvalidArgument for a bitrate outside
// 6..256 kbps, a frame length or application libopus does not know; kUnavailable when the encoder
// is missing or the file cannot be written.
Result<void> WriteOpus(const std::filesystem::path& path, std::span<const float> samples,
                       const OpusOptions& options = {});

}  // namespace podfleet
