// `podfleet models`: the ggml Whisper models whisper.cpp's authors publish; list, pull (download
// with resume, progress and verification) and make-random (test and benchmark models).
#include <fmt/format.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <mutex>
#include <optional>

#include "cli/commands.h"
#include "cli/local_common.h"
#include "engines/parakeet_model_file.h"
#include "engines/whisper_model_file.h"
#include "engines/whisper_models.h"
#include "net/file_digest.h"
#include "net/http_client.h"

namespace podfleet {
namespace {

struct ModelsArgs {
  std::filesystem::path models_dir = "podfleet-data/models";
  std::string models_url;  // empty: each catalog's own host
  std::string weights = "f16";
  std::string output;
  bool english = false;
};

std::string Size(int64_t bytes) {
  if (bytes >= (int64_t{1} << 30)) return fmt::format("{:.1f} GiB", bytes / double(1 << 30));
  return fmt::format("{} MiB", (bytes + (1 << 19)) >> 20);
}

// The weight type a catalog name implies: "-q5_0" suffix, else f16.
std::string WeightsOf(std::string_view name) {
  const auto dash = name.rfind("-q");
  return dash == std::string_view::npos ? "f16" : std::string(name.substr(dash + 1));
}

// Checks a downloaded file: a complete ggml Whisper model of the catalog entry's shape and weight
// type, and its SHA-1 where one is published. Returns the SHA-1.
Result<std::string> VerifyModel(const std::filesystem::path& path, const WhisperModelInfo& m) {
  auto info = InspectWhisperModel(path);
  if (!info) return std::unexpected(info.error());
  const bool english = m.name.find(".en") != std::string_view::npos;
  auto shape = WhisperShape(m.shape, english);
  if (!shape) return std::unexpected(shape.error());
  const WhisperHparams& h = info->hparams;
  if (h.n_vocab != shape->n_vocab || h.n_audio_state != shape->n_audio_state ||
      h.n_audio_layer != shape->n_audio_layer || h.n_text_layer != shape->n_text_layer ||
      h.n_mels != shape->n_mels || info->weights != WeightsOf(m.name))
    return Corruption(fmt::format("{} is a {}-layer {} model of width {}, not {}", path.string(),
                                  h.n_audio_layer, info->weights, h.n_audio_state, m.name));
  auto sha1 = FileDigest(path, "sha1");
  if (!sha1) return sha1;
  if (!m.sha1.empty() && *sha1 != m.sha1)
    return Corruption(fmt::format("checksum mismatch: SHA-1 {}, published {}", *sha1, m.sha1));
  return sha1;
}

// Checks a downloaded Parakeet file: a complete Parakeet model of the 0.6B shape and the entry's
// weight type (no sums are published). Returns its SHA-1, for the record.
Result<std::string> VerifyParakeet(const std::filesystem::path& path, const ParakeetModelInfo& m) {
  auto info = InspectParakeetModel(path);
  if (!info) return std::unexpected(info.error());
  const ParakeetHparams want = ParakeetTdt06bShape();
  const ParakeetHparams& h = info->hparams;
  if (h.n_audio_state != want.n_audio_state || h.n_audio_layer != want.n_audio_layer ||
      h.n_mels != want.n_mels || info->weights != m.weights)
    return Corruption(fmt::format("{} is a {}-layer {} Parakeet model of width {}, not {}",
                                  path.string(), h.n_audio_layer, info->weights, h.n_audio_state,
                                  m.name));
  return FileDigest(path, "sha1");
}

std::string Here(const ModelsArgs& a, std::string_view name) {
  std::error_code ec;
  const auto path = a.models_dir / WhisperModelFileName(name);
  return std::filesystem::is_regular_file(path, ec) ? path.string() : "";
}

int List(const ModelsArgs& a) {
  fmt::print("{:<26} {:<9} {:>9}  {:<40}  {}\n", "NAME", "ENGINE", "SIZE", "SHA-1 (published)",
             "HERE");
  for (const WhisperModelInfo& m : WhisperModels())
    fmt::print("{:<26} {:<9} {:>9}  {:<40}  {}\n", m.name, "whisper", Size(m.approx_bytes),
               m.sha1.empty() ? "-" : m.sha1, Here(a, m.name));
  for (const ParakeetModelInfo& m : ParakeetModels())
    fmt::print("{:<26} {:<9} {:>9}  {:<40}  {}\n", m.name, "parakeet", Size(m.approx_bytes), "-",
               Here(a, m.name));
  fmt::print(
      "\nWhere no SHA-1 is published, 'pull' checks the file's structure and shape and "
      "prints its SHA-1.\nWhisper files come from {}, Parakeet TDT files from {}\n(parakeet sizes "
      "are computed from the model's shape; none are published).\n",
      kWhisperModelBaseUrl, kParakeetModelBaseUrl);
  return 0;
}

// "pulling base.en [#####     ] 52% 74/142 MiB" on a terminal; nothing otherwise.
class DownloadBar {
 public:
  explicit DownloadBar(std::string name) : name_(std::move(name)), tty_(isatty(2)) {}
  void Update(int64_t done, int64_t total) {
    if (!tty_) return;
    std::lock_guard lock(mu_);
    const double f = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 0;
    const int filled = static_cast<int>(f * 30);
    fmt::print(stderr, "\rpulling {} [{}{}] {:3.0f}% {}/{}", name_, std::string(filled, '#'),
               std::string(30 - filled, ' '), f * 100, done >> 20,
               total > 0 ? Size(total) : std::string("?"));
  }
  void Done() {
    if (tty_) fmt::print(stderr, "\n");
  }

 private:
  std::string name_;
  bool tty_;
  std::mutex mu_;
};

// A catalog entry to pull: where from, how big at most, and how to check it.
struct PullTarget {
  std::string base_url;
  int64_t approx_bytes = 0;
  std::function<Result<std::string>(const std::filesystem::path&)> verify;
  bool published_sum = false;
};

std::optional<PullTarget> FindPullTarget(const ModelsArgs& a, const std::string& name) {
  if (const WhisperModelInfo* m = FindWhisperModel(name))
    return PullTarget{a.models_url.empty() ? std::string(kWhisperModelBaseUrl) : a.models_url,
                      m->approx_bytes, [m](const auto& p) { return VerifyModel(p, *m); },
                      !m->sha1.empty()};
  if (const ParakeetModelInfo* m = FindParakeetModel(name))
    return PullTarget{a.models_url.empty() ? std::string(kParakeetModelBaseUrl) : a.models_url,
                      m->approx_bytes, [m](const auto& p) { return VerifyParakeet(p, *m); }, false};
  return std::nullopt;
}

int Pull(const ModelsArgs& a, const std::string& name) {
  const std::optional<PullTarget> m = FindPullTarget(a, name);
  if (!m) return Fail(fmt::format("unknown model '{}' (see 'podfleet models list')", name));
  std::error_code ec;
  std::filesystem::create_directories(a.models_dir, ec);
  if (ec) return Fail(fmt::format("cannot create {}: {}", a.models_dir.string(), ec.message()));
  const auto dest = a.models_dir / WhisperModelFileName(name);
  if (std::filesystem::is_regular_file(dest, ec)) {
    if (auto ok = m->verify(dest)) {
      fmt::print("{} is already here: {} (SHA-1 {})\n", name, dest.string(), *ok);
      return 0;
    }
  }
  const std::string url = m->base_url + "/" + WhisperModelFileName(name);
  auto http = MakeCurlClient(HttpClientOptions{});
  DownloadOptions options;
  options.max_bytes = m->approx_bytes * 2;
  DownloadBar bar(name);
  options.progress = [&](int64_t done, int64_t total) {
    bar.Update(done, total);
    return true;
  };
  auto got = http->Download(url, dest, options);
  bar.Done();
  if (!got) {
    const bool kept = std::filesystem::exists(dest.string() + ".part", ec);
    return Fail(fmt::format("{}: {}{}", url, got.error().ToString(),
                            kept ? " (partial download kept; run pull again to resume)" : ""));
  }
  auto sha1 = m->verify(dest);
  if (!sha1) {
    std::filesystem::remove(dest, ec);
    return Fail(fmt::format("{}: {}; the file was removed", name, sha1.error().ToString()));
  }
  fmt::print("pulled {} -> {} ({}, SHA-1 {}{})\n", name, dest.string(), Size(got->bytes), *sha1,
             m->published_sum ? ", verified" : ", no published sum: structure and shape checked");
  return 0;
}

int MakeRandom(const ModelsArgs& a, const std::string& shape_name) {
  if (a.output.empty()) return Fail("make-random needs --output FILE");
  if (shape_name == "parakeet-tdt-0.6b" || shape_name == "parakeet-tiny") {
    RandomParakeetOptions options{
        shape_name == "parakeet-tiny" ? TinyParakeetShape() : ParakeetTdt06bShape(), a.weights};
    auto bytes = WriteRandomParakeetModel(a.output, options);
    if (!bytes) return Fail(bytes.error().ToString());
    fmt::print("wrote {} ({}, random weights: its text is nonsense)\n", a.output, Size(*bytes));
    return 0;
  }
  auto shape = WhisperShape(shape_name, a.english);
  if (!shape) return Fail(shape.error().ToString());
  RandomModelOptions options{*shape, a.weights};
  auto bytes = WriteRandomWhisperModel(a.output, options);
  if (!bytes) return Fail(bytes.error().ToString());
  fmt::print("wrote {} ({}, random weights: its text is nonsense)\n", a.output, Size(*bytes));
  return 0;
}

}  // namespace

int RunModels(const Args& args) {
  ModelsArgs a;
  std::vector<Flag> flags = {
      PathFlag("models-dir", &a.models_dir, "where models are kept"),
      StringFlag("models-url", &a.models_url,
                 "base URL of the model host (files at URL/ggml-NAME.bin; default: the "
                 "catalog's)",
                 "URL"),
      StringFlag("weights", &a.weights, "make-random: f16, f32, q8_0, q5_0, q5_1, q4_0, q4_1",
                 "TYPE"),
      BoolFlag("english", &a.english, "make-random: the English-only (.en) vocabulary"),
      StringFlag("output", &a.output, "make-random: the file to write", "FILE"),
  };
  auto parsed = ParseFlags(flags, "models", args);
  if (!parsed) return Fail(parsed.error().message);
  const auto& pos = parsed->positional;
  const bool usage_ok = (pos.size() == 1 && pos[0] == "list") ||
                        (pos.size() == 2 && (pos[0] == "pull" || pos[0] == "make-random"));
  if (parsed->help || !usage_ok) {
    fmt::print("{}",
               FlagHelp(flags, "models list | pull NAME | make-random SIZE --output FILE",
                        "Lists and downloads the ggml Whisper models for --engine whisper and the "
                        "Parakeet TDT models for\n--engine parakeet that whisper.cpp's authors "
                        "publish, verifying each download. make-random writes\na model of a real "
                        "size (tiny, base, small, medium, large-v3, large-v3-turbo, "
                        "parakeet-tdt-0.6b;\nparakeet-tiny for tests) with random weights, for "
                        "tests and benchmarks."));
    return parsed->help ? 0 : 2;
  }
  if (pos[0] == "list") return List(a);
  if (pos[0] == "pull") return Pull(a, pos[1]);
  return MakeRandom(a, pos[1]);
}

}  // namespace podfleet
