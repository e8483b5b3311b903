// The coordinator's client library, used by workers and the CLI. Every call is one HTTP request
// through an HttpClient; errors come back as the coordinator sent them (wire.h maps HTTP statuses
// to codes: 409 -> kConflict, 401/403 -> kPermissionDenied, 5xx and transport failures ->
// kUnavailable).
//
// The generic JSON calls send the admin token when one is set: the coordinator's changing
// operator routes (POST/DELETE) need it, and reading ones ignore it.
//
// Thread safety: safe for concurrent use once the tokens are set (the setters are not).
#pragma once

#include <nlohmann/json_fwd.hpp>
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

class CoordinatorClient {
 public:
  // `base_url` like "http://127.0.0.1:8750". `http` must outlive the client.
  CoordinatorClient(std::string base_url, HttpClient& http);

  const std::string& base_url() const { return base_url_; }
  void set_node_token(std::string token) { node_token_ = std::move(token); }
  void set_admin_token(std::string token) { admin_token_ = std::move(token); }
  // Headers that let the coordinator know this node when it serves `url` (relay audio): the node
  // token for the coordinator's own URLs, nothing for any other host.
  std::vector<std::pair<std::string, std::string>> AuthHeadersFor(const std::string& url) const;

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

  // Resolves a URL the coordinator sent (maybe relative, "/api/...") against base_url.
  std::string Resolve(const std::string& url) const;

 private:
  Result<HttpResponse> Call(const std::string& method, const std::string& path, std::string body,
                            const std::string& token, Millis timeout,
                            const std::string& content_type = "application/json");
  Result<nlohmann::json> CallJson(const std::string& method, const std::string& path,
                                  std::string body, const std::string& token, Millis timeout);

  // Constant after construction.
  const std::string base_url_;
  HttpClient& http_;
  std::string node_token_;
  std::string admin_token_;
};

}  // namespace podfleet
