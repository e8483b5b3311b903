// An asynchronous HTTP/1.1 server (Boost.Beast over Asio).
//
// Connections are handled by a small pool of I/O threads, so thousands of idle keep-alive
// connections cost only their sockets and buffers. Every request is passed to one handler; an
// exception escaping the handler becomes a 500 JSON error for that request alone and the server
// keeps serving.
//
// Limits: request bodies over `max_body_bytes` get 413 without being read; a client that does not
// finish its headers within `header_timeout` or stays idle longer than `idle_timeout` is
// disconnected.
//
// Thread safety: Start/Stop/port may be called from any thread; the handler runs on I/O threads,
// concurrently, and must be thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/error.h"
#include "core/units.h"
#include "net/http.h"

namespace podfleet {

// Sends the response for one request. Call it exactly once, from any thread, at any later time
// (this is how long-polling handlers answer). Move-only. If it is destroyed without being called,
// the client gets a 500.
class HttpResponder {
 public:
  HttpResponder() = default;
  explicit HttpResponder(std::function<void(HttpResponse)> send);
  HttpResponder(HttpResponder&&) noexcept;
  HttpResponder& operator=(HttpResponder&&) noexcept;
  HttpResponder(const HttpResponder&) = delete;
  HttpResponder& operator=(const HttpResponder&) = delete;
  ~HttpResponder();

  void operator()(HttpResponse response);

 private:
  std::function<void(HttpResponse)> send_;
};

using HttpHandler = std::function<void(HttpRequest, HttpResponder)>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8750;  // 0 picks a free port; see HttpServer::port()
  int threads = 2;
  size_t max_body_bytes = size_t{64} << 20;
  Millis header_timeout{10'000};
  Millis idle_timeout{120'000};
};

class HttpServer {
 public:
  // Binds and starts serving. kUnavailable if the address cannot be bound.
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options, HttpHandler handler);

  virtual ~HttpServer() = default;
  // The bound port (useful with port 0).
  virtual uint16_t port() const = 0;
  // Stops accepting, closes connections and joins the I/O threads. Idempotent.
  virtual void Stop() = 0;
};

}  // namespace podfleet
