#include "net/http_server.h"

#include <fmt/format.h>

#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <cstdio>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/thread_annotations.h"

namespace podfleet {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

HttpResponse DroppedResponse() {
  return HttpResponse::ErrorJson(500, Code::kInternal, "the handler dropped the request");
}

}  // namespace

HttpResponder::HttpResponder(std::function<void(HttpResponse)> send) : send_(std::move(send)) {}

HttpResponder::HttpResponder(HttpResponder&& other) noexcept
    : send_(std::exchange(other.send_, nullptr)) {}

HttpResponder& HttpResponder::operator=(HttpResponder&& other) noexcept {
  if (this != &other) {
    HttpResponder dropped(std::move(*this));
    send_ = std::exchange(other.send_, nullptr);
  }
  return *this;
}

HttpResponder::~HttpResponder() {
  if (!send_) return;
  try {
    send_(DroppedResponse());
  } catch (...) {
    // Nothing more can be done for this request; the connection times out.
  }
}

void HttpResponder::operator()(HttpResponse response) {
  if (!send_) return;
  std::exchange(send_, nullptr)(std::move(response));
}

namespace {

constexpr uint32_t kHeaderLimit = 16 * 1024;
constexpr size_t kReadChunk = 4096;
// After answering a request it will not read (413), the server drains what the client is still
// sending for a moment before closing, so that the close does not reset the connection and
// destroy the response in flight.
constexpr size_t kDrainLimit = size_t{1} << 20;
constexpr Millis kDrainTime{500};
constexpr Millis kAcceptRetry{50};

// Whether responders may still reach sessions. Stop() closes it before the I/O threads end, so a
// responder called late from another thread never touches a stopped server's io_context.
struct Gate {
  Mutex mu;
  bool open GUARDED_BY(mu) = true;
};

std::string FormatEndpoint(const tcp::endpoint& endpoint) {
  const asio::ip::address address = endpoint.address();
  if (address.is_v6()) return fmt::format("[{}]:{}", address.to_string(), endpoint.port());
  return fmt::format("{}:{}", address.to_string(), endpoint.port());
}

std::string_view View(beast::string_view s) { return std::string_view(s.data(), s.size()); }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Result<HttpRequest> ToHttpRequest(http::request<http::string_body>&& message, std::string remote) {
  HttpRequest request;
  request.method = std::string(View(message.method_string()));
  request.target = std::string(View(message.target()));
  if (Result<void> parsed = ParseTarget(request); !parsed) return std::unexpected(parsed.error());
  for (const auto& field : message) {
    std::string& value = request.headers[Lower(View(field.name_string()))];
    if (!value.empty()) value += ", ";
    value += View(field.value());
  }
  request.body = std::move(message.body());
  request.remote = std::move(remote);
  return request;
}

// A handler's header text must not end the header early (response splitting).
void CheckHeaderText(std::string_view text) {
  if (text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    throw std::invalid_argument("header contains CR, LF or NUL");
  }
}

bool IsHttpParseError(const beast::error_code& ec) {
  return &ec.category() == &http::make_error_code(http::error::bad_target).category();
}

class Server;

// One connection. Its handlers run on its strand; the server's registry owns it while it is
// open, so it survives while a handler holds only its responder.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Server* server);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void Start();
  // Closes the socket at once. REQUIRES: no I/O thread is running (Stop() after the join).
  void Abort();

 private:
  void ReadRequest();
  void ReadHeader();
  void OnHeader(beast::error_code ec);
  void ReadBody();
  // When the next body bytes must have arrived: see min_body_rate in http_server.h.
  std::chrono::steady_clock::time_point BodyDeadline() const;
  void OnReadError(beast::error_code ec);
  void Dispatch();
  std::function<void(HttpResponse)> MakeSend(std::shared_ptr<std::atomic<bool>> answered);
  void Deliver(HttpResponse response);
  void Reject(int status, std::string_view message);
  void Write(HttpResponse response, bool close);
  // Fills response_. Throws std::invalid_argument for a header that would break the framing.
  void Prepare(HttpResponse response, bool close);
  void OnWrite(beast::error_code ec, bool close);
  // A streamed body (HttpResponse::stream): the head, then each piece as a chunk, then close.
  void StartStream(HttpResponse response);
  void PumpStream();
  void OnStreamWrite(beast::error_code ec);
  void Linger();
  void Drain();
  void Close();

  Server* const server_;
  beast::tcp_stream stream_;
  std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::empty_body> continue_;
  http::response<http::string_body> response_;
  // While a streamed body is being sent.
  std::shared_ptr<HttpBodyStream> body_stream_;
  std::optional<http::response<http::empty_body>> stream_head_;
  std::optional<http::response_serializer<http::empty_body>> stream_serializer_;
  std::string stream_chunk_;     // the piece being written
  bool stream_writing_ = false;  // a write of the stream is in flight
  std::array<char, kReadChunk> scratch_;
  size_t drained_ = 0;
  std::chrono::steady_clock::time_point body_started_;
  size_t body_received_ = 0;  // of the current request, since body_started_
  bool first_request_ = true;
  bool awaiting_ = false;    // a handler owes the response to the current request
  bool keep_alive_ = false;  // the current request allows another after it
  bool head_ = false;        // the current request is a HEAD
  unsigned version_ = 11;    // of the current request
};

class Server final : public HttpServer {
 public:
  Server(const HttpServerOptions& options, HttpHandler handler)
      : options_(options),
        handler_(std::move(handler)),
        ioc_(std::max(1, options.threads)),
        work_(ioc_.get_executor()),
        acceptor_(asio::make_strand(ioc_)),
        accept_retry_(acceptor_.get_executor()) {}
  ~Server() override { Stop(); }

  Result<void> Listen();
  void Run();
  uint16_t port() const override { return port_; }
  void Stop() override;

  const HttpServerOptions& options() const { return options_; }
  const HttpHandler& handler() const { return handler_; }
  const std::shared_ptr<Gate>& gate() const { return gate_; }
  bool Register(std::shared_ptr<Session> session);
  void Unregister(Session* session);

 private:
  Result<tcp::endpoint> Resolve();
  void Accept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  void IoThread();

  // Constant after construction (port_ after Listen).
  const HttpServerOptions options_;
  const HttpHandler handler_;
  const std::shared_ptr<Gate> gate_ = std::make_shared<Gate>();
  uint16_t port_ = 0;

  // Declared before everything bound to it, so it is destroyed last.
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  tcp::acceptor acceptor_;           // used on its strand
  asio::steady_timer accept_retry_;  // on the acceptor's strand
  std::vector<std::thread> threads_;

  Mutex mu_;
  bool stopped_ GUARDED_BY(mu_) = false;
  std::unordered_map<Session*, std::shared_ptr<Session>> sessions_ GUARDED_BY(mu_);
};

// ---- Session -------------------------------------------------------------------------------

Session::Session(tcp::socket socket, Server* server) : server_(server), stream_(std::move(socket)) {
  beast::error_code ec;
  const tcp::endpoint peer = stream_.socket().remote_endpoint(ec);
  if (!ec) remote_ = FormatEndpoint(peer);
}

void Session::Start() {
  asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->ReadRequest(); });
}

void Session::ReadRequest() {
  parser_.emplace();
  parser_->header_limit(kHeaderLimit);
  parser_->body_limit(server_->options().max_body_bytes);
  if (first_request_ || buffer_.size() > 0) return ReadHeader();
  // An idle keep-alive connection waits up to idle_timeout; its header clock starts with the
  // first byte of the next request.
  stream_.expires_after(server_->options().idle_timeout);
  stream_.async_read_some(buffer_.prepare(kReadChunk),
                          [self = shared_from_this()](beast::error_code ec, size_t n) {
                            if (ec) return self->Close();
                            self->buffer_.commit(n);
                            self->ReadHeader();
                          });
}

void Session::ReadHeader() {
  first_request_ = false;
  stream_.expires_after(server_->options().header_timeout);
  http::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
}

void Session::OnHeader(beast::error_code ec) {
  if (ec) return OnReadError(ec);
  body_started_ = std::chrono::steady_clock::now();
  body_received_ = 0;
  const auto& header = parser_->get();
  if (parser_->is_done() || !beast::iequals(header[http::field::expect], "100-continue")) {
    return ReadBody();
  }
  continue_ = http::response<http::empty_body>(http::status::continue_, header.version());
  stream_.expires_after(server_->options().idle_timeout);
  http::async_write(stream_, continue_, [self = shared_from_this()](beast::error_code ec, size_t) {
    if (ec) return self->Close();
    self->body_started_ = std::chrono::steady_clock::now();
    self->ReadBody();
  });
}

std::chrono::steady_clock::time_point Session::BodyDeadline() const {
  const HttpServerOptions& o = server_->options();
  const auto idle = std::chrono::steady_clock::now() + o.idle_timeout;
  if (o.min_body_rate == 0) return idle;
  const Millis earned(static_cast<int64_t>(body_received_ * 1000 / o.min_body_rate));
  return std::min(idle, body_started_ + o.header_timeout + earned);
}

void Session::ReadBody() {
  if (parser_->is_done()) return Dispatch();
  stream_.expires_at(BodyDeadline());
  http::async_read_some(stream_, buffer_, *parser_,
                        [self = shared_from_this()](beast::error_code ec, size_t n) {
                          if (ec) return self->OnReadError(ec);
                          self->body_received_ += n;
                          self->ReadBody();
                        });
}

void Session::OnReadError(beast::error_code ec) {
  if (ec == http::error::body_limit) return Reject(413, "request body too large");
  if (ec == http::error::header_limit) return Reject(431, "request header too large");
  if (ec == http::error::end_of_stream || ec == http::error::partial_message) return Close();
  if (IsHttpParseError(ec)) return Reject(400, "malformed request: " + ec.message());
  Close();  // timeout, reset, or the server closing
}

void Session::Dispatch() {
  http::request<http::string_body> message = parser_->release();
  keep_alive_ = message.keep_alive();
  version_ = message.version();
  head_ = message.method() == http::verb::head;
  awaiting_ = true;
  stream_.expires_never();
  Result<HttpRequest> request = ToHttpRequest(std::move(message), remote_);
  if (!request) return Deliver(HttpResponse::FromError(request.error()));

  auto answered = std::make_shared<std::atomic<bool>>(false);
  // An exception usually unwinds through the responder, which then answers with a 500 itself;
  // this catch answers for a handler that threw after storing its responder elsewhere.
  try {
    server_->handler()(std::move(*request), HttpResponder(MakeSend(answered)));
  } catch (const std::exception& e) {
    if (!answered->exchange(true)) {
      Deliver(HttpResponse::ErrorJson(500, Code::kInternal,
                                      std::string("internal error: ") + e.what()));
    }
  } catch (...) {
    if (!answered->exchange(true)) {
      Deliver(HttpResponse::ErrorJson(500, Code::kInternal, "internal error: unknown exception"));
    }
  }
}

std::function<void(HttpResponse)> Session::MakeSend(std::shared_ptr<std::atomic<bool>> answered) {
  return [gate = server_->gate(), weak = weak_from_this(), answered](HttpResponse response) {
    if (answered->exchange(true)) return;
    MutexLock lock(gate->mu);
    if (!gate->open) return;
    std::shared_ptr<Session> self = weak.lock();
    if (!self) return;
    asio::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
      self->Deliver(std::move(response));
    });
  };
}

void Session::Deliver(HttpResponse response) {
  if (!awaiting_) return;
  awaiting_ = false;
  Write(std::move(response), !keep_alive_);
}

void Session::Reject(int status, std::string_view message) {
  version_ = 11;
  head_ = false;
  Write(HttpResponse::ErrorJson(status, Code::kInvalidArgument, message), /*close=*/true);
}

void Session::Write(HttpResponse response, bool close) {
  if (response.stream && !head_) {
    try {
      return StartStream(std::move(response));
    } catch (const std::exception& e) {
      response = HttpResponse::ErrorJson(500, Code::kInternal,
                                         std::string("internal error: bad response: ") + e.what());
    }
  }
  try {
    Prepare(std::move(response), close);
  } catch (const std::exception& e) {
    Prepare(HttpResponse::ErrorJson(500, Code::kInternal,
                                    std::string("internal error: bad response: ") + e.what()),
            close);
  }
  stream_.expires_after(server_->options().idle_timeout);
  http::async_write(stream_, response_,
                    [self = shared_from_this(), close](beast::error_code ec, size_t) {
                      self->OnWrite(ec, close);
                    });
}

void Session::Prepare(HttpResponse response, bool close) {
  CheckHeaderText(response.content_type);
  for (const auto& [name, value] : response.headers) {
    CheckHeaderText(name);
    CheckHeaderText(value);
  }
  response_ = http::response<http::string_body>();
  response_.version(version_);
  const bool valid_status = response.status >= 200 && response.status <= 999;
  response_.result(static_cast<unsigned>(valid_status ? response.status : 500));
  response_.set(http::field::server, "podfleet");
  if (!response.content_type.empty()) {
    response_.set(http::field::content_type, response.content_type);
  }
  for (const auto& [name, value] : response.headers) response_.insert(name, value);
  response_.body() = std::move(response.body);
  response_.keep_alive(!close);
  response_.prepare_payload();
  if (head_) response_.body().clear();  // Content-Length stays that of the GET
}

void Session::StartStream(HttpResponse response) {
  CheckHeaderText(response.content_type);
  for (const auto& [name, value] : response.headers) {
    CheckHeaderText(name);
    CheckHeaderText(value);
  }
  auto& head = stream_head_.emplace();
  head.version(version_);
  const bool valid_status = response.status >= 200 && response.status <= 999;
  head.result(static_cast<unsigned>(valid_status ? response.status : 500));
  head.set(http::field::server, "podfleet");
  if (!response.content_type.empty()) head.set(http::field::content_type, response.content_type);
  for (const auto& [name, value] : response.headers) head.insert(name, value);
  head.keep_alive(false);
  head.chunked(true);
  body_stream_ = std::move(response.stream);
  stream_serializer_.emplace(head);
  stream_writing_ = true;
  stream_.expires_after(server_->options().idle_timeout);
  http::async_write_header(
      stream_, *stream_serializer_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnStreamWrite(ec); });
  body_stream_->OnReady([weak = weak_from_this()] {
    if (std::shared_ptr<Session> self = weak.lock()) {
      asio::post(self->stream_.get_executor(), [self] { self->PumpStream(); });
    }
  });
}

void Session::PumpStream() {
  if (stream_writing_ || !body_stream_) return;
  auto [data, ended] = body_stream_->Take();
  auto done = [self = shared_from_this()](beast::error_code ec, size_t) {
    self->OnStreamWrite(ec);
  };
  if (!data.empty()) {
    stream_chunk_ = std::move(data);
    stream_writing_ = true;
    stream_.expires_after(server_->options().idle_timeout);
    asio::async_write(stream_, http::make_chunk(asio::buffer(stream_chunk_)), std::move(done));
  } else if (ended) {
    body_stream_->OnReady({});
    body_stream_.reset();
    stream_writing_ = true;
    stream_.expires_after(server_->options().idle_timeout);
    asio::async_write(stream_, http::make_chunk_last(),
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->Close();
                        self->Linger();
                      });
  } else {
    stream_.expires_never();  // the handler takes its time between pieces
  }
}

void Session::OnStreamWrite(beast::error_code ec) {
  stream_writing_ = false;
  if (ec) {
    if (body_stream_) body_stream_->OnReady({});
    body_stream_.reset();
    return Close();
  }
  PumpStream();
}

void Session::OnWrite(beast::error_code ec, bool close) {
  if (ec) return Close();
  if (close) return Linger();
  ReadRequest();
}

void Session::Linger() {
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) return Close();
  stream_.expires_after(kDrainTime);
  Drain();
}

void Session::Drain() {
  stream_.async_read_some(asio::buffer(scratch_),
                          [self = shared_from_this()](beast::error_code ec, size_t n) {
                            self->drained_ += n;
                            if (ec || self->drained_ > kDrainLimit) return self->Close();
                            self->Drain();
                          });
}

void Session::Abort() {
  beast::error_code ec;
  stream_.socket().close(ec);
}

void Session::Close() {
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream_.close();
  server_->Unregister(this);
}

// ---- Server --------------------------------------------------------------------------------

Result<tcp::endpoint> Server::Resolve() {
  beast::error_code ec;
  const asio::ip::address address = asio::ip::make_address(options_.host, ec);
  if (!ec) return tcp::endpoint(address, options_.port);
  tcp::resolver resolver(ioc_);
  auto results = resolver.resolve(options_.host, std::to_string(options_.port), ec);
  if (ec || results.empty()) {
    return Unavailable(
        fmt::format("resolve {}: {}", options_.host, ec ? ec.message() : "no address"));
  }
  return results.begin()->endpoint();
}

Result<void> Server::Listen() {
  Result<tcp::endpoint> endpoint = Resolve();
  if (!endpoint) return std::unexpected(endpoint.error());
  beast::error_code ec;
  acceptor_.open(endpoint->protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(*endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) port_ = acceptor_.local_endpoint(ec).port();
  if (ec) {
    return Unavailable(
        fmt::format("listen on {}:{}: {}", options_.host, options_.port, ec.message()));
  }
  return {};
}

void Server::Run() {
  Accept();
  const int threads = std::max(1, options_.threads);
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { IoThread(); });
}

void Server::IoThread() {
  for (;;) {
    try {
      ioc_.run();
      return;
    } catch (const std::exception& e) {
      // A bug in a completion handler; that connection is lost, the server goes on.
      std::fprintf(stderr, "podfleet: http server: %s\n", e.what());
    }
  }
}

void Server::Accept() {
  acceptor_.async_accept(asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    OnAccept(ec, std::move(socket));
  });
}

void Server::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted) return;
  if (ec) {
    // Out of descriptors or similar: pause rather than spin.
    accept_retry_.expires_after(kAcceptRetry);
    accept_retry_.async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec) Accept();
    });
    return;
  }
  auto session = std::make_shared<Session>(std::move(socket), this);
  if (Register(session)) session->Start();
  Accept();
}

bool Server::Register(std::shared_ptr<Session> session) {
  MutexLock lock(mu_);
  if (stopped_) return false;
  Session* key = session.get();
  sessions_.emplace(key, std::move(session));
  return true;
}

void Server::Unregister(Session* session) {
  std::shared_ptr<Session> last;  // destroyed outside the lock
  MutexLock lock(mu_);
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  last = std::move(it->second);
  sessions_.erase(it);
}

void Server::Stop() {
  {
    MutexLock lock(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  {
    MutexLock lock(gate_->mu);
    gate_->open = false;
  }
  ioc_.stop();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
  beast::error_code ec;
  acceptor_.close(ec);
  std::unordered_map<Session*, std::shared_ptr<Session>> sessions;
  {
    MutexLock lock(mu_);
    sessions.swap(sessions_);
  }
  // Handlers queued in the stopped io_context still hold some sessions; those die with it.
  for (auto& [raw, session] : sessions) session->Abort();
}

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                      HttpHandler handler) {
  if (!handler) return InvalidArgument("http server: no handler");
  auto server = std::make_unique<Server>(options, std::move(handler));
  if (Result<void> listening = server->Listen(); !listening) {
    return std::unexpected(listening.error());
  }
  server->Run();
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace podfleet
