#include "engines/ggml_device.h"

#include <fmt/format.h>
#include <ggml-backend.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <thread>

#ifdef GGML_BACKEND_DL
#include <dlfcn.h>
#endif

namespace podfleet {
namespace {

#ifdef GGML_BACKEND_DL
namespace fs = std::filesystem;

// The folder of the shared object that holds `address` ("" when unknown).
std::string FolderOf(const void* address) {
  Dl_info info{};
  if (dladdr(address, &info) == 0 || !info.dli_fname) return "";
  return fs::path(info.dli_fname).parent_path().string();
}

bool IsModule(const fs::path& file, std::string_view prefix) {
  const std::string name = file.filename().string();
  return name.starts_with(prefix) && file.extension() == ".so";
}

// GPU backend modules in `folder` that did not load, each with the loader's reason (ggml loads
// them silently, so a missing CUDA runtime would otherwise read as "no GPU").
std::string GpuModuleProblems(const std::string& folder) {
  std::string problems;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const fs::path& file = entry.path();
    if (!IsModule(file, "libggml-") || IsModule(file, "libggml-cpu") ||
        IsModule(file, "libggml-base"))
      continue;
    if (void* loaded = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD)) {
      dlclose(loaded);
      continue;
    }
    if (void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL)) {
      dlclose(handle);  // it loads: ggml left it out for another reason (no device)
      continue;
    }
    const char* why = dlerror();
    problems += fmt::format("{}{}: {}", problems.empty() ? "" : "; ", file.filename().string(),
                            why ? why : "cannot be loaded");
  }
  return problems;
}

GgmlBackends Load() {
  GgmlBackends b;
  b.loadable = true;
  b.folder = FolderOf(reinterpret_cast<const void*>(&ggml_backend_load_all_from_path));
  std::vector<std::string> folders = {b.folder};
#ifdef GGML_BACKEND_DIR
  folders.push_back(GGML_BACKEND_DIR);
#endif
  for (const std::string& folder : folders) {
    if (folder.empty() || ggml_backend_reg_by_name("CPU")) continue;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(folder, ec))
      if (IsModule(entry.path(), "libggml-cpu")) ++b.cpu_variants;
    ggml_backend_load_all_from_path(folder.c_str());
    b.gpu_problem += GpuModuleProblems(folder);
  }
  ggml_backend_reg_t cpu = ggml_backend_reg_by_name("CPU");
  if (!cpu) {
    const std::string where = fmt::format("{}", fmt::join(folders, " and "));
    b.problem = fmt::format(
        "no ggml CPU backend loaded: {} (this podfleet loads whisper.cpp's CPU code at run time: "
        "reinstall the bundle, or build podfleet on this machine)",
        b.cpu_variants == 0 ? fmt::format("{} holds no libggml-cpu-*.so module", where)
                            : fmt::format("none of the {} libggml-cpu-*.so modules in {} loads "
                                          "and runs on this CPU",
                                          b.cpu_variants, where));
    return b;
  }
  Dl_info info{};
  if (dladdr(cpu, &info) != 0 && info.dli_fname) b.cpu_variant = CpuVariantOf(info.dli_fname);
  return b;
}
#endif

}  // namespace

const GgmlBackends& LoadGgmlBackends() {
#ifdef GGML_BACKEND_DL
  static const GgmlBackends loaded = Load();
#else
  static const GgmlBackends loaded;
#endif
  return loaded;
}

std::string CpuVariantOf(std::string_view module_file) {
  std::string_view name = module_file.substr(module_file.find_last_of('/') + 1);
  if (name.starts_with("libggml-")) name.remove_prefix(8);
  if (name.ends_with(".so")) name.remove_suffix(3);
  if (name.starts_with("cpu-")) name.remove_prefix(4);
  return std::string(name);
}

std::vector<ComputeDevice> ComputeDevices() {
  LoadGgmlBackends();
  std::vector<ComputeDevice> out;
  for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
    ggml_backend_dev_t dev = ggml_backend_dev_get(i);
    const auto type = ggml_backend_dev_type(dev);
    size_t free = 0, total = 0;
    ggml_backend_dev_memory(dev, &free, &total);
    out.push_back({ggml_backend_dev_name(dev), ggml_backend_dev_description(dev),
                   type == GGML_BACKEND_DEVICE_TYPE_GPU || type == GGML_BACKEND_DEVICE_TYPE_IGPU,
                   static_cast<int64_t>(free), static_cast<int64_t>(total)});
  }
  return out;
}

int BuiltCudaRuntime() {
#ifdef PODFLEET_ENGINE_CUDA_RUNTIME
  return PODFLEET_ENGINE_CUDA_RUNTIME;
#else
  return 0;
#endif
}

bool BuiltForGpu() {
#if defined(PODFLEET_ENGINE_CUDA_RUNTIME) || defined(PODFLEET_ENGINE_METAL)
  return true;
#else
  return false;
#endif
}

DeviceChoice ChooseDevice(const EngineConfig& config, const std::vector<ComputeDevice>& devices,
                          bool built_for_gpu, std::string_view gpu_problem) {
  DeviceChoice c{"CPU", false, "", 0};
  if (config.no_gpu) return c;
  for (const ComputeDevice& d : devices) {
    if (!d.gpu) continue;
    return {fmt::format("{} ({})", d.name, d.description), true, "", d.free_bytes};
  }
  if (!built_for_gpu && !config.require_gpu) return c;
  const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
  c.problem = fmt::format(
      "the {} engine needs a GPU{} but ggml found no usable one{}{}; it would run on the CPU at "
      "a fraction of the speed (use --no-gpu to run on the CPU on purpose)",
      config.name, built_for_gpu ? " (built with a GPU backend)" : " (--require-gpu)",
      visible ? fmt::format(" (CUDA_VISIBLE_DEVICES='{}')", visible) : "",
      gpu_problem.empty() ? "" : fmt::format(" ({})", gpu_problem));
  return c;
}

Result<void> EngineRuntime::Start(StateOps ops) {
  ops_ = std::move(ops);
  ops_.device_free = [this]() -> int64_t {
    if (!device_.gpu) return -1;
    for (const ComputeDevice& d : ComputeDevices())
      if (d.gpu) return d.free_bytes;
    return -1;
  };
  const int threads = config_.threads > 0
                          ? config_.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ops_.prepare = [&](int n) { threads_per_state_ = std::max(1, threads / n); };
  // Auto measures on a GPU only: on the CPU one state with all threads was the fastest of
  // 1/2/4/8 (doc/engines.md, "States"), and whisper's warm-up there costs minutes.
  int requested = device_.problem.empty() ? config_.states : 1;
  const bool cpu_auto = requested == 0 && !device_.gpu;
  if (cpu_auto) requested = 1;
  auto plan = MakeStates(requested, ops_);
  ops_.prepare = nullptr;
  if (!plan) return std::unexpected(plan.error());
  states_ = std::move(plan->states);
  threads_per_state_ = std::max(1, threads / static_cast<int>(states_.size()));
  states_note_ = cpu_auto ? "1 (auto: on the CPU one state with all threads)"
                          : DescribeStates(states_.size(), plan->measured);
  pool_ = std::make_unique<StatePool>(states_);
  return {};
}

void EngineRuntime::Free() {
  pool_.reset();
  for (void* s : states_) ops_.destroy(s);
  states_.clear();
}

void EngineRuntime::Describe(EngineInfo& info) const {
  info.cuda_runtime = config_.no_gpu ? 0 : BuiltCudaRuntime();
  info.states = static_cast<int>(states_.size());
  info.states_note = states_note_;
  info.device = device_.device;
  info.gpu = device_.gpu;
  info.device_problem = device_.problem;
  info.cpu_variant = LoadGgmlBackends().cpu_variant;
  info.speed_floor = device_.gpu ? kGpuSpeedFloor : 0;
}

}  // namespace podfleet
