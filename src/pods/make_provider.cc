#include "pods/make_provider.h"

#include <cstdlib>

#include "pods/provider_exec.h"
#include "pods/provider_runpod.h"

namespace podfleet {

Result<std::unique_ptr<PodProvider>> MakeProvider(const ProviderOptions& options, HttpClient& http,
                                                  const Clock& clock) {
  if (options.kind == "exec") {
    if (options.exec_program.empty())
      return InvalidArgument("the exec provider needs --pods-exec PROGRAM");
    return std::make_unique<ExecProvider>(options.exec_program);
  }
  if (options.kind != "runpod")
    return InvalidArgument("unknown pod provider '" + options.kind + "' (runpod or exec)");
  RunPodOptions r;
  if (!options.runpod_url.empty())
    r.url = options.runpod_url;
  else if (const char* base = std::getenv("RUNPOD_API_BASE_URL"); base && *base)
    r.url = std::string(base) + "/graphql";
  auto key = LoadRunPodKey(options.runpod_key_file);
  if (!key) return std::unexpected(key.error());
  r.api_key = std::move(*key);
  return std::make_unique<RunPodProvider>(std::move(r), http, clock);
}

}  // namespace podfleet
