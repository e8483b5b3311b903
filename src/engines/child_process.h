// Running an external program: the process runner behind the exec engine.
//
// A ChildProcess owns one running program in its own process group, with its stdout and stderr
// read through pipes (stdin is /dev/null). Destroying it, or a timeout or stop request in Wait,
// kills the whole group (SIGKILL, so a shell script's own children die with it) and reaps the
// child: no zombie and no stray process outlives the object.
//
// Thread safety: one ChildProcess is used by one thread at a time. Not copyable or movable.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/units.h"

namespace podfleet {

struct ChildOptions {
  std::vector<std::string> argv;  // argv[0] is looked up on PATH
  // Added to (or replacing in) the parent's environment.
  std::vector<std::pair<std::string, std::string>> env;
  size_t max_stdout_bytes = size_t{64} << 20;  // more fails the run with kInvalidArgument
  size_t stderr_tail_bytes = 4096;             // how much of stderr ChildResult keeps
};

struct ChildResult {
  int exit_code = -1;       // when it exited; -1 when killed by a signal
  int signal = 0;           // the signal that killed it; 0 when it exited
  std::string out;          // all of stdout
  std::string stderr_tail;  // the last stderr_tail_bytes of stderr
};

class ChildProcess {
 public:
  // Starts the program. kNotFound if argv[0] cannot be found or executed; kInvalidArgument for an
  // empty argv; kUnavailable when pipes or the process cannot be created.
  static Result<std::unique_ptr<ChildProcess>> Start(const ChildOptions& options);

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  // Kills the process group and reaps the child if it is still running.
  ~ChildProcess();

  // Reads its output until it exits and returns how it ended; `on_stderr_line` gets each complete
  // stderr line (without the newline) as it arrives. After `timeout` (0: none) the group is
  // killed and the result is kUnavailable "timed out after ..."; on `stop`, kUnavailable
  // "cancelled". More stdout than max_stdout_bytes: killed, kInvalidArgument.
  // REQUIRES: called at most once.
  Result<ChildResult> Wait(Millis timeout, std::stop_token stop,
                           const std::function<void(std::string_view)>& on_stderr_line);

  pid_t pid() const { return pid_; }

 private:
  ChildProcess(const ChildOptions& options, pid_t pid, int out_fd, int err_fd);
  void KillAndReap();

  const ChildOptions options_;
  pid_t pid_;
  int out_fd_;
  int err_fd_;
  bool reaped_ = false;
};

}  // namespace podfleet
