#include "coordinator/coordinator.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <random>

#include "api/wire.h"
#include "audio/audio.h"
#include "coordinator/admin_token.h"
#include "coordinator/coordinator_context.h"
#include "coordinator/fleet_view.h"
#include "coordinator/lease_reaper.h"
#include "coordinator/metrics.h"
#include "coordinator/relay.h"
#include "core/retry_pacer.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/token.h"
#include "store/coordination.h"

namespace podfleet {

HttpResponse JsonReply(int status, const nlohmann::json& body) {
  // Strings from outside (feed titles, file names) may hold bytes that are not UTF-8: they are
  // replaced rather than failing the whole reply.
  return HttpResponse::Json(status,
                            body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

HttpResponse ErrorReply(const Error& e) { return HttpResponse::FromError(e); }

Result<nlohmann::json> JsonBody(const HttpRequest& request) {
  auto j = ParseJson(request.body.empty() ? "{}" : request.body);
  if (!j) return j;
  if (!j->is_object()) return InvalidArgument("request body must be a JSON object");
  return j;
}

Result<std::vector<NodeInfo>> RoutableWorkers(Coordinator::Context& c) {
  auto nodes = c.store.ListNodes();
  if (!nodes) return std::unexpected(nodes.error());
  const TimePoint since = c.clock.Now() - std::max(kRecentlySeen, c.options.offline_after);
  std::vector<NodeInfo> routable;
  for (const Node& n : *nodes)
    if (!n.retired && n.info.blocked_reason.empty() && n.last_seen >= since)
      routable.push_back(n.info);
  return routable;
}

namespace {

// The field when present and of the type `is` accepts; nullptr when absent or null.
Result<const nlohmann::json*> TypedField(const nlohmann::json& body, const char* key,
                                         bool (nlohmann::json::*is)() const noexcept,
                                         const char* type) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return nullptr;
  if (!((*it).*is)()) return InvalidArgument(fmt::format("field '{}' must be {}", key, type));
  return &*it;
}

// What an upload is written under until it is whole (SaveUpload).
constexpr char kUploadPartSuffix[] = ".part";

// At start: uploads a crash cut short (their temporary files, and empty files that older
// versions left after a failed write) are removed. An upload is never empty ("empty upload" is
// refused), so an empty file is no episode's audio.
void SweepUploads(const std::filesystem::path& dir) {
  std::error_code ec;
  int removed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    std::error_code size_ec;
    const bool empty = entry.is_regular_file(size_ec) && entry.file_size(size_ec) == 0;
    if (!name.ends_with(kUploadPartSuffix) && !(empty && !size_ec)) continue;
    std::error_code rm;
    if (std::filesystem::remove(entry.path(), rm)) ++removed;
  }
  if (removed > 0)
    fmt::print(stderr, "coordinator: removed {} unfinished upload(s) from {}\n", removed,
               dir.string());
}

}  // namespace

Result<int64_t> IntField(const nlohmann::json& body, const char* key, int64_t fallback) {
  auto field = TypedField(body, key, &nlohmann::json::is_number_integer, "an integer");
  if (!field) return std::unexpected(field.error());
  if (*field == nullptr) return fallback;
  if ((*field)->is_number_unsigned() && (*field)->get<uint64_t>() > INT64_MAX)
    return InvalidArgument(fmt::format("field '{}' is out of range", key));
  return (*field)->get<int64_t>();
}

Result<bool> BoolField(const nlohmann::json& body, const char* key, bool fallback) {
  auto field = TypedField(body, key, &nlohmann::json::is_boolean, "true or false");
  if (!field) return std::unexpected(field.error());
  return *field == nullptr ? fallback : (*field)->get<bool>();
}

Result<std::string> StringField(const nlohmann::json& body, const char* key, std::string fallback) {
  auto field = TypedField(body, key, &nlohmann::json::is_string, "a string");
  if (!field) return std::unexpected(field.error());
  return *field == nullptr ? fallback : (*field)->get<std::string>();
}

Result<int64_t> IdParam(const HttpRequest& request, const char* name) {
  auto it = request.params.find(name);
  if (it == request.params.end()) return InvalidArgument(std::string("missing ") + name);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), value);
  if (ec != std::errc() || end != it->second.data() + it->second.size() || value <= 0)
    return InvalidArgument(std::string(name) + " must be a positive integer");
  return value;
}

Result<EpisodeInfo> SaveUpload(Coordinator::Context& c, std::string_view bytes,
                               std::string_view kind, std::string_view title) {
  const auto dir = c.options.data_dir / "uploads";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::random_device rd;
  const std::string name = fmt::format("{:016x}{:08x}", (uint64_t(rd()) << 32) | rd(), rd());
  {
    // Written under a temporary name, so that a crash leaves only what SweepUploads removes.
    const auto part = dir / (name + kUploadPartSuffix);
    std::ofstream out(part, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (out) std::filesystem::rename(part, dir / name, ec);
    if (!out || ec) {
      const std::string why = ec ? ec.message() : std::strerror(errno);
      // A full disk leaves a short or empty file: it must not stay behind.
      std::filesystem::remove(part, ec);
      return Unavailable(fmt::format("cannot store the upload in {}: {}", dir.string(), why));
    }
  }
  EpisodeInfo info;
  // Known lengths let the queue's audio-hours and the bytes per audio-hour be measured.
  if (Result<Millis> duration = ProbeAudioDuration(dir / name)) info.duration = *duration;
  // Absolute when several coordinators share the store: it names the one holding the file.
  info.audio_url = c.audio_base + "/api/media/" + name;
  info.guid = fmt::format("{}:{}", kind, name);
  info.audio_length = static_cast<int64_t>(bytes.size());
  info.title = title.empty() ? fmt::format("{} {}", kind, name) : std::string(title);
  return info;
}

void RecordServed(Coordinator::Context& c, const HttpRequest& request, int64_t bytes,
                  Millis audio) {
  NodeId node(0);
  if (std::string_view token = request.BearerToken(); !token.empty()) {
    if (Result<Node> found = c.nodes.Find(c.store, HashToken(token), c.clock.Now()))
      node = found->id;
  }
  if (Result<void> r = c.store.RecordTransfer(node, bytes, audio, c.clock.Now()); !r)
    fmt::print(stderr, "counting bytes served: {}\n", r.error().ToString());
}

void Coordinator::Context::JobsQueued() {
  dispatcher.Notify();
  if (relay) relay->Wake();
}

namespace {

// Online, unblocked nodes less the other jobs waiting for them: the workers that the chunks of
// the episode the relay has in hand would find waiting (RelayOptions::free_workers). The count of
// queued jobs includes the ones being prepared, the episode in hand among them.
int FreeWorkers(Store& store, TimePoint now, Millis offline_after) {
  auto nodes = store.ListNodes();
  auto counts = store.CountJobs();
  if (!nodes || !counts) return 0;
  int64_t online = 0;
  for (const Node& n : *nodes)
    if (DeriveStatus(n, 0, now, offline_after) == NodeStatus::kIdle) ++online;
  const int64_t waiting = std::max<int64_t>(0, counts->queued - 1);
  return static_cast<int>(std::max<int64_t>(0, online - waiting));
}

// What the relay chooses an episode's audio path from (RelayOptions::fleet): the online,
// unblocked nodes' speeds together and `uplink` (bits per second; 0: unknown).
AudioPathFacts FleetForRelay(Store& store, TimePoint now, Millis offline_after, double uplink) {
  AudioPathFacts facts;
  facts.uplink_bits_per_second = uplink;
  auto nodes = store.ListNodes();
  if (!nodes) return facts;
  for (const Node& n : *nodes) {
    const NodeStatus status = DeriveStatus(n, 0, now, offline_after);
    if (status != NodeStatus::kOffline && status != NodeStatus::kBlocked)
      facts.fleet_speed += n.info.speed;
  }
  return facts;
}

// Removes the chunk files under `dir` of episodes done or deleted (the files CollectChunkFiles,
// routes_worker.cc, removes on the coordinator that records the completion).
void CollectFinishedChunks(Store& store, const std::filesystem::path& dir) {
  std::map<int64_t, std::vector<std::filesystem::path>> by_episode;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    int64_t episode = 0;
    if (name.starts_with('e') &&
        (name.ends_with(".opus") || name.ends_with(".mp3") || name.ends_with(".aac")) &&
        std::sscanf(name.c_str(), "e%" SCNd64 "-c", &episode) == 1)
      by_episode[episode].push_back(entry.path());
  }
  for (const auto& [episode, files] : by_episode) {
    Result<Episode> e = store.GetEpisode(EpisodeId(episode));
    const bool gone = !e && e.error().code == Code::kNotFound;
    if (!gone && !(e && e->state == EpisodeState::kDone)) continue;
    for (const auto& file : files) std::filesystem::remove(file, ec);
  }
}

// Origin mode after a relay-mode run: jobs the relay never prepared are queued whole, for
// workers to fetch from their origin.
Result<void> QueueUnprepared(Store& store, const Clock& clock) {
  while (true) {
    auto jobs = store.ListPreparing(100, TimePoint::max());
    if (!jobs) return std::unexpected(jobs.error());
    if (jobs->empty()) return {};
    for (const PreparingJob& j : *jobs) {
      // A chunk to prepare again (Store::ReclaimAudio): workers cut it from the whole file.
      if (j.next.end) {
        if (auto r = store.QueuePreparedAgain(j.job, /*relayed=*/false, clock.Now()); !r) return r;
        continue;
      }
      // What the relay left of a partly queued episode: workers cut it from the whole file.
      Chunk rest;
      rest.start = j.next.start;
      if (auto r = store.PlanChunks(j.job, {rest}, clock.Now()); !r)
        return std::unexpected(r.error());
    }
  }
}

}  // namespace

// How often the lease reaper runs, by the coordinator's clock.
constexpr Millis kReapEvery{1'000};
// How often a coordinator sharing its store looks for chunk files of finished episodes: the
// completion of a chunk it holds may reach another coordinator, which cannot remove them.
constexpr Millis kCollectEvery{60'000};
// The periodic tasks one coordinator at a time runs (store/coordination.h, TaskLocks).
constexpr std::string_view kReapTask = "reap leases";
constexpr std::string_view kFeedPollTask = "poll feeds";

namespace {

// An address that names no one host: workers cannot reach a coordinator at it.
bool Wildcard(std::string_view host) {
  return host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]";
}

// Whether this coordinator runs `task` now: it holds the task's lock and its store writes. A store
// that stopped (CheckHealth) gives the lock up, so that another coordinator runs the task while
// this one waits for a restart.
bool HoldWhileHealthy(TaskLocks& locks, Store& store, std::string_view task) {
  if (!store.CheckHealth()) {
    locks.Release(task);
    return false;
  }
  return locks.Hold(task);
}

}  // namespace

// The threads route handlers run on, so that HTTP I/O threads never wait for the store.
class HandlerPool {
 public:
  explicit HandlerPool(int threads) : pool_(static_cast<size_t>(threads)) {}
  void Post(std::function<void()> task) { boost::asio::post(pool_, std::move(task)); }
  // Runs what is queued and joins the threads. REQUIRES: nothing posts any more.
  void Join() { pool_.join(); }

 private:
  boost::asio::thread_pool pool_;
};

Result<CoordinatorOptions> ValidateOptions(CoordinatorOptions o) {
  auto secs = [](Millis m) { return static_cast<double>(m.count()) / 1000.0; };
  if (o.lease_duration <= Millis(0)) return InvalidArgument("--lease must be positive");
  if (o.heartbeat_interval < Millis(0)) return InvalidArgument("--heartbeat must be positive");
  // A third of the lease, so two heartbeats may be lost before it is; and no less often than a
  // third of offline_after, so that a working node never shows offline.
  if (o.heartbeat_interval == Millis(0))
    o.heartbeat_interval = std::min(o.lease_duration, std::max(o.offline_after, Millis(1))) / 3;
  if (o.heartbeat_interval <= Millis(0))
    return InvalidArgument(
        fmt::format("--lease {}s is too short to heartbeat in", secs(o.lease_duration)));
  if (o.heartbeat_interval * 2 >= o.lease_duration)
    return InvalidArgument(fmt::format(
        "--heartbeat {}s must be less than half of --lease {}s, or a single late heartbeat loses "
        "the lease (leave --heartbeat out to use a third of the lease)",
        secs(o.heartbeat_interval), secs(o.lease_duration)));
  if (o.max_claim_wait <= Millis(0))
    return InvalidArgument("the longest claim wait must be positive");
  if (o.http_threads < 1 || o.handler_threads < 1)
    return InvalidArgument("--http-threads and the handler threads must be at least 1");
  if (o.advertise_url.ends_with('/')) o.advertise_url.pop_back();
  if (!o.advertise_url.empty() && !o.advertise_url.starts_with("http://") &&
      !o.advertise_url.starts_with("https://"))
    return InvalidArgument(
        fmt::format("--advertise-url '{}' must start with http:// or https://", o.advertise_url));
  if (!o.advertise_url.empty() && o.store.empty())
    return InvalidArgument(
        "--advertise-url is for several coordinators on one PostgreSQL store (--store "
        "postgres://...); a coordinator on SQLite is reached at the URL its workers have");
  if (!o.store.empty() && o.relay && o.advertise_url.empty() && Wildcard(o.host))
    return InvalidArgument(fmt::format(
        "--advertise-url URL is needed: on PostgreSQL, coordinators sharing the store serve the "
        "audio they relay from their own URL, and --host {} does not say which address workers "
        "reach this one at (or run --audio origin)",
        o.host.empty() ? "''" : o.host));
  return o;
}

Result<std::string> CreateEnrollmentToken(Store& store, std::string_view label, TimePoint now) {
  std::string token = NewToken("pfe_");
  if (auto r = store.AddEnrollmentToken(HashToken(token), label, now); !r)
    return std::unexpected(r.error());
  return token;
}

Result<std::string> KeptEnrollmentToken(Store& store, const std::filesystem::path& path,
                                        std::string_view label, TimePoint now) {
  std::string saved;
  if (std::ifstream in(path); in && std::getline(in, saved) && !saved.empty()) {
    auto valid = store.CheckEnrollmentToken(HashToken(saved));
    if (!valid) return std::unexpected(valid.error());
    if (*valid) return saved;
  }
  auto token = CreateEnrollmentToken(store, label, now);
  if (!token) return std::unexpected(token.error());
  {
    std::ofstream out(path, std::ios::trunc);
    out << *token << "\n";
    if (!out) return Unavailable("cannot write " + path.string());
  }
  std::error_code ec;
  std::filesystem::permissions(
      path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
      std::filesystem::perm_options::replace, ec);
  return token;
}

Result<void> RequireDatabase(const std::filesystem::path& data_dir, bool init) {
  std::error_code ec;
  const auto db = data_dir / kDatabaseFile;
  const auto size = std::filesystem::file_size(db, ec);
  if (!ec && size > 0) return {};
  const bool missing = static_cast<bool>(ec);
  std::vector<std::string> found;
  for (const char* name : {kAdminTokenFile, "podfleet.db-wal", "uploads", "relay", "workers"}) {
    if (std::filesystem::exists(data_dir / name, ec)) found.push_back(name);
  }
  if (found.empty()) return {};  // a new data directory
  const std::string state = fmt::format("{}", fmt::join(found, ", "));
  if (init) {
    fmt::print(stderr, "--init: starting a new, empty database in {} (which holds {})\n",
               data_dir.string(), state);
    for (const char* suffix : {"", "-wal", "-shm"})
      std::filesystem::remove(db.string() + suffix, ec);
    return {};
  }
  return Corruption(fmt::format(
      "{} is {} but {} holds podfleet state ({}): refusing to start a new, empty fleet over it. "
      "Restore the database (`podfleet store restore BACKUP --data {}`), or start with --init "
      "to begin afresh",
      db.string(), missing ? "missing" : "empty", data_dir.string(), state, data_dir.string()));
}

Result<std::unique_ptr<Coordinator>> Coordinator::Start(const CoordinatorOptions& given,
                                                        const Clock& clock) {
  Result<CoordinatorOptions> valid = ValidateOptions(given);
  if (!valid) return std::unexpected(valid.error());
  const CoordinatorOptions& options = *valid;
  if (options.relay) {
    if (Result<void> r = CheckOpusOptions(options.opus); !r) return std::unexpected(r.error());
    if (options.relay_episodes < 1) return InvalidArgument("relay episodes must be at least 1");
  }
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec)
    return Unavailable(
        fmt::format("cannot create {}: {}", options.data_dir.string(), ec.message()));

  auto lock = DataDirLock::Acquire(options.data_dir, clock.Now());
  if (!lock) return std::unexpected(lock.error());
  if (options.store.empty()) {
    if (auto r = RequireDatabase(options.data_dir, options.init); !r)
      return std::unexpected(r.error());
  }
  auto admin = LoadOrCreateAdminToken(options.data_dir / kAdminTokenFile);
  if (!admin) return std::unexpected(admin.error());
  SweepUploads(options.data_dir / "uploads");

  std::unique_ptr<Coordinator> c(new Coordinator());
  c->lock_.emplace(std::move(*lock));
  c->first_admin_token_ = std::move(admin->created);
  c->options_ = options;
  c->clock_ = &clock;
  auto store = options.store.empty() ? OpenSqliteStore((options.data_dir / kDatabaseFile).string())
                                     : OpenPgStore(options.store);
  if (!store) return std::unexpected(store.error());
  c->store_ = std::move(*store);
  c->task_locks_ = options.store.empty() ? SoleTaskLocks() : PgTaskLocks(options.store);

  auto tokens = c->store_->CountEnrollmentTokens();
  if (!tokens) return std::unexpected(tokens.error());
  if (*tokens == 0) {
    auto token = CreateEnrollmentToken(*c->store_, "first start", clock.Now());
    if (!token) return std::unexpected(token.error());
    c->first_token_ = *token;
  }

  if (!options.bundles_dir.empty() || !options.pod_provider.kind.empty()) {
    if (!options.bundles_dir.empty()) {
      auto shelf = BundleShelf::Open(options.bundles_dir);
      if (!shelf) return std::unexpected(shelf.error());
      c->bundles_ = std::make_unique<BundleShelf>(std::move(*shelf));
    }
    c->join_ = std::make_unique<JoinToken>(*c->store_, clock);
    if (auto r = c->join_->Start(); !r) return std::unexpected(r.error());
  }

  c->http_ = MakeCurlClient(HttpClientOptions{});
  c->dispatcher_ = std::make_unique<Dispatcher>(*c->store_, clock, options.lease_duration);
  Dispatcher* dispatcher = c->dispatcher_.get();
  if (options.relay) {
    RelayOptions relay;
    relay.dir = options.data_dir / "relay";
    relay.uploads_dir = options.data_dir / "uploads";
    relay.scratch_dir = options.data_dir / "tmp";
    relay.chunks = options.chunks;
    relay.max_episode_duration = options.max_episode_duration;
    relay.opus = options.opus;
    relay.episodes = options.relay_episodes;
    relay.retry = options.retry;
    relay.public_only = options.refuse_private_addresses;
    relay.free_workers = [store = c->store_.get(), &clock, offline = options.offline_after] {
      return FreeWorkers(*store, clock.Now(), offline);
    };
    relay.audio_path = options.audio_path;
    relay.origin_ranges = options.origin_ranges;
    // The tightest of the uplink configured and the egress cap.
    double uplink = options.uplink_bits_per_second;
    const double egress = static_cast<double>(options.egress_bytes_per_second) * 8;
    if (egress > 0 && (uplink <= 0 || egress < uplink)) uplink = egress;
    relay.fleet = [store = c->store_.get(), &clock, offline = options.offline_after, uplink] {
      return FleetForRelay(*store, clock.Now(), offline, uplink);
    };
    c->relay_ = std::make_unique<Relay>(*c->store_, *c->http_, clock, relay,
                                        [dispatcher] { dispatcher->Notify(); });
  } else if (auto r = QueueUnprepared(*c->store_, clock); !r) {
    return std::unexpected(r.error());
  }
  c->egress_ = std::make_unique<EgressPacer>(options.egress_bytes_per_second, clock);
  FeedPollerOptions poll;
  poll.interval = options.feed_interval;
  poll.backfill = options.backfill;
  poll.scratch_dir = options.data_dir / "tmp";
  poll.documents_dir = options.data_dir / "feeds";
  poll.sources = SourcePolicy{options.allow_file_urls, options.refuse_private_addresses};
  poll.intake = options.relay ? JobIntake::kPrepare : JobIntake::kQueue;
  poll.may_sweep = [locks = c->task_locks_.get(), store = c->store_.get()] {
    return HoldWhileHealthy(*locks, *store, kFeedPollTask);
  };
  Relay* relay = c->relay_.get();
  c->poller_ =
      std::make_unique<FeedPoller>(*c->store_, *c->http_, clock, poll, [dispatcher, relay] {
        dispatcher->Notify();
        if (relay) relay->Wake();
      });
  c->activity_ = std::make_unique<ActivityLog>();
  c->metrics_ = std::make_unique<Metrics>();
  c->waiters_ = std::make_unique<JobWaiters>(*c->store_, clock);
  c->uploads_ = std::make_unique<UploadDedup>(options.transcription_dedup_window);
  c->context_.reset(new Context{c->options_, clock, *c->store_, *c->dispatcher_, *c->poller_,
                                std::move(admin->hash), *c->activity_, *c->metrics_, *c->waiters_,
                                options.api_key.empty() ? "" : HashToken(options.api_key),
                                *c->egress_, c->relay_.get(), *c->uploads_});
  c->context_->bundles = c->bundles_.get();
  c->context_->join = c->join_.get();
  if (!options.store.empty()) {
    auto listener = ListenForWork(options.store, [ctx = c->context_.get()] { ctx->JobsQueued(); });
    if (!listener) return std::unexpected(listener.error());
    c->work_listener_ = std::move(*listener);
  }

  std::vector<Route> routes = WorkerRoutes(*c->context_);
  for (Route& r : OperatorRoutes(*c->context_)) routes.push_back(std::move(r));
  for (Route& r : FeedRoutes(*c->context_)) routes.push_back(std::move(r));
  for (Route& r : AnalyticsRoutes(*c->context_)) routes.push_back(std::move(r));
  for (Route& r : OpenAiRoutes(*c->context_)) routes.push_back(std::move(r));
  for (Route& r : SearchRoutes(*c->context_)) routes.push_back(std::move(r));
  for (Route& r : PublishRoutes(*c->context_)) routes.push_back(std::move(r));
  for (Route& r : BundleRoutes(*c->context_)) routes.push_back(std::move(r));
  for (Route& r : PodRoutes(*c->context_)) routes.push_back(std::move(r));
  c->handlers_ = std::make_unique<HandlerPool>(options.handler_threads);
  auto router = std::make_shared<Router>(
      std::move(routes),
      [pool = c->handlers_.get()](std::function<void()> task) { pool->Post(std::move(task)); });
  Metrics* metrics = c->metrics_.get();
  HttpServerOptions http;
  http.host = options.host;
  http.port = options.port;
  http.threads = options.http_threads;
  http.max_body_bytes = options.max_upload_bytes;
  auto server =
      HttpServer::Start(http, [router, metrics](HttpRequest request, HttpResponder respond) {
        auto inner = std::make_shared<HttpResponder>(std::move(respond));
        HttpResponder counted([inner, metrics, method = request.method,
                               route = RouteLabel(request.path)](HttpResponse response) {
          metrics->CountResponse(method, route, response.status);
          (*inner)(std::move(response));
        });
        router->Handle(std::move(request), std::move(counted));
      });
  if (!server) return std::unexpected(server.error());
  c->server_ = std::move(*server);
  if (c->join_) c->join_->SetBaseUrl(options.join_url.empty() ? c->base_url() : options.join_url);
  // Before any audio is recorded as held here, and before the reaper's first pass: chunks of a
  // coordinator never heard from are not leased (Store::Claim).
  c->context_->audio_base = c->audio_base();
  if (!c->context_->audio_base.empty()) {
    if (auto r = c->store_->HeartbeatCoordinator(c->context_->audio_base, clock.Now()); !r)
      return std::unexpected(r.error());
  }
  if (c->relay_) c->relay_->Start(c->context_->audio_base);
  if (auto r = c->lock_->SetUrl(c->base_url()); !r) return std::unexpected(r.error());
  c->lease_reaper_ =
      std::make_unique<LeaseReaper>(*c->store_, clock, options.lease_duration, options.retry);
  c->reaper_ = std::jthread([raw = c.get()](std::stop_token stop) { raw->ReapLoop(stop); });
  if (!options.pod_provider.kind.empty()) {
    if (auto r = c->StartAutoscaler(); !r) return std::unexpected(r.error());
  }
  return c;
}

Coordinator::~Coordinator() { Stop(); }

bool Coordinator::HoldsTask(std::string_view task) {
  return HoldWhileHealthy(*task_locks_, *store_, task);
}

void Coordinator::Stop() {
  if (stopping_.exchange(true)) return;
  autoscale_thread_.request_stop();
  if (autoscale_thread_.joinable()) autoscale_thread_.join();
  reaper_.request_stop();
  if (reaper_.joinable()) reaper_.join();
  work_listener_.reset();
  if (poller_) poller_->Stop();
  task_locks_.reset();  // frees this coordinator's tasks for the others now
  if (relay_) relay_->Stop();
  if (dispatcher_) dispatcher_->Stop();
  if (waiters_) waiters_->Stop();
  if (egress_) egress_->Stop();
  if (server_) server_->Stop();
  if (handlers_) handlers_->Join();
  lock_.reset();  // everything that used the data directory has stopped
}

void Coordinator::JobsQueued() {
  if (context_) context_->JobsQueued();
}

Result<std::vector<std::pair<std::string, std::string>>> Coordinator::JoinCommands() {
  std::vector<std::pair<std::string, std::string>> lines;
  if (!join_ || !bundles_) return lines;
  auto token = join_->Current();
  if (!token) return std::unexpected(token.error());
  for (const Bundle& b : bundles_->bundles())
    lines.emplace_back(b.variant, JoinCommand(join_->base_url(), b, *token));
  return lines;
}

uint16_t Coordinator::port() const { return server_->port(); }

std::string Coordinator::base_url() const {
  const std::string host = options_.host == "0.0.0.0" ? "127.0.0.1" : options_.host;
  return fmt::format("http://{}:{}", host, port());
}

std::string Coordinator::audio_base() const {
  if (options_.store.empty()) return "";
  if (!options_.advertise_url.empty()) return options_.advertise_url;
  // Origin mode behind a wildcard address (allowed by ValidateOptions): uploads stay relative.
  return Wildcard(options_.host) ? "" : base_url();
}

bool Coordinator::TendCoordinators(bool reaping, TimePoint& reachable_since) {
  const TimePoint now = clock_->Now();
  Result<void> beat;
  if (!context_->audio_base.empty()) beat = store_->HeartbeatCoordinator(context_->audio_base, now);
  if (!beat) return false;
  // After an outage every coordinator's heartbeat is old: the others get a silence's time to
  // heartbeat again before their audio is taken for lost.
  if (!reaping || now - reachable_since < kCoordinatorSilence) return true;
  Result<int> reclaimed = store_->ReclaimAudio(now);
  if (!reclaimed) return false;
  if (*reclaimed > 0) {
    fmt::print(stderr, "coordinator: {} job(s) held by silent coordinators given to the living\n",
               *reclaimed);
    context_->JobsQueued();
  }
  return true;
}

// Requeues jobs whose workers stopped renewing them. Runs often enough that a dead worker's job
// is leased again within a second of its lease ending.
void Coordinator::ReapLoop(const std::stop_token& stop) {
  RetryPacer pacer("lease reaper", Millis(1'000), Millis(30'000));
  TimePoint sampled = clock_->Now();
  // When the next pass is due on the monotonic clock: a pass far later than that means this
  // process was frozen (lease_reaper.h).
  auto due = std::chrono::steady_clock::now();
  Millis wait = kReapEvery;
  TimePoint reachable_since = clock_->Now();
  TimePoint collect_at = clock_->Now() + kCollectEvery;
  do {
    const Millis stalled =
        std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - due);
    const TimePoint now = clock_->Now();
    SampleActivity(std::clamp(now - sampled, Millis(0), Millis(5'000)));
    sampled = now;
    // A stopped store (store.h, CheckHealth) refuses every expiry: wait, quietly, until restarted.
    Result<void> healthy = store_->CheckHealth();
    // Another coordinator on the same store may hold the reaper's lock: then it reaps.
    Result<int> expired = 0;
    bool reaping = false;
    if (!healthy) {
      task_locks_->Release(kReapTask);
      expired = std::unexpected(healthy.error());
    } else if (task_locks_->Hold(kReapTask)) {
      reaping = true;
      expired = lease_reaper_->Tick(stalled);
    }
    if (!options_.store.empty()) {
      const bool tended = TendCoordinators(reaping && expired.has_value(), reachable_since);
      if (!tended || !expired) reachable_since = clock_->Now();
      if (relay_ && now >= collect_at) {
        CollectFinishedChunks(*store_, context_->relay_dir());
        collect_at = now + kCollectEvery;
      }
    }
    wait = kReapEvery;
    if (!expired) {
      wait = pacer.Failed(expired.error());
    } else {
      pacer.Succeeded();
      if (*expired > 0) dispatcher_->Notify();
    }
    due = std::chrono::steady_clock::now() + wait;
  } while (clock_->WaitUntil(clock_->Now() + wait, stop));
}

void Coordinator::SampleActivity(Millis elapsed) {
  auto nodes = store_->ListNodes();
  auto leased = store_->ListLeasedJobs();
  auto counts = store_->CountJobs();
  if (!nodes || !leased || !counts) return;  // the next sample tries again
  std::vector<NodeSample> samples;
  for (const NodeView& v : BuildNodeViews(*nodes, *leased, clock_->Now(), options_.offline_after)) {
    if (v.status == NodeStatus::kBusy || v.status == NodeStatus::kIdle)
      samples.push_back({v.node.id, v.status == NodeStatus::kBusy});
  }
  activity_->Record(clock_->Now(), elapsed, counts->queued > 0, samples);
}

}  // namespace podfleet
