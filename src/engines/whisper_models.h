// The catalog of ggml Whisper models that whisper.cpp's authors publish, and where a downloaded
// one lives. Pure data and paths: downloading is the CLI's (`podfleet models pull`, over
// net/http_client.h), so engines stay free of HTTP.
//
// Files are named ggml-NAME.bin, as on the public host (huggingface.co/ggerganov/whisper.cpp) and
// in whisper.cpp's own download script. SHA-1 sums are pinned where whisper.cpp 1.9.1's
// models/README.md publishes them (the unquantized models and the q5_0 large ones); for the
// others the sum is empty, and a download is checked by structure instead (InspectWhisperModel:
// a complete ggml Whisper model of the expected shape) and its SHA-1 printed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "core/error.h"

namespace podfleet {

struct WhisperModelInfo {
  std::string_view name;   // "base.en", "large-v3-turbo-q5_0"
  std::string_view shape;  // WhisperShape size: "base", "large-v3-turbo"
  int64_t approx_bytes;    // as published (MiB rounded), for listing and disk checks
  std::string_view sha1;   // hex, empty when no published sum is known
};

std::span<const WhisperModelInfo> WhisperModels();
const WhisperModelInfo* FindWhisperModel(std::string_view name);

// "ggml-NAME.bin".
std::string WhisperModelFileName(std::string_view name);

// The public host's base URL; files are at BASE/ggml-NAME.bin.
inline constexpr std::string_view kWhisperModelBaseUrl =
    "https://huggingface.co/ggerganov/whisper.cpp/resolve/main";

// The file a whisper model setting names: an existing file as given; else a catalog name, looked
// up as models_dir/ggml-NAME.bin. kInvalidArgument when `model` is empty or neither a file nor a
// known name; kNotFound when a known model is not downloaded (the message says how to pull it).
Result<std::filesystem::path> ResolveWhisperModel(const std::string& model,
                                                  const std::filesystem::path& models_dir);

}  // namespace podfleet
