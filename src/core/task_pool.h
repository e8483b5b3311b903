// A fixed set of threads that run submitted tasks in the order given: the relay's encoders, shared
// by every episode it prepares at once.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <thread>
#include <vector>

#include "core/thread_annotations.h"

namespace podfleet {

// Thread-safe. The destructor runs the tasks already submitted, then joins the threads.
class TaskPool {
 public:
  // `threads` < 1 means one per core.
  explicit TaskPool(int threads);
  ~TaskPool();
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  int threads() const { return static_cast<int>(threads_.size()); }

  // Runs `task` on one of the threads; the future holds its result.
  template <class F>
  auto Submit(F task) -> std::future<decltype(task())> {
    auto packaged = std::make_shared<std::packaged_task<decltype(task())()>>(std::move(task));
    auto result = packaged->get_future();
    Enqueue([packaged] { (*packaged)(); });
    return result;
  }

 private:
  void Enqueue(std::function<void()> task);
  void Run();

  Mutex mu_;
  std::condition_variable_any changed_;
  std::deque<std::function<void()>> tasks_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;  // constant after construction
};

}  // namespace podfleet
