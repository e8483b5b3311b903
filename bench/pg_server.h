// A benchmark's own PostgreSQL server: Debian's PostgreSQL 15 started by tests/support/pg-server
// (run from the source tree; scripts/setup --dev installs postgresql-15) in a temporary directory,
// stopped when the BenchPgServer is destroyed (and by the script's watchdog if the bench dies).
//
// Thread safety: none; one thread starts it, makes its databases and stops it.
#pragma once

#include <dirent.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace podfleet {

// Runs `command`; its standard output without the trailing newline, or nullopt when it failed.
inline std::optional<std::string> CommandOutput(const std::string& command) {
  FILE* p = popen(command.c_str(), "r");
  if (!p) return std::nullopt;
  std::string out;
  char buf[256];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  if (pclose(p) != 0) return std::nullopt;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class BenchPgServer {
 public:
  // Starts a server with `settings` ("name=value", after pg-server's test defaults, which turn
  // fsync and synchronous_commit off); nullopt (after saying why on stderr) when it cannot.
  static std::optional<BenchPgServer> Start(const std::string& label,
                                            const std::vector<std::string>& settings = {}) {
    BenchPgServer s(std::filesystem::temp_directory_path() /
                    fmt::format("podfleet-bench-{}-{}", label, static_cast<long>(getpid())));
    std::string command = fmt::format("{} start {} {}", kScript, s.dir_.string(), getpid());
    for (const std::string& setting : settings) command += " " + setting;
    if (!CommandOutput(command)) {
      fmt::print(stderr, "cannot start PostgreSQL with {} (run from the source tree)\n", kScript);
      return std::nullopt;
    }
    s.started_ = true;
    return s;
  }

  BenchPgServer(BenchPgServer&& other) noexcept
      : dir_(std::move(other.dir_)), started_(std::exchange(other.started_, false)) {}
  BenchPgServer& operator=(BenchPgServer&&) = delete;
  ~BenchPgServer() {
    if (started_) (void)CommandOutput(fmt::format("{} stop {}", kScript, dir_.string()));
  }

  // A new, empty database `name`: its postgres:// URL, or nullopt.
  std::optional<std::string> CreateDb(const std::string& name) const {
    return CommandOutput(fmt::format("{} createdb {} {}", kScript, dir_.string(), name));
  }

  // CPU time (user + system) the server's processes have used so far, in microseconds: the
  // postmaster's, its live children's (backends, WAL writer, checkpointer) and its reaped
  // children's. 0 when /proc cannot tell.
  double CpuMicros() const {
    std::ifstream pidfile(dir_ / "data" / "postmaster.pid");
    long postmaster = 0;
    if (!(pidfile >> postmaster)) return 0;
    const double tick = 1e6 / static_cast<double>(sysconf(_SC_CLK_TCK));
    double total = 0;
    DIR* proc = opendir("/proc");
    if (!proc) return 0;
    while (dirent* e = readdir(proc)) {
      const long pid = std::atol(e->d_name);
      if (pid <= 0) continue;
      std::ifstream stat(fmt::format("/proc/{}/stat", pid));
      std::string line;
      if (!std::getline(stat, line)) continue;
      // Fields after the command name (which may hold spaces): state ppid ... utime(14)
      // stime(15) cutime(16) cstime(17), numbered from 1 for the pid.
      std::istringstream rest(line.substr(line.rfind(')') + 2));
      std::vector<std::string> f{"", "", ""};  // pid, comm: not in `rest`
      for (std::string v; rest >> v;) f.push_back(v);
      if (f.size() < 18) continue;
      const long ppid = std::atol(f[4].c_str());
      if (pid == postmaster) {
        for (int i : {14, 15, 16, 17}) total += std::atof(f[i].c_str()) * tick;
      } else if (ppid == postmaster) {
        for (int i : {14, 15}) total += std::atof(f[i].c_str()) * tick;
      }
    }
    closedir(proc);
    return total;
  }

 private:
  static constexpr char kScript[] = "tests/support/pg-server";
  explicit BenchPgServer(std::filesystem::path dir) : dir_(std::move(dir)) {}

  std::filesystem::path dir_;
  bool started_ = false;
};

}  // namespace podfleet
