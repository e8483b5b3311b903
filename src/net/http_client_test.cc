#include "net/http_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "net/http_server.h"
#include "net/public_address.h"

namespace podfleet {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const fs::path& path, std::string_view bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// A fresh directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "podfleet-net-XXXXXX").string();
    path_ = ::mkdtemp(templ.data());
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// 64 KiB that differ from any shifted copy of themselves, so a bad resume shows.
std::string Audio() {
  std::string bytes;
  for (int i = 0; i < 64 * 1024; ++i) bytes += static_cast<char>((i * 7 + i / 251) & 0xff);
  return bytes;
}

// The origin server for downloads: the project's own HttpServer on loopback.
//   /file      the audio, honouring "Range: bytes=N-" (206, or 416 past the end)
//   /norange   the audio, always 200
//   /missing   404       /forbidden  403
//   /flaky     503 for the first `failures` requests, then the audio
//   /old       302 to /file
class Origin {
 public:
  explicit Origin(int failures = 2) : failures_(failures) {
    auto server = HttpServer::Start(
        {.port = 0}, [this](HttpRequest r, HttpResponder respond) { respond(Serve(r)); });
    EXPECT_TRUE(server) << server.error().ToString();
    server_ = std::move(*server);
  }

  std::string Url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + std::string(path);
  }
  // "path range" for every request seen.
  std::vector<std::string> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }

  const std::string audio = Audio();

 private:
  HttpResponse Serve(const HttpRequest& r) {
    const std::string range(r.Header("range"));
    {
      std::lock_guard lock(mu_);
      seen_.push_back(r.path + " " + range);
    }
    if (r.path == "/file") return Ranged(range);
    if (r.path == "/norange") return Whole();
    if (r.path == "/missing") return HttpResponse::ErrorJson(404, Code::kNotFound, "gone");
    if (r.path == "/forbidden") return HttpResponse::ErrorJson(403, Code::kPermissionDenied, "no");
    if (r.path == "/flaky") {
      if (failures_-- > 0) return HttpResponse::ErrorJson(503, Code::kUnavailable, "busy");
      return Whole();
    }
    if (r.path == "/old") {
      HttpResponse moved = HttpResponse::Text(302, "");
      moved.headers.emplace_back("Location", "/file");
      return moved;
    }
    return HttpResponse::ErrorJson(404, Code::kNotFound, "no route");
  }

  HttpResponse Whole() const { return HttpResponse::Text(200, audio, "audio/mpeg"); }

  HttpResponse Ranged(const std::string& range) const {
    if (!range.starts_with("bytes=")) return Whole();
    const size_t from = std::stoul(range.substr(6));
    if (from >= audio.size()) {
      HttpResponse r = HttpResponse::Text(416, "");
      r.headers.emplace_back("Content-Range", "bytes */" + std::to_string(audio.size()));
      return r;
    }
    HttpResponse r = HttpResponse::Text(206, audio.substr(from), "audio/mpeg");
    r.headers.emplace_back("Content-Range", "bytes " + std::to_string(from) + "-" +
                                                std::to_string(audio.size() - 1) + "/" +
                                                std::to_string(audio.size()));
    return r;
  }

  std::atomic<int> failures_;
  mutable std::mutex mu_;
  std::vector<std::string> seen_;  // guarded by mu_
  std::unique_ptr<HttpServer> server_;
};

// An origin that misbehaves below HTTP, which the project's server would not do: on loopback, it
// reads each request's head and hands the socket to `respond`, which writes raw bytes; the
// connection is closed after it. `respond` should return once stopping() is true.
class RawOrigin {
 public:
  explicit RawOrigin(std::function<void(RawOrigin&, int fd)> respond)
      : respond_(std::move(respond)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&addr), len), 0);
    EXPECT_EQ(::listen(listener_, 8), 0);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  RawOrigin(const RawOrigin&) = delete;
  RawOrigin& operator=(const RawOrigin&) = delete;
  ~RawOrigin() {
    stopping_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    thread_.join();
    ::close(listener_);
  }

  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/audio"; }
  bool stopping() const { return stopping_; }
  int requests() const { return requests_; }
  static bool Write(int fd, std::string_view bytes) {
    return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }

 private:
  void Serve() {
    while (!stopping_) {
      const int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) return;
      std::string head;
      char c = 0;
      while (!head.ends_with("\r\n\r\n") && ::recv(fd, &c, 1, 0) == 1) head += c;
      ++requests_;
      respond_(*this, fd);
      ::close(fd);
    }
  }

  std::function<void(RawOrigin&, int)> respond_;
  int listener_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

class HttpClientTest : public ::testing::Test {
 protected:
  fs::path Dest() const { return dir_.path() / "episode.mp3"; }
  fs::path Part() const { return dir_.path() / "episode.mp3.part"; }
  static DownloadOptions Fast() { return {.backoff = Millis(10)}; }

  TempDir dir_;
  std::unique_ptr<HttpClient> client_ = MakeCurlClient({.timeout = Millis(5000)});
};

TEST_F(HttpClientTest, SendToAClosedPortIsUnavailable) {
  uint16_t port;
  {
    auto server = HttpServer::Start({.port = 0}, [](HttpRequest, HttpResponder) {});
    ASSERT_TRUE(server);
    port = (*server)->port();
  }
  auto r = client_->Send({.url = "http://127.0.0.1:" + std::to_string(port) + "/"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kUnavailable);
  EXPECT_FALSE(r.error().message.empty());
}

// The client's address as the server saw it, for each of `calls` sends (`allow` as the
// request's allow_address when set).
std::set<std::string> PeersOf(HttpClient& client, int calls,
                              std::function<bool(const sockaddr*)> allow = {}) {
  auto server = HttpServer::Start({.port = 0}, [](HttpRequest r, HttpResponder respond) {
    respond(HttpResponse::Text(200, r.remote));
  });
  EXPECT_TRUE(server) << server.error().ToString();
  std::set<std::string> peers;
  for (int i = 0; i < calls; ++i) {
    ClientRequest request{.url = "http://127.0.0.1:" + std::to_string((*server)->port()) + "/"};
    request.allow_address = allow;
    auto r = client.Send(request);
    EXPECT_TRUE(r) << r.error().ToString();
    if (r) peers.insert(r->body);
  }
  return peers;
}

TEST_F(HttpClientTest, SendConnectsAfreshForEachCallByDefault) {
  EXPECT_EQ(PeersOf(*client_, 5).size(), 5u);
}

TEST_F(HttpClientTest, SendWithReuseConnectionsKeepsOneConnection) {
  auto client = MakeCurlClient({.timeout = Millis(5000), .reuse_connections = true});
  EXPECT_EQ(PeersOf(*client, 5).size(), 1u);
}

// Every address such a request reaches must be checked, which a kept connection would skip.
TEST_F(HttpClientTest, SendWithAllowAddressConnectsAfreshEvenWithReuse) {
  auto client = MakeCurlClient({.timeout = Millis(5000), .reuse_connections = true});
  EXPECT_EQ(PeersOf(*client, 3, [](const sockaddr*) { return true; }).size(), 3u);
}

TEST_F(HttpClientTest, SendRejectsOtherSchemes) {
  auto r = client_->Send({.url = "gopher://example.com/"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
}

TEST_F(HttpClientTest, SendReturnsErrorStatusesAsResponses) {
  Origin origin;
  auto r = client_->Send({.url = origin.Url("/missing")});
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->content_type, "application/json");
}

TEST_F(HttpClientTest, SendFollowsRedirectsOnlyWhenAsked) {
  Origin origin;
  auto moved = client_->Send({.url = origin.Url("/old")});
  ASSERT_TRUE(moved) << moved.error().ToString();
  EXPECT_EQ(moved->status, 302);
  auto followed = client_->Send({.url = origin.Url("/old"), .follow_redirects = true});
  ASSERT_TRUE(followed) << followed.error().ToString();
  EXPECT_EQ(followed->status, 200);
  EXPECT_EQ(followed->body, origin.audio);
}

TEST_F(HttpClientTest, SendRefusesAnOversizedResponse) {
  Origin origin;
  auto r = client_->Send({.url = origin.Url("/file"), .max_response_bytes = 1000});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
}

TEST_F(HttpClientTest, SendTimesOut) {
  auto server = HttpServer::Start(
      {.port = 0}, [](HttpRequest, HttpResponder) { std::this_thread::sleep_for(500ms); });
  ASSERT_TRUE(server);
  auto r = client_->Send(
      {.url = "http://127.0.0.1:" + std::to_string((*server)->port()) + "/", .timeout = 100ms});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kUnavailable);
}

TEST_F(HttpClientTest, DownloadWritesTheWholeFile) {
  Origin origin;
  auto r = client_->Download(origin.Url("/file"), Dest(), Fast());
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->path, Dest());
  EXPECT_EQ(r->bytes, static_cast<int64_t>(origin.audio.size()));
  EXPECT_EQ(r->content_type, "audio/mpeg");
  EXPECT_EQ(r->final_url, origin.Url("/file"));
  EXPECT_EQ(ReadFile(Dest()), origin.audio);
  EXPECT_FALSE(fs::exists(Part()));
}

TEST_F(HttpClientTest, DownloadResumesAnExistingPart) {
  Origin origin;
  WriteFile(Part(), origin.audio.substr(0, 300));
  auto r = client_->Download(origin.Url("/file"), Dest(), Fast());
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(ReadFile(Dest()), origin.audio);
  EXPECT_EQ(origin.seen(), std::vector<std::string>{"/file bytes=300-"});
}

TEST_F(HttpClientTest, DownloadRestartsWhenTheServerIgnoresRange) {
  Origin origin;
  WriteFile(Part(), std::string(300, 'x'));
  auto r = client_->Download(origin.Url("/norange"), Dest(), Fast());
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(ReadFile(Dest()), origin.audio);
  EXPECT_EQ(origin.seen(), (std::vector<std::string>{"/norange bytes=300-", "/norange "}));
}

TEST_F(HttpClientTest, DownloadRestartNearTheSizeLimitIsNotTooLarge) {
  Origin origin;
  WriteFile(Part(), std::string(300, 'x'));
  DownloadOptions options = Fast();
  options.max_bytes = static_cast<int64_t>(origin.audio.size());
  auto r = client_->Download(origin.Url("/norange"), Dest(), options);
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(ReadFile(Dest()), origin.audio);
}

TEST_F(HttpClientTest, DownloadOfAnAlreadyCompletePartFinishesIt) {
  Origin origin;
  WriteFile(Part(), origin.audio);
  auto r = client_->Download(origin.Url("/file"), Dest(), Fast());
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(ReadFile(Dest()), origin.audio);
  EXPECT_EQ(origin.seen().size(), 1u);
}

TEST_F(HttpClientTest, DownloadNotFoundIsPermanentWithoutRetries) {
  Origin origin;
  WriteFile(Part(), "stale");
  auto r = client_->Download(origin.Url("/missing"), Dest(), Fast());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kNotFound);
  EXPECT_EQ(origin.seen().size(), 1u);
  EXPECT_FALSE(fs::exists(Part()));
  EXPECT_FALSE(fs::exists(Dest()));
}

TEST_F(HttpClientTest, DownloadOtherClientErrorIsInvalidArgumentWithoutRetries) {
  Origin origin;
  auto r = client_->Download(origin.Url("/forbidden"), Dest(), Fast());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  EXPECT_EQ(origin.seen().size(), 1u);
}

TEST_F(HttpClientTest, DownloadRetriesTransientErrors) {
  Origin origin(/*failures=*/2);
  auto r = client_->Download(origin.Url("/flaky"), Dest(), Fast());
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(ReadFile(Dest()), origin.audio);
  EXPECT_EQ(origin.seen().size(), 3u);
}

TEST_F(HttpClientTest, DownloadGivesUpAfterItsRetries) {
  Origin origin(/*failures=*/100);
  DownloadOptions options = Fast();
  options.retries = 2;
  auto r = client_->Download(origin.Url("/flaky"), Dest(), options);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kUnavailable);
  EXPECT_NE(r.error().message.find("HTTP 503"), std::string::npos) << r.error().message;
  EXPECT_EQ(origin.seen().size(), 3u);
}

TEST_F(HttpClientTest, DownloadLargerThanMaxBytesFails) {
  Origin origin;
  DownloadOptions options = Fast();
  options.max_bytes = 1000;
  auto r = client_->Download(origin.Url("/file"), Dest(), options);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  EXPECT_EQ(r.error().message, origin.Url("/file") + ": download larger than 1000 bytes");
  EXPECT_FALSE(fs::exists(Part()));
  EXPECT_FALSE(fs::exists(Dest()));
  EXPECT_EQ(origin.seen().size(), 1u);
}

TEST_F(HttpClientTest, DownloadFromAFileUrl) {
  const std::string bytes = Audio();
  const fs::path source = dir_.path() / "source.mp3";
  WriteFile(source, bytes);
  auto r = client_->Download("file://" + source.string(), Dest(), Fast());
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(ReadFile(Dest()), bytes);
  EXPECT_EQ(r->bytes, static_cast<int64_t>(bytes.size()));
}

TEST_F(HttpClientTest, DownloadResumesFromAFileUrl) {
  const std::string bytes = Audio();
  const fs::path source = dir_.path() / "source.mp3";
  WriteFile(source, bytes);
  WriteFile(Part(), bytes.substr(0, 1000));
  auto r = client_->Download("file://" + source.string(), Dest(), Fast());
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(ReadFile(Dest()), bytes);
}

TEST_F(HttpClientTest, DownloadOfAMissingFileUrlIsNotFound) {
  auto r = client_->Download("file://" + (dir_.path() / "nope.mp3").string(), Dest(), Fast());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kNotFound);
}

TEST_F(HttpClientTest, DownloadFollowsRedirects) {
  Origin origin;
  auto r = client_->Download(origin.Url("/old"), Dest(), Fast());
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->final_url, origin.Url("/file"));
  EXPECT_EQ(ReadFile(Dest()), origin.audio);
}

TEST_F(HttpClientTest, DownloadDoesNotFollowTooManyRedirects) {
  Origin origin;
  auto client = MakeCurlClient({.max_redirects = 0});
  auto r = client->Download(origin.Url("/old"), Dest(), Fast());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
}

TEST_F(HttpClientTest, DownloadReportsProgressAndCanBeCancelled) {
  Origin origin;
  std::vector<std::pair<int64_t, int64_t>> calls;
  DownloadOptions options = Fast();
  options.progress = [&](int64_t bytes, int64_t total) {
    calls.emplace_back(bytes, total);
    return bytes == 0;
  };
  auto r = client_->Download(origin.Url("/file"), Dest(), options);
  if (r) {
    // The whole file arrived between two progress calls; nothing was left to cancel.
    GTEST_SKIP() << "transfer finished before a progress call saw bytes";
  }
  EXPECT_EQ(r.error().code, Code::kUnavailable);
  EXPECT_EQ(r.error().message, "cancelled");
  ASSERT_FALSE(calls.empty());
  EXPECT_GT(calls.back().first, 0);
  EXPECT_EQ(calls.back().second, static_cast<int64_t>(origin.audio.size()));
  EXPECT_FALSE(fs::exists(Dest()));
}

TEST_F(HttpClientTest, DownloadCancelledBeforeAnyByte) {
  Origin origin;
  DownloadOptions options = Fast();
  options.progress = [](int64_t, int64_t) { return false; };
  auto r = client_->Download(origin.Url("/file"), Dest(), options);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kUnavailable);
  EXPECT_EQ(r.error().message, "cancelled");
  EXPECT_EQ(origin.seen().size(), 0u);
}

// ---- allow_address (SSRF) ----

uint16_t PortOf(const sockaddr* address) {
  if (address->sa_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(address)->sin_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in6*>(address)->sin6_port);
}

DownloadOptions PublicOnly() {
  DownloadOptions options{.backoff = Millis(10)};
  options.allow_address = [](const sockaddr* a) { return IsPublicAddress(a); };
  return options;
}

TEST_F(HttpClientTest, PublicOnlyDownloadRefusesLoopbackBeforeConnecting) {
  Origin origin;
  auto r = client_->Download(origin.Url("/file"), Dest(), PublicOnly());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  EXPECT_NE(r.error().message.find("refused to connect to 127.0.0.1"), std::string::npos)
      << r.error().message;
  EXPECT_TRUE(origin.seen().empty());
  EXPECT_FALSE(fs::exists(Dest()));
  EXPECT_FALSE(fs::exists(Part()));
}

// The check runs on the address DNS gave, at connect time: a name cannot smuggle in loopback.
TEST_F(HttpClientTest, PublicOnlyDownloadChecksTheResolvedAddressOfAName) {
  Origin origin;
  std::string url = origin.Url("/file");
  url.replace(url.find("127.0.0.1"), 9, "localhost");
  auto r = client_->Download(url, Dest(), PublicOnly());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  EXPECT_NE(r.error().message.find("refused to connect"), std::string::npos) << r.error().message;
  EXPECT_TRUE(origin.seen().empty());
}

TEST_F(HttpClientTest, PublicOnlyDownloadRefusesFileUrls) {
  const fs::path source = dir_.path() / "source.mp3";
  WriteFile(source, Audio());
  auto r = client_->Download("file://" + source.string(), Dest(), PublicOnly());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  EXPECT_FALSE(fs::exists(Dest()));
}

// Every connection is checked, a redirect's too: the first server is allowed (by its port), the
// one it redirects to is not, and is never reached.
TEST_F(HttpClientTest, AllowAddressIsCheckedOnRedirects) {
  Origin target;
  auto redirector = HttpServer::Start({.port = 0}, [&target](HttpRequest, HttpResponder respond) {
    HttpResponse moved = HttpResponse::Text(302, "");
    moved.headers.emplace_back("Location", target.Url("/file"));
    respond(std::move(moved));
  });
  ASSERT_TRUE(redirector) << redirector.error().ToString();
  const uint16_t allowed_port = (*redirector)->port();
  DownloadOptions options{.backoff = Millis(10)};
  options.allow_address = [allowed_port](const sockaddr* a) { return PortOf(a) == allowed_port; };
  const std::string url = "http://127.0.0.1:" + std::to_string(allowed_port) + "/feed";
  auto r = client_->Download(url, Dest(), options);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  EXPECT_NE(r.error().message.find("refused to connect"), std::string::npos) << r.error().message;
  EXPECT_TRUE(target.seen().empty());

  options.allow_address = [](const sockaddr*) { return true; };
  auto followed = client_->Download(url, Dest(), options);
  ASSERT_TRUE(followed) << followed.error().ToString();
  EXPECT_EQ(ReadFile(Dest()), target.audio);
}

TEST(DownloadDeadline, FollowsTheDeclaredDurationAndSizeCappedByTheLongestEpisode) {
  const Millis day{24 * 3'600'000};
  EXPECT_EQ(DownloadDeadline(Millis(3'600'000), 0, day), Millis(10'000 + 900'000));
  EXPECT_EQ(DownloadDeadline(std::nullopt, 0, Millis(8'000)), Millis(12'000));
  EXPECT_EQ(DownloadDeadline(Millis(2 * 24 * 3'600'000), 0, day), Millis(10'000) + day / 4);
  EXPECT_EQ(DownloadDeadline(Millis(60'000), 64'000'000, day), Millis(10'000 + 15'000 + 1'000'000));
}

// A host that announces more bytes than it sends: what arrived is no episode, however often it
// is asked again (each retry resumes and is cut short again).
TEST_F(HttpClientTest, DownloadShorterThanItsContentLengthFails) {
  RawOrigin origin([](RawOrigin&, int fd) {
    RawOrigin::Write(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2000\r\nConnection: close\r\n\r\n");
    RawOrigin::Write(fd, std::string(1000, 'a'));
  });
  DownloadOptions options = Fast();
  options.retries = 1;
  auto r = client_->Download(origin.Url(), Dest(), options);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kUnavailable) << r.error().ToString();
  EXPECT_NE(r.error().message.find(origin.Url()), std::string::npos) << r.error().ToString();
  EXPECT_FALSE(fs::exists(Dest()));
}

// A live stream (no length, never ends) is stopped by the deadline, not by the byte cap, and
// leaves nothing behind.
TEST_F(HttpClientTest, DownloadOfALiveStreamEndsAtItsDeadline) {
  RawOrigin origin([](RawOrigin& self, int fd) {
    RawOrigin::Write(fd,
                     "HTTP/1.1 200 OK\r\nContent-Type: audio/mpeg\r\nConnection: close\r\n\r\n");
    while (!self.stopping() && RawOrigin::Write(fd, std::string(2048, 'b')))
      std::this_thread::sleep_for(10ms);
  });
  DownloadOptions options = Fast();
  options.deadline = Millis(700);
  const auto started = std::chrono::steady_clock::now();
  auto r = client_->Download(origin.Url(), Dest(), options);
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalidArgument) << r.error().ToString();
  EXPECT_NE(r.error().message.find("not finished after"), std::string::npos);
  EXPECT_GE(took, 700ms);
  EXPECT_LT(took, 10s);  // the stream would go on for ever
  EXPECT_FALSE(fs::exists(Dest()));
  EXPECT_FALSE(fs::exists(Part()));
}

}  // namespace
}  // namespace podfleet
