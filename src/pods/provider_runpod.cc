#include "pods/provider_runpod.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "net/http_client.h"

namespace podfleet {
namespace {

using json = nlohmann::json;

constexpr char kGpuTypesQuery[] =
    "query GpuTypes { gpuTypes { id displayName memoryInGb securePrice communityPrice "
    "lowestPrice(input: {gpuCount: 1}) { uninterruptablePrice stockStatus } } }";
constexpr char kCreateMutation[] =
    "mutation Create($input: PodFindAndDeployOnDemandInput!) { "
    "podFindAndDeployOnDemand(input: $input) { id name desiredStatus costPerHr machineId } }";
constexpr char kListQuery[] =
    "query Pods { myself { pods { id name desiredStatus costPerHr gpuCount lastStatusChange "
    "machine { gpuDisplayName } runtime { uptimeInSeconds } } } }";
constexpr char kTerminateMutation[] =
    "mutation Terminate($podId: String!) { podTerminate(input: {podId: $podId}) }";

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string Header(const HttpResponse& r, std::string_view name) {
  for (const auto& [n, v] : r.headers)
    if (n == name) return v;
  return {};
}

Millis RetryAfter(const HttpResponse& r) {
  const std::string v = Header(r, "retry-after");
  int64_t seconds = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
  if (ec == std::errc() && end == v.data() + v.size() && seconds >= 0)
    return Millis(std::min<int64_t>(seconds, 3600) * 1000);
  return Millis(10'000);
}

// The message of a non-200 answer, from RunPod's {"message"} / {"errors":[{"message"}]} shapes.
std::string BodyMessage(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (j.is_object()) {
    if (j.contains("message") && j["message"].is_string()) return j["message"];
    if (j.contains("errors") && j["errors"].is_array() && !j["errors"].empty() &&
        j["errors"][0].contains("message") && j["errors"][0]["message"].is_string())
      return j["errors"][0]["message"];
  }
  return body.substr(0, 200);
}

Error GraphqlError(const json& first) {
  const std::string message =
      first.contains("message") && first["message"].is_string() ? first["message"] : "no message";
  const std::string code = first.contains("extensions") && first["extensions"].is_object() &&
                                   first["extensions"].contains("code") &&
                                   first["extensions"]["code"].is_string()
                               ? std::string(first["extensions"]["code"])
                               : "";
  const std::string lower = Lower(message);
  if (lower.find("no longer any instances available") != std::string::npos ||
      lower.find("not enough free gpus") != std::string::npos)
    return {Code::kUnavailable, kNoCapacityPrefix + message};
  if (code == "INTERNAL_SERVER_ERROR" || lower.find("something went wrong") != std::string::npos)
    return {Code::kUnavailable, "RunPod: " + message};
  if (code == "UNAUTHENTICATED" || code == "FORBIDDEN")
    return {Code::kPermissionDenied, "RunPod: " + message};
  return {Code::kInvalidArgument, "RunPod: " + message};
}

std::optional<double> Price(const json& j, const char* key) {
  if (j.contains(key) && j[key].is_number()) return j[key].get<double>();
  return std::nullopt;
}

PodInfo ReadPod(const json& p) {
  PodInfo pod;
  pod.id = p.value("id", "");
  pod.name = p.value("name", "");
  pod.status = Lower(p.contains("desiredStatus") && p["desiredStatus"].is_string()
                         ? std::string(p["desiredStatus"])
                         : "");
  pod.ready = p.contains("runtime") && p["runtime"].is_object();
  pod.price_per_hour = Price(p, "costPerHr").value_or(0);
  if (p.contains("machine") && p["machine"].is_object() &&
      p["machine"].contains("gpuDisplayName") && p["machine"]["gpuDisplayName"].is_string())
    pod.gpu_type = p["machine"]["gpuDisplayName"];
  return pod;
}

}  // namespace

Result<std::string> RunPodProvider::Call(const std::string& query,
                                         const std::string& variables_json) {
  {
    MutexLock lock(mu_);
    if (clock_.Now() < not_before_)
      return Unavailable(fmt::format(
          "RunPod rate limit: waiting {} s more (Retry-After)",
          std::chrono::duration_cast<std::chrono::seconds>(not_before_ - clock_.Now()).count()));
  }
  ClientRequest request;
  request.method = "POST";
  request.url = options_.url;
  request.content_type = "application/json";
  request.headers.emplace_back("Authorization", "Bearer " + options_.api_key);
  request.body =
      fmt::format(R"({{"query":{},"variables":{}}})", json(query).dump(), variables_json);
  request.timeout = Millis(30'000);
  Result<HttpResponse> response = http_.Send(request);
  if (!response) return Unavailable("RunPod API unreachable: " + response.error().message);
  const int status = response->status;
  if (status == 401 || status == 403)
    return PermissionDenied(fmt::format(
        "RunPod refused the API key (HTTP {}): check --runpod-key-file / RUNPOD_API_KEY", status));
  if (status == 429) {
    const Millis wait = RetryAfter(*response);
    MutexLock lock(mu_);
    not_before_ = clock_.Now() + wait;
    return Unavailable(
        fmt::format("RunPod rate limit (HTTP 429): retry after {} s", wait.count() / 1000));
  }
  if (status >= 500)
    return Unavailable(fmt::format("RunPod HTTP {}: {}", status, BodyMessage(response->body)));
  if (status != 200)
    return InvalidArgument(fmt::format("RunPod HTTP {}: {}", status, BodyMessage(response->body)));
  json body = json::parse(response->body, nullptr, false);
  if (!body.is_object()) return Corruption("RunPod answered with something other than JSON");
  if (body.contains("errors") && body["errors"].is_array() && !body["errors"].empty())
    return std::unexpected(GraphqlError(body["errors"][0]));
  if (!body.contains("data") || !body["data"].is_object())
    return Corruption("RunPod answered without data or errors");
  return body["data"].dump();
}

Result<std::vector<GpuOffer>> RunPodProvider::GpuTypes() {
  Result<std::string> data = Call(kGpuTypesQuery, "{}");
  if (!data) return std::unexpected(data.error());
  json d = json::parse(*data);
  if (!d.contains("gpuTypes") || !d["gpuTypes"].is_array())
    return Corruption("RunPod gpuTypes: not a list");
  std::vector<GpuOffer> offers;
  for (const json& g : d["gpuTypes"]) {
    if (!g.is_object() || !g.contains("id") || !g["id"].is_string()) continue;
    GpuOffer o;
    o.id = g["id"];
    o.name = g.contains("displayName") && g["displayName"].is_string()
                 ? std::string(g["displayName"])
                 : o.id;
    if (g.contains("lowestPrice") && g["lowestPrice"].is_object()) {
      const json& lp = g["lowestPrice"];
      o.price_per_hour = Price(lp, "uninterruptablePrice");
      if (lp.contains("stockStatus") && lp["stockStatus"].is_string()) o.stock = lp["stockStatus"];
    }
    auto secure = Price(g, "securePrice"), community = Price(g, "communityPrice");
    if (secure && *secure > 0) o.cloud_prices["SECURE"] = *secure;
    if (community && *community > 0) o.cloud_prices["COMMUNITY"] = *community;
    if (!o.price_per_hour) {
      if (secure && community)
        o.price_per_hour = std::min(*secure, *community);
      else
        o.price_per_hour = secure ? secure : community;
      if (o.price_per_hour && *o.price_per_hour <= 0) o.price_per_hour.reset();
    }
    offers.push_back(std::move(o));
  }
  return offers;
}

Result<PodInfo> RunPodProvider::Create(const PodSpec& spec) {
  json env = json::array();
  for (const auto& [k, v] : spec.env) env.push_back({{"key", k}, {"value", v}});
  json input = {{"name", spec.name},
                {"imageName", spec.image},
                {"gpuTypeId", spec.gpu_type},
                {"gpuCount", 1},
                {"cloudType", spec.cloud},
                {"containerDiskInGb", spec.container_disk_gb},
                {"volumeInGb", 0},
                {"env", env},
                {"dockerArgs", spec.command},
                {"startSsh", false},
                {"supportPublicIp", false}};
  if (!spec.cuda_versions.empty()) input["allowedCudaVersions"] = spec.cuda_versions;
  Result<std::string> data = Call(kCreateMutation, json{{"input", input}}.dump());
  if (!data) return std::unexpected(data.error());
  json d = json::parse(*data);
  if (!d.contains("podFindAndDeployOnDemand") || !d["podFindAndDeployOnDemand"].is_object())
    return Corruption("RunPod create: no pod in the answer");
  PodInfo pod = ReadPod(d["podFindAndDeployOnDemand"]);
  if (pod.id.empty()) return Corruption("RunPod create: the pod has no id");
  if (pod.name.empty()) pod.name = spec.name;
  pod.gpu_type = spec.gpu_type;
  return pod;
}

Result<std::vector<PodInfo>> RunPodProvider::List() {
  Result<std::string> data = Call(kListQuery, "{}");
  if (!data) return std::unexpected(data.error());
  json d = json::parse(*data);
  if (!d.contains("myself") || !d["myself"].is_object() || !d["myself"].contains("pods") ||
      !d["myself"]["pods"].is_array())
    return Corruption("RunPod myself.pods: not a list");
  std::vector<PodInfo> pods;
  for (const json& p : d["myself"]["pods"])
    if (p.is_object()) pods.push_back(ReadPod(p));
  return pods;
}

Result<void> RunPodProvider::Terminate(const std::string& id) {
  Result<std::string> data = Call(kTerminateMutation, json{{"podId", id}}.dump());
  if (!data) {
    if (data.error().code == Code::kInvalidArgument &&
        Lower(data.error().message).find("not found") != std::string::npos)
      return NotFound(data.error().message);
    return std::unexpected(data.error());
  }
  return {};
}

Result<std::string> LoadRunPodKey(const std::string& key_file) {
  if (const char* env = std::getenv("RUNPOD_API_KEY"); env && *env) return std::string(env);
  struct stat st {};
  if (key_file.empty() || ::stat(key_file.c_str(), &st) != 0)
    return NotFound(
        fmt::format("no RunPod API key: set RUNPOD_API_KEY or write it to {} (mode 0600)",
                    key_file.empty() ? "a key file" : key_file));
  if (!S_ISREG(st.st_mode)) return InvalidArgument(key_file + " is not a regular file");
  if ((st.st_mode & 077) != 0)
    return PermissionDenied(
        fmt::format("{} has mode {:o}: others may read the RunPod key; "
                    "chmod 600 it",
                    key_file, st.st_mode & 0777));
  std::ifstream in(key_file);
  std::string key;
  std::getline(in, key);
  while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
  if (key.empty()) return InvalidArgument(key_file + " holds no RunPod API key");
  return key;
}

}  // namespace podfleet
