#include "engines/engine_exec.h"

#include <fmt/format.h>
#include <stdlib.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <filesystem>

#include "engines/child_process.h"
#include "engines/chunks.h"
#include "engines/transcription_json.h"

namespace podfleet {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// A private scratch folder, removed with its files when it goes away.
class ScratchDir {
 public:
  static Result<ScratchDir> Create() {
    std::string pattern = (fs::temp_directory_path() / "podfleet-exec-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
      return Unavailable("cannot create a scratch folder in " + fs::temp_directory_path().string());
    return ScratchDir(pattern);
  }
  ScratchDir(ScratchDir&& o) noexcept : path_(std::exchange(o.path_, {})) {}
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  explicit ScratchDir(fs::path path) : path_(std::move(path)) {}
  fs::path path_;
};

// The first word of a shell command line, good enough to check that its program exists.
std::string ProgramOf(std::string_view command) {
  const size_t b = command.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  return std::string(command.substr(b, command.find_first_of(" \t", b) - b));
}

bool ProgramExists(const std::string& program) {
  if (program.find('/') != std::string::npos) return ::access(program.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  std::string_view dirs = path ? path : "/usr/bin:/bin";
  while (!dirs.empty()) {
    const size_t colon = dirs.find(':');
    const fs::path dir(std::string(dirs.substr(0, colon)));
    if (::access((dir / program).c_str(), X_OK) == 0) return true;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return false;
}

// The fraction in a "progress F" line, if it is one.
std::optional<double> ProgressLine(std::string_view line) {
  if (!line.starts_with("progress ")) return std::nullopt;
  line.remove_prefix(9);
  double f = 0;
  auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), f);
  if (ec != std::errc() || !(f >= 0 && f <= 1)) return std::nullopt;
  return f;
}

// The last non-empty line of `text`, for error messages.
std::string LastLine(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  const size_t nl = text.rfind('\n');
  return std::string(nl == std::string_view::npos ? text : text.substr(nl + 1));
}

class ExecEngine final : public Engine {
 public:
  explicit ExecEngine(EngineConfig config) : config_(std::move(config)) {}

  EngineInfo info() const override {
    const std::string model = config_.model.empty()
                                  ? fs::path(ProgramOf(config_.command)).filename().string()
                                  : config_.model;
    return {"exec", model, config_.word_timestamps};
  }

  Result<Transcript> Transcribe(const PcmAudio& audio, const EngineProgress& progress,
                                std::stop_token stop, const TranscribeOptions& options) override {
    const auto started = Clock::now();
    auto scratch = ScratchDir::Create();
    if (!scratch) return std::unexpected(scratch.error());
    Transcript t;
    t.engine = "exec";
    t.model = info().model;
    const std::string& language = CallLanguage(config_, options);
    t.language = language;
    t.audio_duration = audio.duration();
    const std::vector<Piece> chunks = PlanChunks(audio, config_.max_chunk);
    const double total = static_cast<double>(std::max<int64_t>(1, audio.size().count));
    for (size_t i = 0; i < chunks.size(); ++i) {
      const Piece& chunk = chunks[i];
      auto report = [&](double f) {
        if (!progress) return;
        const double length = static_cast<double>(chunk.end.count - chunk.begin.count);
        progress(std::min(1.0, (static_cast<double>(chunk.begin.count) + f * length) / total));
      };
      auto result = RunChunk(audio, chunk, scratch->path() / fmt::format("chunk-{}.wav", i),
                             language, report, stop);
      if (!result) return std::unexpected(result.error());
      if (!result->language.empty()) t.language = result->language;
      AppendSegments(t.segments, std::move(result->segments));
    }
    if (progress) progress(1.0);
    t.engine_time = std::chrono::duration_cast<Millis>(Clock::now() - started);
    return t;
  }

 private:
  Result<PieceTranscript> RunChunk(const PcmAudio& audio, const Piece& chunk, const fs::path& wav,
                                   const std::string& language,
                                   const std::function<void(double)>& report,
                                   std::stop_token stop) {
    if (auto w = WriteWav(wav, Slice(audio, chunk)); !w) return std::unexpected(w.error());
    ChildOptions options;
    options.argv = {"/bin/sh", "-c", config_.command + " \"$@\"", "podfleet-exec", wav.string()};
    options.env = {{"PODFLEET_AUDIO", wav.string()},
                   {"PODFLEET_LANGUAGE", language},
                   {"PODFLEET_MODEL", config_.model},
                   {"PODFLEET_WORDS", config_.word_timestamps ? "1" : "0"},
                   {"PODFLEET_THREADS", std::to_string(config_.threads)}};
    auto child = ChildProcess::Start(options);
    if (!child) return std::unexpected(child.error());
    auto ran = (*child)->Wait(config_.chunk_timeout, stop, [&](std::string_view line) {
      if (auto f = ProgressLine(line)) report(*f);
    });
    std::error_code ec;
    fs::remove(wav, ec);
    if (!ran) return WithContext<PieceTranscript>(std::unexpected(ran.error()), "command");
    // The shell reports a program killed by signal N as status 128 + N.
    int signal = ran->signal;
    if (signal == 0 && ran->exit_code > 128 && ran->exit_code < 160) signal = ran->exit_code - 128;
    if (signal != 0)
      return Internal(
          fmt::format("command killed by signal {}: {}", signal, LastLine(ran->stderr_tail)));
    if (ran->exit_code != 0)
      return Internal(fmt::format("command exited with status {}: {}", ran->exit_code,
                                  LastLine(ran->stderr_tail)));
    return WithContext(ParseTranscriptionJson(ran->out, chunk), "command output");
  }

  const EngineConfig config_;
};

}  // namespace

Result<std::unique_ptr<Engine>> MakeExecEngine(const EngineConfig& config) {
  const std::string program = ProgramOf(config.command);
  if (program.empty()) return InvalidArgument("exec engine: --command is required");
  // "NAME=value prog ..." sets a variable first; the program is then not the first word.
  if (program.find('=') == std::string::npos && !ProgramExists(program))
    return NotFound(fmt::format("exec engine: program '{}' not found", program));
  if (config.max_chunk < Millis(20'000))
    return InvalidArgument("exec engine: chunks must be allowed at least 20 s");
  return std::make_unique<ExecEngine>(config);
}

}  // namespace podfleet
