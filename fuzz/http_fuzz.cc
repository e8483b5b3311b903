// libFuzzer target for HTTP request handling: the bytes a client sends, through the coordinator's
// own server (Boost.Beast parsing, limits, target and query decoding), router and route handlers
// (JSON bodies, ids, tokens) to its SQLite store.
// Built and run by scripts/fuzz (clang, -DPODFLEET_FUZZ=ON).
//
// One coordinator is started on a loopback port, with a store in /dev/shm (or the temp folder)
// holding queued episodes and one registered node. Each input is sent on a fresh connection,
// which is then half-closed; the target reads every response until the server closes. In the
// input, "@node@" stands for the node's token and "@enroll@" for an enrollment token, so that the
// fuzzer reaches the handlers behind them. The admin token is never given: routes that fetch
// feeds stay refused, and nothing leaves the machine.
//
// Besides not crashing, it checks that every response is well-formed HTTP, that no input gets a
// 5xx other than 503 (bad input gets a clear 4xx), and that JSON responses are valid JSON.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "coordinator/coordinator.h"
#include "net/token.h"

namespace {

namespace http = boost::beast::http;

// Like assert, always on, naming what failed (and, in CheckResponses, what the server sent).
#define CHECK(condition, ...)                                                                  \
  do {                                                                                         \
    if (!(condition)) {                                                                        \
      std::fprintf(stderr, "http_fuzz.cc:%d: CHECK(%s) failed\n", __LINE__, #condition);       \
      __VA_OPT__(std::fprintf(stderr, "server sent: %s\n", std::string(__VA_ARGS__).c_str());) \
      __builtin_trap();                                                                        \
    }                                                                                          \
  } while (0)

struct Target {
  std::unique_ptr<podfleet::Coordinator> coordinator;
  std::string node_token;
  std::string enrollment_token;
};

std::filesystem::path DataDir() {
  const std::filesystem::path shm = "/dev/shm";
  const std::filesystem::path base =
      access(shm.c_str(), W_OK) == 0 ? shm : std::filesystem::temp_directory_path();
  return base / ("podfleet-http-fuzz-" + std::to_string(getpid()));
}

Target Start() {
  Target t;
  podfleet::CoordinatorOptions options;
  options.data_dir = DataDir();
  std::filesystem::remove_all(options.data_dir);
  options.port = 0;
  // Claims answer almost at once (a wait must be positive: ValidateOptions).
  options.max_claim_wait = podfleet::Millis(1);
  auto c = podfleet::Coordinator::Start(options, podfleet::SystemClock::Get());
  CHECK(c.has_value(), c ? std::string() : c.error().ToString());
  t.coordinator = std::move(*c);
  podfleet::Store& store = t.coordinator->store();
  const podfleet::TimePoint now = podfleet::SystemClock::Get().Now();
  t.enrollment_token = *t.coordinator->first_enrollment_token();
  t.node_token = podfleet::NewToken("pfn_");
  CHECK(store.RegisterNode(podfleet::NodeInfo{"fuzz-node"}, podfleet::HashToken(t.node_token), now)
            .has_value());
  std::vector<podfleet::EpisodeInfo> episodes;
  for (int i = 0; i < 1000; ++i)
    episodes.push_back(podfleet::EpisodeInfo{"fuzz-" + std::to_string(i), "fuzz",
                                             "http://127.0.0.1:9/" + std::to_string(i) + ".mp3"});
  CHECK(store.AddEpisodes(std::nullopt, episodes, now).has_value());
  return t;
}

Target* g_target = nullptr;

// Stops the coordinator, then removes its data. libFuzzer ends a run by calling exit() while the
// coordinator's threads still run, and exit destroys statics in the reverse order they were made:
// a static first made while an input ran (in this program or a library) would be freed while a
// coordinator thread might still read it. So the stop is registered again after every input,
// which makes it the first exit handler to run; the stop itself runs once.
void StopAtExit() {
  if (g_target == nullptr) return;
  g_target->coordinator->Stop();
  delete g_target;
  g_target = nullptr;
  std::filesystem::remove_all(DataDir());
}

Target& Get() {
  if (g_target == nullptr) g_target = new Target(Start());
  return *g_target;
}

std::string Substitute(std::string text, std::string_view from, std::string_view to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

// libFuzzer's timeout alarm (SIGALRM every 6 s for -timeout=10) has no SA_RESTART, so any
// blocking call below may fail with EINTR when it lands on this thread; each call is retried.

// Connects `fd` to `addr`, waiting out interruptions. After an interrupted connect the handshake
// goes on in the kernel; connecting again reports EALREADY until it ends, then EISCONN.
void Connect(int fd, const sockaddr_in& addr) {
  for (;;) {
    if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return;
    if (errno == EISCONN) return;
    CHECK(errno == EINTR || errno == EALREADY, std::string("connect: ") + std::strerror(errno));
    pollfd p{fd, POLLOUT, 0};
    poll(&p, 1, 100);
  }
}

// Sends `request` on a new connection, half-closes it and returns everything the server sent.
std::string Exchange(uint16_t port, const std::string& request) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  Connect(fd, addr);
  // The server may answer and close before reading everything (413, 400): a failed send is fine.
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    sent += size_t(n);
  }
  shutdown(fd, SHUT_WR);
  std::string reply;
  char buffer[16384];
  for (;;) {
    // The server must answer or close within 20 s, not hang. The wait is cut into 100 ms polls:
    // on the 2-core CI VMs, a single long poll sometimes sat until its timeout with this thread's
    // own FIN still unacknowledged and the connection not yet accepted, and the exchange finished
    // the instant the poll returned (measured with TCP_INFO). Waking up every 100 ms lets those
    // packets through; a server that really hangs still fails after 200 polls.
    pollfd p{fd, POLLIN, 0};
    int polls = 0;
    while (poll(&p, 1, 100) <= 0) {
      ++polls;
      CHECK(polls < 200);
    }
    const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    reply.append(buffer, size_t(n));
  }
  close(fd);
  return reply;
}

// Checks each response in `replies`.
void CheckResponses(std::string_view replies) {
  const std::string_view all = replies;
  while (!replies.empty()) {
    http::response_parser<http::string_body> parser;
    parser.eager(true);
    parser.body_limit(std::uint64_t{64} << 20);
    boost::beast::error_code ec;
    const size_t used = parser.put(boost::asio::buffer(replies.data(), replies.size()), ec);
    CHECK(!ec && parser.is_done(), all);
    const auto& response = parser.get();
    const unsigned status = response.result_int();
    CHECK(status < 500 || status == 503, all);
    if (response[http::field::content_type].starts_with("application/json"))
      CHECK(!nlohmann::json::parse(response.body(), nullptr, false).is_discarded(), all);
    replies.remove_prefix(used);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Target& target = Get();
  std::string request(reinterpret_cast<const char*>(data), size);
  request = Substitute(std::move(request), "@node@", target.node_token);
  request = Substitute(std::move(request), "@enroll@", target.enrollment_token);
  CheckResponses(Exchange(target.coordinator->port(), request));
  std::atexit(StopAtExit);
  return 0;
}
