#include "worker/hardware.h"

#include <sys/utsname.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

namespace podfleet {
namespace {

std::string Trim(std::string s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

// The value after "key:" on the first matching line of a /proc file.
std::string ProcField(const char* path, std::string_view key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(key)) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return Trim(line.substr(colon + 1));
    }
  }
  return "";
}

std::vector<Gpu> NvidiaGpus() {
  std::vector<Gpu> gpus;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(
      popen("nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader,nounits "
            "2>/dev/null",
            "r"),
      pclose);
  if (!pipe) return gpus;
  char buf[512];
  while (fgets(buf, sizeof buf, pipe.get())) {
    std::stringstream line(buf);
    std::string name, driver, memory;
    if (!std::getline(line, name, ',') || !std::getline(line, driver, ',') ||
        !std::getline(line, memory))
      continue;
    Gpu g{Trim(name), Trim(driver), 0};
    try {
      g.memory_mb = std::stoll(Trim(memory));
    } catch (const std::exception&) {
    }
    gpus.push_back(std::move(g));
  }
  return gpus;
}

// The driver's CUDA level from nvidia-smi's banner ("CUDA Version: 12.4"); empty if not shown.
std::string NvidiaCudaVersion() {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen("nvidia-smi 2>/dev/null", "r"), pclose);
  if (!pipe) return "";
  char buf[512];
  std::string found;
  while (fgets(buf, sizeof buf, pipe.get())) {
    std::string_view line(buf);
    const auto at = line.find("CUDA Version:");
    if (at == std::string_view::npos || !found.empty()) continue;
    std::string_view rest = line.substr(at + 13);
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    const auto end = rest.find_first_not_of("0123456789.");
    found = std::string(rest.substr(0, end));
  }
  return found;
}

}  // namespace

Hardware DetectHardware() {
  Hardware h;
  h.cpu_model = ProcField("/proc/cpuinfo", "model name");
  h.cpu_cores = static_cast<int>(std::thread::hardware_concurrency());
  try {
    h.memory_mb = std::stoll(ProcField("/proc/meminfo", "MemTotal")) / 1024;
  } catch (const std::exception&) {
  }
  utsname u{};
  if (uname(&u) == 0) h.os = std::string(u.sysname) + " " + u.release + " " + u.machine;
  h.gpus = NvidiaGpus();
  if (!h.gpus.empty()) {
    const std::string cuda = NvidiaCudaVersion();
    for (Gpu& g : h.gpus) g.cuda = cuda;
  }
  return h;
}

}  // namespace podfleet
