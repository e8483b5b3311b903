// up and demo: a coordinator and local workers in one process.
#include <fmt/format.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "coordinator/admin_token.h"
#include "engines/wer.h"
#include "net/token.h"

namespace podfleet {
namespace {

using nlohmann::json;

// A coordinator with local workers. The workers speak HTTP to the coordinator over loopback,
// exactly as remote ones do.
class LocalFleet {
 public:
  ~LocalFleet() { Stop(); }

  Result<void> Start(const CoordinatorOptions& serve, const EngineConfig& engine_config,
                     int workers, int prefetch) {
    auto coordinator = StartCoordinator(serve);
    if (!coordinator) return std::unexpected(coordinator.error());
    coordinator_ = std::move(*coordinator);
    auto token = KeptEnrollmentToken(coordinator_->store(), serve.data_dir / "up.token", "up",
                                     SystemClock::Get().Now());
    if (!token) return std::unexpected(token.error());
    auto engine = MakeEngine(engine_config);
    if (!engine) return std::unexpected(engine.error());
    engine_ = std::move(*engine);
    http_ = MakeCurlClient(WorkerHttpOptions());
    for (int i = 0; i < workers; ++i) {
      WorkerOptions w;
      w.server = coordinator_->base_url();
      w.token = *token;
      w.name = fmt::format("local-{}", i + 1);
      w.prefetch = prefetch;
      w.work_dir = serve.data_dir / "workers" / w.name;
      workers_.push_back(std::make_unique<Worker>(w, *engine_, *http_));
    }
    for (auto& w : workers_) {
      threads_.emplace_back([&w] {
        auto r = w->Run();
        if (!r) fmt::print(stderr, "worker: {}\n", r.error().ToString());
      });
    }
    return {};
  }

  void Stop() {
    for (auto& w : workers_) w->RequestStop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    if (coordinator_) coordinator_->Stop();
  }

  Coordinator& coordinator() { return *coordinator_; }
  HttpClient& http() { return *http_; }

 private:
  std::unique_ptr<Coordinator> coordinator_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<HttpClient> http_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
};

}  // namespace

int RunUp(const Args& args) {
  CoordinatorOptions serve;
  serve.allow_file_urls = true;  // one machine: its own files are the operator's
  EngineConfig engine_config;
  int workers = 1;
  int prefetch = 2;
  auto flags = ServeFlags(serve);
  for (Flag& f : EngineFlags(engine_config)) flags.push_back(std::move(f));
  flags.push_back(IntFlag("workers", &workers, "local workers to run"));
  flags.push_back(IntFlag("prefetch", &prefetch, "jobs each worker keeps ready ahead"));
  auto parsed = ParseFlags(flags, "up", args);
  if (!parsed) return Fail(parsed.error().message);
  if (parsed->help) {
    fmt::print("{}", FlagHelp(flags, "up [options]",
                              "Runs a coordinator and local workers in one process."));
    return 0;
  }
  SignalWatcher signals(nullptr);
  LocalFleet fleet;
  if (auto r = fleet.Start(serve, engine_config, workers, prefetch); !r)
    return Fail(r.error().ToString());
  signals.Wait();
  fleet.Stop();
  return 0;
}

int RunDemo(const Args& args) {
  CoordinatorOptions serve;
  serve.port = 0;  // any free port: the demo must not collide with a running coordinator
  serve.allow_file_urls = true;  // the sample feed is on this machine's disk
  EngineConfig engine_config;
  Millis timeout{600'000};
  auto flags = ServeFlags(serve);
  for (Flag& f : EngineFlags(engine_config)) flags.push_back(std::move(f));
  flags.push_back(DurationFlag("timeout", &timeout, "give up if the feed is not done by then"));
  auto parsed = ParseFlags(flags, "demo", args);
  if (!parsed) return Fail(parsed.error().message);
  if (parsed->help) {
    fmt::print(
        "{}",
        FlagHelp(
            flags, "demo [options]",
            "Makes a sample podcast feed (espeak-ng speech), runs a coordinator with one local\n"
            "worker, transcribes the feed, and prints the nodes, the queue, the throughput and\n"
            "the transcripts."));
    return 0;
  }
  SignalWatcher signals(nullptr);
  fmt::print("making the sample podcast in {} ...\n", (serve.data_dir / "sample-feed").string());
  auto feed = MakeSampleFeed(serve.data_dir / "sample-feed");
  if (!feed) return Fail(feed.error().ToString());

  LocalFleet fleet;
  if (auto r = fleet.Start(serve, engine_config, 1, 2); !r) return Fail(r.error().ToString());
  CoordinatorClient client(fleet.coordinator().base_url(), fleet.http());
  auto admin_token = ReadAdminToken(serve.data_dir / kAdminTokenFile);
  if (!admin_token) return Fail(admin_token.error().ToString());
  client.set_admin_token(*admin_token);
  auto added = client.PostJson("/api/feeds", {{"url", "file://" + feed->string()}});
  if (!added && added.error().code != Code::kConflict)
    return Fail("feed add: " + added.error().ToString());
  if (added) {
    fmt::print("feed added: {} new episodes queued\n", added->value("new_episodes", 0));
  } else {
    fmt::print("feed known from an earlier run\n");
  }

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // The worker registers on its own thread; wait for it so the report shows it live.
  for (int i = 0; i < 100; ++i) {
    auto nodes = client.GetJson("/api/nodes");
    if (nodes && std::any_of((*nodes)["nodes"].begin(), (*nodes)["nodes"].end(),
                             [](const json& n) { return n.value("status", "") != "offline"; }))
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  json status;
  std::string last_line;
  while (true) {
    auto s = client.GetJson("/api/status");
    if (!s) return Fail(s.error().ToString());
    status = *s;
    const json& q = status["transcribe_queue"];
    const std::string line =
        fmt::format("queue: {} queued, {} running, {} completed, {} failed", q.value("queued", 0),
                    q.value("running", 0), q.value("completed", 0), q.value("failed", 0));
    if (line != last_line) fmt::print("{}\n", line);
    last_line = line;
    std::fflush(stdout);
    if (q.value("queued", 0) + q.value("running", 0) == 0) break;
    if (std::chrono::steady_clock::now() > deadline)
      return Fail("timed out waiting for the transcripts");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  fmt::print("\n");
  PrintStatus(status);

  auto episodes = client.GetJson("/api/episodes?limit=20");
  if (!episodes) return Fail(episodes.error().ToString());
  fmt::print("\nTRANSCRIPTS\n");
  json list = (*episodes)["episodes"];
  std::reverse(list.begin(), list.end());  // oldest first, as published
  for (const json& e : list) {
    const int64_t id = e.value("id", 0);
    fmt::print("  #{} {} [{}]\n", id, e.value("title", ""), e.value("state", ""));
    auto text = client.GetText(fmt::format("/api/episodes/{}/transcript?format=txt", id));
    if (!text) continue;
    while (!text->empty() && std::isspace(static_cast<unsigned char>(text->back())))
      text->pop_back();
    fmt::print("    \"{}{}\"\n", text->substr(0, 300), text->size() > 300 ? "..." : "");
    for (const SampleEpisode& s : SampleEpisodes()) {
      if (s.title == e.value("title", "")) {
        const WerResult wer = WordErrorRate(s.text, *text);
        fmt::print("    word error rate against the spoken text: {:.0f}%\n", wer.wer * 100);
      }
    }
  }
  fmt::print(
      "\nThe transcripts stay in {}. To serve them:  podfleet serve --data {}\n"
      "then:  curl 'http://127.0.0.1:8750/api/episodes/1/transcript?format=srt'\n",
      serve.data_dir.string(), serve.data_dir.string());
  fleet.Stop();
  return 0;
}

}  // namespace podfleet
