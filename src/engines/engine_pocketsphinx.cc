#include "engines/engine_pocketsphinx.h"

#include <fmt/format.h>
#include <pocketsphinx.h>
#include <sphinxbase/err.h>
#include <sphinxbase/logmath.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <numeric>
#include <optional>
#include <thread>

#include "audio/pauses.h"
#include "core/thread_annotations.h"

namespace podfleet {
namespace {

constexpr int kFramesPerSecond = 100;

struct CmdLnFreer {
  void operator()(cmd_ln_t* c) const { cmd_ln_free_r(c); }
};
struct DecoderFreer {
  void operator()(ps_decoder_t* d) const { ps_free(d); }
};
using CmdLnPtr = std::unique_ptr<cmd_ln_t, CmdLnFreer>;
using DecoderPtr = std::unique_ptr<ps_decoder_t, DecoderFreer>;

struct ModelFiles {
  std::string name;  // "en-us"
  std::filesystem::path hmm;
  std::filesystem::path lm;
  std::filesystem::path dict;
};

// The default model directory: the one a relocatable bundle (scripts/bundle) carries beside the
// binary's folder (bin/../share/pocketsphinx/model/en-us), when there is one; else the build's
// POCKETSPHINX_MODEL_DIR.
std::filesystem::path DefaultModelDir() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    std::filesystem::path bundled =
        exe.parent_path().parent_path() / "share/pocketsphinx/model/en-us";
    if (std::filesystem::exists(bundled / "en-us" / "mdef", ec)) return bundled;
  }
  return POCKETSPHINX_MODEL_DIR;
}

Result<ModelFiles> FindModel(const std::string& configured) {
  const std::filesystem::path dir =
      configured.empty() ? DefaultModelDir() : std::filesystem::path(configured);
  ModelFiles m;
  m.name = dir.filename().empty() ? dir.parent_path().filename().string() : dir.filename().string();
  m.hmm = dir / m.name;
  m.lm = dir / (m.name + ".lm.bin");
  m.dict = dir / ("cmudict-" + m.name + ".dict");
  for (const auto& path : {m.hmm / "mdef", m.lm, m.dict}) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      return NotFound(fmt::format("pocketsphinx model: {} is missing", path.string()));
    }
  }
  return m;
}

Result<DecoderPtr> LoadDecoder(const ModelFiles& model) {
  // sphinxbase keeps process-wide state (its log stream above all). Its "-logfn" option would
  // fclose() the stream that other decoders may be writing to, so logging is switched off once
  // for the process instead, and loads are serialised.
  static Mutex load_mutex;
  static std::once_flag quiet;
  std::call_once(quiet, [] { err_set_logfp(nullptr); });
  MutexLock lock(load_mutex);
  CmdLnPtr config(cmd_ln_init(nullptr, ps_args(), TRUE, "-hmm", model.hmm.c_str(), "-lm",
                              model.lm.c_str(), "-dict", model.dict.c_str(), nullptr));
  if (!config) return Internal("pocketsphinx: the configuration was refused");
  DecoderPtr decoder(ps_init(config.get()));  // holds its own reference to config
  if (!decoder) return Internal(fmt::format("pocketsphinx: cannot load the model {}", model.name));
  return decoder;
}

// Decoders loaded on demand, up to a limit, and kept for reuse. Thread-safe.
class DecoderPool {
 public:
  // Exclusive use of one decoder; gives it back to the pool when destroyed.
  class Lease {
   public:
    Lease(DecoderPool* pool, DecoderPtr decoder) : pool_(pool), decoder_(std::move(decoder)) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (decoder_) pool_->Release(std::move(decoder_));
    }
    ps_decoder_t* get() const { return decoder_.get(); }

   private:
    DecoderPool* pool_;
    DecoderPtr decoder_;
  };

  DecoderPool(ModelFiles model, int limit, DecoderPtr first)
      : model_(std::move(model)), limit_(limit) {
    idle_.push_back(std::move(first));
    loaded_ = 1;
  }
  DecoderPool(const DecoderPool&) = delete;
  DecoderPool& operator=(const DecoderPool&) = delete;

  int limit() const { return limit_; }
  const ModelFiles& model() const { return model_; }

  // Waits until a decoder is idle or may be loaded.
  Result<Lease> Acquire() {
    {
      MutexLock lock(mu_);
      cv_.wait(lock, [&]() REQUIRES(mu_) { return !idle_.empty() || loaded_ < limit_; });
      if (!idle_.empty()) return TakeIdle();
      ++loaded_;
    }
    return Load();
  }

  // An idle decoder, or a newly loaded one while under the limit; nullopt when neither is at hand
  // (or loading failed: the caller already holds a decoder and can go on without this one).
  std::optional<Lease> TryAcquire() {
    {
      MutexLock lock(mu_);
      if (!idle_.empty()) return TakeIdle();
      if (loaded_ >= limit_) return std::nullopt;
      ++loaded_;
    }
    auto lease = Load();
    if (!lease) return std::nullopt;
    return std::move(*lease);
  }

 private:
  // REQUIRES: a decoder is idle.
  Lease TakeIdle() REQUIRES(mu_) {
    DecoderPtr decoder = std::move(idle_.back());
    idle_.pop_back();
    return Lease(this, std::move(decoder));
  }

  // Loads a decoder counted in loaded_ already. Loading takes a quarter of a second, so it runs
  // unlocked: others may take idle decoders meanwhile.
  Result<Lease> Load() EXCLUDES(mu_) {
    auto decoder = LoadDecoder(model_);
    if (!decoder) {
      {
        MutexLock lock(mu_);
        --loaded_;
      }
      cv_.notify_one();
      return std::unexpected(decoder.error());
    }
    return Lease(this, std::move(*decoder));
  }

  void Release(DecoderPtr decoder) {
    {
      MutexLock lock(mu_);
      idle_.push_back(std::move(decoder));
    }
    cv_.notify_one();
  }

  // Constant after construction.
  const ModelFiles model_;
  const int limit_;
  Mutex mu_;
  std::condition_variable_any cv_;
  std::vector<DecoderPtr> idle_ GUARDED_BY(mu_);
  int loaded_ GUARDED_BY(mu_) = 0;  // idle and leased
};

// "word(2)" -> "word"; fillers ("<s>", "</s>", "<sil>", "[NOISE]", "++NOISE++") -> nullopt.
std::optional<std::string> CleanWord(std::string_view word) {
  if (word.empty() || word.front() == '<' || word.front() == '[' || word.starts_with("++")) {
    return std::nullopt;
  }
  if (word.back() == ')') {
    if (auto open = word.rfind('('); open != std::string_view::npos && open > 0) {
      word = word.substr(0, open);
    }
  }
  return std::string(word);
}

Millis FrameToMillis(int frame) { return Millis(int64_t{frame} * 1000 / kFramesPerSecond); }

std::vector<Word> CollectWords(ps_decoder_t* ps, Millis offset) {
  logmath_t* lmath = ps_get_logmath(ps);
  std::vector<Word> words;
  // ps_seg_next frees the iterator when it returns null.
  for (ps_seg_t* seg = ps_seg_iter(ps); seg != nullptr; seg = ps_seg_next(seg)) {
    std::optional<std::string> text = CleanWord(ps_seg_word(seg));
    if (!text) continue;
    int first = 0;
    int last = 0;
    ps_seg_frames(seg, &first, &last);
    int32 acoustic = 0;
    int32 language = 0;
    int32 backoff = 0;
    const int32 posterior = ps_seg_prob(seg, &acoustic, &language, &backoff);
    const double confidence = std::clamp(logmath_exp(lmath, posterior), 0.0, 1.0);
    words.push_back({offset + FrameToMillis(first), offset + FrameToMillis(last + 1),
                     std::move(*text), static_cast<float>(confidence)});
  }
  return words;
}

std::vector<int16> ToInt16(std::span<const float> samples) {
  std::vector<int16> pcm(samples.size());
  std::transform(samples.begin(), samples.end(), pcm.begin(), [](float s) {
    return static_cast<int16>(std::lrint(std::clamp(s, -1.0f, 1.0f) * 32767.0f));
  });
  return pcm;
}

// Decodes `samples` as one whole utterance; word times are offset by `offset`.
Result<std::vector<Word>> DecodeUtterance(ps_decoder_t* ps, std::span<const float> samples,
                                          Millis offset) {
  const std::vector<int16> pcm = ToInt16(samples);
  // A new stream per piece: noise estimates and frame numbers are per stream, so without it a
  // piece's words would depend on which pieces the decoder saw before, and its times would count
  // from the first of them.
  if (ps_start_stream(ps) < 0 || ps_start_utt(ps) < 0) {
    return Internal("pocketsphinx: cannot start an utterance");
  }
  const int searched = ps_process_raw(ps, pcm.data(), pcm.size(), FALSE, TRUE);
  if (ps_end_utt(ps) < 0 || searched < 0) return Internal("pocketsphinx: decoding failed");
  return CollectWords(ps, offset);
}

Segment MakeSegment(std::vector<Word> words, bool keep_words) {
  Segment segment;
  segment.start = words.front().start;
  segment.end = words.back().end;
  for (const Word& w : words) {
    if (!segment.text.empty()) segment.text += ' ';
    segment.text += w.text;
  }
  if (keep_words) segment.words = std::move(words);
  return segment;
}

// One Transcribe call: workers take pieces longest first (so that the last piece taken is short
// and no worker idles long at the end); each piece's result lands in its own slot, so segments
// come out in audio order whichever worker decoded them.
class PieceRun {
 public:
  PieceRun(const PcmAudio& audio, std::vector<Piece> pieces, bool keep_words,
           const EngineProgress& progress, std::stop_token stop)
      : audio_(audio),
        pieces_(std::move(pieces)),
        order_(LongestFirst(pieces_)),
        keep_words_(keep_words),
        progress_(progress),
        stop_(std::move(stop)),
        results_(pieces_.size()) {
    for (const Piece& p : pieces_) total_samples_ += p.end.count - p.begin.count;
  }

  size_t size() const { return pieces_.size(); }

  // Decodes pieces until none are left, stop is requested or a worker has failed.
  void Work(ps_decoder_t* decoder) {
    while (!stop_.stop_requested() && !failed_.load()) {
      const size_t taken = next_.fetch_add(1);
      if (taken >= order_.size()) return;
      const size_t i = order_[taken];
      const Piece& piece = pieces_[i];
      std::span<const float> samples(audio_.samples.data() + piece.begin.count,
                                     static_cast<size_t>(piece.end.count - piece.begin.count));
      auto words = DecodeUtterance(decoder, samples, ToMillis(piece.begin));
      if (!words) return Fail(words.error());
      if (!words->empty()) results_[i] = MakeSegment(std::move(*words), keep_words_);
      PieceDone(static_cast<int64_t>(samples.size()));
    }
  }

  // REQUIRES: every worker has returned.
  Result<std::vector<Segment>> Finish() {
    MutexLock lock(mu_);
    if (error_) return std::unexpected(*error_);
    if (done_pieces_ < pieces_.size()) return Unavailable("cancelled");
    std::vector<Segment> segments;
    for (auto& r : results_) {
      if (r) segments.push_back(std::move(*r));
    }
    return segments;
  }

 private:
  static std::vector<size_t> LongestFirst(const std::vector<Piece>& pieces) {
    std::vector<size_t> order(pieces.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return pieces[a].end.count - pieces[a].begin.count >
             pieces[b].end.count - pieces[b].begin.count;
    });
    return order;
  }

  void Fail(Error error) {
    MutexLock lock(mu_);
    if (!error_) error_ = std::move(error);
    failed_ = true;
  }

  void PieceDone(int64_t samples) {
    MutexLock lock(mu_);  // also keeps the reported fractions in order
    ++done_pieces_;
    done_samples_ += samples;
    if (progress_ && total_samples_ > 0) {
      progress_(static_cast<double>(done_samples_) / static_cast<double>(total_samples_));
    }
  }

  // Constant after construction.
  const PcmAudio& audio_;
  const std::vector<Piece> pieces_;
  const std::vector<size_t> order_;  // indices into pieces_, longest first
  const bool keep_words_;
  const EngineProgress& progress_;
  const std::stop_token stop_;
  int64_t total_samples_ = 0;
  // Shared by the workers.
  std::atomic<size_t> next_{0};
  std::atomic<bool> failed_{false};
  std::vector<std::optional<Segment>> results_;  // slot i written only by the taker of piece i
  Mutex mu_;
  size_t done_pieces_ GUARDED_BY(mu_) = 0;
  int64_t done_samples_ GUARDED_BY(mu_) = 0;
  std::optional<Error> error_ GUARDED_BY(mu_);
};

class PocketSphinxEngine final : public Engine {
 public:
  PocketSphinxEngine(EngineConfig config, ModelFiles model, int decoders, DecoderPtr first)
      : config_(std::move(config)), pool_(std::move(model), decoders, std::move(first)) {}

  EngineInfo info() const override { return {"pocketsphinx", pool_.model().name, true}; }

  Result<Transcript> Transcribe(const PcmAudio& audio, const EngineProgress& progress,
                                std::stop_token stop, const TranscribeOptions& options) override {
    const std::string& language = CallLanguage(config_, options);
    if (pool_.model().name.starts_with("en") && !language.empty() && !language.starts_with("en"))
      return InvalidArgument(fmt::format("pocketsphinx: the model {} transcribes English, not {}",
                                         pool_.model().name, language));
    const auto started = std::chrono::steady_clock::now();
    PieceRun run(audio, SplitAtPauses(audio), config_.word_timestamps, progress, stop);
    if (run.size() > 0) {
      auto lease = pool_.Acquire();
      if (!lease) return std::unexpected(lease.error());
      std::vector<std::jthread> helpers;
      const size_t workers = std::min(run.size(), static_cast<size_t>(pool_.limit()));
      for (size_t i = 1; i < workers; ++i) {
        helpers.emplace_back([this, &run] {
          if (auto helper = pool_.TryAcquire()) run.Work(helper->get());
        });
      }
      run.Work(lease->get());
    }  // helpers join here
    auto segments = run.Finish();
    if (!segments) return std::unexpected(segments.error());
    Transcript t;
    t.language = language;
    t.engine = "pocketsphinx";
    t.model = pool_.model().name;
    t.audio_duration = audio.duration();
    t.engine_time = std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - started);
    t.segments = std::move(*segments);
    return t;
  }

 private:
  const EngineConfig config_;
  DecoderPool pool_;
};

int DecoderCount(int threads) {
  if (threads > 0) return threads;
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

}  // namespace

Result<std::unique_ptr<Engine>> MakePocketSphinxEngine(const EngineConfig& config) {
  auto model = FindModel(config.model);
  if (!model) return std::unexpected(model.error());
  if (model->name.starts_with("en") && !config.language.empty() &&
      !config.language.starts_with("en")) {
    return InvalidArgument(fmt::format("pocketsphinx: the model {} transcribes English, not {}",
                                       model->name, config.language));
  }
  auto first = LoadDecoder(*model);
  if (!first) return std::unexpected(first.error());
  return std::make_unique<PocketSphinxEngine>(config, std::move(*model),
                                              DecoderCount(config.threads), std::move(*first));
}

}  // namespace podfleet
