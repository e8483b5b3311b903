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
  return h;
}

}  // namespace podfleet
