// The fleet as an OpenAI-compatible transcription service: POST /v1/audio/transcriptions queues
// the uploaded audio as a high-priority episode and answers once the fleet has transcribed it (or
// streams its text as Server-Sent Events, chunk by chunk); GET /v1/models and /v1/models/{id}
// list what the fleet runs. Errors take OpenAI's shape, {"error":{"message","type","param",
// "code"}}. Contract and limits: doc/api.md.
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <set>
#include <variant>

#include "audio/audio.h"
#include "coordinator/coordinator_context.h"
#include "coordinator/openai_shapes.h"
#include "net/multipart.h"
#include "net/token.h"
#include "transcripts/formats.h"

namespace podfleet {
namespace {

using nlohmann::json;
using Ctx = Coordinator::Context;

// Jobs queued through this route are claimed before feed episodes (created at 0).
constexpr int kInteractivePriority = 100;

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
  std::string model;
  std::string language;
  bool words = false;
  bool segments = true;            // OpenAI's default granularity
  bool segments_explicit = false;  // timestamp_granularities[]=segment was sent
  bool stream = false;
};

// A form error, with the field it concerns.
struct FormError {
  std::string message;
  std::string param;
};

std::optional<FormError> ReadField(const MultipartPart& p, TranscriptionForm& form,
                                   bool& granularity_seen) {
  if (p.name == "response_format") {
    form.response_format = std::string(p.data);
  } else if (p.name == "model") {
    form.model = std::string(p.data);
  } else if (p.name == "language") {
    form.language = std::string(p.data);
  } else if (p.name == "stream") {
    if (p.data != "true" && p.data != "false")
      return FormError{"stream must be true or false", "stream"};
    form.stream = p.data == "true";
  } else if (p.name == "timestamp_granularities[]" || p.name == "timestamp_granularities") {
    if (p.data != "word" && p.data != "segment")
      return FormError{"timestamp_granularities[] must be word or segment",
                       "timestamp_granularities"};
    if (!granularity_seen) form.segments = false;  // the list replaces the default
    granularity_seen = true;
    form.words = form.words || p.data == "word";
    form.segments_explicit = form.segments_explicit || p.data == "segment";
    form.segments = form.segments || p.data == "segment";
  }
  return std::nullopt;
}

std::variant<TranscriptionForm, FormError> ReadForm(const HttpRequest& request) {
  auto boundary = MultipartBoundary(request.Header("content-type"));
  if (!boundary) return FormError{boundary.error().message, ""};
  auto parts = ParseMultipart(request.body, *boundary);
  if (!parts) return FormError{parts.error().message, ""};
  TranscriptionForm form;
  bool have_file = false;
  bool granularity_seen = false;
  for (const MultipartPart& p : *parts) {
    if (p.name == "file" && p.is_file) {
      form.file = p;
      have_file = true;
    } else if (auto e = ReadField(p, form, granularity_seen)) {
      return *e;
    }
  }
  static const std::set<std::string> kFormats = {"json", "text", "srt", "vtt", "verbose_json"};
  if (!kFormats.contains(form.response_format))
    return FormError{"response_format must be json, text, srt, vtt or verbose_json",
                     "response_format"};
  if (form.stream && form.response_format != "json" && form.response_format != "text")
    return FormError{"stream is available with response_format json or text", "stream"};
  if (!have_file || form.file.data.empty()) return FormError{"file is required", "file"};
  return form;
}

// Stores the upload and queues it at high priority. Only audio FFmpeg's probe can open is kept:
// anything else is removed again and refused (kInvalidArgument or kCorruption) in words that name
// the client's file, not the stored one.
Result<EpisodeId> Queue(Ctx& c, const MultipartPart& file, const std::string& filename,
                        const JobRequirement& want) {
  auto info = SaveUpload(c, file.data, "openai", file.filename);
  if (!info) return std::unexpected(info.error());
  const std::string name = info->audio_url.substr(info->audio_url.rfind('/') + 1);
  const std::filesystem::path path = c.options.data_dir / "uploads" / name;
  if (Result<std::string> format = ProbeAudio(path); !format) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
    Error e = format.error();
    e.message = PublicMessage(e.message, name, filename);
    return std::unexpected(std::move(e));
  }
  auto ids = c.store.AddEpisodes(std::nullopt, {*info}, c.clock.Now(), c.intake(), {}, want);
  if (!ids) return std::unexpected(ids.error());
  if (ids->empty()) return Internal("the upload's generated name is taken");
  auto job = c.store.GetJobForEpisode(ids->front());
  if (!job) return std::unexpected(job.error());
  if (auto r = c.store.SetJobPriority(job->id, kInteractivePriority); !r)
    return std::unexpected(r.error());
  c.JobsQueued();
  return ids->front();
}

// What the answer needs once the form's buffers are gone.
struct Pending {
  EpisodeId episode;
  std::string response_format;
  bool words = false;
  bool segments = true;
  bool segments_explicit = false;
  std::string filename;
  std::string media_name;  // the stored upload's generated name
};

HttpResponse Formatted(const Transcript& t, const Pending& p) {
  const std::string& f = p.response_format;
  if (f == "json")
    return HttpResponse::Json(
        200, json{{"text", t.Text()}, {"usage", DurationUsage(t.audio_duration)}}.dump());
  if (f == "verbose_json")
    return HttpResponse::Json(200, VerboseJson(t, p.words, p.segments, p.segments_explicit));
  if (f == "srt") return HttpResponse::Text(200, WriteSrt(t), "application/x-subrip");
  if (f == "vtt") return HttpResponse::Text(200, WriteVtt(t), "text/vtt; charset=utf-8");
  return HttpResponse::Text(200, t.Text() + "\n");
}

HttpResponse TimedOut(Ctx& c, const Pending& p) {
  HttpResponse r = OpenAiError(
      504, "server_error",
      fmt::format("no transcript within {} s; the transcription goes on as episode {}: send the "
                  "same request again to wait for it (it joins the same job), or GET "
                  "/api/episodes/{}/transcript later",
                  c.options.transcription_wait.count() / 1000, p.episode.value(),
                  p.episode.value()),
      std::nullopt, "timeout");
  // The OpenAI SDKs honour this: retrying would only wait again.
  r.headers.emplace_back("X-Should-Retry", "false");
  return r;
}

HttpResponse Failed(Ctx& c, const Episode& e, const Pending& p) {
  const std::string why = PublicMessage(e.error, p.media_name, p.filename);
  // A failure that was never retried was permanent: the audio itself is the problem.
  bool permanent = false;
  if (auto jobs = c.store.ListJobsForEpisode(e.id)) {
    for (const Job& j : *jobs)
      permanent = permanent || (j.state == JobState::kFailed && j.failures == 0);
  }
  if (permanent) return InvalidRequest("the audio cannot be transcribed: " + why, "file");
  return OpenAiError(500, "server_error", "transcription failed: " + why);
}

HttpResponse Answer(Ctx& c, const std::optional<Episode>& episode, const Pending& p) {
  if (!episode) return TimedOut(c, p);
  if (episode->state == EpisodeState::kFailed) return Failed(c, *episode, p);
  auto transcript = c.store.GetTranscript(p.episode);
  if (!transcript) return OpenAiError(500, "server_error", transcript.error().message);
  return Formatted(*transcript, p);
}

// Streams the transcription as OpenAI's transcript.text.delta events (one per chunk, as it and
// the chunks before it finish) and a closing transcript.text.done, or an error event.
void Stream(Ctx& c, const Pending& p, HttpResponder respond) {
  auto body = std::make_shared<HttpBodyStream>();
  HttpResponse head;
  head.content_type = "text/event-stream";
  head.headers.emplace_back("Cache-Control", "no-cache");
  head.headers.emplace_back("X-Podfleet-Episode", std::to_string(p.episode.value()));
  head.stream = body;
  respond(std::move(head));
  auto sent = std::make_shared<std::string>();  // the text the deltas carried so far
  auto piece = [body, sent](const std::string& text) {
    if (text.empty()) return;
    const std::string delta = sent->empty() ? text : " " + text;
    *sent += delta;
    body->Write(SseEvent({{"type", "transcript.text.delta"}, {"delta", delta}}));
  };
  auto done = [&c, p, body, sent](std::optional<Episode> episode) {
    HttpResponse answer = Answer(c, episode, p);
    if (answer.status != 200) {
      body->Write(SseEvent(json::parse(answer.body)));  // {"error":{...}}: the SDKs throw it
      return body->End();
    }
    auto transcript = c.store.GetTranscript(p.episode);
    const std::string text = transcript ? transcript->Text() : "";
    // The chunks finished after the last delta (the episode was stitched first).
    if (text.starts_with(*sent) && text.size() > sent->size())
      body->Write(
          SseEvent({{"type", "transcript.text.delta"}, {"delta", text.substr(sent->size())}}));
    body->Write(
        SseEvent({{"type", "transcript.text.done"},
                  {"text", text},
                  {"usage", DurationUsage(transcript ? transcript->audio_duration : Millis(0))}}));
    body->End();
  };
  c.waiters.Wait(p.episode, c.clock.Now() + c.options.transcription_wait, done, piece);
}

// 400 for audio FFmpeg cannot read, else 500.
HttpResponse QueueError(const Error& e) {
  if (e.code == Code::kInvalidArgument || e.code == Code::kCorruption)
    return InvalidRequest(e.message, "file");
  return OpenAiError(500, "server_error", e.message);
}

void Transcribe(Ctx& c, HttpRequest request, HttpResponder respond) {
  if (!Authorized(c, request))
    return respond(OpenAiError(401, "invalid_request_error",
                               "missing or wrong API key (Authorization: Bearer ...)", std::nullopt,
                               "invalid_api_key"));
  auto read = ReadForm(request);
  if (auto* e = std::get_if<FormError>(&read)) {
    return respond(InvalidRequest(
        e->message, e->param.empty() ? std::nullopt : std::optional<std::string_view>(e->param)));
  }
  TranscriptionForm& form = std::get<TranscriptionForm>(read);
  auto live = RoutableWorkers(c);
  if (!live) return respond(OpenAiError(500, "server_error", live.error().message));
  auto want = RouteTranscription(form.model, form.language, *live);
  if (!want) return respond(std::move(want.error()));
  const auto& bytes = form.file.data;
  const std::string filename = form.file.filename.empty() ? "the upload" : form.file.filename;
  auto sniffed = SniffAudio(std::span(reinterpret_cast<const unsigned char*>(bytes.data()),
                                      std::min<size_t>(bytes.size(), 16 * 1024)));
  if (!sniffed) return respond(InvalidRequest(filename + ": " + sniffed.error().message, "file"));
  // The same audio with the same job options joins the job already queued (upload_dedup.h).
  const std::string content = HashToken(bytes) + "|" + form.model + "|" + form.language;
  auto queued = c.uploads.JoinOrQueue(
      request.Header("idempotency-key"), content, c.clock.Now(),
      [&c](EpisodeId e) {
        auto episode = c.store.GetEpisode(e);
        return episode && episode->state != EpisodeState::kFailed;
      },
      [&c, &form, &filename, &want] { return Queue(c, form.file, filename, *want); });
  if (!queued) return respond(QueueError(queued.error()));
  auto episode = c.store.GetEpisode(queued->episode);
  if (!episode) return respond(OpenAiError(500, "server_error", episode.error().message));
  const std::string& url = episode->info.audio_url;
  Pending p{queued->episode,
            form.response_format,
            form.words,
            form.segments,
            form.segments_explicit,
            filename,
            url.substr(url.rfind('/') + 1)};
  if (form.stream) return Stream(c, p, std::move(respond));
  auto shared = std::make_shared<HttpResponder>(std::move(respond));
  const bool joined = queued->joined;
  c.waiters.Wait(p.episode, c.clock.Now() + c.options.transcription_wait,
                 [&c, shared, p, joined](std::optional<Episode> e) {
                   HttpResponse r = Answer(c, e, p);
                   r.headers.emplace_back("X-Podfleet-Episode", std::to_string(p.episode.value()));
                   if (joined) r.headers.emplace_back("X-Podfleet-Joined", "true");
                   (*shared)(std::move(r));
                 });
}

json ModelJson(std::string_view id, TimePoint created) {
  return {{"id", id},
          {"object", "model"},
          {"created", ToUnixMillis(created) / 1000},
          {"owned_by", "podfleet"}};
}

// "podfleet" first, then each engine/model the live workers run.
Result<json> ModelList(Ctx& c) {
  json data = json::array();
  data.push_back(ModelJson("podfleet", FromUnixMillis(0)));
  auto nodes = c.store.ListNodes();
  if (!nodes) return std::unexpected(nodes.error());
  std::set<std::string> seen;
  for (const Node& n : *nodes) {
    if (n.retired) continue;
    const std::string id = n.info.engine + "/" + n.info.model;
    if (seen.insert(id).second) data.push_back(ModelJson(id, n.registered_at));
  }
  return data;
}

HttpResponse Models(Ctx& c, const HttpRequest&) {
  auto data = ModelList(c);
  if (!data) return OpenAiError(500, "server_error", data.error().message);
  return HttpResponse::Json(200, json{{"object", "list"}, {"data", std::move(*data)}}.dump());
}

// GET /v1/models/{id}. Ids hold a slash ("whisper/base.en"): sent percent-encoded (as the SDKs
// do) they are one segment; sent raw they are two.
HttpResponse OneModel(Ctx& c, const HttpRequest& request) {
  const std::string id = request.params.contains("id")
                             ? request.params.at("id")
                             : request.params.at("engine") + "/" + request.params.at("model");
  auto data = ModelList(c);
  if (!data) return OpenAiError(500, "server_error", data.error().message);
  for (const json& m : *data)
    if (m["id"] == id) return HttpResponse::Json(200, m.dump());
  if (IsFleetAlias(id)) return HttpResponse::Json(200, ModelJson(id, FromUnixMillis(0)).dump());
  return OpenAiError(404, "invalid_request_error",
                     fmt::format("The model '{}' does not exist on this fleet", id), "model",
                     "model_not_found");
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
      {"GET",
       "/v1/models/{id}",
       "OpenAI-compatible: one model",
       [&c](const HttpRequest& r) { return OneModel(c, r); },
       {}},
      {"GET",
       "/v1/models/{engine}/{model}",
       "OpenAI-compatible: one model, its id unencoded",
       [&c](const HttpRequest& r) { return OneModel(c, r); },
       {}},
  };
}

}  // namespace podfleet
