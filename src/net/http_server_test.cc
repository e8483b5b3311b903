#include "net/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "net/http_client.h"

namespace podfleet {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// A blocking TCP connection to 127.0.0.1 for speaking raw HTTP to the server.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;
  ~RawConnection() { ::close(fd_); }

  bool connected() const { return connected_; }

  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // One whole response (head and Content-Length body, none when `head_only`); empty on close or
  // timeout.
  std::string ReadResponse(Millis timeout = 2000ms, bool head_only = false) {
    const auto deadline = SteadyClock::now() + timeout;
    size_t head_end;
    while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(deadline)) return {};
    }
    const size_t total =
        head_end + 4 + (head_only ? 0 : ContentLength(buffer_.substr(0, head_end)));
    while (buffer_.size() < total) {
      if (!Fill(deadline)) return {};
    }
    std::string response = buffer_.substr(0, total);
    buffer_.erase(0, total);
    return response;
  }

  // Reads until `needle` has arrived; true when it did within `timeout`. Keeps the bytes.
  bool WaitFor(std::string_view needle, Millis timeout = 2000ms) {
    const auto deadline = SteadyClock::now() + timeout;
    while (buffer_.find(needle) == std::string::npos) {
      if (!Fill(deadline)) return false;
    }
    return true;
  }
  const std::string& received() const { return buffer_; }

  // Whether the server closes the connection within `timeout` (reading and dropping any bytes).
  bool WaitClosed(Millis timeout) {
    const auto deadline = SteadyClock::now() + timeout;
    while (Fill(deadline)) {
    }
    return !timed_out_;
  }

 private:
  static size_t ContentLength(std::string_view head) {
    std::string lower(head);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const size_t at = lower.find("content-length:");
    return at == std::string::npos ? 0 : std::stoul(lower.substr(at + 15));
  }

  // Reads more bytes; false on close, error or deadline.
  bool Fill(SteadyClock::time_point deadline) {
    const auto left = std::chrono::duration_cast<Millis>(deadline - SteadyClock::now());
    pollfd p{fd_, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      timed_out_ = true;
      return false;
    }
    char chunk[4096];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_;
  bool connected_ = false;
  bool timed_out_ = false;
  std::string buffer_;
};

// Answers with the request it saw, one "key=value" per line.
void Echo(HttpRequest request, HttpResponder respond) {
  std::string body = "method=" + request.method + "\npath=" + request.path + "\n";
  for (const auto& [k, v] : request.query) body += "q." + k + "=" + v + "\n";
  body += "x-test=" + std::string(request.Header("x-test")) + "\n";
  body += "remote=" + request.remote + "\n";
  body += "body=" + request.body;
  respond(HttpResponse::Text(200, body));
}

class HttpServerTest : public ::testing::Test {
 protected:
  void Start(HttpHandler handler, HttpServerOptions options = {}) {
    options.port = 0;
    auto server = HttpServer::Start(options, std::move(handler));
    ASSERT_TRUE(server) << server.error().ToString();
    server_ = std::move(*server);
  }
  std::string Url(std::string_view target) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + std::string(target);
  }
  Result<HttpResponse> Get(std::string_view target) { return client_->Send({.url = Url(target)}); }

  std::unique_ptr<HttpClient> client_ = MakeCurlClient({.timeout = Millis(5000)});
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, GetAndPostRoundTripThroughTheRealClient) {
  Start(Echo);
  auto get = Get("/hello");
  ASSERT_TRUE(get) << get.error().ToString();
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->content_type, "text/plain; charset=utf-8");
  EXPECT_NE(get->body.find("method=GET\npath=/hello\n"), std::string::npos) << get->body;

  auto post = client_->Send({.method = "POST",
                             .url = Url("/api/things"),
                             .headers = {{"X-Test", "yes"}},
                             .body = std::string(5000, 'b'),
                             .content_type = "application/json"});
  ASSERT_TRUE(post) << post.error().ToString();
  EXPECT_EQ(post->status, 200);
  EXPECT_NE(post->body.find("method=POST\n"), std::string::npos);
  EXPECT_NE(post->body.find("x-test=yes\n"), std::string::npos);
  EXPECT_NE(post->body.find("body=" + std::string(5000, 'b')), std::string::npos);
  bool saw_server = false;
  for (const auto& [name, value] : post->headers)
    saw_server |= name == "server" && value == "podfleet";
  EXPECT_TRUE(saw_server);
}

TEST_F(HttpServerTest, DecodesPathAndQueryAndFillsRemote) {
  Start(Echo);
  auto r = Get("/a%20b/c%2Fd?x=1+2&y=%26z&empty=&flag&x2=%E2%82%AC");
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_NE(r->body.find("path=/a b/c/d\n"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("q.x=1 2\n"), std::string::npos);
  EXPECT_NE(r->body.find("q.y=&z\n"), std::string::npos);
  EXPECT_NE(r->body.find("q.empty=\n"), std::string::npos);
  EXPECT_NE(r->body.find("q.flag=\n"), std::string::npos);
  EXPECT_NE(r->body.find("q.x2=\xe2\x82\xac\n"), std::string::npos);
  EXPECT_NE(r->body.find("remote=127.0.0.1:"), std::string::npos);
}

TEST_F(HttpServerTest, MalformedPercentEncodingIs400) {
  Start(Echo);
  auto path = Get("/a%zz");
  ASSERT_TRUE(path);
  EXPECT_EQ(path->status, 400);
  EXPECT_NE(path->body.find(R"("code":"invalid_argument")"), std::string::npos);
  auto query = Get("/a?x=%4");
  ASSERT_TRUE(query);
  EXPECT_EQ(query->status, 400);
}

TEST_F(HttpServerTest, ServesManyRequestsOnOneKeepAliveConnection) {
  std::mutex mu;
  std::set<std::string> remotes;
  Start([&](HttpRequest request, HttpResponder respond) {
    {
      std::lock_guard lock(mu);
      remotes.insert(request.remote);
    }
    respond(HttpResponse::Text(200, request.path));
  });
  RawConnection conn(server_->port());
  ASSERT_TRUE(conn.connected());
  for (int i = 0; i < 50; ++i) {
    const std::string path = "/n" + std::to_string(i);
    ASSERT_TRUE(conn.Send("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    const std::string response = conn.ReadResponse();
    ASSERT_TRUE(response.starts_with("HTTP/1.1 200 OK\r\n")) << response;
    EXPECT_TRUE(response.ends_with("\r\n\r\n" + path)) << response;
    EXPECT_EQ(response.find("Connection: close"), std::string::npos);
  }
  EXPECT_EQ(remotes.size(), 1u);
}

TEST_F(HttpServerTest, AnswersPipelinedRequestsInOrder) {
  Start([](HttpRequest request, HttpResponder respond) {
    respond(HttpResponse::Text(200, request.path));
  });
  RawConnection conn(server_->port());
  ASSERT_TRUE(conn.Send("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(conn.ReadResponse().ends_with("/1"));
  EXPECT_TRUE(conn.ReadResponse().ends_with("/2"));
}

TEST_F(HttpServerTest, StreamedBodyIsSentPieceByPieceThenClosed) {
  std::promise<std::shared_ptr<HttpBodyStream>> handed;
  Start([&](HttpRequest, HttpResponder respond) {
    HttpResponse r;
    r.content_type = "text/event-stream";
    r.headers.emplace_back("Cache-Control", "no-cache");
    r.stream = std::make_shared<HttpBodyStream>();
    r.stream->Write("data: one\n\n");
    handed.set_value(r.stream);
    respond(std::move(r));
  });
  RawConnection conn(server_->port());
  ASSERT_TRUE(conn.Send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::shared_ptr<HttpBodyStream> stream = handed.get_future().get();
  // The first piece arrives while the handler still holds the stream open.
  ASSERT_TRUE(conn.WaitFor("data: one\n\n\r\n")) << conn.received();
  EXPECT_NE(conn.received().find("Transfer-Encoding: chunked\r\n"), std::string::npos);
  EXPECT_NE(conn.received().find("Content-Type: text/event-stream\r\n"), std::string::npos);
  EXPECT_EQ(conn.received().find("data: two"), std::string::npos);
  stream->Write("data: two\n\n");
  stream->End();
  stream->Write("ignored after the end");
  ASSERT_TRUE(conn.WaitFor("\r\n0\r\n\r\n")) << conn.received();
  EXPECT_NE(conn.received().find("b\r\ndata: two\n\n\r\n"), std::string::npos) << conn.received();
  EXPECT_EQ(conn.received().find("ignored"), std::string::npos);
  EXPECT_TRUE(conn.WaitClosed(1000ms));
  // The server goes on serving.
  auto next = Get("/");
  ASSERT_TRUE(next);
}

TEST_F(HttpServerTest, StreamWhoseClientLeftSwallowsWrites) {
  std::promise<std::shared_ptr<HttpBodyStream>> handed;
  Start([&](HttpRequest, HttpResponder respond) {
    HttpResponse r;
    r.stream = std::make_shared<HttpBodyStream>();
    handed.set_value(r.stream);
    respond(std::move(r));
  });
  std::shared_ptr<HttpBodyStream> stream;
  {
    RawConnection conn(server_->port());
    ASSERT_TRUE(conn.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    stream = handed.get_future().get();
    ASSERT_FALSE(conn.ReadResponse(2000ms, /*head_only=*/true).empty());
  }
  for (int i = 0; i < 100; ++i) stream->Write(std::string(1000, 'x'));
  stream->End();  // nothing to assert but that this neither blocks nor crashes the server
  server_->Stop();
}

TEST_F(HttpServerTest, ClosesWhenTheClientAsks) {
  Start(Echo);
  RawConnection conn(server_->port());
  ASSERT_TRUE(conn.Send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  const std::string response = conn.ReadResponse();
  EXPECT_NE(response.find("Connection: close\r\n"), std::string::npos) << response;
  EXPECT_TRUE(conn.WaitClosed(1000ms));
}

TEST_F(HttpServerTest, OversizedBodyIs413AndTheNextClientIsServed) {
  Start(Echo, {.max_body_bytes = 1024});
  {
    RawConnection conn(server_->port());
    ASSERT_TRUE(conn.Send("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"));
    const std::string response = conn.ReadResponse();
    EXPECT_TRUE(response.starts_with("HTTP/1.1 413 ")) << response;
    EXPECT_NE(response.find("Connection: close\r\n"), std::string::npos);
    EXPECT_TRUE(response.ends_with(
        R"({"error":{"code":"invalid_argument","message":"request body too large"}})"));
    EXPECT_TRUE(conn.WaitClosed(1000ms));
  }
  auto big = client_->Send({.method = "POST", .url = Url("/up"), .body = std::string(4096, 'x')});
  ASSERT_TRUE(big) << big.error().ToString();
  EXPECT_EQ(big->status, 413);
  auto small = client_->Send({.method = "POST", .url = Url("/up"), .body = std::string(1024, 'x')});
  ASSERT_TRUE(small) << small.error().ToString();
  EXPECT_EQ(small->status, 200);
}

TEST_F(HttpServerTest, OversizedChunkedBodyIs413) {
  Start(Echo, {.max_body_bytes = 16});
  RawConnection conn(server_->port());
  ASSERT_TRUE(conn.Send("POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n" +
                        std::string(32, 'y') + "\r\n0\r\n\r\n"));
  EXPECT_TRUE(conn.ReadResponse().starts_with("HTTP/1.1 413 "));
}

TEST_F(HttpServerTest, GarbageRequestIs400AndClosed) {
  Start(Echo);
  RawConnection conn(server_->port());
  ASSERT_TRUE(conn.Send("\x01\x02 nonsense \xff\r\n\r\n"));
  const std::string response = conn.ReadResponse();
  EXPECT_TRUE(response.starts_with("HTTP/1.1 400 ")) << response;
  EXPECT_TRUE(conn.WaitClosed(1000ms));
  EXPECT_EQ(Get("/")->status, 200);
}

TEST_F(HttpServerTest, OversizedHeadersAre431) {
  Start(Echo);
  RawConnection conn(server_->port());
  ASSERT_TRUE(conn.Send("GET / HTTP/1.1\r\nX-Big: " + std::string(20000, 'h') + "\r\n\r\n"));
  EXPECT_TRUE(conn.ReadResponse().starts_with("HTTP/1.1 431 "));
}

TEST_F(HttpServerTest, HandlerExceptionIs500AndServingGoesOn) {
  Start([](HttpRequest request, HttpResponder respond) {
    if (request.path == "/boom") throw std::runtime_error("kaput");
    respond(HttpResponse::Text(200, "fine"));
  });
  auto boom = Get("/boom");
  ASSERT_TRUE(boom) << boom.error().ToString();
  EXPECT_EQ(boom->status, 500);
  EXPECT_EQ(boom->content_type, "application/json");
  EXPECT_NE(boom->body.find(R"("code":"internal")"), std::string::npos);
  auto fine = Get("/");
  ASSERT_TRUE(fine);
  EXPECT_EQ(fine->status, 200);
}

TEST_F(HttpServerTest, InvalidResponseStatusIsSentAs500) {
  Start([](HttpRequest, HttpResponder respond) { respond(HttpResponse::Text(1000, "odd")); });
  auto r = Get("/");
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(Get("/")->status, 500);
}

TEST_F(HttpServerTest, HeaderThatWouldSplitTheResponseIsSentAs500) {
  Start([](HttpRequest, HttpResponder respond) {
    HttpResponse r = HttpResponse::Text(302, "");
    r.headers.emplace_back("Location", "/x\r\nSet-Cookie: evil=1");
    respond(std::move(r));
  });
  auto r = Get("/");
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->status, 500);
  for (const auto& [name, value] : r->headers) EXPECT_NE(name, "set-cookie");
}

TEST_F(HttpServerTest, HandlerThatKeptItsResponderAndThrewIs500WithTheMessage) {
  std::mutex mu;
  std::vector<HttpResponder> kept;
  Start([&](HttpRequest, HttpResponder respond) {
    {
      std::lock_guard lock(mu);
      kept.push_back(std::move(respond));
    }
    throw std::runtime_error("kaput");
  });
  auto r = Get("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_NE(r->body.find("kaput"), std::string::npos) << r->body;
  std::lock_guard lock(mu);
  kept.front()(HttpResponse::Text(200, "too late"));  // ignored
}

TEST_F(HttpServerTest, SlowHeadersAreCutOffWhileOthersAreServed) {
  Start(Echo, {.header_timeout = Millis(300)});
  RawConnection slow(server_->port());
  ASSERT_TRUE(slow.Send("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "));
  const auto start = SteadyClock::now();
  auto other = Get("/other");
  ASSERT_TRUE(other) << other.error().ToString();
  EXPECT_EQ(other->status, 200);
  EXPECT_TRUE(slow.WaitClosed(1500ms));
  const auto waited = SteadyClock::now() - start;
  EXPECT_GE(waited, 250ms);
  EXPECT_LT(waited, 1500ms);
}

TEST_F(HttpServerTest, TrickledBodyIsCutOffWhileOthersAreServed) {
  Start(Echo, {.header_timeout = Millis(300), .min_body_rate = 1000});
  RawConnection slow(server_->port());
  ASSERT_TRUE(slow.Send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"));
  const auto start = SteadyClock::now();
  bool closed = false;
  // 10 bytes every 100 ms is 100 bytes a second, a tenth of the minimum.
  while (!closed && SteadyClock::now() - start < 3000ms) {
    if (!slow.Send("0123456789")) break;
    auto other = Get("/other");
    ASSERT_TRUE(other) << other.error().ToString();
    EXPECT_EQ(other->status, 200);
    closed = slow.WaitClosed(100ms);
  }
  const auto waited = SteadyClock::now() - start;
  EXPECT_GE(waited, 250ms);
  EXPECT_LT(waited, 2000ms);
}

TEST_F(HttpServerTest, BodyAtTheMinimumRateIsRead) {
  Start(Echo, {.header_timeout = Millis(300), .min_body_rate = 1000});
  RawConnection conn(server_->port());
  ASSERT_TRUE(conn.Send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1200\r\n\r\n"));
  // 200 bytes every 100 ms: twice the minimum, for 0.6 s, past the grace period.
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(conn.Send(std::string(200, 'b')));
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(conn.ReadResponse().starts_with("HTTP/1.1 200"));
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosed) {
  Start(Echo, {.idle_timeout = Millis(200)});
  RawConnection conn(server_->port());
  ASSERT_TRUE(conn.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(conn.ReadResponse().starts_with("HTTP/1.1 200"));
  EXPECT_TRUE(conn.WaitClosed(1500ms));
}

TEST_F(HttpServerTest, HonoursExpectContinue) {
  Start(Echo);
  RawConnection conn(server_->port());
  ASSERT_TRUE(
      conn.Send("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
  EXPECT_EQ(conn.ReadResponse(), "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(conn.Send("hello"));
  EXPECT_TRUE(conn.ReadResponse().ends_with("body=hello"));
}

TEST_F(HttpServerTest, DeferredResponderAnswersFromAnotherThread) {
  std::mutex mu;
  std::vector<std::thread> threads;
  Start([&](HttpRequest request, HttpResponder respond) {
    std::lock_guard lock(mu);
    threads.emplace_back([path = request.path, respond = std::move(respond)]() mutable {
      std::this_thread::sleep_for(100ms);
      respond(HttpResponse::Text(200, "late " + path));
    });
  });
  const auto start = SteadyClock::now();
  auto r = Get("/poll");
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "late /poll");
  EXPECT_GE(SteadyClock::now() - start, 100ms);
  std::lock_guard lock(mu);
  for (std::thread& t : threads) t.join();
}

TEST_F(HttpServerTest, DroppedResponderIs500) {
  Start([](HttpRequest, HttpResponder) {});
  auto r = Get("/");
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->status, 500);
  EXPECT_NE(r->body.find(R"({"error":{"code":"internal")"), std::string::npos);
}

TEST_F(HttpServerTest, ResponderOutlivingTheServerDoesNothing) {
  std::mutex mu;
  std::vector<HttpResponder> kept;
  Start([&](HttpRequest, HttpResponder respond) {
    std::lock_guard lock(mu);
    kept.push_back(std::move(respond));
  });
  RawConnection first(server_->port());
  RawConnection second(server_->port());
  ASSERT_TRUE(first.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(second.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto count = [&] {
    std::lock_guard lock(mu);
    return kept.size();
  };
  for (int i = 0; i < 400 && count() < 2; ++i) std::this_thread::sleep_for(5ms);
  server_->Stop();
  EXPECT_TRUE(first.WaitClosed(1000ms));
  ASSERT_EQ(kept.size(), 2u);
  kept[0](HttpResponse::Text(200, "after stop"));
  server_.reset();
  kept.clear();  // kept[1] dropped after its server is gone
}

TEST_F(HttpServerTest, StopIsIdempotentAndClosesConnections) {
  Start(Echo);
  RawConnection conn(server_->port());
  ASSERT_TRUE(conn.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_FALSE(conn.ReadResponse().empty());
  server_->Stop();
  server_->Stop();
  EXPECT_TRUE(conn.WaitClosed(1000ms));
  EXPECT_FALSE(Get("/"));
}

TEST_F(HttpServerTest, StartOnABusyPortIsUnavailable) {
  Start(Echo);
  HttpServerOptions options;
  options.port = server_->port();
  auto second = HttpServer::Start(options, Echo);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Code::kUnavailable);
}

TEST_F(HttpServerTest, HeadGetsHeadersWithoutBody) {
  Start([](HttpRequest, HttpResponder respond) { respond(HttpResponse::Text(200, "12345")); });
  RawConnection conn(server_->port());
  ASSERT_TRUE(conn.Send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  const std::string head = conn.ReadResponse(2000ms, /*head_only=*/true);
  EXPECT_TRUE(head.starts_with("HTTP/1.1 200 OK\r\n")) << head;
  EXPECT_NE(head.find("Content-Length: 5\r\n"), std::string::npos) << head;
  // No body follows the HEAD's head: the next bytes are the GET's response.
  const std::string get = conn.ReadResponse();
  EXPECT_TRUE(get.starts_with("HTTP/1.1 200 OK\r\n")) << get;
  EXPECT_TRUE(get.ends_with("\r\n\r\n12345")) << get;
}

}  // namespace
}  // namespace podfleet
