#include "engines/child_process.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>

extern char** environ;

namespace podfleet {
namespace {

using Clock = std::chrono::steady_clock;

// The parent's environment with `extra` added or replacing, as "NAME=value" strings.
std::vector<std::string> MergedEnvironment(
    const std::vector<std::pair<std::string, std::string>>& extra) {
  std::map<std::string, std::string> vars;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    const size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    vars[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
  }
  for (const auto& [name, value] : extra) vars[name] = value;
  std::vector<std::string> out;
  for (const auto& [name, value] : vars) out.push_back(name + "=" + value);
  return out;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Owns the spawn attributes and file actions for the length of one posix_spawnp call.
struct SpawnSetup {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  SpawnSetup() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

struct Pipe {
  int read = -1;
  int write = -1;
  ~Pipe() {
    if (read >= 0) ::close(read);
    if (write >= 0) ::close(write);
  }
  bool Open() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return false;
    read = fds[0];
    write = fds[1];
    return true;
  }
  int TakeRead() { return std::exchange(read, -1); }
};

}  // namespace

Result<std::unique_ptr<ChildProcess>> ChildProcess::Start(const ChildOptions& options) {
  if (options.argv.empty()) return InvalidArgument("no program to run");
  Pipe out, err;
  if (!out.Open() || !err.Open())
    return Unavailable(fmt::format("cannot create pipes: {}", std::strerror(errno)));
  SpawnSetup setup;
  posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&setup.actions, out.write, 1);
  posix_spawn_file_actions_adddup2(&setup.actions, err.write, 2);
  // Its own process group, so that a kill reaches the programs it starts; default signals, so
  // that a parent ignoring SIGPIPE or SIGINT does not pass that on.
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigdefault(&setup.attr, &all);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&setup.attr, &none);
  posix_spawnattr_setpgroup(&setup.attr, 0);
  posix_spawnattr_setflags(&setup.attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<std::string> argv = options.argv;
  std::vector<std::string> env = MergedEnvironment(options.env);
  std::vector<char*> c_argv = CStrings(argv);
  std::vector<char*> c_env = CStrings(env);
  pid_t pid = 0;
  const int rc =
      posix_spawnp(&pid, argv[0].c_str(), &setup.actions, &setup.attr, c_argv.data(), c_env.data());
  if (rc == ENOENT || rc == EACCES || rc == ENOEXEC)
    return NotFound(fmt::format("cannot run {}: {}", argv[0], std::strerror(rc)));
  if (rc != 0) return Unavailable(fmt::format("cannot run {}: {}", argv[0], std::strerror(rc)));
  return std::unique_ptr<ChildProcess>(
      new ChildProcess(options, pid, out.TakeRead(), err.TakeRead()));
}

ChildProcess::ChildProcess(const ChildOptions& options, pid_t pid, int out_fd, int err_fd)
    : options_(options), pid_(pid), out_fd_(out_fd), err_fd_(err_fd) {}

ChildProcess::~ChildProcess() {
  KillAndReap();
  if (out_fd_ >= 0) ::close(out_fd_);
  if (err_fd_ >= 0) ::close(err_fd_);
}

void ChildProcess::KillAndReap() {
  if (reaped_) return;
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);  // in case it left its group
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
}

Result<ChildResult> ChildProcess::Wait(
    Millis timeout, std::stop_token stop,
    const std::function<void(std::string_view)>& on_stderr_line) {
  const auto deadline = timeout.count() > 0 ? Clock::now() + timeout : Clock::time_point::max();
  auto Abort = [this](std::unexpected<Error> e) -> Result<ChildResult> {
    KillAndReap();
    return e;
  };
  ChildResult result;
  std::string err_line;
  auto on_err = [&](std::string_view bytes) {
    result.stderr_tail.append(bytes);
    if (result.stderr_tail.size() > 2 * options_.stderr_tail_bytes)
      result.stderr_tail.erase(0, result.stderr_tail.size() - options_.stderr_tail_bytes);
    err_line.append(bytes);
    for (size_t nl; (nl = err_line.find('\n')) != std::string::npos; err_line.erase(0, nl + 1)) {
      if (on_stderr_line) on_stderr_line(std::string_view(err_line).substr(0, nl));
    }
    if (err_line.size() > 64 * 1024) err_line.clear();  // a runaway line is not a progress line
  };
  char buffer[16384];
  while (out_fd_ >= 0 || err_fd_ >= 0) {
    if (stop.stop_requested()) return Abort(Unavailable("cancelled"));
    if (Clock::now() >= deadline)
      return Abort(Unavailable(fmt::format("timed out after {} ms", timeout.count())));
    pollfd fds[2];
    int n = 0;
    for (int fd : {out_fd_, err_fd_})
      if (fd >= 0) fds[n++] = {fd, POLLIN, 0};
    if (::poll(fds, n, 50) < 0 && errno != EINTR)
      return Abort(Internal(fmt::format("poll: {}", std::strerror(errno))));
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      const ssize_t got = ::read(fds[i].fd, buffer, sizeof buffer);
      if (got < 0 && errno == EINTR) continue;
      int& fd = fds[i].fd == out_fd_ ? out_fd_ : err_fd_;
      if (got <= 0) {
        ::close(fd);
        fd = -1;
        continue;
      }
      if (&fd == &err_fd_) {
        on_err(std::string_view(buffer, static_cast<size_t>(got)));
      } else {
        result.out.append(buffer, static_cast<size_t>(got));
        if (result.out.size() > options_.max_stdout_bytes)
          return Abort(InvalidArgument(
              fmt::format("wrote more than {} bytes to stdout", options_.max_stdout_bytes)));
      }
    }
  }
  if (!err_line.empty() && on_stderr_line) on_stderr_line(err_line);
  // Both pipes closed: the program is exiting, or closed them and lingers.
  int status = 0;
  while (true) {
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) break;
    if (r < 0 && errno != EINTR) return Abort(Internal("waitpid failed"));
    if (stop.stop_requested()) return Abort(Unavailable("cancelled"));
    if (Clock::now() >= deadline)
      return Abort(Unavailable(fmt::format("timed out after {} ms", timeout.count())));
    ::usleep(10'000);
  }
  reaped_ = true;
  if (result.stderr_tail.size() > options_.stderr_tail_bytes)
    result.stderr_tail.erase(0, result.stderr_tail.size() - options_.stderr_tail_bytes);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

}  // namespace podfleet
