// The fleet as an OpenAI-compatible transcription service: POST /v1/audio/transcriptions queues
// the uploaded audio as a high-priority job and answers once a worker has transcribed it;
// GET /v1/models lists what the fleet runs. Errors take OpenAI's shape,
// {"error":{"message","type","param","code"}}. Contract and limits: doc/api.md.
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <set>

#include "audio/audio.h"
#include "coordinator/coordinator_context.h"
#include "core/language.h"
#include "net/multipart.h"
#include "net/token.h"
#include "transcripts/formats.h"

namespace podfleet {
namespace {

using nlohmann::json;
using Ctx = Coordinator::Context;

// Jobs queued through this route are claimed before feed episodes (created at 0).
constexpr int kInteractivePriority = 100;

HttpResponse OpenAiError(int status, std::string_view type, std::string_view message,
                         std::optional<std::string_view> param = std::nullopt,
                         std::optional<std::string_view> code = std::nullopt) {
  json error = {{"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}};
  if (param) error["param"] = *param;
  if (code) error["code"] = *code;
  return HttpResponse::Json(status, json{{"error", error}}.dump());
}

HttpResponse InvalidRequest(std::string_view message, std::optional<std::string_view> param = {}) {
  return OpenAiError(400, "invalid_request_error", message, param);
}

bool Authorized(const Ctx& c, const HttpRequest& request) {
  const std::string_view token = request.BearerToken();
  if (token.empty()) return false;
  const std::string hash = HashToken(token);
  return ConstantTimeEquals(hash, c.admin_token_hash) ||
         (!c.api_key_hash.empty() && ConstantTimeEquals(hash, c.api_key_hash));
}

// What the client asked for, read from the form.
struct TranscriptionForm {
  MultipartPart file;
  std::string response_format = "json";
  bool words = false;
};

Result<TranscriptionForm> ReadForm(const HttpRequest& request) {
  auto boundary = MultipartBoundary(request.Header("content-type"));
  if (!boundary) return std::unexpected(boundary.error());
  auto parts = ParseMultipart(request.body, *boundary);
  if (!parts) return std::unexpected(parts.error());
  TranscriptionForm form;
  bool have_file = false;
  for (const MultipartPart& p : *parts) {
    if (p.name == "file" && p.is_file) {
      form.file = p;
      have_file = true;
    } else if (p.name == "response_format") {
      form.response_format = std::string(p.data);
    } else if (p.name == "timestamp_granularities[]" || p.name == "timestamp_granularities") {
      if (p.data != "word" && p.data != "segment")
        return InvalidArgument("timestamp_granularities[] must be word or segment");
      form.words = form.words || p.data == "word";
    }
  }
  static const std::set<std::string> kFormats = {"json", "text", "srt", "vtt", "verbose_json"};
  if (!kFormats.contains(form.response_format))
    return InvalidArgument("response_format must be json, text, srt, vtt or verbose_json");
  if (!have_file || form.file.data.empty()) return InvalidArgument("file is required");
  return form;
}

// Stores the upload and queues it at high priority; returns its episode and job.
Result<std::pair<EpisodeId, JobId>> Queue(Ctx& c, const MultipartPart& file) {
  auto info = SaveUpload(c, file.data, "openai", file.filename);
  if (!info) return std::unexpected(info.error());
  auto ids = c.store.AddEpisodes(std::nullopt, {*info}, c.clock.Now());
  if (!ids) return std::unexpected(ids.error());
  if (ids->empty()) return Internal("the upload's generated name is taken");
  auto job = c.store.GetJobForEpisode(ids->front());
  if (!job) return std::unexpected(job.error());
  if (auto r = c.store.SetJobPriority(job->id, kInteractivePriority); !r)
    return std::unexpected(r.error());
  c.dispatcher.Notify();
  return std::pair{ids->front(), job->id};
}

double Seconds(Millis m) { return static_cast<double>(m.count()) / 1000.0; }

std::string VerboseJson(const Transcript& t, bool words) {
  json segments = json::array();
  json all_words = json::array();
  for (size_t i = 0; i < t.segments.size(); ++i) {
    const Segment& s = t.segments[i];
    segments.push_back({{"id", i},
                        {"seek", 0},
                        {"start", Seconds(s.start)},
                        {"end", Seconds(s.end)},
                        {"text", s.text},
                        {"tokens", json::array()},
                        {"temperature", 0.0}});
    for (const Word& w : s.words)
      all_words.push_back({{"word", w.text}, {"start", Seconds(w.start)}, {"end", Seconds(w.end)}});
  }
  json out = {{"task", "transcribe"},
              {"language", LanguageName(t.language)},
              {"duration", Seconds(t.audio_duration)},
              {"text", t.Text()},
              {"segments", std::move(segments)}};
  if (words) out["words"] = std::move(all_words);
  return out.dump();
}

HttpResponse Formatted(const Transcript& t, const TranscriptionForm& form) {
  const std::string& f = form.response_format;
  if (f == "json") return HttpResponse::Json(200, json{{"text", t.Text()}}.dump());
  if (f == "verbose_json") return HttpResponse::Json(200, VerboseJson(t, form.words));
  if (f == "srt") return HttpResponse::Text(200, WriteSrt(t), "application/x-subrip");
  if (f == "vtt") return HttpResponse::Text(200, WriteVtt(t), "text/vtt; charset=utf-8");
  return HttpResponse::Text(200, t.Text() + "\n");
}

HttpResponse Answer(Ctx& c, EpisodeId episode, const std::optional<Job>& job,
                    const TranscriptionForm& form) {
  if (!job) {
    return OpenAiError(504, "server_error",
                       fmt::format("no transcript within {} s; the job goes on: GET "
                                   "/api/episodes/{}/transcript later",
                                   c.options.transcription_wait.count() / 1000, episode.value()),
                       std::nullopt, "timeout");
  }
  if (job->state == JobState::kFailed) {
    // A failure that was never retried was permanent: the audio itself is the problem.
    if (job->failures == 0)
      return InvalidRequest("the audio cannot be transcribed: " + job->error, "file");
    return OpenAiError(500, "server_error", "transcription failed: " + job->error);
  }
  auto transcript = c.store.GetTranscript(episode);
  if (!transcript) return OpenAiError(500, "server_error", transcript.error().message);
  return Formatted(*transcript, form);
}

void Transcribe(Ctx& c, HttpRequest request, HttpResponder respond) {
  if (!Authorized(c, request))
    return respond(OpenAiError(401, "invalid_request_error",
                               "missing or wrong API key (Authorization: Bearer ...)", std::nullopt,
                               "invalid_api_key"));
  auto form = ReadForm(request);
  if (!form) return respond(InvalidRequest(form.error().message));
  const auto& bytes = form->file.data;
  auto sniffed = SniffAudio(std::span(reinterpret_cast<const unsigned char*>(bytes.data()),
                                      std::min<size_t>(bytes.size(), 16 * 1024)));
  if (!sniffed) return respond(InvalidRequest(sniffed.error().message, "file"));
  auto queued = Queue(c, form->file);
  if (!queued) return respond(OpenAiError(500, "server_error", queued.error().message));
  const EpisodeId episode = queued->first;
  // The form points into the request body; keep what the answer needs.
  TranscriptionForm kept{{}, form->response_format, form->words};
  auto shared = std::make_shared<HttpResponder>(std::move(respond));
  c.waiters.Wait(queued->second, c.clock.Now() + c.options.transcription_wait,
                 [&c, shared, episode, kept](std::optional<Job> job) {
                   HttpResponse r = Answer(c, episode, job, kept);
                   r.headers.emplace_back("X-Podfleet-Episode", std::to_string(episode.value()));
                   (*shared)(std::move(r));
                 });
}

HttpResponse Models(Ctx& c, const HttpRequest&) {
  json data = json::array();
  data.push_back(
      {{"id", "podfleet"}, {"object", "model"}, {"created", 0}, {"owned_by", "podfleet"}});
  auto nodes = c.store.ListNodes();
  if (!nodes) return OpenAiError(500, "server_error", nodes.error().message);
  std::set<std::string> seen;
  for (const Node& n : *nodes) {
    if (n.retired) continue;
    const std::string id = n.info.engine + "/" + n.info.model;
    if (!seen.insert(id).second) continue;
    data.push_back({{"id", id},
                    {"object", "model"},
                    {"created", ToUnixMillis(n.registered_at) / 1000},
                    {"owned_by", "podfleet"}});
  }
  return HttpResponse::Json(200, json{{"object", "list"}, {"data", std::move(data)}}.dump());
}

}  // namespace

std::vector<Route> OpenAiRoutes(Ctx& c) {
  return {
      {"POST",
       "/v1/audio/transcriptions",
       "OpenAI-compatible: transcribe an upload on the fleet (multipart; API key or admin token)",
       {},
       [&c](HttpRequest r, HttpResponder respond) {
         Transcribe(c, std::move(r), std::move(respond));
       }},
      {"GET",
       "/v1/models",
       "OpenAI-compatible: the fleet's engines and models",
       [&c](const HttpRequest& r) { return Models(c, r); },
       {}},
  };
}

}  // namespace podfleet
