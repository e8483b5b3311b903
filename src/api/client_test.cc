// CoordinatorClient's failover across a list of coordinators, against real HTTP servers on
// loopback: one that is gone (nothing listens on its port), ones that accept and hang up, ones
// that answer 502/503 as a proxy or an unhealthy coordinator does, and a live one.
#include "api/client.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "net/http_server.h"

namespace podfleet {
namespace {

std::string UrlOf(uint16_t port) { return "http://127.0.0.1:" + std::to_string(port); }

// A coordinator stand-in that answers every request with `status` and counts what it got.
class Stub {
 public:
  explicit Stub(int status) : status_(status) {
    auto server = HttpServer::Start({.port = 0}, [this](HttpRequest r, HttpResponder respond) {
      ++requests;
      last_path = r.path;
      if (status_ == 200) return respond(HttpResponse::Json(200, R"({"heartbeat_ms":1000})"));
      respond(HttpResponse::ErrorJson(status_, Code::kUnavailable, "stub says no"));
    });
    EXPECT_TRUE(server) << server.error().ToString();
    server_ = std::move(*server);
  }
  std::string url() const { return UrlOf(server_->port()); }

  std::atomic<int> requests{0};
  std::string last_path;

 private:
  const int status_;
  std::unique_ptr<HttpServer> server_;
};

// The URL of a port nothing listens on any more (connection refused).
std::string DeadUrl() {
  auto server = HttpServer::Start({.port = 0}, [](HttpRequest, HttpResponder) {});
  EXPECT_TRUE(server);
  return UrlOf((*server)->port());
}

// Accepts connections and closes each at once, unanswered: the connection a proxy cuts.
class HangUp {
 public:
  HangUp() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      while (true) {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        ++accepted;
        ::close(c);
      }
    });
  }
  ~HangUp() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url() const { return UrlOf(port_); }

  std::atomic<int> accepted{0};

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

class CoordinatorFailover : public ::testing::Test {
 protected:
  // Records every move the client makes.
  void Watch(CoordinatorClient& client) {
    client.set_failover_observer([this](const std::string& from, const std::string& to,
                                        const Error&) { moves_.push_back(from + " -> " + to); });
  }

  std::unique_ptr<HttpClient> http_ = MakeCurlClient({.timeout = Millis(5000)});
  std::vector<std::string> moves_;
};

TEST(ParseCoordinatorUrls, TakesOneUrlOrACommaSeparatedList) {
  auto one = ParseCoordinatorUrls("http://a:8750/");
  ASSERT_TRUE(one) << one.error().ToString();
  EXPECT_EQ(*one, std::vector<std::string>{"http://a:8750"});
  auto list = ParseCoordinatorUrls("http://a:8750, https://b:8750/ ,http://c");
  ASSERT_TRUE(list) << list.error().ToString();
  EXPECT_EQ(*list, (std::vector<std::string>{"http://a:8750", "https://b:8750", "http://c"}));
}

TEST(ParseCoordinatorUrls, RefusesEmptyEntriesAndOtherSchemes) {
  for (const char* bad :
       {"", "http://a,", ",http://a", "http://a,,http://b", "a:8750", "http://a,ftp://b"}) {
    auto r = ParseCoordinatorUrls(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, Code::kInvalidArgument) << bad;
  }
}

TEST_F(CoordinatorFailover, OneUrlStillWorksAlone) {
  Stub live(200);
  CoordinatorClient client(live.url(), *http_);
  ASSERT_EQ(client.base_urls().size(), 1u);
  auto hb = client.Heartbeat({});
  ASSERT_TRUE(hb) << hb.error().ToString();
  EXPECT_EQ(live.requests, 1);
}

// A coordinator from before Complete's "claim" field answers a plain completion: the caller is
// told to claim on its own, not handed an empty list (which would mean "no work").
TEST_F(CoordinatorFailover, CompleteAndClaimAtAnOlderCoordinatorLeavesTheClaimToTheCaller) {
  Stub older(200);
  CoordinatorClient client(older.url(), *http_);
  auto next = client.CompleteAndClaim(Lease{JobId(7), AttemptId(1), NodeId(1), {}}, Transcript{},
                                      Millis(-1), 1, Millis(0));
  ASSERT_TRUE(next) << next.error().ToString();
  EXPECT_FALSE(next->has_value());
  EXPECT_EQ(older.last_path, "/api/jobs/7/complete");
}

TEST_F(CoordinatorFailover, MovesToTheNextWhenNothingListensAndStaysThere) {
  Stub live(200);
  const std::string dead = DeadUrl();
  CoordinatorClient client(dead + "," + live.url(), *http_);
  Watch(client);
  auto hb = client.Heartbeat({});
  ASSERT_TRUE(hb) << hb.error().ToString();
  EXPECT_EQ(client.base_url(), live.url());
  EXPECT_EQ(moves_, std::vector<std::string>{dead + " -> " + live.url()});
  // The calls after it go straight to the coordinator that answered.
  Lease lease{JobId(7), AttemptId(3), NodeId(1), {}};
  ASSERT_TRUE(client.Complete(lease, Transcript{}));
  ASSERT_TRUE(client.Release(lease));
  EXPECT_EQ(live.requests, 3);
  EXPECT_EQ(live.last_path, "/api/jobs/7/release");
  EXPECT_EQ(moves_.size(), 1u);
}

TEST_F(CoordinatorFailover, ACutConnectionMovesOn) {
  HangUp cut;
  Stub live(200);
  CoordinatorClient client(std::vector<std::string>{cut.url(), live.url()}, *http_);
  Lease lease{JobId(1), AttemptId(1), NodeId(1), {}};
  auto done = client.Complete(lease, Transcript{});
  ASSERT_TRUE(done) << done.error().ToString();
  EXPECT_GE(cut.accepted, 1);
  EXPECT_EQ(live.requests, 1);
  EXPECT_EQ(live.last_path, "/api/jobs/1/complete");
}

TEST_F(CoordinatorFailover, GatewayErrorsMoveOnInOrder) {
  Stub bad_gateway(502), unavailable(503), timeout(504), live(200);
  CoordinatorClient client(
      bad_gateway.url() + "," + unavailable.url() + "," + timeout.url() + "," + live.url(), *http_);
  Watch(client);
  auto hb = client.Heartbeat({});
  ASSERT_TRUE(hb) << hb.error().ToString();
  EXPECT_EQ(bad_gateway.requests, 1);
  EXPECT_EQ(unavailable.requests, 1);
  EXPECT_EQ(timeout.requests, 1);
  EXPECT_EQ(live.requests, 1);
  EXPECT_EQ(moves_, std::vector<std::string>{bad_gateway.url() + " -> " + live.url()});
}

// A coordinator that answered, even with a refusal, decided the call: a 409 (lease lost) is not
// asked again of another coordinator, nor is a 404.
TEST_F(CoordinatorFailover, AnAnswerOtherThanAGatewayErrorIsFinal) {
  for (int status : {409, 404, 400, 500}) {
    Stub refusing(status), live(200);
    CoordinatorClient client(refusing.url() + "," + live.url(), *http_);
    auto r = client.Complete(Lease{JobId(1), AttemptId(1), NodeId(1), {}}, Transcript{});
    ASSERT_FALSE(r) << status;
    EXPECT_EQ(refusing.requests, 1) << status;
    EXPECT_EQ(live.requests, 0) << status;
    EXPECT_EQ(client.base_url(), refusing.url()) << status;
  }
}

// With every coordinator gone, one call tries each once and says why; the caller's own retry
// (heartbeat interval, upload backoff) decides when to try again, from where it left off.
TEST_F(CoordinatorFailover, EveryCoordinatorGoneIsUnavailableAfterOneTryEach) {
  Stub a(503), b(503), c(503);
  CoordinatorClient client(a.url() + "," + b.url() + "," + c.url(), *http_);
  Watch(client);
  auto hb = client.Heartbeat({});
  ASSERT_FALSE(hb);
  EXPECT_EQ(hb.error().code, Code::kUnavailable);
  EXPECT_EQ(a.requests + b.requests + c.requests, 3);
  EXPECT_EQ(client.base_url(), c.url());
  ASSERT_FALSE(client.Heartbeat({}));
  EXPECT_EQ(a.requests, 2);  // the next call starts at c, then moves on to a and b
  EXPECT_EQ(c.requests, 2);
  EXPECT_TRUE(moves_.empty());  // nothing answered: no move to report
}

TEST_F(CoordinatorFailover, NodeTokenGoesToEveryCoordinatorOfTheListOnly) {
  Stub a(200), b(200);
  CoordinatorClient client(a.url() + "," + b.url(), *http_);
  client.set_node_token("pfn_x");
  EXPECT_EQ(client.AuthHeadersFor(b.url() + "/api/jobs/1/audio").size(), 1u);
  EXPECT_EQ(client.AuthHeadersFor("/api/jobs/1/audio").size(), 1u);
  EXPECT_EQ(client.Resolve("/api/jobs/1/audio"), a.url() + "/api/jobs/1/audio");
  EXPECT_TRUE(client.AuthHeadersFor("http://example.com/a.mp3").empty());
  EXPECT_TRUE(client.AuthHeadersFor(b.url() + "0/x").empty());  // another port, not b
}

// A lease's chunk held by another coordinator of the store (WireGrant::audio_from_fleet): the
// coordinator that granted it vouches for that URL; no other URL gets the token.
TEST_F(CoordinatorFailover, NodeTokenGoesToAUrlACoordinatorVouchedFor) {
  Stub a(200);
  CoordinatorClient client(a.url(), *http_);
  client.set_node_token("pfn_x");
  const std::string elsewhere = "http://10.0.0.2:8750/api/jobs/7/audio";
  EXPECT_TRUE(client.AuthHeadersFor(elsewhere).empty());
  ASSERT_EQ(client.AuthHeadersFor(elsewhere, /*vouched=*/true).size(), 1u);
  EXPECT_EQ(client.AuthHeadersFor(elsewhere, true)[0].second, "Bearer pfn_x");
  EXPECT_TRUE(client.AuthHeadersFor("file:///etc/passwd", true).empty());

  WireGrant grant;
  grant.audio_url = elsewhere;
  grant.audio_from_fleet = true;
  auto back = GrantFromJson(ToJson(grant));
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_TRUE(back->audio_from_fleet);
  grant.audio_from_fleet = false;
  EXPECT_FALSE(ToJson(grant).contains("audio_from_fleet"));
}

}  // namespace
}  // namespace podfleet
