#include "engines/engine_whisper.h"

#include <fmt/format.h>
#include <whisper.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>
#include <thread>

#include "core/thread_annotations.h"
#include "engines/ggml_device.h"
#include "engines/state_pool.h"
#include "engines/whisper_model_file.h"
#include "engines/whisper_models.h"

namespace podfleet {
namespace {

constexpr int64_t kSamplesPerMilli = kSampleRate / 1000;  // 16: chunk starts are whole ms

// whisper.cpp and ggml log every load step to stderr. Errors are kept per thread, so that a
// failed load can say why; everything else is dropped.
thread_local std::string g_last_whisper_error;

void LogToLastError(ggml_log_level level, const char* text, void*) {
  if (level == GGML_LOG_LEVEL_ERROR && text) g_last_whisper_error = text;
}

void QuietWhisperLog() {
  static std::once_flag once;
  std::call_once(once, [] { whisper_log_set(LogToLastError, nullptr); });
}

std::string Trim(std::string s) {
  const auto first = s.find_first_not_of(' ');
  const auto last = s.find_last_not_of(" \n");
  return first == std::string::npos ? "" : s.substr(first, last - first + 1);
}

std::string ModelName(const std::filesystem::path& path) {
  std::string name = path.filename().string();
  if (name.starts_with("ggml-")) name = name.substr(5);
  if (name.ends_with(".bin")) name.resize(name.size() - 4);
  return name;
}

// What one chunk's whisper.cpp callbacks need.
struct ChunkCallback {
  std::stop_token stop;
  StatePool::Progress* progress = nullptr;
  size_t chunk = 0;
};

// Benchmarks only (EngineConfig.forced_tokens_per_window): text tokens until the count is
// reached, then the end of the window, so a random-weight decoder does a real one's work.
void ForceTokenCount(whisper_context* ctx, whisper_state*, const whisper_token_data*, int n_tokens,
                     float* logits, void* data) {
  const int wanted = *static_cast<const int*>(data);
  const int eot = whisper_token_eot(ctx);
  const int n_vocab = whisper_n_vocab(ctx);
  if (n_tokens < wanted) {
    logits[eot] = -INFINITY;
    for (int i = whisper_token_beg(ctx); i < n_vocab; ++i) logits[i] = -INFINITY;
  } else {
    for (int i = 0; i < n_vocab; ++i)
      if (i != eot) logits[i] = -INFINITY;
  }
}

class WhisperEngine final : public Engine {
 public:
  WhisperEngine(whisper_context* ctx, EngineConfig config, std::string model_name,
                DeviceChoice device)
      : ctx_(ctx),
        config_(std::move(config)),
        model_name_(std::move(model_name)),
        runtime_(config_, std::move(device)) {}
  ~WhisperEngine() override {
    runtime_.Free();
    whisper_free(ctx_);
  }
  WhisperEngine(const WhisperEngine&) = delete;
  WhisperEngine& operator=(const WhisperEngine&) = delete;

  // Makes the states (given or chosen by the warm-up) and the pool over them.
  Result<void> Start();

  EngineInfo info() const override {
    EngineInfo i{"whisper", model_name_, config_.word_timestamps};
    runtime_.Describe(i);
    return i;
  }

  using Engine::Transcribe;
  Result<Transcript> Transcribe(const PcmAudio& audio, const EngineProgress& progress,
                                std::stop_token stop, const TranscribeOptions& options) override;

 private:
  Result<std::vector<Segment>> RunChunk(const PcmAudio& audio, const Piece& chunk,
                                        whisper_state* state, ChunkCallback& cb,
                                        std::string& language) const;
  whisper_full_params Params(ChunkCallback& cb, const char* language) const;
  std::vector<Word> Words(whisper_state* state, int segment, const Piece& chunk) const;

  // Constant after Start.
  whisper_context* const ctx_;
  const EngineConfig config_;
  const std::string model_name_;
  EngineRuntime runtime_;
};

whisper_full_params WhisperEngine::Params(ChunkCallback& cb, const char* language) const {
  whisper_full_params p = whisper_full_default_params(
      config_.beam_size > 0 ? WHISPER_SAMPLING_BEAM_SEARCH : WHISPER_SAMPLING_GREEDY);
  p.n_threads = runtime_.threads_per_state();
  p.print_progress = p.print_realtime = p.print_timestamps = p.print_special = false;
  p.language = language;
  p.token_timestamps = config_.word_timestamps;
  p.initial_prompt = config_.prompt.empty() ? nullptr : config_.prompt.c_str();
  if (config_.beam_size > 0) p.beam_search.beam_size = config_.beam_size;
  if (!config_.fallback) p.temperature_inc = 0.0f;
  p.abort_callback = [](void* data) {
    return static_cast<ChunkCallback*>(data)->stop.stop_requested();
  };
  p.abort_callback_user_data = &cb;
  p.progress_callback = [](whisper_context*, whisper_state*, int percent, void* data) {
    auto* c = static_cast<ChunkCallback*>(data);
    if (c->progress) c->progress->Report(c->chunk, std::clamp(percent, 0, 100) / 100.0);
  };
  p.progress_callback_user_data = &cb;
  if (config_.forced_tokens_per_window > 0) {
    p.logits_filter_callback = ForceTokenCount;
    p.logits_filter_callback_user_data = const_cast<int*>(&config_.forced_tokens_per_window);
  }
  return p;
}

// The mean log probability of segment `segment`'s text tokens (special and timestamp tokens are
// left out, as OpenAI's whisper does); none for a segment without text tokens.
std::optional<double> AverageLogprob(whisper_context* ctx, whisper_state* state, int segment) {
  const whisper_token eot = whisper_token_eot(ctx);
  const int n = whisper_full_n_tokens_from_state(state, segment);
  double sum = 0;
  int count = 0;
  for (int t = 0; t < n; ++t) {
    const whisper_token_data d = whisper_full_get_token_data_from_state(state, segment, t);
    if (d.id >= eot) continue;
    sum += d.plog;
    ++count;
  }
  if (count == 0) return std::nullopt;
  return sum / count;
}

std::vector<Word> WhisperEngine::Words(whisper_state* state, int segment,
                                       const Piece& chunk) const {
  std::vector<Word> words;
  const whisper_token eot = whisper_token_eot(ctx_);
  const int n = whisper_full_n_tokens_from_state(state, segment);
  for (int t = 0; t < n; ++t) {
    const whisper_token_data d = whisper_full_get_token_data_from_state(state, segment, t);
    if (d.id >= eot) continue;  // special and timestamp tokens
    const std::string text = whisper_full_get_token_text_from_state(ctx_, state, segment, t);
    const Millis start = WhisperTimeToMillis(d.t0, chunk.begin, chunk.end);
    const Millis end = std::max(start, WhisperTimeToMillis(d.t1, chunk.begin, chunk.end));
    if (words.empty() || text.starts_with(' ')) {
      words.push_back({start, end, Trim(text), d.p});
    } else {
      words.back().text += text;
      words.back().end = std::max(words.back().end, end);
      words.back().confidence = std::min(words.back().confidence, d.p);
    }
  }
  std::erase_if(words, [](const Word& w) { return w.text.empty(); });
  return words;
}

Result<std::vector<Segment>> WhisperEngine::RunChunk(const PcmAudio& audio, const Piece& chunk,
                                                     whisper_state* state, ChunkCallback& cb,
                                                     std::string& language) const {
  // `language` in: the one asked for (empty: detect); out: the one transcribed.
  const std::string wanted = language;
  whisper_full_params params = Params(cb, wanted.empty() ? "auto" : wanted.c_str());
  const float* samples = audio.samples.data() + chunk.begin.count;
  const int n = static_cast<int>(chunk.end.count - chunk.begin.count);
  if (n == 0) return std::vector<Segment>{};
  g_last_whisper_error.clear();
  const int rc = whisper_full_with_state(ctx_, state, params, samples, n);
  if (cb.stop.stop_requested()) return Unavailable("cancelled");
  if (rc != 0)
    return Internal(fmt::format("whisper.cpp failed (code {}) {}", rc, Trim(g_last_whisper_error)));
  if (language.empty()) {
    const int lang = whisper_full_lang_id_from_state(state);
    if (lang >= 0) language = whisper_lang_str(lang);
  }
  std::vector<Segment> segments;
  const int count = whisper_full_n_segments_from_state(state);
  for (int i = 0; i < count; ++i) {
    Segment s;
    s.start = WhisperTimeToMillis(whisper_full_get_segment_t0_from_state(state, i), chunk.begin,
                                  chunk.end);
    s.end = std::max(s.start, WhisperTimeToMillis(whisper_full_get_segment_t1_from_state(state, i),
                                                  chunk.begin, chunk.end));
    s.text = Trim(whisper_full_get_segment_text_from_state(state, i));
    if (config_.word_timestamps) s.words = Words(state, i, chunk);
    s.avg_logprob = AverageLogprob(ctx_, state, i);
    s.no_speech_prob = whisper_full_get_segment_no_speech_prob_from_state(state, i);
    if (!s.text.empty()) segments.push_back(std::move(s));
  }
  if (cb.progress) cb.progress->Report(cb.chunk, 1.0);
  return segments;
}

Result<Transcript> WhisperEngine::Transcribe(const PcmAudio& audio, const EngineProgress& progress,
                                             std::stop_token stop,
                                             const TranscribeOptions& options) {
  const std::string& asked = CallLanguage(config_, options);
  const std::string wanted = asked == "auto" ? "" : asked;
  if (!wanted.empty() && whisper_lang_id(wanted.c_str()) < 0)
    return InvalidArgument(fmt::format("whisper does not know the language '{}'", wanted));
  if (!wanted.empty() && wanted != "en" && !whisper_is_multilingual(ctx_))
    return InvalidArgument(
        fmt::format("model '{}' is English-only; it cannot transcribe '{}'", model_name_, wanted));
  const auto started = std::chrono::steady_clock::now();
  const Millis max_chunk =
      ChunkLengthForStates(audio.duration(), runtime_.states(), config_.chunk, Millis(30'000));
  const std::vector<Piece> chunks = PlanWhisperChunks(audio, max_chunk);
  StatePool::Progress tracker(chunks, progress);
  std::vector<std::string> languages(chunks.size());
  auto segments = runtime_.pool().Run(chunks.size(), [&](size_t i, void* state) {
    ChunkCallback cb{stop, &tracker, i};
    std::string language = wanted;
    auto r = RunChunk(audio, chunks[i], static_cast<whisper_state*>(state), cb, language);
    languages[i] = language;
    return r;
  });
  if (!segments) return std::unexpected(segments.error());
  Transcript t;
  t.engine = "whisper";
  t.model = model_name_;
  t.audio_duration = audio.duration();
  t.segments = std::move(*segments);
  for (const std::string& l : languages)
    if (t.language.empty()) t.language = l;
  t.engine_time = std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - started);
  return t;
}

Result<void> WhisperEngine::Start() {
  StateOps ops;
  ops.create = [this]() -> void* { return whisper_init_state(ctx_); };
  ops.destroy = [](void* s) { whisper_free_state(static_cast<whisper_state*>(s)); };
  ops.run = [this](void* state, const PcmAudio& clip) -> Result<void> {
    std::stop_source never;
    ChunkCallback cb{never.get_token(), nullptr, 0};
    std::string language = config_.language == "auto" ? "" : config_.language;
    auto r = RunChunk(clip, Piece{Samples{0}, clip.size()}, static_cast<whisper_state*>(state), cb,
                      language);
    if (!r) return std::unexpected(r.error());
    return {};
  };
  if (auto ok = runtime_.Start(std::move(ops)); !ok)
    return std::unexpected(Error{
        ok.error().code, "whisper.cpp: " + ok.error().message + " " + Trim(g_last_whisper_error)});
  return {};
}

// The sample where the quietest 10 ms of [from, to) begins.
int64_t QuietestPoint(const std::vector<float>& s, int64_t from, int64_t to) {
  constexpr int64_t kFrame = kSampleRate / 100;
  int64_t best = to;
  double best_energy = -1;
  for (int64_t f = from; f + kFrame <= to; f += kFrame) {
    double e = 0;
    for (int64_t i = f; i < f + kFrame; ++i) e += static_cast<double>(s[i]) * s[i];
    if (best_energy < 0 || e < best_energy) {
      best_energy = e;
      best = f + kFrame / 2;
    }
  }
  return best;
}

Result<void> CheckLanguage(const EngineConfig& config, bool multilingual) {
  const std::string& lang = config.language;
  if (lang.empty() || lang == "auto") return {};
  if (whisper_lang_id(lang.c_str()) < 0)
    return InvalidArgument(fmt::format("whisper does not know the language '{}'", lang));
  if (!multilingual && lang != "en")
    return InvalidArgument(
        fmt::format("model '{}' is English-only; it cannot transcribe '{}'", config.model, lang));
  return {};
}

}  // namespace

std::vector<Piece> PlanWhisperChunks(const PcmAudio& audio, Millis max_chunk) {
  const int64_t n = audio.size().count;
  const int64_t max = ToSamples(max_chunk).count;
  std::vector<Piece> chunks;
  int64_t begin = 0;
  while (max > 0 && n - begin > max) {
    const int64_t limit = begin + max;
    const int64_t window = std::min<int64_t>(ToSamples(Millis(5'000)).count, max / 4);
    int64_t cut = QuietestPoint(audio.samples, limit - window, limit);
    cut -= cut % kSamplesPerMilli;
    if (cut <= begin) cut = limit - limit % kSamplesPerMilli;
    chunks.push_back({Samples{begin}, Samples{cut}});
    begin = cut;
  }
  if (n > begin || chunks.empty()) chunks.push_back({Samples{begin}, Samples{n}});
  return chunks;
}

Millis WhisperTimeToMillis(int64_t centiseconds, Samples chunk_begin, Samples chunk_end) {
  const Millis begin = ToMillis(chunk_begin);
  const Millis end = ToMillis(chunk_end);
  return std::clamp(begin + Millis(centiseconds * 10), begin, end);
}

Result<std::unique_ptr<Engine>> MakeWhisperEngine(const EngineConfig& config) {
  auto path = ResolveWhisperModel(config.model, config.models_dir);
  if (!path) return std::unexpected(path.error());
  auto file = InspectWhisperModel(*path);
  if (!file) return std::unexpected(file.error());
  if (auto ok = CheckLanguage(config, file->multilingual); !ok) return std::unexpected(ok.error());
  if (config.states < 0 || config.beam_size < 0 || config.chunk.count() < 0)
    return InvalidArgument("whisper: states, beam size and chunk must not be negative");

  QuietWhisperLog();
  if (const GgmlBackends& backends = LoadGgmlBackends(); !backends.problem.empty())
    return Unavailable("whisper: " + backends.problem);
  const DeviceChoice device =
      ChooseDevice(config, ComputeDevices(), BuiltForGpu(), LoadGgmlBackends().gpu_problem);
  g_last_whisper_error.clear();
  whisper_context_params cparams = whisper_context_default_params();
  cparams.use_gpu = device.gpu;
  whisper_context* ctx = whisper_init_from_file_with_params_no_state(path->c_str(), cparams);
  if (!ctx)
    return Internal(
        fmt::format("whisper.cpp cannot load {}: {}", path->string(), Trim(g_last_whisper_error)));
  auto engine = std::make_unique<WhisperEngine>(ctx, config, ModelName(*path), device);
  if (auto ok = engine->Start(); !ok) return std::unexpected(ok.error());
  return engine;
}

}  // namespace podfleet
