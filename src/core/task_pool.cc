#include "core/task_pool.h"

#include <algorithm>

namespace podfleet {

TaskPool::TaskPool(int threads) {
  const int n = threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency());
  for (int i = 0; i < std::max(1, n); ++i) threads_.emplace_back([this] { Run(); });
}

TaskPool::~TaskPool() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void TaskPool::Enqueue(std::function<void()> task) {
  {
    MutexLock lock(mu_);
    tasks_.push_back(std::move(task));
  }
  changed_.notify_one();
}

void TaskPool::Run() {
  while (true) {
    std::function<void()> task;
    {
      MutexLock lock(mu_);
      changed_.wait(lock, [&]() REQUIRES(mu_) { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

}  // namespace podfleet
