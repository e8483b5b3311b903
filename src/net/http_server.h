// An asynchronous HTTP/1.1 server (Boost.Beast over Asio).
//
// Connections are handled by a small pool of I/O threads, so thousands of idle keep-alive
// connections cost only their sockets and buffers. Every request is passed to one handler; an
// exception escaping the handler becomes a 500 JSON error for that request alone and the server
// keeps serving.
//
// Limits: request bodies over `max_body_bytes` get 413 without being read and the connection is
// closed; headers over 16 KiB get 431; malformed requests get 400. A client that does not finish
// its headers within `header_timeout` (counted from the connection's start, or from the first byte
// of a later request on a keep-alive connection), waits longer than `idle_timeout` between
// requests, or makes no progress sending a body or reading a response for `idle_timeout`, is
// disconnected; so is one whose body, once `header_timeout` has passed since the body began,
// averages less than `min_body_rate` bytes per second (a trickled body cannot hold a connection).
// Requests on one connection are answered in order, one at a time.
//
// Every response carries Server: podfleet, Content-Type, Content-Length and, when the connection
// will close, Connection: close. Expect: 100-continue is honoured. A response status outside
// 200-999 is sent as 500.
//
// Thread safety: Start/Stop/port may be called from any thread; the handler runs on I/O threads,
// concurrently, and must be thread-safe. A handler that blocks holds one I/O thread, so handlers
// that may block hand their work to other threads (the coordinator routes through a Router with
// an executor, net/router.h) and answer through the responder.
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
// (this is how long-polling handlers answer); later calls are ignored. Move-only. If it is
// destroyed (or assigned over) without being called, the client gets a 500. A responder may
// outlive its server: once the server has stopped, calling or dropping it does nothing.
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
  size_t min_body_rate = 1024;  // bytes per second; 0: no minimum
};

class HttpServer {
 public:
  // Binds and starts serving. kUnavailable if the address cannot be bound.
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                   HttpHandler handler);

  virtual ~HttpServer() = default;
  // The bound port (useful with port 0).
  virtual uint16_t port() const = 0;
  // Stops accepting, closes connections (dropping unanswered requests) and joins the I/O threads.
  // Idempotent; the destructor calls it. REQUIRES: not called from inside the handler.
  virtual void Stop() = 0;
};

}  // namespace podfleet
