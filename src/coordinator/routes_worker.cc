// The worker protocol: register, claim, heartbeat, complete, fail, release, deregister.
// Every route but register needs the node's own token (Authorization: Bearer ...); a node can act
// only on the leases it holds, and the store refuses stale attempts with 409.
#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>

#include "api/wire.h"
#include "coordinator/coordinator_context.h"
#include "coordinator/metrics.h"
#include "coordinator/relay.h"
#include "coordinator/source_policy.h"
#include "net/token.h"

namespace podfleet {
namespace {

using nlohmann::json;

// Seen once a second is enough to show a node alive (offline_after is tens of seconds); touching
// on every request would add a durable commit to every download. Claims, heartbeats and
// completions record it in their own transaction instead (store.h).
constexpr Millis kTouchEvery{1'000};

Result<void> TouchIfDue(Coordinator::Context& c, const Node& node, const std::string& token_hash) {
  const TimePoint now = c.clock.Now();
  if (now - node.last_seen < kTouchEvery && now >= node.last_seen) return {};
  if (Result<void> r = c.store.TouchNode(node.id, now); !r) return r;
  c.nodes.Seen(token_hash, now);
  return {};
}

// Whether Authenticate records the node as heard from: not for the calls whose store write does
// it in the same transaction (claim, heartbeat, complete: store.h).
enum class Touch { kYes, kInCall };

Result<Node> Authenticate(Coordinator::Context& c, const HttpRequest& request,
                          Touch touch = Touch::kYes) {
  std::string_view token = request.BearerToken();
  if (token.empty()) return PermissionDenied("missing node token (Authorization: Bearer ...)");
  // kPermissionDenied for a token no live node has; any other error is the store's (a database
  // restarting: kUnavailable, which a worker retries or takes to another coordinator), never a
  // refused token, which would make the worker give up. Remembered: node_tokens.h.
  const std::string hash = HashToken(token);
  auto node = c.nodes.Find(c.store, hash, c.clock.Now());
  if (!node) return std::unexpected(node.error());
  if (touch == Touch::kYes) {
    if (auto r = TouchIfDue(c, *node, hash); !r) return std::unexpected(r.error());
  } else {
    // The call's own write records it (if that fails, the next touch is merely a second late).
    c.nodes.Seen(hash, c.clock.Now());
  }
  return node;
}

// A worker's heartbeat and claim carry its local fault ("fault": the reason), or none when it is
// healthy (node_faults.h). A malformed field is refused like any other.
Result<void> RecordFault(Coordinator::Context& c, const Node& node, const json& body) {
  auto fault = StringField(body, "fault", "");
  if (!fault) return std::unexpected(fault.error());
  c.faults.Report(node.id, node.info.name, *fault, c.clock.Now());
  return {};
}

// The URL a worker fetches the audio from: the relay's chunk (at the coordinator holding it when
// several share the store), else the origin's, or the coordinator's for uploads.
std::string AudioUrl(const Grant& g) {
  if (g.chunk.relayed) return fmt::format("{}/api/jobs/{}/audio", g.audio_at, g.lease.job.value());
  return g.episode.info.audio_url;
}

json GrantsJson(const Coordinator::Context& c, const std::vector<Grant>& grants) {
  json leases = json::array();
  for (const Grant& g : grants) {
    WireGrant grant{g.lease, g.episode, AudioUrl(g), false, g.chunk, g.want.language};
    // The coordinators of the store recorded that URL themselves (Store::TakePreparing).
    grant.audio_from_fleet = g.chunk.relayed && !g.audio_at.empty();
    // The worker checks each address it connects to for this download (source_policy.h). Uploads
    // (relative, served by the coordinator), chunks another coordinator holds (as trusted as this
    // one, and often on a private network with it) and allowed file URLs are not checked.
    const std::string scheme = SchemeOf(grant.audio_url);
    grant.public_only = c.options.refuse_private_addresses && !grant.audio_from_fleet &&
                        (scheme == "http" || scheme == "https");
    leases.push_back(ToJson(grant));
  }
  return {{"leases", std::move(leases)}};
}

HttpResponse Register(Coordinator::Context& c, const HttpRequest& request) {
  std::string_view enrollment = request.BearerToken();
  if (enrollment.empty()) return ErrorReply({Code::kPermissionDenied, "missing enrollment token"});
  auto valid = c.store.CheckEnrollmentToken(HashToken(enrollment));
  if (!valid) return ErrorReply(valid.error());
  if (!*valid) return ErrorReply({Code::kPermissionDenied, "invalid or revoked enrollment token"});
  auto body = JsonBody(request);
  if (!body) return ErrorReply(body.error());
  auto info = NodeInfoFromJson(body->value("node", json::object()));
  if (!info) return ErrorReply(info.error());
  std::string token = NewToken("pfn_");
  auto node = c.store.RegisterNode(*info, HashToken(token), c.clock.Now());
  if (!node) return ErrorReply(node.error());
  return JsonReply(201, {{"node_id", node->id.value()},
                         {"token", token},
                         {"lease_ms", c.options.lease_duration.count()},
                         {"heartbeat_ms", c.options.heartbeat_interval.count()}});
}

// A parked claim must end before the lease of a worker that died just after parking it can
// expire (at the earliest a lease minus a heartbeat after its death); otherwise the dead worker's
// own claim would take the job its death freed, and the job would wait a second lease period.
// Positive: ValidateOptions keeps the heartbeat under half the lease.
Millis MaxClaimWait(const CoordinatorOptions& o) {
  return std::min(o.lease_duration - o.heartbeat_interval, o.max_claim_wait);
}

// What a claim asks for: up to `max_jobs` leases of the jobs `filter` lets the worker take,
// waiting up to `wait` when none is claimable, the node's local fault (empty: healthy), and the
// worker's id for this claim (empty: none sent; claim_replays.h).
struct ClaimAsk {
  int max_jobs = 1;
  Millis wait{0};
  std::string fault;
  std::string request_id;
  ClaimFilter filter;
};

// The jobs a claim's "features" (the worker's, doc/api.md) let it take. A worker that names none
// is older than every feature listed in ClaimFilter: it gets none of their jobs. Names this
// coordinator does not know are ignored (a newer worker's).
Result<ClaimFilter> ClaimFilterOf(const json& body) {
  ClaimFilter filter{.seam_chunks = false};
  const auto features = body.find("features");
  if (features == body.end()) return filter;
  if (!features->is_array()) return InvalidArgument("field 'features' must be an array of strings");
  for (const json& feature : *features) {
    if (!feature.is_string())
      return InvalidArgument("field 'features' must be an array of strings");
    if (feature == kSeamChunksFeature) filter.seam_chunks = true;
  }
  return filter;
}

// Reads a claim's "max", "wait_ms", "fault", "request_id" and "features" (the claim route's body,
// or a complete's "claim" object), all before anything is written.
Result<ClaimAsk> ClaimAskOf(const Coordinator::Context& c, const json& body) {
  auto max = IntField(body, "max", 1);
  if (!max) return std::unexpected(max.error());
  auto wait_ms = IntField(body, "wait_ms", 0);
  if (!wait_ms) return std::unexpected(wait_ms.error());
  auto fault = StringField(body, "fault", "");
  if (!fault) return std::unexpected(fault.error());
  auto request_id = StringField(body, "request_id", "");
  if (!request_id) return std::unexpected(request_id.error());
  if (request_id->size() > ClaimReplays::kMaxIdLength)
    return InvalidArgument(
        fmt::format("field 'request_id' is longer than {} bytes", ClaimReplays::kMaxIdLength));
  auto filter = ClaimFilterOf(body);
  if (!filter) return std::unexpected(filter.error());
  return ClaimAsk{static_cast<int>(std::clamp<int64_t>(*max, 1, 64)),
                  std::clamp(Millis(*wait_ms), Millis(0), MaxClaimWait(c.options)),
                  std::move(*fault), std::move(*request_id), *filter};
}

// The responder a claim answers through, or nullopt when it is a repeat of one this coordinator
// has answered or is answering (claim_replays.h): then it is answered with the first reply.
std::optional<HttpResponder> FirstClaim(Coordinator::Context& c, const Node& node,
                                        const ClaimAsk& ask, HttpResponder respond) {
  return c.claims.Track(node.id, ask.request_id, c.clock.Now(), c.options.lease_duration,
                        std::move(respond));
}

// Records the node's fault (a claim says whether it is healthy), leases jobs to it as `ask` says
// and answers with the grants, or with what `on_error` makes of a failed claim. The fields of
// `also` (an object) go into either reply.
void LeaseAndAnswer(Coordinator::Context& c, const Node& node, const ClaimAsk& ask,
                    HttpResponder respond, HttpResponse (*on_error)(const Error&),
                    json also = json::object()) {
  c.faults.Report(node.id, node.info.name, ask.fault, c.clock.Now());
  auto shared = std::make_shared<HttpResponder>(std::move(respond));
  c.dispatcher.Claim(
      node.id, ask.max_jobs, ask.filter, ask.wait,
      [&c, shared, on_error, also = std::move(also)](Result<std::vector<Grant>> grants) {
        if (!grants && also.empty()) return (*shared)(on_error(grants.error()));
        json out =
            grants ? GrantsJson(c, *grants) : json{{"claim_error", ErrorJson(grants.error())}};
        out.update(also);
        (*shared)(JsonReply(200, out));
      });
}

void Claim(Coordinator::Context& c, HttpRequest request, HttpResponder respond) {
  auto node = Authenticate(c, request, Touch::kInCall);
  if (!node) return respond(ErrorReply(node.error()));
  if (!node->info.blocked_reason.empty()) {
    if (auto r = TouchIfDue(c, *node, HashToken(request.BearerToken())); !r)
      return respond(ErrorReply(r.error()));
    return respond(ErrorReply({Code::kConflict, "node is blocked: " + node->info.blocked_reason}));
  }
  auto body = JsonBody(request);
  if (!body) return respond(ErrorReply(body.error()));
  auto ask = ClaimAskOf(c, *body);
  if (!ask) return respond(ErrorReply(ask.error()));
  std::optional<HttpResponder> first = FirstClaim(c, *node, *ask, std::move(respond));
  if (!first) return;
  LeaseAndAnswer(c, *node, *ask, std::move(*first), ErrorReply);
}

HttpResponse Heartbeat(Coordinator::Context& c, const HttpRequest& request) {
  auto node = Authenticate(c, request, Touch::kInCall);
  if (!node) return ErrorReply(node.error());
  auto body = JsonBody(request);
  if (!body) return ErrorReply(body.error());
  if (auto r = RecordFault(c, *node, *body); !r) return ErrorReply(r.error());
  const json reported = body->value("progress", json::array());
  if (!reported.is_array())
    return ErrorReply({Code::kInvalidArgument, "field 'progress' must be an array"});
  std::vector<Progress> held;
  for (const json& p : reported) {
    auto progress = ProgressFromJson(p);
    if (!progress) return ErrorReply(progress.error());
    held.push_back(*progress);
  }
  auto renewed = c.store.Renew(node->id, held, c.options.lease_duration, c.clock.Now());
  if (!renewed) return ErrorReply(renewed.error());
  json out = {{"renewed", json::array()},
              {"lost", json::array()},
              {"heartbeat_ms", c.options.heartbeat_interval.count()}};
  for (const Progress& p : held) {
    auto it = std::find_if(renewed->begin(), renewed->end(), [&](const Lease& l) {
      return l.job == p.job && l.attempt == p.attempt;
    });
    if (it != renewed->end()) {
      out["renewed"].push_back(ToJson(*it));
    } else {
      out["lost"].push_back(ToJson(Lease{p.job, p.attempt, node->id, c.clock.Now()}));
    }
  }
  return JsonReply(200, out);
}

// What a request about one leased job carries: the caller's node, the job and attempt, the body.
struct LeaseRequest {
  Node node;
  JobId job;
  AttemptId attempt;
  json body;
};

// Authenticates the node and reads the job id from the path and the attempt from the body.
Result<LeaseRequest> ReadLeaseRequest(Coordinator::Context& c, const HttpRequest& request,
                                      Touch touch = Touch::kYes) {
  auto node = Authenticate(c, request, touch);
  if (!node) return std::unexpected(node.error());
  auto body = JsonBody(request);
  if (!body) return std::unexpected(body.error());
  auto job = IdParam(request, "id");
  if (!job) return std::unexpected(job.error());
  if (!body->contains("attempt") || !(*body)["attempt"].is_number_integer())
    return InvalidArgument("missing field 'attempt'");
  const AttemptId attempt((*body)["attempt"].get<int64_t>());
  return LeaseRequest{std::move(*node), JobId(*job), attempt, std::move(*body)};
}

// What follows a completion the store recorded (it stored the reported wait and the node's speed
// with it): the job's figures in the metrics, and the relay's chunk files of a finished episode,
// needed no more, removed.
void AfterCompletion(Coordinator::Context& c, const Completion& done) {
  if (const std::optional<CompletedJob>& j = done.completed)
    c.metrics.ObserveJob(j->engine_time, j->wall_time, j->audio_duration);
  if (done.chunk.relayed && done.episode_done)
    Relay::RemoveChunkFiles(c.relay_dir(), done.episode, done.chunk.count);
}

// The optional `timings` of a complete call; a malformed one is ignored, as it always was.
CompletionReport ReportOf(const json& body) {
  CompletionReport report;
  const json timings = body.value("timings", json());
  if (timings.is_object() && timings.contains("waited_ms") &&
      timings["waited_ms"].is_number_integer())
    report.waited = Millis(std::max<int64_t>(0, timings["waited_ms"].get<int64_t>()));
  return report;
}

// A completion whose claim part could not lease: the completion stands (it is durable), so the
// reply is a success that says why no leases came with it; the worker then claims on its own,
// which meets the same refusal through the claim route.
HttpResponse ClaimRefused(const Error& e) {
  return JsonReply(200, {{"claim_error", ErrorJson(e)}});
}

// POST /api/jobs/{id}/complete. With a "claim" object ({"max": N, "wait_ms": W, "request_id": ID},
// as the claim route reads them) the node also leases its next jobs once the completion is durable,
// and the reply carries them as "leases": one round trip per job instead of two. Without it the
// reply is {} as it always was.
void Complete(Coordinator::Context& c, HttpRequest request, HttpResponder respond) {
  auto r = ReadLeaseRequest(c, request, Touch::kInCall);
  if (!r) return respond(ErrorReply(r.error()));
  auto transcript = TranscriptFromJson(r->body.value("transcript", json()));
  if (!transcript) return respond(ErrorReply(transcript.error()));
  std::optional<ClaimAsk> next;
  if (auto it = r->body.find("claim"); it != r->body.end()) {
    if (!it->is_object())
      return respond(ErrorReply({Code::kInvalidArgument, "field 'claim' must be an object"}));
    auto ask = ClaimAskOf(c, *it);
    if (!ask) return respond(ErrorReply(ask.error()));
    next = *ask;
    // A repeat is answered as the first was; its completion changes nothing either way (store.h).
    std::optional<HttpResponder> first = FirstClaim(c, r->node, *next, std::move(respond));
    if (!first) return;
    respond = std::move(*first);
  }
  const TimePoint now = c.clock.Now();
  auto done = c.store.Complete(r->node.id, r->job, r->attempt, *transcript, now, ReportOf(r->body));
  if (!done) return respond(ErrorReply(done.error()));
  c.waiters.Notify();
  AfterCompletion(c, *done);
  if (!next) return respond(Reply(Result<void>{}));
  // As the claim route: a blocked node leases nothing.
  if (!r->node.info.blocked_reason.empty())
    return respond(
        ClaimRefused({Code::kConflict, "node is blocked: " + r->node.info.blocked_reason}));
  LeaseAndAnswer(c, r->node, *next, std::move(respond), ClaimRefused);
}

// The most results one POST /api/workers/complete carries.
constexpr size_t kMaxResultsPerCall = 64;

// Reads the "results" of POST /api/workers/complete, all before anything is written.
Result<std::vector<CompletionInput>> ResultsOf(const json& body) {
  const json results = body.value("results", json());
  if (!results.is_array() || results.empty())
    return InvalidArgument("field 'results' must be a non-empty array");
  if (results.size() > kMaxResultsPerCall)
    return InvalidArgument(fmt::format("at most {} results per call", kMaxResultsPerCall));
  std::vector<CompletionInput> out;
  for (const json& r : results) {
    if (!r.is_object() || !r.contains("job") || !r["job"].is_number_integer() ||
        !r.contains("attempt") || !r["attempt"].is_number_integer())
      return InvalidArgument("each result needs integer fields 'job' and 'attempt'");
    auto transcript = TranscriptFromJson(r.value("transcript", json()));
    if (!transcript) return std::unexpected(transcript.error());
    out.push_back(CompletionInput{JobId(r["job"].get<int64_t>()),
                                  AttemptId(r["attempt"].get<int64_t>()), std::move(*transcript),
                                  ReportOf(r)});
  }
  return out;
}

// POST /api/workers/complete: several results of this node's jobs in one request, recorded in one
// store transaction and answered each on its own ("results": {"job", "status", "error"} in the
// order sent; a stale attempt's 409 leaves the others recorded). "claim" as for the one-job route.
void CompleteMany(Coordinator::Context& c, HttpRequest request, HttpResponder respond) {
  auto node = Authenticate(c, request, Touch::kInCall);
  if (!node) return respond(ErrorReply(node.error()));
  auto body = JsonBody(request);
  if (!body) return respond(ErrorReply(body.error()));
  auto results = ResultsOf(*body);
  if (!results) return respond(ErrorReply(results.error()));
  std::optional<ClaimAsk> next;
  if (auto it = body->find("claim"); it != body->end()) {
    if (!it->is_object())
      return respond(ErrorReply({Code::kInvalidArgument, "field 'claim' must be an object"}));
    auto ask = ClaimAskOf(c, *it);
    if (!ask) return respond(ErrorReply(ask.error()));
    next = *ask;
    std::optional<HttpResponder> first = FirstClaim(c, *node, *next, std::move(respond));
    if (!first) return;
    respond = std::move(*first);
  }
  auto done = c.store.CompleteMany(node->id, *results, c.clock.Now());
  if (!done) return respond(ErrorReply(done.error()));
  json answers = json::array();
  for (size_t i = 0; i < done->size(); ++i) {
    const Result<Completion>& one = (*done)[i];
    json answer = {{"job", (*results)[i].job.value()}};
    if (!one) {
      answer.update(ErrorJson(one.error()));
      answer["status"] = HttpStatusFor(one.error().code);
    } else {
      answer["status"] = 200;
      AfterCompletion(c, *one);
    }
    answers.push_back(std::move(answer));
  }
  c.waiters.Notify();
  json out = {{"results", std::move(answers)}};
  if (!next) return respond(JsonReply(200, out));
  if (!node->info.blocked_reason.empty()) {
    out["claim_error"] =
        ErrorJson({Code::kConflict, "node is blocked: " + node->info.blocked_reason});
    return respond(JsonReply(200, out));
  }
  LeaseAndAnswer(c, *node, *next, std::move(respond), ClaimRefused, std::move(out));
}

// GET /api/jobs/{id}/audio: a relayed chunk, as Ogg Opus, to the node holding its lease.
void JobAudio(Coordinator::Context& c, HttpRequest request, HttpResponder respond) {
  auto node = Authenticate(c, request);
  if (!node) return respond(ErrorReply(node.error()));
  auto id = IdParam(request, "id");
  if (!id) return respond(ErrorReply(id.error()));
  auto job = c.store.GetJob(JobId(*id));
  if (!job) return respond(ErrorReply(job.error()));
  if (!job->chunk.relayed || !job->chunk.end)
    return respond(ErrorReply({Code::kNotFound, fmt::format("job {} has no relayed audio", *id)}));
  if (!job->lease || job->lease->node != node->id)
    return respond(ErrorReply(
        {Code::kConflict, fmt::format("job {} is not leased to node {}", *id, node->id.value())}));
  const auto path = Relay::FindChunkFile(c.relay_dir(), job->episode, job->chunk.index);
  const std::string extension = path.extension().string();
  const char* type = extension == ".mp3"   ? "audio/mpeg"
                     : extension == ".aac" ? "audio/aac"
                                           : "audio/ogg";
  std::ifstream in(path, std::ios::binary);
  if (!in) return respond(ErrorReply({Code::kUnavailable, "chunk file missing: " + path.string()}));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto size = static_cast<int64_t>(bytes.size());
  RecordServed(c, request, size, *job->chunk.end - job->chunk.start);
  auto shared = std::make_shared<HttpResponder>(std::move(respond));
  auto body = std::make_shared<std::string>(std::move(bytes));
  c.egress.Send(
      size, [shared, body, type] { (*shared)(HttpResponse::Text(200, std::move(*body), type)); });
}

HttpResponse Fail(Coordinator::Context& c, const HttpRequest& request) {
  auto r = ReadLeaseRequest(c, request);
  if (!r) return ErrorReply(r.error());
  auto reason = StringField(r->body, "reason", "unspecified");
  if (!reason) return ErrorReply(reason.error());
  auto permanent = BoolField(r->body, "permanent", false);
  if (!permanent) return ErrorReply(permanent.error());
  Failure failure{std::move(*reason), *permanent};
  if (failure.reason.size() > 4096) failure.reason.resize(4096);
  auto failed =
      c.store.Fail(r->node.id, r->job, r->attempt, failure, c.options.retry, c.clock.Now());
  if (failed && !failure.permanent) c.dispatcher.Notify();
  if (failed) c.waiters.Notify();
  return Reply(failed);
}

HttpResponse Release(Coordinator::Context& c, const HttpRequest& request) {
  auto r = ReadLeaseRequest(c, request);
  if (!r) return ErrorReply(r.error());
  auto released = c.store.Release(r->node.id, r->job, r->attempt, c.clock.Now());
  if (released) c.dispatcher.Notify();
  return Reply(released);
}

HttpResponse Deregister(Coordinator::Context& c, const HttpRequest& request) {
  auto node = Authenticate(c, request);
  if (!node) return ErrorReply(node.error());
  c.faults.Forget(node->id);
  Result<void> retired = c.store.RetireNode(node->id, c.clock.Now());
  if (retired) c.nodes.Forget(node->id);
  return Reply(retired);
}

}  // namespace

std::vector<Route> WorkerRoutes(Coordinator::Context& c) {
  auto sync = [&c](HttpResponse (*f)(Coordinator::Context&, const HttpRequest&)) {
    return SyncHandler([&c, f](const HttpRequest& r) { return f(c, r); });
  };
  return {
      {"POST", "/api/workers/register", "register a worker (enrollment token)", sync(Register), {}},
      {"POST",
       "/api/workers/claim",
       "lease jobs, waiting up to wait_ms for work",
       {},
       [&c](HttpRequest r, HttpResponder respond) { Claim(c, std::move(r), std::move(respond)); }},
      {"POST", "/api/workers/heartbeat", "renew leases and report progress", sync(Heartbeat), {}},
      {"POST", "/api/workers/deregister", "retire this node", sync(Deregister), {}},
      {"POST",
       "/api/jobs/{id}/complete",
       "upload the transcript of a leased job, and lease the next ones (\"claim\")",
       {},
       [&c](HttpRequest r, HttpResponder respond) {
         Complete(c, std::move(r), std::move(respond));
       }},
      {"POST",
       "/api/workers/complete",
       "upload the transcripts of several leased jobs, and lease the next ones (\"claim\")",
       {},
       [&c](HttpRequest r, HttpResponder respond) {
         CompleteMany(c, std::move(r), std::move(respond));
       }},
      {"POST", "/api/jobs/{id}/fail", "report a failed attempt", sync(Fail), {}},
      {"POST", "/api/jobs/{id}/release", "give a leased job back unstarted", sync(Release), {}},
      {"GET",
       "/api/jobs/{id}/audio",
       "a relayed chunk as Ogg Opus, for the node that holds its lease",
       {},
       [&c](HttpRequest r, HttpResponder respond) {
         JobAudio(c, std::move(r), std::move(respond));
       }},
  };
}

}  // namespace podfleet
