#include "coordinator/egress.h"

#include <algorithm>

namespace podfleet {

EgressPacer::EgressPacer(int64_t bytes_per_second) : rate_(bytes_per_second) {
  if (rate_ > 0) thread_ = std::thread([this] { Loop(); });
}

EgressPacer::~EgressPacer() { Stop(); }

void EgressPacer::Stop() {
  {
    MutexLock lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EgressPacer::Send(int64_t bytes, std::function<void()> send) {
  if (rate_ <= 0) return send();
  {
    MutexLock lock(mu_);
    if (!stopping_) {
      const auto now = Steady::now();
      const auto carry = std::chrono::duration_cast<Steady::duration>(
          std::chrono::duration<double>(static_cast<double>(bytes) / static_cast<double>(rate_)));
      link_free_ = std::max(link_free_, now) + carry;
      waiting_.push_back(Waiting{link_free_, std::move(send)});
      changed_.notify_all();
      return;
    }
  }
  send();
}

void EgressPacer::Loop() {
  MutexLock lock(mu_);
  while (true) {
    if (waiting_.empty()) {
      if (stopping_) return;
      changed_.wait(lock);
      continue;
    }
    if (!stopping_ && Steady::now() < waiting_.front().due) {
      changed_.wait_until(lock, waiting_.front().due);
      continue;
    }
    Waiting next = std::move(waiting_.front());
    waiting_.pop_front();
    lock.unlock();
    next.send();
    lock.lock();
  }
}

}  // namespace podfleet
