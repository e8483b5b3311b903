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

// The Parakeet TDT 0.6B files whisper.cpp's authors publish (huggingface.co/ggml-org/parakeet-GGUF,
// as named in whisper.cpp 1.9.1's scripts/upload-parakeet.py): v3 (multilingual, 25 European
// languages, punctuated and cased) in f32, f16, q8_0, q4_0 and q4_k. No English v2 file is
// published (convert it with whisper.cpp's models/convert-parakeet-to-ggml.py and pass its path).
// Neither sizes nor checksums are published with them: the sizes here are those of the tensor data
// computed from the model's shape (parakeet_model_file.h), and a download is checked by structure
// (InspectParakeetModel: a complete Parakeet model of the 0.6B shape and the weight type).
struct ParakeetModelInfo {
  std::string_view name;     // "parakeet-tdt-0.6b-v3-f16"
  std::string_view weights;  // "f16"
  int64_t approx_bytes;
};

std::span<const ParakeetModelInfo> ParakeetModels();
const ParakeetModelInfo* FindParakeetModel(std::string_view name);

inline constexpr std::string_view kParakeetModelBaseUrl =
    "https://huggingface.co/ggml-org/parakeet-GGUF/resolve/main";

// As ResolveWhisperModel, for the parakeet engine and the Parakeet catalog.
Result<std::filesystem::path> ResolveParakeetModel(const std::string& model,
                                                   const std::filesystem::path& models_dir);

}  // namespace podfleet
