// serve, up and token: the commands that run or administer a coordinator on this machine.
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "api/client.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "coordinator/admin_token.h"
#include "coordinator/coordinator.h"
#include "coordinator/data_dir_lock.h"
#include "feeds/rss.h"
#include "net/http_client.h"
#include "net/token.h"
#include "store/store_pg.h"

namespace podfleet {

std::vector<Flag> ServeFlags(CoordinatorOptions& o) {
  return {
      PathFlag("data", &o.data_dir, "data directory (database, uploads)"),
      Flag{"store",
           "where the store lives: postgres://USER@HOST:PORT/DB (PostgreSQL; --data keeps "
           "uploads and relay files) or sqlite:DIR (as --data DIR, the default)",
           "URL",
           [&o](std::string_view v) -> Result<void> {
             if (v.starts_with("sqlite:")) {
               o.data_dir = std::string(v.substr(7));
               o.store.clear();
               return {};
             }
             if (!v.starts_with("postgres://") && !v.starts_with("postgresql://"))
               return InvalidArgument("give postgres://... or sqlite:DIR");
             o.store = std::string(v);
             return {};
           },
           ""},
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
      DurationFlag("heartbeat", &o.heartbeat_interval,
                   "how often workers are asked to heartbeat (0: a third of the lease)"),
      DurationFlag("offline-after", &o.offline_after, "a node silent this long is shown offline"),
      DurationFlag("feed-interval", &o.feed_interval, "how often feeds are polled"),
      Int64Flag("backfill-newest", &o.backfill.newest,
                "a new feed queues only its newest N episodes (0: all; the rest skipped)"),
      Flag{"backfill-since", "a new feed queues only episodes published since DATE", "DATE",
           [&o](std::string_view v) -> Result<void> {
             o.backfill.since = ParseFeedDate(v);
             if (!o.backfill.since) return InvalidArgument("not a date (e.g. 2024-01-01)");
             return {};
           },
           ""},
      IntFlag("max-failures", &o.retry.max_failures, "retryable failures before a job fails"),
      DurationFlag("retry-backoff", &o.retry.base_backoff, "first retry delay (doubles each time)"),
      IntFlag("quarantine-after", &o.retry.max_lease_expiries,
              "lease expiries (dying workers) before an episode is quarantined"),
      Flag{"max-upload", "largest request body, i.e. audio upload, in MiB (larger: 413)", "MIB",
           [&o](std::string_view v) -> Result<void> {
             int64_t mib = 0;
             auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), mib);
             if (ec != std::errc() || end != v.data() + v.size() || mib < 1 || mib > (1 << 20))
               return InvalidArgument("not a size in MiB (1 to 1048576)");
             o.max_upload_bytes = static_cast<size_t>(mib) << 20;
             return {};
           },
           std::to_string(o.max_upload_bytes >> 20)},
      BoolFlag("allow-file-urls", &o.allow_file_urls,
               "take file:// URLs and local paths for feeds and audio (read from this machine's "
               "and the workers' disks)"),
      BoolFlag("refuse-private-addresses", &o.refuse_private_addresses,
               "refuse feed and audio URLs on private, loopback and link-local addresses (SSRF)"),
      Flag{"price", "price per hour of a GPU model, e.g. \"RTX A5000=0.22\" (repeatable)",
           "GPU=DOLLARS", [&o](std::string_view v) { return o.prices.Set(v); },
           "RTX A4000=0.16, RTX A5000=0.22, RTX 3090=0.30, RTX A6000=0.45"},
      Flag{"uplink", "the coordinator's upload link, e.g. 50Mbit (bandwidth and planning)", "RATE",
           [&o](std::string_view v) -> Result<void> {
             auto rate = ParseBitRate(v);
             if (!rate) return std::unexpected(rate.error());
             o.uplink_bits_per_second = *rate;
             return {};
           },
           "not set"},
      DoubleFlag("claim-capacity", &o.claim_capacity,
                 "claims per second the coordinator grants, for planning (podfleet_bench_queue)"),
      StringFlag("transcription-key", &o.api_key,
                 "key for POST /v1/audio/transcriptions besides the admin token (empty: none)",
                 "KEY"),
      DurationFlag("transcription-wait", &o.transcription_wait,
                   "how long /v1/audio/transcriptions waits for the fleet before answering 504"),
      Flag{"audio",
           "relay: download each episode once, cut it into chunks and serve workers Opus; "
           "origin: workers fetch whole episodes from their own URLs; ranges: workers read "
           "their chunks' byte ranges from the origin where it serves them (MP3, M4A), else relay",
           "relay|origin|ranges",
           [&o](std::string_view v) -> Result<void> {
             if (v != "relay" && v != "origin" && v != "ranges")
               return InvalidArgument("must be relay, origin or ranges");
             o.relay = v != "origin";
             o.origin_ranges = v == "ranges";
             return {};
           },
           o.relay ? (o.origin_ranges ? "ranges" : "relay") : "origin"},
      DurationFlag(
          "chunk", &o.chunks.target,
          "relay: chunk length (cuts fall in pauses nearby; down to half when idle workers wait)"),
      IntFlag("opus-bitrate", &o.opus.bitrate, "relay: Opus bits per second"),
      IntFlag("opus-complexity", &o.opus.complexity,
              "relay: libopus complexity 0..10 (0 is fastest; doc/relay.md has speed and WER)"),
      IntFlag("opus-frame-ms", &o.opus.frame_ms, "relay: Opus frame length, 20, 40 or 60 ms"),
      StringFlag("opus-application", &o.opus.application,
                 "relay: voip, audio or lowdelay (audio at complexity 0: about 3x less CPU, "
                 "about 30% more bytes; doc/relay.md)",
                 "MODE"),
      Flag{"audio-path",
           "relay: opus (re-encode: fewest bytes), copy (the original's MP3/AAC frames: almost "
           "no CPU) or auto (copy only when the relay's CPU, not the uplink, binds; doc/relay.md)",
           "auto|opus|copy",
           [&o](std::string_view v) -> Result<void> {
             auto mode = ParseAudioPathMode(v);
             if (!mode) return std::unexpected(mode.error());
             o.audio_path = *mode;
             return {};
           },
           "auto"},
      IntFlag("relay-episodes", &o.relay_episodes,
              "relay: episodes prepared at once (a slow origin holds up only its own)"),
      PathFlag("bundles", &o.bundles_dir,
               "serve the worker bundles in DIR (scripts/bundle) and print the join line"),
      StringFlag("join-url", &o.join_url,
                 "the coordinator's URL as workers reach it, for the join line (default: the "
                 "listening address)",
                 "URL"),
      StringFlag("advertise-url", &o.advertise_url,
                 "with --store postgres://: this coordinator's URL as workers reach it, named in "
                 "the leases of the audio it relays or holds (default: the listening address; "
                 "needed with --host 0.0.0.0; doc/scale.md)",
                 "URL"),
      DurationFlag("max-episode-duration", &o.max_episode_duration,
                   "relay: longer episodes are refused; downloads must end within 10 s + a quarter "
                   "of the declared duration (of this, when none is declared)"),
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
      StringFlag("autoscale", &o.pod_provider.kind,
                 "rent pods on demand through runpod or exec (doc/pods.md); off by default",
                 "PROVIDER"),
      IntFlag("max-pods", &o.autoscale.max_pods, "autoscale: at most this many pods at once"),
      DoubleFlag("budget", &o.autoscale.budget_per_hour,
                 "autoscale: dollars per hour all live pods together may cost"),
      ListFlag("gpu", &o.autoscale.gpus,
               "autoscale: GPU types allowed, in order of preference (\"RTX A5000,RTX 4090\")"),
      ListFlag("cloud", &o.autoscale.clouds,
               "autoscale: RunPod clouds to try in order when one has no capacity (ALL, SECURE, "
               "COMMUNITY; \"SECURE,COMMUNITY\")"),
      StringFlag("pod-image", &o.autoscale.image, "autoscale: the pods' container image", "IMAGE"),
      ListFlag("cuda-versions", &o.autoscale.cuda_versions,
               "autoscale: host CUDA versions the pods may land on (\"12.4,12.8\"; default: any)"),
      DurationFlag("setup-deadline", &o.autoscale.setup_deadline,
                   "autoscale: a pod not registered within this is terminated, its GPU avoided"),
      DurationFlag("pod-offline-grace", &o.autoscale.offline_grace,
                   "autoscale: a pod whose worker is offline this long is dead and replaced"),
      DurationFlag("pod-idle-exit", &o.autoscale.exit_when_idle,
                   "autoscale: pods' workers exit when idle this long (a backstop)"),
      DurationFlag("autoscale-interval", &o.autoscale.interval,
                   "autoscale: how often the plan is turned into pods"),
      DoubleFlag("autoscale-target", &o.autoscale.target_hours,
                 "autoscale: drain the backlog within this many hours (the plan's target)"),
      StringFlag("pod-command", &o.pod_command,
                 "autoscale: what pods run instead of the bundle join line (an image with "
                 "podfleet installed; $PODFLEET_SERVER and $PODFLEET_TOKEN are set)",
                 "CMD"),
      StringFlag("runpod-url", &o.pod_provider.runpod_url,
                 "RunPod GraphQL endpoint (default https://api.runpod.io/graphql)", "URL"),
      StringFlag("runpod-key-file", &o.pod_provider.runpod_key_file,
                 "file (mode 0600) holding the RunPod API key (default DATA/runpod.key; "
                 "RUNPOD_API_KEY wins)",
                 "PATH"),
      StringFlag("pods-exec", &o.pod_provider.exec_program,
                 "the exec provider's program (doc/pods.md)", "PROGRAM"),
      BoolFlag("init", &o.init,
               "start a new, empty database even where --data holds an earlier fleet's state "
               "(without it a missing or empty podfleet.db there is refused)"),
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
  auto joins = (*c)->JoinCommands();
  if (!joins) return std::unexpected(joins.error());
  for (const auto& [variant, command] : *joins)
    fmt::print("join a machine ({} bundle; the token is revocable: podfleet token list):\n  {}\n",
               variant, command);
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

namespace {

int PrintTokens(const std::vector<EnrollmentToken>& tokens) {
  fmt::print("{:<14} {:<8} {:<18} {}\n", "ID", "STATE", "CREATED (UTC)", "LABEL");
  for (const EnrollmentToken& t : tokens) {
    const std::time_t created = ToUnixMillis(t.created_at) / 1000;
    fmt::print("{:<14} {:<8} {:<18} {}\n", t.id, t.revoked ? "revoked" : "live",
               fmt::format("{:%Y-%m-%d %H:%M}", fmt::gmtime(created)), t.label);
  }
  return 0;
}

int TokenList(Store& store) {
  auto tokens = store.ListEnrollmentTokens();
  if (!tokens) return Fail(tokens.error().ToString());
  return PrintTokens(*tokens);
}

// `what` is an id from `token list`, or the token itself.
int TokenRevoke(Store& store, const std::string& what) {
  const std::string id = what.starts_with("pfe_") ? HashToken(what) : what;
  if (auto r = store.RevokeEnrollmentToken(id); !r) return Fail(r.error().ToString());
  fmt::print("revoked {} (nodes it registered keep working)\n", id.substr(0, 12));
  return 0;
}

// A coordinator runs on the data directory: the store is its alone, so the command goes through
// its API (the URL from the lock file, the admin token from the directory).
int TokenViaApi(const LockHolder& holder, const std::filesystem::path& data,
                const std::vector<std::string>& pos, const std::string& label) {
  if (holder.url.empty())
    return Fail(fmt::format("a coordinator is starting on {} ({}); try again once it listens",
                            data.string(), holder.Describe()));
  auto admin = ReadAdminToken(data / kAdminTokenFile);
  if (!admin) return Fail(admin.error().ToString());
  auto http = MakeCurlClient(HttpClientOptions{});
  CoordinatorClient client(holder.url, *http);
  client.set_admin_token(*admin);
  if (pos[0] == "create") {
    auto reply = client.PostJson("/api/tokens", {{"label", label}});
    if (!reply)
      return Fail(fmt::format("through the running coordinator ({}): {}", holder.Describe(),
                              reply.error().ToString()));
    fmt::print("{}\n", reply->value("token", ""));
    return 0;
  }
  if (pos[0] == "revoke") {
    const std::string id = pos[1].starts_with("pfe_") ? HashToken(pos[1]) : pos[1];
    auto reply = client.DeleteJson("/api/tokens/" + id);
    if (!reply) return Fail(reply.error().ToString());
    fmt::print("revoked {} (nodes it registered keep working)\n", id.substr(0, 12));
    return 0;
  }
  auto reply = client.GetJson("/api/tokens");
  if (!reply) return Fail(reply.error().ToString());
  std::vector<EnrollmentToken> tokens;
  for (const nlohmann::json& t : reply->value("tokens", nlohmann::json::array()))
    tokens.push_back({t.value("id", ""), t.value("label", ""),
                      FromUnixMillis(t.value("created_at", int64_t{0})),
                      t.value("revoked", false)});
  return PrintTokens(tokens);
}

}  // namespace

int RunToken(const Args& args) {
  std::filesystem::path data = "podfleet-data";
  std::string label = "cli";
  std::vector<Flag> flags = {PathFlag("data", &data, "the coordinator's data directory"),
                             StringFlag("label", &label, "create: what the token is for")};
  auto parsed = ParseFlags(flags, "token", args);
  if (!parsed) return Fail(parsed.error().message);
  const std::vector<std::string>& pos = parsed->positional;
  const bool known = (pos.size() == 1 && (pos[0] == "create" || pos[0] == "list")) ||
                     (pos.size() == 2 && pos[0] == "revoke");
  if (parsed->help || !known) {
    fmt::print("{}",
               FlagHelp(flags, "token create | list | revoke ID|TOKEN [options]",
                        "Manages the enrollment tokens workers register with, in the "
                        "coordinator's store:\ncreate prints a new one, list shows ids and "
                        "labels (never the tokens), revoke stops one\nregistering nodes. Over "
                        "HTTP: GET, POST /api/tokens, DELETE /api/tokens/ID (admin)."));
    return parsed->help ? 0 : 2;
  }
  if (auto holder = DataDirLock::Holder(data)) return TokenViaApi(*holder, data, pos, label);
  if (auto r = RequireDatabase(data, /*init=*/false); !r) return Fail(r.error().ToString());
  auto store = OpenSqliteStore((data / kDatabaseFile).string());
  if (!store) return Fail(store.error().ToString());
  if (pos[0] == "list") return TokenList(**store);
  if (pos[0] == "revoke") return TokenRevoke(**store, pos[1]);
  auto token = CreateEnrollmentToken(**store, label, SystemClock::Get().Now());
  if (!token) return Fail(token.error().ToString());
  fmt::print("{}\n", *token);
  return 0;
}

}  // namespace podfleet

namespace podfleet {
namespace {

int StoreCheck(const std::filesystem::path& db) {
  auto problems = CheckSqliteDatabase(db.string(), /*full=*/true);
  if (!problems) return Fail(problems.error().ToString());
  if (problems->empty()) {
    fmt::print("{}: integrity check ok\n", db.string());
    return 0;
  }
  fmt::print(stderr, "{}: {} problem(s) found by the integrity check:\n", db.string(),
             problems->size());
  for (const std::string& p : *problems) fmt::print(stderr, "  {}\n", p);
  return 1;
}

// The backup is checked whole before it replaces anything.
int StoreRestore(const std::filesystem::path& data, const std::filesystem::path& backup) {
  if (auto holder = DataDirLock::Holder(data))
    return Fail(fmt::format("a coordinator runs on {} ({}): stop it before restoring",
                            data.string(), holder->Describe()));
  auto problems = CheckSqliteDatabase(backup.string(), /*full=*/true);
  if (!problems) return Fail(problems.error().ToString());
  if (!problems->empty())
    return Fail(fmt::format("{} fails its integrity check ({}); nothing restored", backup.string(),
                            problems->front()));
  const auto db = data / kDatabaseFile;
  if (auto r = CopySqliteDatabase(backup.string(), db.string()); !r)
    return Fail(r.error().ToString());
  fmt::print("restored {} from {}\n", db.string(), backup.string());
  return 0;
}

// Refused while a coordinator runs on `from`: its writes would be missed.
int StoreMigrate(const std::filesystem::path& from, const std::string& to) {
  if (from.empty() || to.empty()) return Fail("store migrate needs --from DIR and --to URL");
  if (!to.starts_with("postgres://") && !to.starts_with("postgresql://"))
    return Fail(fmt::format("--to {}: give a postgres:// URL", to));
  if (auto holder = DataDirLock::Holder(from))
    return Fail(fmt::format("a coordinator runs on {} ({}): stop it before migrating",
                            from.string(), holder->Describe()));
  const auto db = from / kDatabaseFile;
  std::error_code ec;
  if (std::filesystem::file_size(db, ec) == 0 || ec)
    return Fail(fmt::format("{} is {}", db.string(), ec ? "missing" : "empty"));
  auto counts = CopySqliteToPg(db.string(), to);
  if (!counts) return Fail(counts.error().ToString());
  for (const auto& [table, rows] : *counts) fmt::print("{:>22} {:>9} rows\n", table, rows);
  fmt::print("migrated {} to PostgreSQL; start the coordinator with --store URL --data {}\n",
             db.string(), from.string());
  return 0;
}

}  // namespace

int RunStore(const Args& args) {
  std::filesystem::path data = "podfleet-data";
  std::filesystem::path from;
  std::string to;
  std::vector<Flag> flags = {
      PathFlag("data", &data, "the coordinator's data directory"),
      PathFlag("from", &from, "migrate: the data directory whose SQLite store is copied"),
      StringFlag("to", &to, "migrate: the empty PostgreSQL database to copy it into", "URL")};
  auto parsed = ParseFlags(flags, "store", args);
  if (!parsed) return Fail(parsed.error().message);
  const std::vector<std::string>& pos = parsed->positional;
  const bool known = (pos.size() == 1 && (pos[0] == "check" || pos[0] == "migrate")) ||
                     (pos.size() == 2 && (pos[0] == "backup" || pos[0] == "restore"));
  if (parsed->help || !known) {
    fmt::print("{}", FlagHelp(flags,
                              "store check | backup FILE | restore FILE | migrate --from DIR "
                              "--to postgres://... [options]",
                              "check runs SQLite's integrity check on the database (exit 1 when "
                              "it finds problems);\nbackup copies it to FILE with SQLite's "
                              "online backup API, consistent even while a\ncoordinator runs; "
                              "restore checks FILE and copies it over the database (the\n"
                              "coordinator must be stopped); migrate copies a SQLite store into "
                              "an empty PostgreSQL\ndatabase (doc/scale.md)."));
    return parsed->help ? 0 : 2;
  }
  const auto db = data / kDatabaseFile;
  if (pos[0] == "restore") return StoreRestore(data, pos[1]);
  if (pos[0] == "migrate") return StoreMigrate(from, to);
  std::error_code ec;
  if (std::filesystem::file_size(db, ec) == 0 || ec)
    return Fail(fmt::format("{} is {}", db.string(), ec ? "missing" : "empty"));
  if (pos[0] == "check") return StoreCheck(db);
  if (std::filesystem::exists(pos[1], ec))
    return Fail(fmt::format("{} exists; give a new file name", pos[1]));
  if (auto r = CopySqliteDatabase(db.string(), pos[1]); !r) {
    std::filesystem::remove(pos[1], ec);
    return Fail(r.error().ToString());
  }
  fmt::print("backed up {} to {}\n", db.string(), pos[1]);
  return 0;
}

}  // namespace podfleet
