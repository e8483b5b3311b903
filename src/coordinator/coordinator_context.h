// What the coordinator's route handlers share. Internal to coordinator/.
#pragma once

#include <atomic>
#include <nlohmann/json.hpp>
#include <vector>

#include "coordinator/activity_log.h"
#include "coordinator/bundles.h"
#include "coordinator/claim_replays.h"
#include "coordinator/coordinator.h"
#include "coordinator/dispatcher.h"
#include "coordinator/egress.h"
#include "coordinator/feed_poller.h"
#include "coordinator/job_waiters.h"
#include "coordinator/join_token.h"
#include "coordinator/node_faults.h"
#include "coordinator/node_tokens.h"
#include "coordinator/upload_dedup.h"
#include "net/router.h"

namespace podfleet {

struct Coordinator::Context {
  const CoordinatorOptions& options;
  const Clock& clock;
  Store& store;
  Dispatcher& dispatcher;
  FeedPoller& poller;
  const std::string admin_token_hash;  // HashToken of the admin token; see admin_token.h
  ActivityLog& activity;
  Metrics& metrics;
  JobWaiters& waiters;                   // requests waiting for their jobs (routes_openai.cc)
  const std::string api_key_hash;        // HashToken of options.api_key; empty when none
  EgressPacer& egress;                   // every audio response goes through it
  Relay* relay;                          // null in origin mode
  UploadDedup& uploads;                  // repeated transcription uploads (routes_openai.cc)
  const BundleShelf* bundles = nullptr;  // worker bundles (--bundles); null when none
  JoinToken* join = nullptr;             // the join line's enrollment token; null without bundles
  NodeFaults faults;                     // local faults the workers report (node_faults.h)
  NodeTokens nodes;                      // the nodes' tokens, remembered (node_tokens.h)
  ClaimReplays claims;                   // claims sent twice get one answer (claim_replays.h)
  std::atomic<Autoscaler*> autoscaler{nullptr};  // serve --autoscale; set once after start
  // This coordinator's URL as recorded with the audio it holds (uploads: "<it>/api/media/NAME")
  // when several share a PostgreSQL store (Coordinator::audio_base); empty otherwise. Set once at
  // start, before any client can know the port.
  std::string audio_base;

  // How new episodes' jobs are queued in this mode.
  JobIntake intake() const { return relay ? JobIntake::kPrepare : JobIntake::kQueue; }
  // Jobs were queued (or held for the relay): serve waiting workers, wake the relay.
  void JobsQueued();
  // Where the relay keeps chunk files.
  std::filesystem::path relay_dir() const { return options.data_dir / "relay"; }
};

// Route tables, one per audience.
std::vector<Route> WorkerRoutes(Coordinator::Context& c);
std::vector<Route> OperatorRoutes(Coordinator::Context& c);
// Feeds and OPML (routes_feeds.cc).
std::vector<Route> FeedRoutes(Coordinator::Context& c);
// Worker bundles and the join line (routes_bundles.cc); none without --bundles.
std::vector<Route> BundleRoutes(Coordinator::Context& c);
// GET /api/pods: the autoscaler's pods, decisions and spend (routes_pods.cc).
std::vector<Route> PodRoutes(Coordinator::Context& c);
// Analytics, economics, planning, doctor, metrics and the dashboard (routes_analytics.cc).
std::vector<Route> AnalyticsRoutes(Coordinator::Context& c);
// The OpenAI-compatible transcription service (routes_openai.cc).
std::vector<Route> OpenAiRoutes(Coordinator::Context& c);

// Search over transcripts and the index's rebuild (routes_search.cc).
std::vector<Route> SearchRoutes(Coordinator::Context& c);
// Each feed's mirror with transcript links (routes_publish.cc).
std::vector<Route> PublishRoutes(Coordinator::Context& c);

// Helpers shared by the route files.
// A search hit's snippet (store.h, SearchHit) without its match marks, and as HTML with each
// match in <mark>.
std::string SnippetText(std::string_view marked);
std::string SnippetHtml(std::string_view marked);
HttpResponse JsonReply(int status, const nlohmann::json& body);
HttpResponse ErrorReply(const Error& e);
template <class T>
HttpResponse Reply(const Result<T>& r, int status = 200) {
  if (!r) return ErrorReply(r.error());
  if constexpr (std::is_void_v<T>) {
    return JsonReply(status, nlohmann::json::object());
  } else {
    return JsonReply(status, *r);
  }
}
// The body as a JSON object, or kInvalidArgument.
Result<nlohmann::json> JsonBody(const HttpRequest& request);
// An optional field of a request body: `fallback` when absent or null; kInvalidArgument naming
// the field when it has another JSON type (an integer field also refuses fractions and numbers
// beyond 64 bits).
Result<int64_t> IntField(const nlohmann::json& body, const char* key, int64_t fallback);
Result<bool> BoolField(const nlohmann::json& body, const char* key, bool fallback);
Result<std::string> StringField(const nlohmann::json& body, const char* key, std::string fallback);
// A feed or audio URL (or local path) given through the API, as the source policy allows it
// (source_policy.h), normalized by NormalizeSourceUrl; the body form reads its "url" field. A
// local path is looked up only when files are allowed, so a refused caller learns nothing about
// the disk.
Result<std::string> CheckedSourceUrl(const Coordinator::Context& c, std::string_view input);
Result<std::string> SourceUrl(const Coordinator::Context& c, const nlohmann::json& body);
// kPermissionDenied unless the request bears the admin token (Authorization: Bearer ...).
Result<void> RequireAdmin(const Coordinator::Context& c, const HttpRequest& request);
// The path parameter as a positive id, or kInvalidArgument.
Result<int64_t> IdParam(const HttpRequest& request, const char* name);
// Counts `bytes` of audio (carrying `audio` of sound; zero if unknown) served for `request`
// against the node whose token it bears, or node 0. Counting never fails the request: a store
// error is logged.
// Stores `bytes` under <data dir>/uploads with a generated hex name and describes them as an
// episode served from /api/media/<name>: guid "<kind>:<name>", title `title`, or "<kind> <name>"
// when it is empty. kUnavailable when the file cannot be written.
Result<EpisodeInfo> SaveUpload(Coordinator::Context& c, std::string_view bytes,
                               std::string_view kind, std::string_view title);
void RecordServed(Coordinator::Context& c, const HttpRequest& request, int64_t bytes, Millis audio);
// The workers a job's requirement is checked against (JobRequirement, CanServe): not retired, not
// blocked, and heard from within kRecentlySeen (or offline_after, when longer), since one that is
// restarting or briefly cut off will be back.
inline constexpr Millis kRecentlySeen{15 * 60'000};
Result<std::vector<NodeInfo>> RoutableWorkers(Coordinator::Context& c);

}  // namespace podfleet
