#include "engines/whisper_models.h"

#include <fmt/format.h>

namespace podfleet {
namespace {

constexpr int64_t kMiB = 1 << 20;

// Sizes and sums from whisper.cpp 1.9.1's models/README.md; sizes of the other quantized files as
// listed on the host (MiB). Names as in its models/download-ggml-model.sh.
constexpr WhisperModelInfo kModels[] = {
    {"tiny", "tiny", 75 * kMiB, "bd577a113a864445d4c299885e0cb97d4ba92b5f"},
    {"tiny.en", "tiny", 75 * kMiB, "c78c86eb1a8faa21b369bcd33207cc90d64ae9df"},
    {"tiny-q5_1", "tiny", 31 * kMiB, ""},
    {"tiny.en-q5_1", "tiny", 31 * kMiB, ""},
    {"tiny-q8_0", "tiny", 42 * kMiB, ""},
    {"base", "base", 142 * kMiB, "465707469ff3a37a2b9b8d8f89f2f99de7299dac"},
    {"base.en", "base", 142 * kMiB, "137c40403d78fd54d454da0f9bd998f78703390c"},
    {"base-q5_1", "base", 57 * kMiB, ""},
    {"base.en-q5_1", "base", 57 * kMiB, ""},
    {"base-q8_0", "base", 78 * kMiB, ""},
    {"small", "small", 466 * kMiB, "55356645c2b361a969dfd0ef2c5a50d530afd8d5"},
    {"small.en", "small", 466 * kMiB, "db8a495a91d927739e50b3fc1cc4c6b8f6c2d022"},
    {"small-q5_1", "small", 181 * kMiB, ""},
    {"small.en-q5_1", "small", 181 * kMiB, ""},
    {"small-q8_0", "small", 252 * kMiB, ""},
    {"medium", "medium", 1533 * kMiB, "fd9727b6e1217c2f614f9b698455c4ffd82463b4"},
    {"medium.en", "medium", 1533 * kMiB, "8c30f0e44ce9560643ebd10bbe50cd20eafd3723"},
    {"medium-q5_0", "medium", 514 * kMiB, ""},
    {"medium.en-q5_0", "medium", 514 * kMiB, ""},
    {"medium-q8_0", "medium", 785 * kMiB, ""},
    {"large-v3", "large-v3", 2952 * kMiB, "ad82bf6a9043ceed055076d0fd39f5f186ff8062"},
    {"large-v3-q5_0", "large-v3", 1080 * kMiB, "e6e2ed78495d403bef4b7cff42ef4aaadcfea8de"},
    {"large-v3-turbo", "large-v3-turbo", 1549 * kMiB, "4af2b29d7ec73d781377bfd1758ca957a807e941"},
    {"large-v3-turbo-q5_0", "large-v3-turbo", 547 * kMiB,
     "e050f7970618a659205450ad97eb95a18d69c9ee"},
    {"large-v3-turbo-q8_0", "large-v3-turbo", 834 * kMiB, ""},
};

// Tensor data of the 0.6B shape in each weight type (MiB, rounded up).
constexpr ParakeetModelInfo kParakeetModels[] = {
    {"parakeet-tdt-0.6b-v3-f32", "f32", 2393 * kMiB},
    {"parakeet-tdt-0.6b-v3-f16", "f16", 1198 * kMiB},
    {"parakeet-tdt-0.6b-v3-q8_0", "q8_0", 638 * kMiB},
    {"parakeet-tdt-0.6b-v3-q4_0", "q4_0", 339 * kMiB},
    {"parakeet-tdt-0.6b-v3-q4_k", "q4_k", 397 * kMiB},
};

// An existing file as given; else a catalog name (`known`) looked up as models_dir/ggml-NAME.bin.
Result<std::filesystem::path> ResolveModel(const std::string& model,
                                           const std::filesystem::path& models_dir, bool known,
                                           std::string_view engine) {
  if (model.empty())
    return InvalidArgument(fmt::format(
        "the {} engine needs --model: a ggml model file, or a name from 'podfleet models list'",
        engine));
  std::error_code ec;
  if (std::filesystem::is_regular_file(model, ec)) return std::filesystem::path(model);
  if (!known)
    return InvalidArgument(fmt::format(
        "model '{}' is neither a file nor a known {} model name (see 'podfleet models list')",
        model, engine));
  const auto path = models_dir / WhisperModelFileName(model);
  if (!std::filesystem::is_regular_file(path, ec))
    return NotFound(
        fmt::format("model '{}' is not downloaded ({} missing): run 'podfleet models "
                    "pull {}'",
                    model, path.string(), model));
  return path;
}

}  // namespace

std::span<const ParakeetModelInfo> ParakeetModels() { return kParakeetModels; }

const ParakeetModelInfo* FindParakeetModel(std::string_view name) {
  for (const ParakeetModelInfo& m : kParakeetModels)
    if (m.name == name) return &m;
  return nullptr;
}

Result<std::filesystem::path> ResolveParakeetModel(const std::string& model,
                                                   const std::filesystem::path& models_dir) {
  return ResolveModel(model, models_dir, FindParakeetModel(model) != nullptr, "parakeet");
}

std::span<const WhisperModelInfo> WhisperModels() { return kModels; }

const WhisperModelInfo* FindWhisperModel(std::string_view name) {
  for (const WhisperModelInfo& m : kModels)
    if (m.name == name) return &m;
  return nullptr;
}

std::string WhisperModelFileName(std::string_view name) { return fmt::format("ggml-{}.bin", name); }

Result<std::filesystem::path> ResolveWhisperModel(const std::string& model,
                                                  const std::filesystem::path& models_dir) {
  return ResolveModel(model, models_dir, FindWhisperModel(model) != nullptr, "whisper");
}

}  // namespace podfleet
