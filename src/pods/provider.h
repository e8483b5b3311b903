// Renting GPU pods: the interface behind which every side effect of the autoscaler and of
// `podfleet pods` lives (a cloud's API, an operator's scripts), and the types they exchange.
//
// Error contract for every call:
//   kPermissionDenied  the provider refused our credentials (HTTP 401/403): stop, tell the
//   operator. kUnavailable       transient (HTTP 429, 5xx, a transport failure, the provider's "try
//   again"):
//                      the same call may succeed later; back off. A message starting "no capacity:"
//                      (IsNoCapacity) means no machine of that GPU type and cloud is free now:
//                      nothing was created or billed; try another GPU type or cloud.
//   kInvalidArgument   the request was refused as malformed; retrying it unchanged fails again.
//   kNotFound          Terminate of a pod the provider does not know (already gone).
//   kCorruption        the provider's answer could not be read.
// An error message never contains the provider's credentials.
//
// Thread safety: implementations may be called from several threads at once.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"

namespace podfleet {

// One GPU type a provider rents, with its live on-demand price.
struct GpuOffer {
  std::string id;    // what PodSpec::gpu_type takes: RunPod's "NVIDIA RTX A5000"
  std::string name;  // for people and for matching --gpu: "RTX A5000"
  std::optional<double> price_per_hour;  // USD per hour for one GPU; nullopt: not offered now
  std::string stock;                     // "High", "Medium", "Low", "None", or "" when unknown
  // List prices per cloud ("SECURE", "COMMUNITY") where the provider tells them apart.
  std::map<std::string, double> cloud_prices;
  // Offered now: a price and stock other than "None".
  bool available() const { return price_per_hour.has_value() && stock != "None"; }
  // The price of one GPU on `cloud`: its list price there, else `price_per_hour`.
  std::optional<double> PriceOn(const std::string& cloud) const {
    auto it = cloud_prices.find(cloud);
    if (it != cloud_prices.end()) return it->second;
    return price_per_hour;
  }
};

struct PodSpec {
  std::string name;           // unique; the autoscaler's names start with its prefix
  std::string gpu_type;       // GpuOffer::id
  std::string cloud = "ALL";  // RunPod: ALL, SECURE or COMMUNITY
  std::string image;
  int container_disk_gb = 20;
  std::vector<std::string> cuda_versions;  // allowed host CUDA versions ("12.4"); empty: any
  std::vector<std::pair<std::string, std::string>> env;  // secrets go here, never in `command`
  std::string command;  // the container's start command (the join line)
};

// What a provider says of one of its pods.
struct PodInfo {
  std::string id;
  std::string name;
  std::string gpu_type;
  // "running" (asked to run), "exited", "terminated" or "dead": the provider's desired/actual
  // status, lower-cased. Running does not mean ready: see `ready`.
  std::string status;
  bool ready = false;  // the container runs (RunPod: `runtime` is not null)
  double price_per_hour = 0;
};

class PodProvider {
 public:
  virtual ~PodProvider() = default;
  virtual std::string name() const = 0;  // "runpod", "exec"
  virtual Result<std::vector<GpuOffer>> GpuTypes() = 0;
  // Creates and starts one pod. On success the pod bills from now until Terminate.
  virtual Result<PodInfo> Create(const PodSpec& spec) = 0;
  // Every pod of the account (the caller picks its own by name prefix).
  virtual Result<std::vector<PodInfo>> List() = 0;
  // Terminates the pod: it stops billing and is deleted. kNotFound when it is already gone.
  virtual Result<void> Terminate(const std::string& id) = 0;
};

// The command a pod runs: `join_command` (the coordinator's join line, or an installed podfleet's
// `work` command) with `--name NAME --exit-when-idle Ns --price-per-hour P` appended.
std::string PodCommand(std::string_view join_command, std::string_view name, int64_t idle_seconds,
                       double price_per_hour);

inline constexpr const char* kNoCapacityPrefix = "no capacity: ";
bool IsNoCapacity(const Error& e);

// The offer `wanted` names ("RTX A5000" or "NVIDIA RTX A5000"): an exact id or name first, then
// case-insensitively; nullptr when none matches.
const GpuOffer* FindOffer(const std::vector<GpuOffer>& offers, std::string_view wanted);

}  // namespace podfleet
