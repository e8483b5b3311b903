// serve, up and token: the commands that run or administer a coordinator on this machine.
#include <fmt/format.h>

#include <charconv>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "coordinator/admin_token.h"
#include "coordinator/coordinator.h"

namespace podfleet {

std::vector<Flag> ServeFlags(CoordinatorOptions& o) {
  return {
      PathFlag("data", &o.data_dir, "data directory (database, uploads)"),
      StringFlag("host", &o.host, "address to listen on", "ADDR"),
      Flag{"port", "port to listen on (0: any free port)", "N",
           [&o](std::string_view v) -> Result<void> {
             int port = 0;
             auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), port);
             if (ec != std::errc() || end != v.data() + v.size() || port < 0 || port > 65535)
               return InvalidArgument("not a port number");
             o.port = static_cast<uint16_t>(port);
             return {};
           },
           std::to_string(o.port)},
      IntFlag("http-threads", &o.http_threads, "HTTP I/O threads"),
      DurationFlag("lease", &o.lease_duration, "lease length; workers renew it by heartbeats"),
      DurationFlag("heartbeat", &o.heartbeat_interval, "how often workers are asked to heartbeat"),
      DurationFlag("offline-after", &o.offline_after, "a node silent this long is shown offline"),
      DurationFlag("feed-interval", &o.feed_interval, "how often feeds are polled"),
      IntFlag("max-failures", &o.retry.max_failures, "retryable failures before a job fails"),
      DurationFlag("retry-backoff", &o.retry.base_backoff, "first retry delay (doubles each time)"),
      Flag{"audio",
           "relay: download each episode once, cut it into chunks and serve workers Opus; "
           "origin: workers fetch whole episodes from their own URLs",
           "relay|origin",
           [&o](std::string_view v) -> Result<void> {
             if (v != "relay" && v != "origin") return InvalidArgument("must be relay or origin");
             o.relay = v == "relay";
             return {};
           },
           o.relay ? "relay" : "origin"},
      DurationFlag("chunk", &o.chunks.target, "relay: chunk length (cuts fall in pauses nearby)"),
      IntFlag("opus-bitrate", &o.opus.bitrate, "relay: Opus bits per second"),
      Flag{"egress-limit", "cap on the audio the coordinator serves, in Mbit/s (0: none)", "MBIT",
           [&o](std::string_view v) -> Result<void> {
             double mbit = 0;
             auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), mbit);
             if (ec != std::errc() || end != v.data() + v.size() || mbit < 0)
               return InvalidArgument("not a number of Mbit/s");
             o.egress_bytes_per_second = static_cast<int64_t>(mbit * 1e6 / 8);
             return {};
           },
           "0"},
  };
}

Result<std::unique_ptr<Coordinator>> StartCoordinator(const CoordinatorOptions& options) {
  auto c = Coordinator::Start(options, SystemClock::Get());
  if (!c) return c;
  fmt::print("podfleet coordinator listening on {} (data: {})\n", (*c)->base_url(),
             options.data_dir.string());
  if (const auto& token = (*c)->first_enrollment_token()) {
    fmt::print("enrollment token (shown once; workers register with it):\n  {}\n", *token);
    fmt::print("start a worker:  podfleet work --server {} --token {}\n", (*c)->base_url(), *token);
  }
  if (const auto& token = (*c)->first_admin_token()) {
    fmt::print(
        "admin token (shown once; kept in {}, which `podfleet feed add` and `episodes add` read "
        "when run with --data {}):\n  {}\n",
        (options.data_dir / kAdminTokenFile).string(), options.data_dir.string(), *token);
  }
  std::fflush(stdout);
  return c;
}

int RunServe(const Args& args) {
  CoordinatorOptions options;
  auto flags = ServeFlags(options);
  auto parsed = ParseFlags(flags, "serve", args);
  if (!parsed) return Fail(parsed.error().message);
  if (parsed->help) {
    fmt::print(
        "{}",
        FlagHelp(flags, "serve [options]",
                 "Runs the coordinator: the HTTP API, the durable queue and the feed poller."));
    return 0;
  }
  SignalWatcher signals(nullptr);
  auto coordinator = StartCoordinator(options);
  if (!coordinator) return Fail(coordinator.error().ToString());
  signals.Wait();
  (*coordinator)->Stop();
  fmt::print("coordinator stopped\n");
  return 0;
}

int RunToken(const Args& args) {
  std::filesystem::path data = "podfleet-data";
  std::string label = "cli";
  std::vector<Flag> flags = {PathFlag("data", &data, "the coordinator's data directory"),
                             StringFlag("label", &label, "what the token is for")};
  auto parsed = ParseFlags(flags, "token", args);
  if (!parsed) return Fail(parsed.error().message);
  if (parsed->help || parsed->positional != std::vector<std::string>{"create"}) {
    fmt::print("{}",
               FlagHelp(flags, "token create [options]",
                        "Creates an enrollment token in the coordinator's store and prints it."));
    return parsed->help ? 0 : 2;
  }
  auto store = OpenSqliteStore((data / "podfleet.db").string());
  if (!store) return Fail(store.error().ToString());
  auto token = CreateEnrollmentToken(**store, label, SystemClock::Get().Now());
  if (!token) return Fail(token.error().ToString());
  fmt::print("{}\n", *token);
  return 0;
}

}  // namespace podfleet
