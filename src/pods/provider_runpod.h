// RunPod's pods, through its GraphQL API (doc/pods.md; the facts in the RunPod fact sheet):
// POST {url} with {"query", "variables"} and `Authorization: Bearer KEY`. Values always travel
// as variables, never spliced into the query text.
//   GpuTypes  query gpuTypes { id displayName securePrice communityPrice
//             lowestPrice(input:{gpuCount:1}) { uninterruptablePrice stockStatus } }
//   Create    mutation podFindAndDeployOnDemand(input: PodFindAndDeployOnDemandInput!)
//   List      query myself { pods { ... runtime { uptimeInSeconds } } }
//   Terminate mutation podTerminate(input: {podId}) (a scalar: no selection set)
// Errors (provider.h's contract): HTTP 401/403 -> kPermissionDenied; 429 -> kUnavailable, and
// calls are refused without a request until its Retry-After (seconds; 10 s when absent) has
// passed; 5xx and transport failures -> kUnavailable; 400 -> kInvalidArgument; HTTP 200 with
// `errors`: RunPod's "no longer any instances available" -> kUnavailable "no capacity: ...",
// "Something went wrong" / INTERNAL_SERVER_ERROR -> kUnavailable, any other -> kInvalidArgument.
//
// Thread safety: safe for concurrent use.
#pragma once

#include <memory>
#include <string>

#include "core/clock.h"
#include "core/thread_annotations.h"
#include "pods/provider.h"

namespace podfleet {

class HttpClient;

inline constexpr const char* kRunPodGraphqlUrl = "https://api.runpod.io/graphql";

struct RunPodOptions {
  std::string url = kRunPodGraphqlUrl;  // the GraphQL endpoint
  std::string api_key;                  // never logged, never part of an error message
};

class RunPodProvider final : public PodProvider {
 public:
  // `http` and `clock` must outlive the provider.
  RunPodProvider(RunPodOptions options, HttpClient& http, const Clock& clock)
      : options_(std::move(options)), http_(http), clock_(clock) {}

  std::string name() const override { return "runpod"; }
  Result<std::vector<GpuOffer>> GpuTypes() override;
  Result<PodInfo> Create(const PodSpec& spec) override;
  Result<std::vector<PodInfo>> List() override;
  Result<void> Terminate(const std::string& id) override;

 private:
  // One GraphQL call: its `data`, or the error per the mapping above.
  Result<std::string> Call(const std::string& query, const std::string& variables_json);

  const RunPodOptions options_;
  HttpClient& http_;
  const Clock& clock_;
  Mutex mu_;
  TimePoint not_before_ GUARDED_BY(mu_){};  // after a 429: no request before this
};

// The RunPod API key: the environment variable RUNPOD_API_KEY when set, else the first line of
// `key_file`, which must be a regular file readable by its owner only (mode 0600 or 0400, as the
// admin token). kNotFound when neither exists; kPermissionDenied naming the file and its mode
// when others may read it; kInvalidArgument when it is empty.
Result<std::string> LoadRunPodKey(const std::string& key_file);

}  // namespace podfleet
