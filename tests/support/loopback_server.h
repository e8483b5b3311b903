// A raw HTTP/1.1 server on loopback for tests that need to misbehave in ways a real server will
// not (hold a response, cut it, lie about its length): it accepts one connection at a time, hands
// it to `answer`, and closes it when `answer` returns. SendAll and ReadHead are what answers use.
// Thread safety: the answer runs on the server's own thread; the destructor stops accepting and
// joins it (REQUIRES: an answer in progress returns once its owner asks it to).
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

namespace podfleet {

class LoopbackServer {
 public:
  // Listens on a free loopback port; throws std::runtime_error naming `what` if it cannot.
  LoopbackServer(std::string_view what, std::function<void(int fd)> answer);
  ~LoopbackServer();
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  int port() const { return port_; }

 private:
  void Serve();

  const std::function<void(int fd)> answer_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;  // last: starts once the rest is set
};

// Writes all of `bytes` to `fd`; false when the peer went away.
bool SendAll(int fd, std::string_view bytes);
// Reads a request's head (through the blank line, at most 16 KiB); empty when the peer closed
// before its end.
std::string ReadHead(int fd);

}  // namespace podfleet
