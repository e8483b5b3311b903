#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "cli/commands.h"

namespace podfleet {

int Fail(const std::string& message) {
  fmt::print(stderr, "podfleet: {}\n", message);
  return 1;
}

struct SignalWatcher::State {
  std::function<void()> on_signal;
  std::mutex mu;
  std::condition_variable cv;
  bool fired = false;  // guarded by mu
  std::atomic<bool> exited{false};
  std::thread thread;
};

SignalWatcher::SignalWatcher(std::function<void()> on_signal) : state_(std::make_unique<State>()) {
  state_->on_signal = std::move(on_signal);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);  // sent by the destructor to end the watcher
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  state_->thread = std::thread([s = state_.get(), set] {
    int sig = 0;
    sigwait(&set, &sig);
    s->exited = true;
    if (sig == SIGUSR1) return;
    fmt::print(stderr, "\npodfleet: {} received, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    if (s->on_signal) s->on_signal();
    std::lock_guard lock(s->mu);
    s->fired = true;
    s->cv.notify_all();
  });
}

SignalWatcher::~SignalWatcher() {
  if (!state_->exited) pthread_kill(state_->thread.native_handle(), SIGUSR1);
  state_->thread.join();
}

void SignalWatcher::Wait() {
  std::unique_lock lock(state_->mu);
  state_->cv.wait(lock, [this] { return state_->fired; });
}

void SignalWatcher::Trigger() {
  std::lock_guard lock(state_->mu);
  state_->fired = true;
  state_->cv.notify_all();
}

}  // namespace podfleet
