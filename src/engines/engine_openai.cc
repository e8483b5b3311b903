#include "engines/engine_openai.h"

#include <fmt/format.h>

#include <chrono>
#include <random>

#include "core/clock.h"
#include "engines/chunks.h"
#include "engines/multipart_post.h"
#include "engines/transcription_json.h"

namespace podfleet {
namespace {

using Clock = std::chrono::steady_clock;

// What one kind of server needs (spec section 4).
struct ServerProfile {
  std::string_view kind;
  std::string_view default_path;
  std::string_view response_format;
  bool ask_words;       // send timestamp_granularities[]=word
  bool auto_language;   // detection is asked for with language=auto
  bool bcp47_language;  // "en" must go as "en-US"
  bool requires_model;
  std::string_view default_model;  // sent when EngineConfig::model is empty; "" sends none
};

constexpr ServerProfile kProfiles[] = {
    {"openai", "/v1/audio/transcriptions", "verbose_json", true, false, false, false, "whisper-1"},
    {"whisper.cpp", "/inference", "verbose_json", false, true, false, false, ""},
    {"speaches", "/v1/audio/transcriptions", "verbose_json", true, false, false, true, ""},
    {"vllm", "/v1/audio/transcriptions", "verbose_json", false, false, false, false, ""},
    {"nim", "/v1/audio/transcriptions", "json", false, false, true, false, ""},
};

// The common BCP-47 region NIM expects for a bare ISO code.
constexpr std::pair<std::string_view, std::string_view> kBcp47[] = {
    {"en", "en-US"}, {"de", "de-DE"}, {"es", "es-US"}, {"fr", "fr-FR"}, {"it", "it-IT"},
    {"pt", "pt-BR"}, {"ja", "ja-JP"}, {"ko", "ko-KR"}, {"zh", "zh-CN"}, {"ru", "ru-RU"},
    {"hi", "hi-IN"}, {"ar", "ar-AR"}, {"nl", "nl-NL"},
};

struct Endpoint {
  std::string url;
  const ServerProfile* profile = nullptr;
};

// Splits "http://host:port/path" into origin and path ("" when there is none).
std::pair<std::string, std::string> SplitUrl(std::string_view url) {
  const size_t scheme = url.find("://");
  const size_t slash = url.find('/', scheme == std::string_view::npos ? 0 : scheme + 3);
  if (slash == std::string_view::npos) return {std::string(url), ""};
  return {std::string(url.substr(0, slash)), std::string(url.substr(slash))};
}

Result<Endpoint> ResolveEndpoint(const EngineConfig& config) {
  if (!config.endpoint.starts_with("http://") && !config.endpoint.starts_with("https://"))
    return InvalidArgument("openai engine: --endpoint must be an http:// or https:// URL");
  auto [origin, path] = SplitUrl(config.endpoint);
  std::string kind = config.server_kind;
  if (kind == "auto") kind = path.ends_with("/inference") ? "whisper.cpp" : "openai";
  const ServerProfile* profile = nullptr;
  for (const ServerProfile& p : kProfiles)
    if (p.kind == kind) profile = &p;
  if (!profile)
    return InvalidArgument(fmt::format(
        "openai engine: unknown server kind '{}' (auto, openai, whisper.cpp, speaches, vllm, nim)",
        kind));
  while (path.ends_with('/')) path.pop_back();
  if (path.empty()) {
    path = profile->default_path;
  } else if (path.ends_with("/v1")) {
    path += "/audio/transcriptions";
  }
  return Endpoint{origin + path, profile};
}

std::string LanguageField(const ServerProfile& p, std::string_view language) {
  if (language.empty() || language == "auto") return p.auto_language ? "auto" : "";
  if (p.bcp47_language && language.find('-') == std::string_view::npos) {
    for (const auto& [code, tag] : kBcp47)
      if (language == code) return std::string(tag);
  }
  return std::string(language);
}

bool Retryable(int status) {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

Error StatusError(const MultipartReply& reply) {
  const std::string message =
      fmt::format("server said HTTP {}: {}", reply.status, ServerErrorMessage(reply.body));
  if (reply.status == 401 || reply.status == 403) return {Code::kPermissionDenied, message};
  if (reply.status == 404) return {Code::kNotFound, message};
  if (reply.status >= 400 && reply.status < 500) return {Code::kInvalidArgument, message};
  return {Code::kUnavailable, message};
}

class OpenAiEngine final : public Engine {
 public:
  OpenAiEngine(EngineConfig config, Endpoint endpoint)
      : config_(std::move(config)), endpoint_(std::move(endpoint)) {}

  EngineInfo info() const override {
    std::string model = config_.model;
    if (model.empty()) model = endpoint_.profile->default_model;
    if (model.empty()) model = std::string(endpoint_.profile->kind) + " server default";
    return {"openai", model,
            config_.word_timestamps && endpoint_.profile->response_format == "verbose_json"};
  }

  Result<Transcript> Transcribe(const PcmAudio& audio, const EngineProgress& progress,
                                std::stop_token stop, const TranscribeOptions& options) override {
    const auto started = Clock::now();
    Transcript t;
    t.engine = "openai";
    t.model = info().model;
    const std::string& language = CallLanguage(config_, options);
    t.language = language == "auto" ? "" : language;
    t.audio_duration = audio.duration();
    const double total = static_cast<double>(std::max<int64_t>(1, audio.size().count));
    for (const Piece& chunk : PlanChunks(audio, config_.max_chunk)) {
      auto r = TranscribeChunk(audio, chunk, language, stop);
      if (!r) return std::unexpected(r.error());
      if (!r->language.empty()) t.language = r->language;
      AppendSegments(t.segments, std::move(r->segments));
      if (progress) progress(static_cast<double>(chunk.end.count) / total);
    }
    if (progress) progress(1.0);
    t.engine_time = std::chrono::duration_cast<Millis>(Clock::now() - started);
    return t;
  }

 private:
  MultipartRequest Request(const PcmAudio& audio, const Piece& chunk,
                           const std::string& language) const {
    const ServerProfile& p = *endpoint_.profile;
    MultipartRequest r;
    r.url = endpoint_.url;
    r.bearer = config_.api_key;
    r.timeout = config_.chunk_timeout;
    r.file = {"file", "audio.wav", "audio/wav", EncodeWav(Slice(audio, chunk))};
    const std::string model = config_.model.empty() ? std::string(p.default_model) : config_.model;
    if (!model.empty()) r.fields.emplace_back("model", model);
    if (std::string field = LanguageField(p, language); !field.empty())
      r.fields.emplace_back("language", field);
    r.fields.emplace_back("response_format", p.response_format);
    if (p.response_format == "verbose_json") {
      r.fields.emplace_back("timestamp_granularities[]", "segment");
      if (p.ask_words && config_.word_timestamps)
        r.fields.emplace_back("timestamp_granularities[]", "word");
    }
    return r;
  }

  // One chunk, retried while the server is busy or loading, halved when it is too large.
  Result<PieceTranscript> TranscribeChunk(const PcmAudio& audio, const Piece& chunk,
                                          const std::string& language,
                                          const std::stop_token& stop) {
    auto reply = PostWithRetries(Request(audio, chunk, language), stop);
    if (!reply) return std::unexpected(reply.error());
    if (reply->status == 413 &&
        chunk.end.count - chunk.begin.count > ToSamples(Millis(40'000)).count)
      return Halve(audio, chunk, language, stop);
    if (reply->status != 200) return std::unexpected(StatusError(*reply));
    std::string_view body = reply->body;
    const bool json = body.find_first_not_of(" \t\r\n") != std::string_view::npos &&
                      body[body.find_first_not_of(" \t\r\n")] == '{';
    if (!json && endpoint_.profile->response_format == "json" &&
        reply->content_type.find("json") == std::string::npos)
      return PlainTextTranscript(body, chunk);  // NIM may answer json requests as plain text
    return WithContext(ParseTranscriptionJson(body, chunk), "server reply");
  }

  Result<PieceTranscript> Halve(const PcmAudio& audio, const Piece& chunk,
                                const std::string& language, const std::stop_token& stop) {
    const PcmAudio part = Slice(audio, chunk);
    const Millis half = std::max(Millis(20'000), part.duration() / 2);
    PieceTranscript out;
    for (Piece sub : PlanChunks(part, half)) {
      sub.begin.count += chunk.begin.count;
      sub.end.count += chunk.begin.count;
      auto r = TranscribeChunk(audio, sub, language, stop);
      if (!r) return r;
      if (!r->language.empty()) out.language = r->language;
      AppendSegments(out.segments, std::move(r->segments));
    }
    return out;
  }

  Result<MultipartReply> PostWithRetries(const MultipartRequest& request,
                                         const std::stop_token& stop) {
    const auto give_up = Clock::now() + config_.chunk_timeout;
    Millis backoff = kFirstBackoff;
    std::mt19937 rng(std::random_device{}());
    while (true) {
      auto reply = PostMultipart(request, stop);
      if (reply && !Retryable(reply->status)) return reply;
      if (!reply && (reply.error().code != Code::kUnavailable || stop.stop_requested()))
        return reply;
      Millis wait =
          backoff / 2 + Millis(std::uniform_int_distribution<int64_t>(0, backoff.count())(rng));
      if (reply && reply->retry_after.count() > 0) wait = reply->retry_after;
      if (Clock::now() + wait >= give_up) {
        if (!reply) return reply;
        return std::unexpected(Error{Code::kUnavailable, StatusError(*reply).message});
      }
      if (!SleepFor(wait, stop)) return Unavailable("cancelled");
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
  }

  static constexpr Millis kFirstBackoff{500};
  static constexpr Millis kMaxBackoff{30'000};

  const EngineConfig config_;
  const Endpoint endpoint_;
};

}  // namespace

Result<std::unique_ptr<Engine>> MakeOpenAiEngine(const EngineConfig& config) {
  auto endpoint = ResolveEndpoint(config);
  if (!endpoint) return std::unexpected(endpoint.error());
  if (endpoint->profile->requires_model && config.model.empty())
    return InvalidArgument(
        fmt::format("openai engine: a {} server needs --model", endpoint->profile->kind));
  if (config.max_chunk < Millis(20'000))
    return InvalidArgument("openai engine: chunks must be allowed at least 20 s");
  return std::make_unique<OpenAiEngine>(config, std::move(*endpoint));
}

}  // namespace podfleet
