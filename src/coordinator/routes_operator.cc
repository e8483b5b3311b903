// The operator's API: fleet state, feeds, episodes and transcripts. Reading is open to anyone
// who can reach the coordinator (dashboards, curl); every route that changes something needs the
// admin token (admin_token.h), declared by the `admin` guard in its row.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "api/wire.h"
#include "audio/audio.h"
#include "coordinator/coordinator_context.h"
#include "coordinator/fleet_view.h"
#include "coordinator/source_policy.h"
#include "core/language.h"
#include "net/token.h"
#include "transcripts/formats.h"

namespace podfleet {
namespace {

using nlohmann::json;
using Ctx = Coordinator::Context;

constexpr Millis kHour{3'600'000};

json NodeJson(const NodeView& v, TimePoint now) {
  json jobs = json::array();
  for (const Job& j : v.jobs) {
    json job = {{"job", j.id.value()}, {"episode", j.episode.value()}};
    if (j.lease) job["attempt"] = j.lease->attempt.value();
    if (j.progress) {
      job["stage"] = ToString(j.progress->stage);
      job["progress"] = j.progress->fraction;
    }
    jobs.push_back(std::move(job));
  }
  json out = ToJson(v.node.info);
  out["id"] = v.node.id.value();
  out["status"] = ToString(v.status);
  out["jobs"] = std::move(jobs);
  out["registered_at"] = ToUnixMillis(v.node.registered_at);
  out["last_heartbeat"] = ToUnixMillis(v.node.last_seen);
  out["last_heartbeat_age_ms"] = (now - v.node.last_seen).count();
  if (v.fault) {
    out["fault"] = v.fault->reason;
    out["fault_since"] = ToUnixMillis(v.fault->since);
  }
  return out;
}

Result<json> NodesJson(Ctx& c) {
  auto nodes = c.store.ListNodes();
  if (!nodes) return std::unexpected(nodes.error());
  auto leased = c.store.ListLeasedJobs();
  if (!leased) return std::unexpected(leased.error());
  const TimePoint now = c.clock.Now();
  json out = json::array();
  for (const NodeView& v :
       BuildNodeViews(*nodes, *leased, now, c.options.offline_after, c.faults.Snapshot()))
    out.push_back(NodeJson(v, now));
  return json{{"nodes", std::move(out)}};
}

Result<json> ThroughputJson(Ctx& c) {
  const TimePoint now = c.clock.Now();
  auto done = c.store.CompletedSince(now - kHour);
  if (!done) return std::unexpected(done.error());
  Throughput t = ComputeThroughput(*done, now, kHour);
  std::set<EpisodeId> episodes;
  for (const CompletedJob& j : *done) episodes.insert(j.episode);
  // A chunked episode completes one job per chunk: episodes and chunks are counted apart.
  return json{{"window_ms", t.window.count()},
              {"episodes", episodes.size()},
              {"chunks", t.jobs},
              {"audio_minutes", t.audio.count() / 60'000.0},
              {"audio_hours_per_hour", t.realtime()}};
}

Result<json> QueueJson(Ctx& c) {
  auto counts = c.store.CountJobs();
  if (!counts) return std::unexpected(counts.error());
  auto episodes = c.store.CountEpisodes();
  if (!episodes) return std::unexpected(episodes.error());
  json by_state = ToJson(*episodes);
  by_state["done"] = episodes->completed;
  return json{{"transcribe_queue", ToJson(*counts)},
              {"episodes", std::move(by_state)},
              {"waiting_workers", c.dispatcher.parked()}};
}

Result<json> StatusJson(Ctx& c) {
  auto nodes = NodesJson(c);
  if (!nodes) return nodes;
  auto queue = QueueJson(c);
  if (!queue) return queue;
  auto throughput = ThroughputJson(c);
  if (!throughput) return throughput;
  json store = {{"healthy", true}};
  if (auto healthy = c.store.CheckHealth(); !healthy)
    store = {{"healthy", false}, {"error", healthy.error().message}};
  return json{{"nodes", (*nodes)["nodes"]},
              {"transcribe_queue", (*queue)["transcribe_queue"]},
              {"episodes", (*queue)["episodes"]},
              {"last_hour", *throughput},
              {"store", std::move(store)}};
}

// ---- episodes ----

Result<EpisodeFilter> FilterFrom(const HttpRequest& request) {
  EpisodeFilter f;
  try {
    if (auto feed = request.QueryOr("feed", ""); !feed.empty()) f.feed = FeedId(std::stoll(feed));
    f.limit = std::clamp<int64_t>(std::stoll(request.QueryOr("limit", "100")), 1, 1000);
    f.offset = std::max<int64_t>(0, std::stoll(request.QueryOr("offset", "0")));
  } catch (const std::exception&) {
    return InvalidArgument("feed, limit and offset must be integers");
  }
  if (auto state = request.QueryOr("state", ""); !state.empty()) {
    f.state = ParseEpisodeState(state);
    if (!f.state) return InvalidArgument("unknown state '" + state + "'");
  }
  f.search = request.QueryOr("q", "");
  return f;
}

// An episode as the API shows it: the wire form plus where its transcript came from.
Result<json> EpisodeJson(Ctx& c, const Episode& e) {
  auto origin = c.store.GetTranscriptOrigin(e.id);
  if (!origin) return std::unexpected(origin.error());
  json out = ToJson(e);
  out["transcript_source"] = origin->source;
  out["transcript_note"] = origin->note;
  return out;
}

HttpResponse ListEpisodes(Ctx& c, const HttpRequest& request) {
  auto filter = FilterFrom(request);
  if (!filter) return ErrorReply(filter.error());
  auto episodes = c.store.ListEpisodes(*filter);
  if (!episodes) return ErrorReply(episodes.error());
  json out = json::array();
  for (const Episode& e : *episodes) {
    auto episode = EpisodeJson(c, e);
    if (!episode) return ErrorReply(episode.error());
    out.push_back(std::move(*episode));
  }
  return JsonReply(200, {{"episodes", std::move(out)}});
}

// Why a job was quarantined: when, and each expired attempt (node, lease start, expiry).
Result<json> QuarantineJson(Ctx& c, const Job& job) {
  auto attempts = c.store.ListAttempts(job.id);
  if (!attempts) return std::unexpected(attempts.error());
  auto nodes = c.store.ListNodes();
  if (!nodes) return std::unexpected(nodes.error());
  json expiries = json::array();
  for (const Attempt& a : *attempts) {
    if (a.outcome != AttemptOutcome::kExpired || !a.finished_at) continue;
    auto node =
        std::find_if(nodes->begin(), nodes->end(), [&](const Node& n) { return n.id == a.node; });
    expiries.push_back({{"attempt", a.number.value()},
                        {"node", a.node.value()},
                        {"node_name", node != nodes->end() ? node->info.name : ""},
                        {"leased_at", ToUnixMillis(a.leased_at)},
                        {"expired_at", ToUnixMillis(*a.finished_at)},
                        {"expired_at_iso", FormatIso8601(*a.finished_at)}});
  }
  return json{{"at", ToUnixMillis(*job.quarantined_at)},
              {"at_iso", FormatIso8601(*job.quarantined_at)},
              {"expiries", std::move(expiries)}};
}

HttpResponse GetEpisode(Ctx& c, const HttpRequest& request) {
  auto id = IdParam(request, "id");
  if (!id) return ErrorReply(id.error());
  auto episode = c.store.GetEpisode(EpisodeId(*id));
  if (!episode) return ErrorReply(episode.error());
  auto shown = EpisodeJson(c, *episode);
  if (!shown) return ErrorReply(shown.error());
  json out = std::move(*shown);
  if (auto job = c.store.GetJobForEpisode(episode->id)) {
    out["job"] = {{"id", job->id.value()},
                  {"state", ToString(job->state)},
                  {"attempts", job->attempts},
                  {"failures", job->failures},
                  {"lease_expiries", job->lease_expiries}};
    if (job->want != JobRequirement{})
      out["job"]["want"] = {{"engine", job->want.engine},
                            {"model", job->want.model},
                            {"language", job->want.language}};
    if (job->quarantined_at) {
      auto quarantine = QuarantineJson(c, *job);
      if (!quarantine) return ErrorReply(quarantine.error());
      out["job"]["quarantine"] = std::move(*quarantine);
    }
  }
  if (auto t = c.store.GetTranscript(episode->id)) {
    out["transcript"] = {{"engine", t->engine}, {"model", t->model}, {"language", t->language}};
  }
  if (auto jobs = c.store.ListJobsForEpisode(episode->id); jobs && jobs->size() > 1) {
    json chunks = json::array();
    for (const Job& j : *jobs) {
      json chunk = {{"job", j.id.value()},
                    {"index", j.chunk.index},
                    {"state", ToString(j.state)},
                    {"start_ms", j.chunk.start.count()}};
      if (j.chunk.end) chunk["end_ms"] = j.chunk.end->count();
      if (j.chunk.seam > Millis(0)) chunk["seam_ms"] = j.chunk.seam.count();  // origin ranges
      chunks.push_back(std::move(chunk));
    }
    out["chunks"] = std::move(chunks);
  }
  return JsonReply(200, out);
}

Result<EpisodeId> AddOne(Ctx& c, EpisodeInfo info) {
  if (info.guid.empty()) info.guid = info.audio_url;
  auto ids = c.store.AddEpisodes(std::nullopt, {info}, c.clock.Now(), c.intake());
  if (!ids) return std::unexpected(ids.error());
  if (ids->empty()) return Conflict("episode with that audio URL exists already");
  c.JobsQueued();
  return ids->front();
}

// POST /api/episodes {"url": ..., "title": ...}
HttpResponse AddEpisode(Ctx& c, const HttpRequest& request) {
  auto body = JsonBody(request);
  if (!body) return ErrorReply(body.error());
  auto url = SourceUrl(c, *body);
  if (!url) return ErrorReply(url.error());
  EpisodeInfo info;
  info.audio_url = *url;
  auto title = StringField(*body, "title", url->substr(url->rfind('/') + 1));
  if (!title) return ErrorReply(title.error());
  info.title = std::move(*title);
  auto id = AddOne(c, info);
  if (!id) return ErrorReply(id.error());
  return JsonReply(201, {{"id", id->value()}});
}

// POST /api/episodes/upload?title=...&filename=... with the audio file as the body.
HttpResponse UploadEpisode(Ctx& c, const HttpRequest& request) {
  if (request.body.empty()) return ErrorReply({Code::kInvalidArgument, "empty upload"});
  auto info = SaveUpload(c, request.body, "upload",
                         request.QueryOr("title", request.QueryOr("filename", "")));
  if (!info) return ErrorReply(info.error());
  auto id = AddOne(c, *info);
  if (!id) {
    // Not recorded (a stopped store, say): the file would be an orphan.
    std::error_code ec;
    const std::string_view url = info->audio_url;
    std::filesystem::remove(c.options.data_dir / "uploads" / url.substr(url.rfind('/') + 1), ec);
    return ErrorReply(id.error());
  }
  return JsonReply(201, {{"id", id->value()}});
}

// Serves an uploaded file to workers (origin mode). Names are generated hex strings; nothing
// else is served.
void Media(Ctx& c, HttpRequest request, HttpResponder respond) {
  const std::string& name = request.params.at("name");
  if (name.empty() || name.size() > 64 ||
      name.find_first_not_of("0123456789abcdef") != std::string::npos)
    return respond(ErrorReply({Code::kNotFound, "no such media"}));
  const std::filesystem::path path = c.options.data_dir / "uploads" / name;
  std::ifstream in(path, std::ios::binary);
  if (!in) return respond(ErrorReply({Code::kNotFound, "no such media"}));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto size = static_cast<int64_t>(bytes.size());
  // The bytes are counted with the audio they carry, so that bytes per audio-hour is measured.
  RecordServed(c, request, size, ProbeAudioDuration(path).value_or(Millis(0)));
  auto shared = std::make_shared<HttpResponder>(std::move(respond));
  auto body = std::make_shared<std::string>(std::move(bytes));
  c.egress.Send(size, [shared, body] {
    (*shared)(HttpResponse::Text(200, std::move(*body), "application/octet-stream"));
  });
}

HttpResponse RetryEpisode(Ctx& c, const HttpRequest& request) {
  auto id = IdParam(request, "id");
  if (!id) return ErrorReply(id.error());
  auto r = c.store.RetryEpisode(EpisodeId(*id), c.clock.Now());
  if (r) c.JobsQueued();
  return Reply(r);
}

// What transcribing again asks of the worker: the body's "engine", "model" (or "engine/model"
// in "model") and "language" (a code or an English name), when some routable worker can serve it.
Result<JobRequirement> AgainRequirement(Ctx& c, const HttpRequest& request) {
  auto body = JsonBody(request);
  if (!body) return std::unexpected(body.error());
  auto engine = StringField(*body, "engine", "");
  auto model = StringField(*body, "model", "");
  auto language = StringField(*body, "language", "");
  if (!engine || !model || !language) return InvalidArgument("engine, model and language are text");
  JobRequirement want{*engine, *model, LanguageCode(*language)};
  if (const size_t slash = want.model.find('/');
      want.engine.empty() && slash != std::string::npos) {
    want.engine = want.model.substr(0, slash);
    want.model.erase(0, slash + 1);
  }
  if (!want.language.empty() && !IsLanguageCode(want.language))
    return InvalidArgument(
        fmt::format("language '{}' is not an ISO-639-1 code such as \"en\"", *language));
  if (want == JobRequirement{}) return want;
  auto workers = RoutableWorkers(c);
  if (!workers) return std::unexpected(workers.error());
  std::set<std::string> runs;
  for (const NodeInfo& n : *workers) {
    if (CanServe(n, want)) return want;
    runs.insert(n.engine + "/" + n.model);
  }
  return InvalidArgument(fmt::format(
      "no worker can transcribe with engine '{}', model '{}', language '{}' (the fleet runs: {})",
      want.engine.empty() ? "any" : want.engine, want.model.empty() ? "any" : want.model,
      want.language.empty() ? "any" : want.language,
      runs.empty() ? "no workers yet" : fmt::format("{}", fmt::join(runs, ", "))));
}

HttpResponse TranscribeAgain(Ctx& c, const HttpRequest& request) {
  auto id = IdParam(request, "id");
  if (!id) return ErrorReply(id.error());
  auto want = AgainRequirement(c, request);
  if (!want) return ErrorReply(want.error());
  auto r = c.store.TranscribeAgain(EpisodeId(*id), c.clock.Now(), c.intake(), *want);
  if (r) c.JobsQueued();
  return Reply(r);
}

// The file under uploads/ that holds an episode's audio, when the coordinator stored it.
std::optional<std::filesystem::path> UploadedAudio(const Ctx& c, const Episode& e) {
  const std::string marker = "/api/media/";
  const size_t at = e.info.audio_url.find(marker);
  if (at == std::string::npos) return std::nullopt;
  const std::string name = e.info.audio_url.substr(at + marker.size());
  if (name.empty() || name.find_first_not_of("0123456789abcdef") != std::string::npos)
    return std::nullopt;
  return c.options.data_dir / "uploads" / name;
}

HttpResponse DeleteEpisode(Ctx& c, const HttpRequest& request) {
  auto id = IdParam(request, "id");
  if (!id) return ErrorReply(id.error());
  auto episode = c.store.GetEpisode(EpisodeId(*id));
  if (!episode) return ErrorReply(episode.error());
  if (auto r = c.store.DeleteEpisode(episode->id); !r) return ErrorReply(r.error());
  // The row is gone first: a file left by a failed removal is only disk, never a dangling row.
  std::error_code ec;
  if (auto file = UploadedAudio(c, *episode)) std::filesystem::remove(*file, ec);
  return JsonReply(200, json::object());
}

HttpResponse GetTranscript(Ctx& c, const HttpRequest& request) {
  auto id = IdParam(request, "id");
  if (!id) return ErrorReply(id.error());
  const std::string format_name = request.QueryOr("format", "json");
  auto format = ParseTranscriptFormat(format_name);
  if (!format)
    return ErrorReply({Code::kInvalidArgument, "format must be txt, srt, vtt, json or md"});
  auto episode = c.store.GetEpisode(EpisodeId(*id));
  if (!episode) return ErrorReply(episode.error());
  const std::string source = request.QueryOr("source", "");
  if (!source.empty() && source != "fleet" && source != "publisher")
    return ErrorReply({Code::kInvalidArgument, "source must be fleet or publisher"});
  auto transcript = source == "publisher" ? c.store.GetPublisherTranscript(episode->id)
                                          : c.store.GetTranscript(episode->id);
  if (transcript && source == "fleet" && transcript->engine == "publisher")
    transcript = std::unexpected(Error{Code::kNotFound, "no fleet transcript"});
  if (!transcript) return ErrorReply(transcript.error());
  HttpResponse r =
      HttpResponse::Text(200, WriteTranscript(*transcript, *format, {episode->info.title}),
                         std::string(ContentType(*format)));
  r.headers.emplace_back("Access-Control-Allow-Origin", "*");
  return r;
}

// ---- enrollment tokens ----

HttpResponse ListTokens(Ctx& c, const HttpRequest&) {
  auto tokens = c.store.ListEnrollmentTokens();
  if (!tokens) return ErrorReply(tokens.error());
  json out = json::array();
  for (const EnrollmentToken& t : *tokens) {
    out.push_back({{"id", t.id},
                   {"label", t.label},
                   {"created_at", ToUnixMillis(t.created_at)},
                   {"revoked", t.revoked}});
  }
  return JsonReply(200, {{"tokens", std::move(out)}});
}

HttpResponse CreateToken(Ctx& c, const HttpRequest& request) {
  auto body = JsonBody(request);
  if (!body) return ErrorReply(body.error());
  auto label = StringField(*body, "label", "api");
  if (!label) return ErrorReply(label.error());
  if (label->size() > 200) return ErrorReply({Code::kInvalidArgument, "label is too long"});
  auto token = CreateEnrollmentToken(c.store, *label, c.clock.Now());
  if (!token) return ErrorReply(token.error());
  return JsonReply(201, {{"token", *token}, {"id", HashToken(*token).substr(0, 12)}});
}

HttpResponse RevokeToken(Ctx& c, const HttpRequest& request) {
  return Reply(c.store.RevokeEnrollmentToken(request.params.at("id")));
}

// Runs on the I/O thread: CheckHealth reads an atomic, never a lock a slow write holds.
HttpResponse Health(Ctx& c, const HttpRequest&) {
  if (auto healthy = c.store.CheckHealth(); !healthy)
    return JsonReply(503, {{"healthy", false}, {"error", healthy.error().message}});
  return JsonReply(200, {{"healthy", true}, {"version", PODFLEET_VERSION}});
}

}  // namespace

Result<void> RequireAdmin(const Ctx& c, const HttpRequest& request) {
  std::string_view token = request.BearerToken();
  if (token.empty())
    return PermissionDenied(
        "missing admin token (Authorization: Bearer ...; it is in admin.token in the "
        "coordinator's data directory)");
  if (!ConstantTimeEquals(HashToken(token), c.admin_token_hash))
    return PermissionDenied("wrong admin token");
  return {};
}

Result<std::string> CheckedSourceUrl(const Ctx& c, std::string_view input) {
  if (input.empty()) return InvalidArgument("missing field 'url' (a string)");
  const SourcePolicy policy{c.options.allow_file_urls, c.options.refuse_private_addresses};
  // Checked before NormalizeSourceUrl looks at the disk.
  const std::string checked =
      SchemeOf(input).empty() ? "file://" + std::string(input) : std::string(input);
  if (auto r = CheckSourceUrl(checked, policy); !r) return std::unexpected(r.error());
  return NormalizeSourceUrl(input);
}

Result<std::string> SourceUrl(const Ctx& c, const json& body) {
  const json& field = body.contains("url") ? body["url"] : json();
  if (!field.is_string()) return InvalidArgument("missing field 'url' (a string)");
  return CheckedSourceUrl(c, field.get<std::string>());
}

std::vector<Route> OperatorRoutes(Ctx& c) {
  auto sync = [&c](HttpResponse (*f)(Ctx&, const HttpRequest&)) {
    return SyncHandler([&c, f](const HttpRequest& r) { return f(c, r); });
  };
  auto async = [&c](void (*f)(Ctx&, HttpRequest, HttpResponder)) {
    return HttpHandler(
        [&c, f](HttpRequest r, HttpResponder respond) { f(c, std::move(r), std::move(respond)); });
  };
  auto json_of = [&c](Result<json> (*f)(Ctx&)) {
    return SyncHandler([&c, f](const HttpRequest&) { return Reply(f(c)); });
  };
  const Guard admin = [&c](const HttpRequest& r) { return RequireAdmin(c, r); };
  return {
      {"GET",
       "/api/health",
       "liveness and store health",
       sync(Health),
       {},
       {},
       /*on_io_thread=*/true},
      {"GET",
       "/api/nodes",
       "every node with status, hardware and current jobs",
       json_of(NodesJson),
       {}},
      {"GET", "/api/queue/status", "job counts by state", json_of(QueueJson), {}},
      {"GET", "/api/status", "nodes, queue and last-hour throughput", json_of(StatusJson), {}},
      {"GET",
       "/api/episodes",
       "list episodes (feed, state, q, limit, offset)",
       sync(ListEpisodes),
       {}},
      {"POST", "/api/episodes", "add one audio file by URL", sync(AddEpisode), {}, admin},
      {"POST",
       "/api/episodes/upload",
       "add one audio file by upload (body = file)",
       sync(UploadEpisode),
       {},
       admin},
      {"GET", "/api/episodes/{id}", "one episode with its job", sync(GetEpisode), {}},
      {"DELETE",
       "/api/episodes/{id}",
       "delete an episode: jobs, transcripts, uploaded audio",
       sync(DeleteEpisode),
       {},
       admin},
      {"POST",
       "/api/episodes/{id}/transcribe",
       "transcribe a done episode again, optionally with {engine, model, language} (its "
       "transcript stays until the new one is done)",
       sync(TranscribeAgain),
       {},
       admin},
      {"POST",
       "/api/episodes/{id}/retry",
       "queue a failed episode again",
       sync(RetryEpisode),
       {},
       admin},
      {"GET",
       "/api/episodes/{id}/transcript",
       "transcript as format=txt|srt|vtt|json|md (source=fleet|publisher; default: shown)",
       sync(GetTranscript),
       {}},
      {"GET", "/api/media/{name}", "uploaded audio, for workers", {}, async(Media)},
      {"GET", "/api/tokens", "enrollment tokens (ids and labels)", sync(ListTokens), {}, admin},
      {"POST", "/api/tokens", "create an enrollment token", sync(CreateToken), {}, admin},
      {"DELETE", "/api/tokens/{id}", "revoke an enrollment token", sync(RevokeToken), {}, admin},
  };
}

}  // namespace podfleet
