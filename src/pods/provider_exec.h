// The exec provider: any cloud, through one program the operator writes (doc/pods.md has the
// contract and an example). podfleet runs it as
//   PROGRAM gpu-types            -> stdout {"gpu_types":[{"id","name","price_per_hour","stock"}]}
//   PROGRAM create SPEC_JSON     -> stdout
//   {"id","name","gpu_type","status","ready","price_per_hour"} PROGRAM list                 ->
//   stdout {"pods":[{"id","name","gpu_type","status","ready",
//                                                    "price_per_hour"}]}
//   PROGRAM terminate ID         -> exit 0
// SPEC_JSON is {"name","gpu_type","cloud","image","container_disk_gb","cuda_versions":[...],
// "command"}; the pod's environment (it holds the enrollment token) is passed in the program's
// own environment as PODFLEET_POD_ENV, a JSON object, never on its command line.
// Exit codes: 0 success; 69 (EX_UNAVAILABLE) no capacity for that GPU type; 75 (EX_TEMPFAIL)
// transient, try later; 77 (EX_NOPERM) credentials refused; 78 terminate of an unknown pod
// (kNotFound); anything else, or a run longer than the timeout, a permanent error with the last
// line of stderr as its message.
//
// Thread safety: safe for concurrent use (each call is its own process).
#pragma once

#include <string>

#include "core/units.h"
#include "pods/provider.h"

namespace podfleet {

class ExecProvider final : public PodProvider {
 public:
  explicit ExecProvider(std::string program, Millis timeout = Millis(120'000))
      : program_(std::move(program)), timeout_(timeout) {}

  std::string name() const override { return "exec"; }
  Result<std::vector<GpuOffer>> GpuTypes() override;
  Result<PodInfo> Create(const PodSpec& spec) override;
  Result<std::vector<PodInfo>> List() override;
  Result<void> Terminate(const std::string& id) override;

 private:
  // Runs the program; its stdout, or the error its exit code maps to.
  Result<std::string> Run(std::vector<std::string> args,
                          std::vector<std::pair<std::string, std::string>> env = {});

  const std::string program_;
  const Millis timeout_;
};

}  // namespace podfleet
