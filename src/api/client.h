// The coordinator's client library, used by workers and the CLI. Every call is one HTTP request
// through an HttpClient; errors come back as the coordinator sent them (wire.h maps HTTP statuses
// to codes: 409 -> kConflict, 401/403 -> kPermissionDenied, 5xx and transport failures ->
// kUnavailable).
//
// The generic JSON calls send the admin token when one is set: the coordinator's changing
// operator routes (POST/DELETE) need it, and reading ones ignore it.
//
// Several coordinators (doc/scale.md): the client may be given a list of coordinator URLs that
// share one store. It sends each call to the current one and, when that call fails for want of a
// coordinator (nothing listening, connection reset or timed out, or a 502/503/504 reply, as a
// proxy or an unhealthy coordinator sends), moves to the next URL in the list and sends the same
// call there, trying each URL at most once per call. It stays on the URL that answered. This is
// safe for every worker call: a lease, its attempt and the node token are valid on any
// coordinator of the store; a Complete repeated after a lost reply changes nothing, and a Fail or
// Release repeated after its attempt ended is refused with kConflict, as a lost lease (store.h).
// Each Claim (and CompleteAndClaim) carries a fresh request id, so a copy that reaches the same
// coordinator again (libcurl's resend on a kept connection, HttpClientOptions::reuse_connections)
// gets the first copy's leases (coordinator/claim_replays.h); one that reaches another
// coordinator leases anew, and the first copy's leases wait for their expiry.
// A call that reached a coordinator and got any other reply (a 409 included) is not sent again.
//
// Thread safety: safe for concurrent use once the tokens and the failover observer are set (the
// setters are not).
#pragma once

#include <atomic>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/wire.h"
#include "core/error.h"
#include "net/http_client.h"

namespace podfleet {

struct Registration {
  NodeId node;
  std::string token;  // the node's own token, shown once
  Millis heartbeat_interval{10'000};
};

struct HeartbeatReply {
  std::vector<Lease> renewed;
  std::vector<Lease> lost;            // attempts that no longer hold their job: stop them
  Millis heartbeat_interval{10'000};  // how often the coordinator wants heartbeats
};

// A finished job's result, for CompleteMany.
struct ReadyResult {
  Lease lease;
  Transcript transcript;
  Millis waited{-1};  // as Complete's
};

// What CompleteMany did: the outcome of each result, in the order given (as Complete's would be),
// and the next jobs leased as CompleteAndClaim's grants.
struct CompletionsReply {
  std::vector<Result<void>> results;
  std::optional<std::vector<WireGrant>> leases;
};

// Splits "URL1,URL2,..." into its URLs (spaces around each trimmed, a trailing '/' dropped).
// kInvalidArgument for an empty list, an empty entry or one that is not http:// or https://.
Result<std::vector<std::string>> ParseCoordinatorUrls(std::string_view list);

class CoordinatorClient {
 public:
  // `base_urls`: one coordinator URL like "http://127.0.0.1:8750", or a comma-separated list of
  // coordinators sharing one store, tried in that order (ParseCoordinatorUrls; an unparsable
  // list is kept as one URL, whose calls then fail). `http` must outlive the client.
  CoordinatorClient(std::string base_urls, HttpClient& http);
  // REQUIRES: `base_urls` is not empty.
  CoordinatorClient(std::vector<std::string> base_urls, HttpClient& http);

  // The coordinator calls go to now.
  const std::string& base_url() const { return base_urls_[current_.load()]; }
  const std::vector<std::string>& base_urls() const { return base_urls_; }
  void set_node_token(std::string token) { node_token_ = std::move(token); }
  void set_admin_token(std::string token) { admin_token_ = std::move(token); }
  // Called (on the calling thread) when a call found no coordinator at `from` (`why`: the
  // first failure) and was answered at `to`, which later calls use; for logging. Not called
  // while no coordinator of the list answers.
  using FailoverObserver =
      std::function<void(const std::string& from, const std::string& to, const Error& why)>;
  void set_failover_observer(FailoverObserver observer) { on_failover_ = std::move(observer); }
  // Headers that let the coordinator know this node when it serves `url` (relay audio): the node
  // token for the coordinators' own URLs (the list given), and for `url` itself when a coordinator
  // of the list vouched for it (WireGrant::audio_from_fleet: another coordinator of the store
  // holds that audio); nothing for any other host.
  std::vector<std::pair<std::string, std::string>> AuthHeadersFor(const std::string& url,
                                                                  bool vouched = false) const;

  // ---- worker protocol ----
  Result<Registration> Register(const std::string& enrollment_token, const NodeInfo& info);
  // Waits up to `wait` for work when none is queued (long poll). A claim says the node is
  // healthy: a worker with a local fault claims nothing.
  Result<std::vector<WireGrant>> Claim(int max_jobs, Millis wait);
  // `fault`: the node's local fault now (a full or unwritable work directory), empty when
  // healthy; the coordinator shows the node unhealthy while one is reported.
  Result<HeartbeatReply> Heartbeat(const std::vector<Progress>& held, std::string_view fault = {});
  // `waited`: how long the audio waited in the worker's prefetch queue before the engine took
  // it, sent as timings.waited_ms (the coordinator keeps job time apart from it); negative: not
  // known, not sent.
  Result<void> Complete(const Lease& lease, const Transcript& transcript,
                        Millis waited = Millis(-1));
  // Complete, and in the same request lease up to `max_jobs` next jobs, waiting up to `wait` for
  // them as Claim does (one round trip per job instead of two). Succeeds when the completion
  // did, as Complete. The grants: nullopt when the coordinator leased nothing for this call (one
  // older than this field answers a plain completion; a claim refused, e.g. a blocked node, or
  // failed in the store, is not reported here): then claim with Claim, which gets any refusal.
  Result<std::optional<std::vector<WireGrant>>> CompleteAndClaim(const Lease& lease,
                                                                 const Transcript& transcript,
                                                                 Millis waited, int max_jobs,
                                                                 Millis wait);
  // Several results in one request (POST /api/workers/complete), which the coordinator records
  // in one store transaction and answers each on its own: one result's kConflict or kNotFound
  // leaves the others recorded. With `max_jobs` > 0, the next jobs are leased as CompleteAndClaim
  // does. The outer error is the request's: sending it again is safe, a repeated completion
  // changes nothing. A coordinator older than that route gets one Complete per result (no leases).
  Result<CompletionsReply> CompleteMany(const std::vector<ReadyResult>& results, int max_jobs = 0,
                                        Millis wait = Millis(0));
  Result<void> Fail(const Lease& lease, const Failure& failure);
  Result<void> Release(const Lease& lease);
  Result<void> Deregister();

  // ---- generic JSON calls for the CLI ----
  Result<nlohmann::json> GetJson(const std::string& path);
  Result<nlohmann::json> PostJson(const std::string& path, const nlohmann::json& body);
  Result<nlohmann::json> DeleteJson(const std::string& path);
  // POSTs raw bytes (an audio upload) and reads a JSON reply.
  Result<nlohmann::json> PostBytes(const std::string& path, std::string bytes,
                                   const std::string& content_type);
  // A non-JSON body (transcript files).
  Result<std::string> GetText(const std::string& path);

  // Resolves a URL the coordinator sent (maybe relative, "/api/...") against base_url().
  std::string Resolve(const std::string& url) const;

 private:
  Result<HttpResponse> Call(const std::string& method, const std::string& path, std::string body,
                            const std::string& token, Millis timeout,
                            const std::string& content_type = "application/json");
  Result<nlohmann::json> CallJson(const std::string& method, const std::string& path,
                                  std::string body, const std::string& token, Millis timeout);
  // One attempt at the coordinator `base`.
  Result<HttpResponse> CallOnce(const std::string& base, const ClientRequest& request);

  // Constant after construction.
  const std::vector<std::string> base_urls_;
  HttpClient& http_;
  std::string node_token_;
  std::string admin_token_;
  FailoverObserver on_failover_;

  std::atomic<size_t> current_{0};  // index into base_urls_ of the coordinator in use
};

}  // namespace podfleet
