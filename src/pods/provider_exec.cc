#include "pods/provider_exec.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "engines/child_process.h"

namespace podfleet {
namespace {

using json = nlohmann::json;

std::string LastLine(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  const size_t nl = s.rfind('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

Result<json> ParseObject(const std::string& out, std::string_view what) {
  json j = json::parse(out, nullptr, false);
  if (!j.is_object())
    return Corruption(fmt::format("exec provider {}: stdout is not a JSON object", what));
  return j;
}

Result<PodInfo> ReadPod(const json& p) {
  if (!p.is_object() || !p.contains("id") || !p["id"].is_string())
    return Corruption("exec provider: a pod without a string \"id\"");
  PodInfo pod;
  pod.id = p["id"];
  pod.name = p.value("name", "");
  pod.gpu_type = p.value("gpu_type", "");
  pod.status = p.value("status", "running");
  pod.ready = p.value("ready", false);
  pod.price_per_hour = p.contains("price_per_hour") && p["price_per_hour"].is_number()
                           ? p["price_per_hour"].get<double>()
                           : 0;
  return pod;
}

}  // namespace

Result<std::string> ExecProvider::Run(std::vector<std::string> args,
                                      std::vector<std::pair<std::string, std::string>> env) {
  ChildOptions options;
  options.argv.push_back(program_);
  const std::string what = args.front();
  for (std::string& a : args) options.argv.push_back(std::move(a));
  options.env = std::move(env);
  options.max_stdout_bytes = size_t{16} << 20;
  auto child = ChildProcess::Start(options);
  if (!child) return std::unexpected(child.error());
  auto done = (*child)->Wait(timeout_, {}, nullptr);
  if (!done) return Unavailable(fmt::format("exec provider {}: {}", what, done.error().message));
  const std::string why =
      fmt::format("exec provider {}: {}", what,
                  LastLine(done->stderr_tail).empty() ? fmt::format("exit {}", done->exit_code)
                                                      : LastLine(done->stderr_tail));
  switch (done->exit_code) {
    case 0: return std::move(done->out);
    case 69: return Unavailable(kNoCapacityPrefix + why);
    case 75: return Unavailable(why);
    case 77: return PermissionDenied(why);
    case 78: return NotFound(why);
    default: return InvalidArgument(why);
  }
}

Result<std::vector<GpuOffer>> ExecProvider::GpuTypes() {
  auto out = Run({"gpu-types"});
  if (!out) return std::unexpected(out.error());
  auto j = ParseObject(*out, "gpu-types");
  if (!j) return std::unexpected(j.error());
  if (!j->contains("gpu_types") || !(*j)["gpu_types"].is_array())
    return Corruption("exec provider gpu-types: no \"gpu_types\" list");
  std::vector<GpuOffer> offers;
  for (const json& g : (*j)["gpu_types"]) {
    if (!g.is_object() || !g.contains("id") || !g["id"].is_string())
      return Corruption("exec provider gpu-types: an entry without a string \"id\"");
    GpuOffer o{g["id"], g.value("name", std::string(g["id"]))};
    if (g.contains("price_per_hour") && g["price_per_hour"].is_number())
      o.price_per_hour = g["price_per_hour"].get<double>();
    o.stock = g.value("stock", "");
    offers.push_back(std::move(o));
  }
  return offers;
}

Result<PodInfo> ExecProvider::Create(const PodSpec& spec) {
  json env = json::object();
  for (const auto& [k, v] : spec.env) env[k] = v;
  json s = {{"name", spec.name},
            {"gpu_type", spec.gpu_type},
            {"cloud", spec.cloud},
            {"image", spec.image},
            {"container_disk_gb", spec.container_disk_gb},
            {"cuda_versions", spec.cuda_versions},
            {"command", spec.command}};
  auto out = Run({"create", s.dump()}, {{"PODFLEET_POD_ENV", env.dump()}});
  if (!out) return std::unexpected(out.error());
  auto j = ParseObject(*out, "create");
  if (!j) return std::unexpected(j.error());
  auto pod = ReadPod(*j);
  if (pod && pod->name.empty()) pod->name = spec.name;
  if (pod && pod->gpu_type.empty()) pod->gpu_type = spec.gpu_type;
  return pod;
}

Result<std::vector<PodInfo>> ExecProvider::List() {
  auto out = Run({"list"});
  if (!out) return std::unexpected(out.error());
  auto j = ParseObject(*out, "list");
  if (!j) return std::unexpected(j.error());
  if (!j->contains("pods") || !(*j)["pods"].is_array())
    return Corruption("exec provider list: no \"pods\" list");
  std::vector<PodInfo> pods;
  for (const json& p : (*j)["pods"]) {
    auto pod = ReadPod(p);
    if (!pod) return std::unexpected(pod.error());
    pods.push_back(std::move(*pod));
  }
  return pods;
}

Result<void> ExecProvider::Terminate(const std::string& id) {
  auto out = Run({"terminate", id});
  if (!out) return std::unexpected(out.error());
  return {};
}

}  // namespace podfleet
