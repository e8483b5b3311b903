#include "engines/engine_whisper.h"

#include <fmt/format.h>
#include <whisper.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/thread_annotations.h"
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

// What one Transcribe call shares with the whisper.cpp callbacks of its chunks.
struct CallState {
  std::stop_token stop;
  const EngineProgress* progress = nullptr;
  Mutex mu;
  std::vector<double> done GUARDED_BY(mu);  // per chunk, fraction
  std::vector<int64_t> weight;              // per chunk, samples
  int64_t total = 1;

  void Report(size_t chunk, double fraction) {
    if (!progress || !*progress) return;
    double sum = 0;
    {
      MutexLock lock(mu);
      done[chunk] = fraction;
      for (size_t i = 0; i < done.size(); ++i) sum += done[i] * static_cast<double>(weight[i]);
    }
    (*progress)(sum / static_cast<double>(total));
  }
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

struct ChunkCallback {
  CallState* call;
  size_t chunk;
};

class WhisperEngine final : public Engine {
 public:
  WhisperEngine(whisper_context* ctx, std::vector<whisper_state*> states, EngineConfig config,
                std::string model_name)
      : ctx_(ctx), config_(std::move(config)), model_name_(std::move(model_name)) {
    for (whisper_state* s : states) free_.push_back(s);
    all_ = std::move(states);
    const int threads = config_.threads > 0
                            ? config_.threads
                            : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    threads_per_state_ = std::max(1, threads / static_cast<int>(all_.size()));
  }
  ~WhisperEngine() override {
    for (whisper_state* s : all_) whisper_free_state(s);
    whisper_free(ctx_);
  }
  WhisperEngine(const WhisperEngine&) = delete;
  WhisperEngine& operator=(const WhisperEngine&) = delete;

  EngineInfo info() const override { return {"whisper", model_name_, config_.word_timestamps}; }

  Result<Transcript> Transcribe(const PcmAudio& audio, const EngineProgress& progress,
                                std::stop_token stop) override;

 private:
  Result<std::vector<Segment>> RunChunk(const PcmAudio& audio, const Piece& chunk,
                                        whisper_state* state, ChunkCallback& cb,
                                        std::string& language);
  whisper_full_params Params(ChunkCallback& cb) const;
  std::vector<Word> Words(whisper_state* state, int segment, const Piece& chunk) const;
  whisper_state* Acquire();
  void Release(whisper_state* state);

  // Constant after construction.
  whisper_context* const ctx_;
  const EngineConfig config_;
  const std::string model_name_;
  std::vector<whisper_state*> all_;
  int threads_per_state_ = 1;

  Mutex mu_;
  std::condition_variable_any free_cv_;
  std::vector<whisper_state*> free_ GUARDED_BY(mu_);
};

whisper_state* WhisperEngine::Acquire() {
  MutexLock lock(mu_);
  free_cv_.wait(lock, [&]() REQUIRES(mu_) { return !free_.empty(); });
  whisper_state* s = free_.back();
  free_.pop_back();
  return s;
}

void WhisperEngine::Release(whisper_state* state) {
  {
    MutexLock lock(mu_);
    free_.push_back(state);
  }
  free_cv_.notify_one();
}

whisper_full_params WhisperEngine::Params(ChunkCallback& cb) const {
  whisper_full_params p = whisper_full_default_params(
      config_.beam_size > 0 ? WHISPER_SAMPLING_BEAM_SEARCH : WHISPER_SAMPLING_GREEDY);
  p.n_threads = threads_per_state_;
  p.print_progress = p.print_realtime = p.print_timestamps = p.print_special = false;
  p.language = config_.language.empty() ? "auto" : config_.language.c_str();
  p.token_timestamps = config_.word_timestamps;
  p.initial_prompt = config_.prompt.empty() ? nullptr : config_.prompt.c_str();
  if (config_.beam_size > 0) p.beam_search.beam_size = config_.beam_size;
  if (!config_.fallback) p.temperature_inc = 0.0f;
  p.abort_callback = [](void* data) {
    return static_cast<ChunkCallback*>(data)->call->stop.stop_requested();
  };
  p.abort_callback_user_data = &cb;
  p.progress_callback = [](whisper_context*, whisper_state*, int percent, void* data) {
    auto* c = static_cast<ChunkCallback*>(data);
    c->call->Report(c->chunk, std::clamp(percent, 0, 100) / 100.0);
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
                                                     std::string& language) {
  whisper_full_params params = Params(cb);
  const float* samples = audio.samples.data() + chunk.begin.count;
  const int n = static_cast<int>(chunk.end.count - chunk.begin.count);
  if (n == 0) return std::vector<Segment>{};
  g_last_whisper_error.clear();
  const int rc = whisper_full_with_state(ctx_, state, params, samples, n);
  if (cb.call->stop.stop_requested()) return Unavailable("cancelled");
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
  cb.call->Report(cb.chunk, 1.0);
  return segments;
}

Result<Transcript> WhisperEngine::Transcribe(const PcmAudio& audio, const EngineProgress& progress,
                                             std::stop_token stop) {
  const auto started = std::chrono::steady_clock::now();
  Millis max_chunk = config_.chunk;
  if (max_chunk.count() == 0 && all_.size() > 1)
    max_chunk =
        std::max(Millis(30'000), audio.duration() / static_cast<int>(all_.size()) + Millis(1));
  const std::vector<Piece> chunks = PlanWhisperChunks(audio, max_chunk);
  CallState call;
  call.stop = stop;
  call.progress = &progress;
  {
    MutexLock lock(call.mu);
    call.done.assign(chunks.size(), 0.0);
  }
  for (const Piece& c : chunks) call.weight.push_back(c.end.count - c.begin.count);
  call.total = std::max<int64_t>(1, audio.size().count);

  std::vector<Result<std::vector<Segment>>> results(chunks.size(), std::vector<Segment>{});
  std::vector<std::string> languages(chunks.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    whisper_state* state = Acquire();
    for (size_t i = next++; i < chunks.size(); i = next++) {
      ChunkCallback cb{&call, i};
      std::string language = config_.language == "auto" ? "" : config_.language;
      results[i] = RunChunk(audio, chunks[i], state, cb, language);
      languages[i] = language;
      if (!results[i]) break;
    }
    Release(state);
  };
  const size_t helpers = std::min(all_.size(), chunks.size()) - 1;
  std::vector<std::jthread> threads;
  for (size_t i = 0; i < helpers; ++i) threads.emplace_back(work);
  work();
  threads.clear();

  Transcript t;
  t.engine = "whisper";
  t.model = model_name_;
  t.audio_duration = audio.duration();
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (!results[i]) return std::unexpected(results[i].error());
    for (Segment& s : *results[i]) t.segments.push_back(std::move(s));
    if (t.language.empty()) t.language = languages[i];
  }
  t.engine_time = std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - started);
  return t;
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
  if (config.states < 1 || config.beam_size < 0 || config.chunk.count() < 0)
    return InvalidArgument("whisper: states must be at least 1, beam size and chunk not negative");

  QuietWhisperLog();
  g_last_whisper_error.clear();
  whisper_context_params cparams = whisper_context_default_params();
  cparams.use_gpu = !config.no_gpu;
  whisper_context* ctx = whisper_init_from_file_with_params_no_state(path->c_str(), cparams);
  if (!ctx)
    return Internal(
        fmt::format("whisper.cpp cannot load {}: {}", path->string(), Trim(g_last_whisper_error)));
  std::vector<whisper_state*> states;
  for (int i = 0; i < config.states; ++i) {
    whisper_state* s = whisper_init_state(ctx);
    if (!s) {
      for (whisper_state* made : states) whisper_free_state(made);
      whisper_free(ctx);
      return Internal(fmt::format("whisper.cpp cannot create state {} of {}: {}", i + 1,
                                  config.states, Trim(g_last_whisper_error)));
    }
    states.push_back(s);
  }
  return std::make_unique<WhisperEngine>(ctx, std::move(states), config, ModelName(*path));
}

}  // namespace podfleet
