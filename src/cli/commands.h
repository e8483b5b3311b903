// podfleet's subcommands, declared as a table in main.cc. Each takes its arguments after the
// command name and returns the process exit status; errors are printed to stderr as one line.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace podfleet {

using Args = std::vector<std::string>;

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const Args& args);
};

int RunServe(const Args& args);
int RunWork(const Args& args);
int RunUp(const Args& args);
int RunDemo(const Args& args);
int RunTranscribe(const Args& args);
int RunStatus(const Args& args);
int RunFeed(const Args& args);
int RunEpisodes(const Args& args);
int RunTranscript(const Args& args);
int RunSearch(const Args& args);
int RunMcp(const Args& args);
int RunReindex(const Args& args);
int RunToken(const Args& args);
int RunStore(const Args& args);
int RunWer(const Args& args);
int RunGpus(const Args& args);
int RunPlan(const Args& args);
int RunPods(const Args& args);
int RunDoctor(const Args& args);
int RunModels(const Args& args);
int RunBench(const Args& args);

// Prints "podfleet: <message>" to stderr and returns 1.
int Fail(const std::string& message);

// Blocks SIGINT and SIGTERM in the calling thread (call before starting threads, so they inherit
// the mask) and runs `on_signal` on a watcher thread when one arrives.
class SignalWatcher {
 public:
  explicit SignalWatcher(std::function<void()> on_signal);
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;
  // Blocks until a signal arrived (or Trigger was called).
  void Wait();
  void Trigger();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace podfleet
