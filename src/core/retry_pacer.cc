#include "core/retry_pacer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <random>

namespace podfleet {

Millis Jitter(Millis d) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<int64_t> spread(0, std::max<int64_t>(0, d.count()));
  return Millis(d.count() / 2 + spread(rng));
}

RetryPacer::RetryPacer(std::string what, Millis base, Millis max)
    : what_(std::move(what)), base_(base), max_(std::max(base, max)) {}

Millis RetryPacer::Failed(const Error& error) {
  ++failures_;
  if (failures_ == 1 || error.message != last_reason_)
    Log(fmt::format("{} (retrying with backoff; repeats are counted, not printed)",
                    error.ToString()));
  last_reason_ = error.message;
  const int doublings = std::min(failures_ - 1, 30);
  const int64_t wait = std::min<int64_t>(max_.count(), base_.count() << std::min(doublings, 20));
  return Jitter(Millis(wait));
}

void RetryPacer::Succeeded() {
  if (failures_ > 1) Log(fmt::format("recovered after {} failures in a row", failures_));
  failures_ = 0;
  last_reason_.clear();
}

void RetryPacer::Log(const std::string& line) {
  ++logged_;
  fmt::print(stderr, "{}: {}\n", what_, line);
  std::fflush(stderr);
}

}  // namespace podfleet
