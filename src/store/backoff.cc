#include "store/backoff.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace podfleet {
namespace {

// splitmix64's finaliser: a well-mixed 64-bit hash of `x`.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A number in [0, 1) determined by (a, b).
double UnitHash(uint64_t a, uint64_t b) {
  return static_cast<double>(Mix(Mix(a) ^ b) >> 11) * 0x1.0p-53;
}

}  // namespace

Millis BackoffDelay(const RetryPolicy& policy, JobId job, int failures) {
  const int doublings = std::clamp(failures - 1, 0, 62);  // 2^62 ms outlasts any cap
  const double raw = static_cast<double>(policy.base_backoff.count()) * std::ldexp(1.0, doublings);
  const double capped = std::min(raw, static_cast<double>(policy.max_backoff.count()));
  const double spread =
      0.8 + 0.4 * UnitHash(static_cast<uint64_t>(job.value()), static_cast<uint64_t>(failures));
  return Millis(static_cast<int64_t>(capped * spread));
}

}  // namespace podfleet
