// bench/feeds: one poll round over N feeds (default 10,000) served by a local HTTP server that
// answers 304 to conditional requests: requests, response bytes and the coordinator's CPU per
// round, unconditional (the baseline: every feed downloaded and parsed, every item checked
// against the store) and conditional (If-None-Match from the stored ETag), in the same run.
//
// The server runs in a child process (forked before any thread starts), so the CPU measured with
// getrusage(RUSAGE_SELF) is the coordinator side alone: the real FeedPoller, curl, the real
// SQLite store (WAL, synchronous=FULL) in a temporary directory, with the poller's own threads
// and per-host limit (all feeds are on one host here, so the per-host limit is the concurrency).
// The server counts requests and response body bytes (headers not counted); it sends feeds
// uncompressed. Each feed has --items items (default 20, about 6 KB).
//
// Usage: podfleet_bench_feeds [--feeds N] [--items N] [--per-host N]
#include <fmt/format.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "args.h"
#include "coordinator/feed_poller.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "store/store.h"

namespace podfleet {
namespace {

struct Options {
  int feeds = 10'000;
  int items = 20;
  int per_host = 8;
};

std::string FeedBody(int feed, int items) {
  std::string out = fmt::format(
      "<?xml version=\"1.0\"?><rss version=\"2.0\" "
      "xmlns:itunes=\"http://www.itunes.com/dtds/podcast-1.0.dtd\"><channel>"
      "<title>Bench show {}</title><link>https://example.org/{}</link>",
      feed, feed);
  for (int i = 0; i < items; ++i) {
    out += fmt::format(
        "<item><title>Episode {1} of show {0}</title><guid>show-{0}-ep-{1}</guid>"
        "<pubDate>Mon, {2:02} Jan 2024 10:00:00 GMT</pubDate><itunes:duration>45:00"
        "</itunes:duration><enclosure url=\"https://cdn.example.org/{0}/{1}.mp3\" "
        "type=\"audio/mpeg\" length=\"43200000\"/><description>A bench episode with a short "
        "description, as most feeds carry one.</description></item>",
        feed, i, 1 + i % 28);
  }
  return out + "</channel></rss>";
}

// The feed server's loop, in the child: serves /f/N.xml with an ETag and answers 304 when
// If-None-Match matches; /stats gives the request and byte counts. Never returns.
[[noreturn]] void ServeFeeds(const Options& o, int port_pipe) {
  std::vector<std::string> bodies;
  for (int i = 0; i < o.feeds; ++i) bodies.push_back(FeedBody(i, o.items));
  std::atomic<int64_t> requests{0}, bytes{0};
  HttpServerOptions so;
  so.port = 0;
  so.threads = 2;
  auto server = HttpServer::Start(so, [&](HttpRequest r, HttpResponder respond) {
    if (r.path == "/stats") {
      return respond(HttpResponse::Json(
          200, nlohmann::json{{"requests", requests.load()}, {"bytes", bytes.load()}}.dump()));
    }
    ++requests;
    int n = -1;
    if (std::sscanf(r.path.c_str(), "/f/%d.xml", &n) != 1 || n < 0 || n >= o.feeds)
      return respond(HttpResponse::Text(404, "no such feed"));
    const std::string etag = fmt::format("\"v1-{}\"", n);
    if (r.Header("if-none-match") == etag) return respond(HttpResponse{304, "", "", {}});
    bytes += static_cast<int64_t>(bodies[static_cast<size_t>(n)].size());
    respond(HttpResponse{200,
                         "application/rss+xml",
                         bodies[static_cast<size_t>(n)],
                         {{"ETag", etag}, {"Last-Modified", "Mon, 01 Jan 2024 10:00:00 GMT"}}});
  });
  if (!server) {
    fmt::print(stderr, "bench/feeds: server: {}\n", server.error().ToString());
    _exit(1);
  }
  const uint16_t port = (*server)->port();
  if (write(port_pipe, &port, sizeof port) != sizeof port) _exit(1);
  while (true) pause();
}

// A clock the benchmark moves forward so that every feed is due again.
class SteppedClock final : public Clock {
 public:
  TimePoint Now() const override { return SystemClock().Now() + Millis(offset_ms_.load()); }
  void Advance(Millis by) { offset_ms_ += by.count(); }

 private:
  std::atomic<int64_t> offset_ms_{0};
};

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

struct Round {
  int64_t polled = 0;
  int64_t requests = 0;
  int64_t bytes = 0;
  double cpu = 0;
  double wall = 0;
};

Result<nlohmann::json> Stats(HttpClient& http, const std::string& base) {
  ClientRequest r;
  r.url = base + "/stats";
  auto reply = http.Send(r);
  if (!reply) return std::unexpected(reply.error());
  return nlohmann::json::parse(reply->body);
}

// One round: every feed made due, then polled by a poller with `conditional`.
Result<Round> PollRound(Store& store, HttpClient& http, SteppedClock& clock,
                        const std::string& base, const Options& o, bool conditional) {
  FeedPollerOptions po;
  po.sweep = false;
  po.conditional = conditional;
  po.threads = o.per_host;
  po.per_host = o.per_host;
  po.interval = Millis(60'000);
  FeedPoller poller(store, http, clock, po, nullptr);
  clock.Advance(Millis(3'600'000));
  auto before = Stats(http, base);
  if (!before) return std::unexpected(before.error());
  const double cpu = CpuSeconds();
  const auto start = std::chrono::steady_clock::now();
  Round r;
  r.polled = poller.PollDue();
  r.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.cpu = CpuSeconds() - cpu;
  auto after = Stats(http, base);
  if (!after) return std::unexpected(after.error());
  r.requests = (*after)["requests"].get<int64_t>() - (*before)["requests"].get<int64_t>();
  r.bytes = (*after)["bytes"].get<int64_t>() - (*before)["bytes"].get<int64_t>();
  return r;
}

void Print(std::string_view name, const Round& r) {
  fmt::print(
      "  {:<28} {:>6} feeds  {:>6} requests  {:>12} bytes  {:>7.2f} s CPU  {:>7.2f} s wall\n", name,
      r.polled, r.requests, r.bytes, r.cpu, r.wall);
}

Result<void> Run(const Options& o, const std::string& base) {
  std::error_code ec;
  const auto dir =
      std::filesystem::temp_directory_path() / fmt::format("podfleet-bench-feeds-{}", getpid());
  std::filesystem::create_directories(dir, ec);
  auto store = OpenSqliteStore((dir / "podfleet.db").string());
  if (!store) return std::unexpected(store.error());
  auto http = MakeCurlClient(HttpClientOptions{});
  SteppedClock clock;
  for (int i = 0; i < o.feeds; ++i) {
    if (auto f = (*store)->AddFeed(fmt::format("{}/f/{}.xml", base, i), clock.Now()); !f)
      return std::unexpected(f.error());
  }
  // The first round reads every feed and stores its episodes and validators (not measured).
  auto first = PollRound(**store, *http, clock, base, o, true);
  if (!first) return std::unexpected(first.error());
  Print("first poll (not compared)", *first);
  auto unconditional = PollRound(**store, *http, clock, base, o, false);
  if (!unconditional) return std::unexpected(unconditional.error());
  auto conditional = PollRound(**store, *http, clock, base, o, true);
  if (!conditional) return std::unexpected(conditional.error());
  Print("before: unconditional GET", *unconditional);
  Print("after: conditional GET", *conditional);
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  fmt::print(
      "  per poll round, after/before: requests {:.3f}, bytes {:.4f}, CPU {:.3f}, wall {:.3f}\n",
      ratio(conditional->requests, unconditional->requests),
      ratio(conditional->bytes, unconditional->bytes), ratio(conditional->cpu, unconditional->cpu),
      ratio(conditional->wall, unconditional->wall));
  fmt::print("  per feed: before {:.0f} bytes, {:.2f} ms CPU; after {:.0f} bytes, {:.2f} ms CPU\n",
             ratio(unconditional->bytes, unconditional->polled),
             ratio(unconditional->cpu * 1000, unconditional->polled),
             ratio(conditional->bytes, conditional->polled),
             ratio(conditional->cpu * 1000, conditional->polled));
  std::filesystem::remove_all(dir, ec);
  return {};
}

int Main(int argc, char** argv) {
  Options o;
  const int parsed =
      ParseBenchArgs(argc, argv, "[--feeds N] [--items N] [--per-host N]",
                     {{"--feeds", [&](const char* v) { o.feeds = std::atoi(v); }},
                      {"--items", [&](const char* v) { o.items = std::atoi(v); }},
                      {"--per-host", [&](const char* v) { o.per_host = std::atoi(v); }}});
  if (parsed >= 0) return parsed;
  int fds[2];
  if (pipe(fds) != 0) return 1;
  const pid_t child = fork();  // before any thread: the server lives in its own process
  if (child == 0) ServeFeeds(o, fds[1]);
  uint16_t port = 0;
  if (read(fds[0], &port, sizeof port) != sizeof port) return 1;
  fmt::print(
      "bench/feeds: {} feeds of {} items on one local host, {} polls at once, SQLite "
      "(WAL, synchronous=FULL)\n",
      o.feeds, o.items, o.per_host);
  auto r = Run(o, fmt::format("http://127.0.0.1:{}", port));
  kill(child, SIGTERM);
  waitpid(child, nullptr, 0);
  if (!r) {
    fmt::print(stderr, "bench/feeds: {}\n", r.error().ToString());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace podfleet

int main(int argc, char** argv) { return podfleet::Main(argc, argv); }
