#include "coordinator/egress.h"

#include <algorithm>

namespace podfleet {

EgressPacer::EgressPacer(int64_t bytes_per_second, const Clock& clock)
    : rate_(bytes_per_second), clock_(clock) {
  if (rate_ > 0) thread_ = std::jthread([this](const std::stop_token& stop) { Loop(stop); });
}

EgressPacer::~EgressPacer() { Stop(); }

void EgressPacer::Stop() {
  {
    MutexLock lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
}

void EgressPacer::Send(int64_t bytes, std::function<void()> send) {
  if (rate_ <= 0) return send();
  {
    MutexLock lock(mu_);
    if (!stopping_) {
      const Micros now = clock_.Now();
      const auto carry = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::duration<double>(static_cast<double>(bytes) / static_cast<double>(rate_)));
      link_free_ = std::max(link_free_, now) + carry;
      waiting_.push_back(Waiting{link_free_, std::move(send)});
      wakeup_.Notify();
      return;
    }
  }
  send();
}

std::optional<EgressPacer::Waiting> EgressPacer::NextDue(TimePoint& until, bool& done) {
  MutexLock lock(mu_);
  done = stopping_ && waiting_.empty();
  until = clock_.Now() + std::chrono::hours(1);  // nothing waits: until Send notifies
  if (waiting_.empty()) return std::nullopt;
  until = std::chrono::ceil<Millis>(waiting_.front().due);
  if (!stopping_ && clock_.Now() < until) return std::nullopt;
  Waiting next = std::move(waiting_.front());
  waiting_.pop_front();
  return next;
}

void EgressPacer::Loop(const std::stop_token& stop) {
  while (true) {
    TimePoint until;
    bool done = false;
    if (std::optional<Waiting> next = NextDue(until, done)) {
      next->send();
    } else if (done) {
      return;
    } else {
      clock_.WaitUntil(until, stop, wakeup_);
    }
  }
}

}  // namespace podfleet
