#include "engines/engine_parakeet.h"

#include <fmt/format.h>
#include <parakeet.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>

#include "core/language.h"
#include "engines/chunks.h"
#include "engines/ggml_device.h"
#include "engines/parakeet_model_file.h"
#include "engines/state_pool.h"
#include "engines/whisper_models.h"

namespace podfleet {
namespace {

constexpr std::string_view kWordStart = "\xE2\x96\x81";  // SentencePiece's "▁"
constexpr Millis kSegmentPause{1000};

// parakeet.cpp logs every load step to stderr. Errors are kept per thread, so that a failed load
// can say why; everything else is dropped.
thread_local std::string g_last_parakeet_error;

void QuietParakeetLog() {
  static std::once_flag once;
  std::call_once(once, [] {
    parakeet_log_set(
        [](ggml_log_level level, const char* text, void*) {
          if (level == GGML_LOG_LEVEL_ERROR && text) g_last_parakeet_error = text;
        },
        nullptr);
  });
}

std::string TrimLine(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string ModelName(const std::filesystem::path& path) {
  std::string name = path.filename().string();
  if (name.starts_with("ggml-")) name = name.substr(5);
  if (name.ends_with(".bin")) name.resize(name.size() - 4);
  return name;
}

bool EndsSentence(const std::string& word) {
  return !word.empty() && (word.back() == '.' || word.back() == '?' || word.back() == '!');
}

// Words into segments: one per sentence, or up to a pause of kSegmentPause.
std::vector<Segment> Sentences(std::vector<Word> words) {
  std::vector<Segment> out;
  for (Word& w : words) {
    const bool fresh = out.empty() || EndsSentence(out.back().words.back().text) ||
                       w.start - out.back().end >= kSegmentPause;
    if (fresh) out.push_back(Segment{w.start, w.end, "", {}});
    Segment& s = out.back();
    s.text += (s.text.empty() ? "" : " ") + w.text;
    s.end = std::max(s.end, w.end);
    s.words.push_back(std::move(w));
  }
  return out;
}

struct CallContext {
  std::stop_token stop;
  StatePool::Progress* progress = nullptr;
  size_t chunk = 0;
};

class ParakeetEngine final : public Engine {
 public:
  ParakeetEngine(parakeet_context* ctx, EngineConfig config, std::string model_name,
                 DeviceChoice device)
      : ctx_(ctx),
        config_(std::move(config)),
        model_name_(std::move(model_name)),
        max_chunk_(Millis(int64_t{parakeet_model_n_audio_ctx(ctx)} * 10)),
        runtime_(config_, std::move(device)) {}
  ~ParakeetEngine() override {
    runtime_.Free();
    parakeet_free(ctx_);
  }
  ParakeetEngine(const ParakeetEngine&) = delete;
  ParakeetEngine& operator=(const ParakeetEngine&) = delete;

  // Makes the states (given or chosen by the warm-up) and the pool over them.
  Result<void> Start();

  EngineInfo info() const override {
    EngineInfo i{"parakeet", model_name_, config_.word_timestamps};
    runtime_.Describe(i);
    return i;
  }

  using Engine::Transcribe;
  Result<Transcript> Transcribe(const PcmAudio& audio, const EngineProgress& progress,
                                std::stop_token stop, const TranscribeOptions& options) override;

 private:
  Result<std::vector<Segment>> RunChunk(const PcmAudio& audio, const Piece& chunk,
                                        parakeet_state* state, CallContext& call) const;
  parakeet_full_params Params(CallContext& call) const;
  std::vector<Word> Words(parakeet_state* state, const Piece& chunk) const;

  // Constant after Start.
  parakeet_context* const ctx_;
  const EngineConfig config_;
  const std::string model_name_;
  const Millis max_chunk_;
  EngineRuntime runtime_;
};

parakeet_full_params ParakeetEngine::Params(CallContext& call) const {
  parakeet_full_params p = parakeet_full_default_params(PARAKEET_SAMPLING_GREEDY);
  p.n_threads = runtime_.threads_per_state();
  p.abort_callback = [](void* data) {
    return static_cast<CallContext*>(data)->stop.stop_requested();
  };
  p.abort_callback_user_data = &call;
  p.progress_callback = [](parakeet_context*, parakeet_state*, int percent, void* data) {
    auto* c = static_cast<CallContext*>(data);
    if (c->progress) c->progress->Report(c->chunk, std::clamp(percent, 0, 100) / 100.0);
  };
  p.progress_callback_user_data = &call;
  return p;
}

std::vector<Word> ParakeetEngine::Words(parakeet_state* state, const Piece& chunk) const {
  std::vector<Word> words;
  for (int seg = 0; seg < parakeet_full_n_segments_from_state(state); ++seg) {
    for (int t = 0; t < parakeet_full_n_tokens_from_state(state, seg); ++t) {
      const parakeet_token_data d = parakeet_full_get_token_data_from_state(state, seg, t);
      std::string piece = parakeet_full_get_token_text_from_state(ctx_, state, seg, t);
      if (piece.empty() || (piece.starts_with('<') && piece.ends_with('>'))) continue;
      const bool starts = piece.starts_with(kWordStart);
      if (starts) piece = piece.substr(kWordStart.size());
      const Millis start = ParakeetTimeToMillis(d.t0, chunk.begin, chunk.end);
      const Millis end = std::max(start, ParakeetTimeToMillis(d.t1, chunk.begin, chunk.end));
      if (words.empty() || starts) {
        words.push_back({start, end, piece, d.p});
      } else {
        words.back().text += piece;
        words.back().end = std::max(words.back().end, end);
        words.back().confidence = std::min(words.back().confidence, d.p);
      }
    }
  }
  std::erase_if(words, [](const Word& w) { return w.text.empty(); });
  return words;
}

Result<std::vector<Segment>> ParakeetEngine::RunChunk(const PcmAudio& audio, const Piece& chunk,
                                                      parakeet_state* state,
                                                      CallContext& call) const {
  const int n = static_cast<int>(chunk.end.count - chunk.begin.count);
  if (n == 0) return std::vector<Segment>{};
  g_last_parakeet_error.clear();
  const int rc = parakeet_full_with_state(ctx_, state, Params(call),
                                          audio.samples.data() + chunk.begin.count, n);
  if (call.stop.stop_requested()) return Unavailable("cancelled");
  if (rc != 0)
    return Internal(
        fmt::format("parakeet.cpp failed (code {}) {}", rc, TrimLine(g_last_parakeet_error)));
  if (call.progress) call.progress->Report(call.chunk, 1.0);
  std::vector<Segment> segments = Sentences(Words(state, chunk));
  if (!config_.word_timestamps)
    for (Segment& s : segments) s.words.clear();
  return segments;
}

Result<Transcript> ParakeetEngine::Transcribe(const PcmAudio& audio, const EngineProgress& progress,
                                              std::stop_token stop,
                                              const TranscribeOptions& options) {
  const std::string& language = CallLanguage(config_, options);
  if (!language.empty() && language != "auto" &&
      FixedLanguage("parakeet", model_name_).value_or(language) != language)
    return InvalidArgument(
        fmt::format("model '{}' transcribes English only, not '{}'", model_name_, language));
  const auto started = std::chrono::steady_clock::now();
  const Millis longest =
      config_.chunk.count() > 0
          ? std::clamp(config_.chunk, std::min(Millis(20'000), max_chunk_), max_chunk_)
          : max_chunk_;  // PlanChunks cuts at pauses: at least 20 s
  const Millis length =
      ChunkLengthForStates(audio.duration(), runtime_.states(), longest, Millis(20'000));
  const std::vector<Piece> chunks = PlanChunks(audio, length);
  StatePool::Progress tracker(chunks, progress);
  auto segments = runtime_.pool().Run(chunks.size(), [&](size_t i, void* state) {
    CallContext call{stop, &tracker, i};
    return RunChunk(audio, chunks[i], static_cast<parakeet_state*>(state), call);
  });
  if (!segments) return std::unexpected(segments.error());
  if (stop.stop_requested()) return Unavailable("cancelled");
  Transcript t;
  t.engine = "parakeet";
  t.model = model_name_;
  t.language = language == "auto" ? "" : language;
  t.audio_duration = audio.duration();
  t.segments = std::move(*segments);
  t.engine_time = std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - started);
  return t;
}

Result<void> ParakeetEngine::Start() {
  StateOps ops;
  ops.create = [this]() -> void* { return parakeet_init_state(ctx_); };
  ops.destroy = [](void* s) { parakeet_free_state(static_cast<parakeet_state*>(s)); };
  ops.run = [this](void* state, const PcmAudio& clip) -> Result<void> {
    std::stop_source never;
    CallContext call{never.get_token(), nullptr, 0};
    const Piece all{Samples{0}, clip.size()};
    auto r = RunChunk(clip, all, static_cast<parakeet_state*>(state), call);
    if (!r) return std::unexpected(r.error());
    return {};
  };
  if (auto ok = runtime_.Start(std::move(ops)); !ok)
    return std::unexpected(Error{ok.error().code, "parakeet: " + ok.error().message});
  return {};
}

}  // namespace

Millis ParakeetTimeToMillis(int64_t frames, Samples chunk_begin, Samples chunk_end) {
  const Millis t = ChunkTime(chunk_begin, static_cast<double>(frames) / 100.0);
  return std::clamp(t, ToMillis(chunk_begin), ToMillis(chunk_end));
}

Result<std::unique_ptr<Engine>> MakeParakeetEngine(const EngineConfig& config) {
  auto path = ResolveParakeetModel(config.model, config.models_dir);
  if (!path) return std::unexpected(path.error());
  auto file = InspectParakeetModel(*path);
  if (!file) return std::unexpected(file.error());
  if (config.states < 0 || config.chunk.count() < 0)
    return InvalidArgument("parakeet: states and chunk must not be negative");
  QuietParakeetLog();
  if (const GgmlBackends& backends = LoadGgmlBackends(); !backends.problem.empty())
    return Unavailable("parakeet: " + backends.problem);
  const DeviceChoice device =
      ChooseDevice(config, ComputeDevices(), BuiltForGpu(), LoadGgmlBackends().gpu_problem);
  g_last_parakeet_error.clear();
  parakeet_context_params cparams = parakeet_context_default_params();
  cparams.use_gpu = device.gpu;
  parakeet_context* ctx = parakeet_init_from_file_with_params_no_state(path->c_str(), cparams);
  if (!ctx)
    return Internal(fmt::format("parakeet.cpp cannot load {}: {}", path->string(),
                                TrimLine(g_last_parakeet_error)));
  auto engine = std::make_unique<ParakeetEngine>(ctx, config, ModelName(*path), device);
  if (auto ok = engine->Start(); !ok) return std::unexpected(ok.error());
  return engine;
}

}  // namespace podfleet
