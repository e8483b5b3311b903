#include "api/client.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>

namespace podfleet {
namespace {

using nlohmann::json;

constexpr Millis kCallTimeout{30'000};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

std::string WithoutSlash(std::string url) {
  if (url.ends_with('/')) url.pop_back();
  return url;
}

// Whether the call found no coordinator able to answer it there: nothing listening, a broken or
// timed-out connection (the transport's kUnavailable), or a gateway's or an unhealthy
// coordinator's 502/503/504. Another coordinator of the same store may answer it.
bool NoCoordinatorThere(const Result<HttpResponse>& response) {
  if (!response) return response.error().code == Code::kUnavailable;
  return response->status == 502 || response->status == 503 || response->status == 504;
}

// A claim's id (doc/api.md, "request_id"): the coordinator answers a claim that arrives twice under
// one id, as a kept connection's or a failover's resend does, with the same leases. Unique per
// node is enough: 64 random bits.
std::string NewRequestId() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  return fmt::format("{:016x}", random());
}

std::vector<std::string> UrlsOrAsIs(std::string list) {
  auto urls = ParseCoordinatorUrls(list);
  if (urls) return *urls;
  return {WithoutSlash(std::move(list))};
}

}  // namespace

Result<std::vector<std::string>> ParseCoordinatorUrls(std::string_view list) {
  const std::string_view all = list;
  std::vector<std::string> urls;
  while (true) {
    const size_t comma = list.find(',');
    const std::string_view url = Trim(list.substr(0, comma));
    if (url.empty())
      return InvalidArgument(fmt::format("coordinator URL list '{}' has an empty entry", all));
    if (!url.starts_with("http://") && !url.starts_with("https://"))
      return InvalidArgument(
          fmt::format("coordinator URL '{}' must start with http:// or https://", url));
    urls.push_back(WithoutSlash(std::string(url)));
    if (comma == std::string_view::npos) return urls;
    list.remove_prefix(comma + 1);
  }
}

CoordinatorClient::CoordinatorClient(std::string base_urls, HttpClient& http)
    : CoordinatorClient(UrlsOrAsIs(std::move(base_urls)), http) {}

CoordinatorClient::CoordinatorClient(std::vector<std::string> base_urls, HttpClient& http)
    : base_urls_(std::move(base_urls)), http_(http) {}

std::string CoordinatorClient::Resolve(const std::string& url) const {
  if (url.starts_with('/')) return base_url() + url;
  return url;
}

std::vector<std::pair<std::string, std::string>> CoordinatorClient::AuthHeadersFor(
    const std::string& url, bool vouched) const {
  const std::string resolved = Resolve(url);
  const bool fleet =
      vouched && (resolved.starts_with("http://") || resolved.starts_with("https://"));
  const bool ours =
      fleet || std::any_of(base_urls_.begin(), base_urls_.end(), [&](const std::string& b) {
        return resolved.starts_with(b) &&
               (resolved.size() == b.size() || resolved[b.size()] == '/');
      });
  if (!ours || node_token_.empty()) return {};
  return {{"Authorization", "Bearer " + node_token_}};
}

Result<HttpResponse> CoordinatorClient::CallOnce(const std::string& base,
                                                 const ClientRequest& request) {
  ClientRequest sent = request;
  sent.url = base + request.url;
  auto response = http_.Send(sent);
  if (!response) {
    Error e = response.error();
    // Nothing listens there: the usual cause is a coordinator that is not started (yet).
    if (e.message.find("Failed to connect") != std::string::npos ||
        e.message.find("Couldn't connect") != std::string::npos ||
        e.message.find("Connection refused") != std::string::npos) {
      e.message +=
          fmt::format(" (is the coordinator running at {}? start it with: podfleet serve)", base);
    }
    return std::unexpected(std::move(e));
  }
  return response;
}

Result<HttpResponse> CoordinatorClient::Call(const std::string& method, const std::string& path,
                                             std::string body, const std::string& token,
                                             Millis timeout, const std::string& content_type) {
  ClientRequest request;
  request.method = method;
  request.url = path;
  request.body = std::move(body);
  if (!request.body.empty()) request.content_type = content_type;
  if (!token.empty()) request.headers.emplace_back("Authorization", "Bearer " + token);
  request.timeout = timeout;
  const size_t first = current_.load();
  size_t at = first;
  auto response = CallOnce(base_urls_[at], request);
  std::optional<Error> first_failure;
  for (size_t tried = 1; tried < base_urls_.size() && NoCoordinatorThere(response); ++tried) {
    if (!first_failure)
      first_failure = response ? ErrorFromBody(response->status, response->body) : response.error();
    // Another thread may have moved on already: then follow it rather than skip a coordinator.
    size_t expected = at;
    at = current_.compare_exchange_strong(expected, (at + 1) % base_urls_.size())
             ? (at + 1) % base_urls_.size()
             : expected;
    response = CallOnce(base_urls_[at], request);
  }
  if (at != first && !NoCoordinatorThere(response) && on_failover_)
    on_failover_(base_urls_[first], base_urls_[at], *first_failure);
  if (!response) return std::unexpected(response.error());
  if (response->status >= 300)
    return std::unexpected(ErrorFromBody(response->status, response->body));
  return response;
}

Result<json> CoordinatorClient::CallJson(const std::string& method, const std::string& path,
                                         std::string body, const std::string& token,
                                         Millis timeout) {
  auto response = Call(method, path, std::move(body), token, timeout);
  if (!response) return std::unexpected(response.error());
  if (response->body.empty()) return json::object();
  return ParseJson(response->body);
}

Result<Registration> CoordinatorClient::Register(const std::string& enrollment_token,
                                                 const NodeInfo& info) {
  json body = {{"node", ToJson(info)}};
  auto reply =
      CallJson("POST", "/api/workers/register", body.dump(), enrollment_token, kCallTimeout);
  if (!reply) return std::unexpected(reply.error());
  if (!reply->contains("node_id") || !reply->contains("token"))
    return Internal("register: reply lacks node_id or token");
  return Registration{NodeId((*reply)["node_id"].get<int64_t>()),
                      (*reply)["token"].get<std::string>(),
                      Millis(reply->value("heartbeat_ms", int64_t{10'000}))};
}

namespace {

// The grants of a claim reply ({"leases": [...]}).
Result<std::vector<WireGrant>> GrantsOf(const json& reply) {
  std::vector<WireGrant> grants;
  for (const json& g : reply.value("leases", json::array())) {
    auto grant = GrantFromJson(g);
    if (!grant) return std::unexpected(grant.error());
    grants.push_back(std::move(*grant));
  }
  return grants;
}

json CompleteBody(const Lease& lease, const Transcript& transcript, Millis waited) {
  json body = {{"attempt", lease.attempt.value()}, {"transcript", ToJson(transcript)}};
  if (waited >= Millis(0)) body["timings"] = {{"waited_ms", waited.count()}};
  return body;
}

// A claim's body: the features this worker has (all that api/wire.h names) and a fresh id.
json ClaimBody(int max_jobs, Millis wait) {
  return {{"max", max_jobs},
          {"wait_ms", wait.count()},
          {"request_id", NewRequestId()},
          {"features", json::array({kSeamChunksFeature})}};
}

std::string CompletePath(const Lease& lease) {
  return "/api/jobs/" + std::to_string(lease.job.value()) + "/complete";
}

}  // namespace

Result<std::vector<WireGrant>> CoordinatorClient::Claim(int max_jobs, Millis wait) {
  auto reply = CallJson("POST", "/api/workers/claim", ClaimBody(max_jobs, wait).dump(), node_token_,
                        wait + kCallTimeout);
  if (!reply) return std::unexpected(reply.error());
  return GrantsOf(*reply);
}

Result<HeartbeatReply> CoordinatorClient::Heartbeat(const std::vector<Progress>& held,
                                                    std::string_view fault) {
  json progress = json::array();
  for (const Progress& p : held) progress.push_back(ToJson(p));
  json body = {{"progress", std::move(progress)}};
  if (!fault.empty()) body["fault"] = fault;
  auto reply = CallJson("POST", "/api/workers/heartbeat", body.dump(), node_token_, kCallTimeout);
  if (!reply) return std::unexpected(reply.error());
  HeartbeatReply out;
  out.heartbeat_interval = Millis(reply->value("heartbeat_ms", int64_t{10'000}));
  for (const char* key : {"renewed", "lost"}) {
    for (const json& l : reply->value(key, json::array())) {
      auto lease = LeaseFromJson(l);
      if (!lease) return std::unexpected(lease.error());
      (std::string_view(key) == "renewed" ? out.renewed : out.lost).push_back(*lease);
    }
  }
  return out;
}

Result<void> CoordinatorClient::Complete(const Lease& lease, const Transcript& transcript,
                                         Millis waited) {
  auto reply = CallJson("POST", CompletePath(lease), CompleteBody(lease, transcript, waited).dump(),
                        node_token_, kCallTimeout);
  if (!reply) return std::unexpected(reply.error());
  return {};
}

Result<std::optional<std::vector<WireGrant>>> CoordinatorClient::CompleteAndClaim(
    const Lease& lease, const Transcript& transcript, Millis waited, int max_jobs, Millis wait) {
  json body = CompleteBody(lease, transcript, waited);
  body["claim"] = ClaimBody(max_jobs, wait);
  auto reply = CallJson("POST", CompletePath(lease), body.dump(), node_token_, wait + kCallTimeout);
  if (!reply) return std::unexpected(reply.error());
  if (!reply->contains("leases")) return std::optional<std::vector<WireGrant>>();
  auto grants = GrantsOf(*reply);
  if (!grants) return std::unexpected(grants.error());
  return std::optional(std::move(*grants));
}

Result<CompletionsReply> CoordinatorClient::CompleteMany(const std::vector<ReadyResult>& results,
                                                         int max_jobs, Millis wait) {
  json body = {{"results", json::array()}};
  for (const ReadyResult& r : results) {
    json one = CompleteBody(r.lease, r.transcript, r.waited);
    one["job"] = r.lease.job.value();
    body["results"].push_back(std::move(one));
  }
  if (max_jobs > 0) body["claim"] = ClaimBody(max_jobs, wait);
  auto reply =
      CallJson("POST", "/api/workers/complete", body.dump(), node_token_, wait + kCallTimeout);
  CompletionsReply out;
  if (!reply && reply.error().code == Code::kNotFound) {  // a coordinator without the route
    for (const ReadyResult& r : results)
      out.results.push_back(Complete(r.lease, r.transcript, r.waited));
    return out;
  }
  if (!reply) return std::unexpected(reply.error());
  const json answers = reply->value("results", json::array());
  if (!answers.is_array() || answers.size() != results.size())
    return Internal(fmt::format("complete: {} results answered for {} sent",
                                answers.is_array() ? answers.size() : 0, results.size()));
  for (const json& a : answers) {
    const bool has_status =
        a.is_object() && a.contains("status") && a["status"].is_number_integer();
    const int status = has_status ? a["status"].get<int>() : 0;
    if (status == 200) {
      out.results.push_back({});
    } else {
      out.results.push_back(std::unexpected(ErrorFromBody(status, a.dump())));
    }
  }
  if (reply->contains("leases")) {
    auto grants = GrantsOf(*reply);
    if (!grants) return std::unexpected(grants.error());
    out.leases = std::move(*grants);
  }
  return out;
}

Result<void> CoordinatorClient::Fail(const Lease& lease, const Failure& failure) {
  json body = {{"attempt", lease.attempt.value()},
               {"reason", failure.reason},
               {"permanent", failure.permanent}};
  auto reply = CallJson("POST", "/api/jobs/" + std::to_string(lease.job.value()) + "/fail",
                        body.dump(), node_token_, kCallTimeout);
  if (!reply) return std::unexpected(reply.error());
  return {};
}

Result<void> CoordinatorClient::Release(const Lease& lease) {
  json body = {{"attempt", lease.attempt.value()}};
  auto reply = CallJson("POST", "/api/jobs/" + std::to_string(lease.job.value()) + "/release",
                        body.dump(), node_token_, kCallTimeout);
  if (!reply) return std::unexpected(reply.error());
  return {};
}

Result<void> CoordinatorClient::Deregister() {
  auto reply = CallJson("POST", "/api/workers/deregister", "{}", node_token_, kCallTimeout);
  if (!reply) return std::unexpected(reply.error());
  return {};
}

Result<json> CoordinatorClient::GetJson(const std::string& path) {
  return CallJson("GET", path, "", admin_token_, kCallTimeout);
}

Result<json> CoordinatorClient::PostJson(const std::string& path, const json& body) {
  return CallJson("POST", path, body.dump(), admin_token_, Millis(120'000));
}

Result<json> CoordinatorClient::PostBytes(const std::string& path, std::string bytes,
                                          const std::string& content_type) {
  auto response = Call("POST", path, std::move(bytes), admin_token_, Millis(600'000), content_type);
  if (!response) return std::unexpected(response.error());
  return ParseJson(response->body);
}

Result<json> CoordinatorClient::DeleteJson(const std::string& path) {
  return CallJson("DELETE", path, "", admin_token_, kCallTimeout);
}

Result<std::string> CoordinatorClient::GetText(const std::string& path) {
  auto response = Call("GET", path, "", admin_token_, kCallTimeout);
  if (!response) return std::unexpected(response.error());
  return response->body;
}

}  // namespace podfleet
