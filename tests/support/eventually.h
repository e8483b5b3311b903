// Waiting in tests for something another thread or process makes true.
#pragma once

#include <chrono>
#include <thread>

namespace podfleet {

// Polls `done` every 50 ms for up to `limit` (generous: a loaded machine is slow, never wrong);
// returns whether it held.
template <class F>
bool Eventually(F done, std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

}  // namespace podfleet
