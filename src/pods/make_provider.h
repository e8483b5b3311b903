// Choosing a PodProvider by name, for `serve --autoscale` and `podfleet pods`.
#pragma once

#include <memory>
#include <string>

#include "core/clock.h"
#include "pods/provider.h"

namespace podfleet {

class HttpClient;

struct ProviderOptions {
  std::string kind;  // "runpod" or "exec"
  // runpod: the GraphQL endpoint (env RUNPOD_API_BASE_URL overrides the default, as RunPod's own
  // SDK does) and the key file (LoadRunPodKey; RUNPOD_API_KEY wins).
  std::string runpod_url;
  std::string runpod_key_file;
  std::string exec_program;  // exec: the operator's program (provider_exec.h)
};

// kInvalidArgument for an unknown kind or a missing exec program; LoadRunPodKey's errors.
// `http` and `clock` must outlive the provider.
Result<std::unique_ptr<PodProvider>> MakeProvider(const ProviderOptions& options, HttpClient& http,
                                                  const Clock& clock);

}  // namespace podfleet
