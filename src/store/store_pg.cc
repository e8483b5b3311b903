// PgStore: opening, the connection pool and transactions, health, nodes, enrollment tokens and
// bytes served. Feeds and episodes are in store_pg_feeds.cc, jobs in store_pg_jobs.cc,
// transcripts and search in store_pg_transcripts.cc.
#include "store/store_pg.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>

#include "store/row_decode.h"

namespace podfleet {
namespace pg {

Result<void> RequireChanged(Result<int64_t> changed, std::string_view what) {
  if (!changed) return std::unexpected(changed.error());
  if (*changed == 0) return NotFound(fmt::format("{} not found", what));
  return {};
}

std::optional<int64_t> OptionalMillis(std::optional<TimePoint> t) {
  if (!t) return std::nullopt;
  return ToUnixMillis(*t);
}

Result<Episode> LoadEpisode(PgConn& c, EpisodeId id) {
  static const std::string sql =
      fmt::format("SELECT {} FROM episodes e WHERE e.id = $1", kEpisodeColumns);
  return QueryOne(c, DecodeEpisode<PgRow>, fmt::format("episode {}", id.value()), sql, id.value());
}

Result<void> LockEpisode(PgConn& c, EpisodeId id) {
  Result<int64_t> n = c.Run("SELECT 1 FROM episodes WHERE id = $1 FOR UPDATE", id.value());
  return RequireChanged(n, fmt::format("episode {}", id.value()));
}

Result<int64_t> MarkSeen(PgConn& c, NodeId node, TimePoint now) {
  return c.Run("UPDATE nodes SET last_seen = $2 WHERE id = $1 AND last_seen <= $2::bigint - 1000",
               node.value(), ToUnixMillis(now));
}

Result<void> InsertJob(PgConn& c, EpisodeId id, JobIntake intake, const JobRequirement& want) {
  // The NOTIFY (NotifyWork) in the same statement: one round trip less per queued episode.
  Result<int64_t> r = c.Run(
      "WITH job AS (INSERT INTO jobs (episode_id, state, relayed, want_engine, want_model, "
      "want_language) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id) "
      "SELECT pg_notify($7, '') FROM job",
      id.value(),
      ToString(intake == JobIntake::kPrepare ? JobState::kPreparing : JobState::kQueued),
      intake == JobIntake::kPrepare, want.engine, want.model, want.language, kWorkChannel);
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<void> NotifyWork(PgConn& c) {
  Result<PgResult> r = c.Query("SELECT pg_notify($1, '')", kWorkChannel);
  if (!r) return std::unexpected(r.error());
  return {};
}

}  // namespace pg

using namespace pg;  // NOLINT: the shared helpers of the PgStore files

namespace {

Result<Node> LoadNode(PgConn& c, NodeId id) {
  static const std::string sql =
      fmt::format("SELECT {} FROM nodes n WHERE n.id = $1", kNodeColumns);
  return QueryOne(c, DecodeNode<PgRow>, fmt::format("node {}", id.value()), sql, id.value());
}

bool Retryable(const std::string& state) { return state == "40001" || state == "40P01"; }

}  // namespace

Result<std::unique_ptr<Store>> OpenPgStore(const std::string& conninfo) {
  auto store = std::make_unique<PgStore>(conninfo);
  Result<PgConn> conn = PgConn::Connect(conninfo);
  if (!conn) return std::unexpected(conn.error());
  if (Result<int> r = MigratePg(*conn); !r) return std::unexpected(r.error());
  return std::unique_ptr<Store>(std::move(store));
}

// ---- connections and transactions ---------------------------------------------------------------

Result<PgConn> PgStore::Take() {
  {
    MutexLock lock(pool_mu_);
    if (!idle_.empty()) {
      PgConn c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
  }
  return PgConn::Connect(conninfo_);
}

void PgStore::Give(PgConn conn) {
  if (!conn.Ok()) return;  // a broken connection is dropped; the next Take opens a new one
  MutexLock lock(pool_mu_);
  if (idle_.size() < kMaxIdle) idle_.push_back(std::move(conn));
}

Result<void> PgStore::RunTransaction(const std::string& begin, bool write,
                                     const std::function<Result<void>(PgConn&)>& body) {
  for (int attempt = 0;; ++attempt) {
    Result<PgConn> conn = Take();
    if (!conn) return std::unexpected(conn.error());
    if (Result<void> r = conn->Exec(begin); !r) {
      // An idle connection the server dropped (it restarted): try a fresh one.
      if (!conn->Ok() && attempt < kWriteRetries) continue;
      return std::unexpected(r.error());
    }
    Result<void> r = body(*conn);
    if (!r) {
      const bool again = Retryable(conn->LastState()) && attempt < kWriteRetries;
      (void)conn->Exec("ROLLBACK");
      Give(std::move(*conn));
      if (again) continue;
      return r;
    }
    Result<void> commit = conn->Exec("COMMIT");
    if (!commit) {
      const bool again = Retryable(conn->LastState()) && attempt < kWriteRetries;
      const bool lost = !conn->Ok();
      const bool answered = !conn->LastState().empty();  // read before Give moves it away
      Give(std::move(*conn));
      if (again) continue;
      // The server may have committed before the answer was lost: the outcome is unknown. An
      // error the server sent instead (a SQLSTATE: 57P01 when a restart ends the session) means
      // it did not commit: the call failed, and the store goes on.
      if (write && lost && !answered) {
        Stop(Error{Code::kUnavailable,
                   fmt::format("the store stopped writing after a commit's answer was lost ({}); "
                               "whether that change was saved is unknown until the coordinator "
                               "restarts",
                               commit.error().message)});
      }
      return commit;
    }
    Give(std::move(*conn));
    return {};
  }
}

// ---- health
// --------------------------------------------------------------------------------------

void PgStore::Stop(Error why) {
  MutexLock lock(health_mu_);
  if (stop_error_) return;
  fmt::print(stderr, "store: {}\n", why.message);
  std::fflush(stderr);
  stop_error_ = std::move(why);
  stopped_.store(true);
}

void PgStore::StopIfDamaged(const Error& e) {
  if (e.code != Code::kCorruption) return;
  Stop(Error{Code::kUnavailable,
             fmt::format("the store stopped writing: the database is damaged ({}); stop the "
                         "coordinator and restore a backup",
                         e.message)});
}

Error PgStore::StopError() const {
  MutexLock lock(health_mu_);
  return stop_error_.value_or(Error{Code::kUnavailable, "the store stopped writing"});
}

Result<void> PgStore::CheckHealth() {
  if (!stopped_.load()) return {};
  return std::unexpected(StopError());
}

// ---- nodes and tokens
// -----------------------------------------------------------------------------

Result<Node> PgStore::RegisterNode(const NodeInfo& info, std::string_view token_hash,
                                   TimePoint now) {
  if (token_hash.empty()) return InvalidArgument("register node: empty token hash");
  constexpr std::string_view kSql =
      "INSERT INTO nodes (name, engine, model, version, hardware, speed, blocked_reason, "
      "token_hash, registered_at, last_seen, price_per_hour, engine_states) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11) RETURNING id";
  return Write([&](PgConn& c) -> Result<Node> {
    Result<int64_t> id =
        QueryOne(c, ReadPgInt, "node", kSql, info.name, info.engine, info.model, info.version,
                 EncodeHardware(info.hardware), info.speed, info.blocked_reason, token_hash,
                 ToUnixMillis(now),
                 info.price_per_hour >= 0 ? std::optional(info.price_per_hour) : std::nullopt,
                 int64_t{std::max(1, info.engine_states)});
    id = OnDuplicate(std::move(id), "register node: token already in use");
    if (!id) return std::unexpected(id.error());
    return LoadNode(c, NodeId(*id));
  });
}

Result<Node> PgStore::FindNodeByToken(std::string_view token_hash) {
  static const std::string sql = fmt::format(
      "SELECT {} FROM nodes n WHERE n.token_hash = $1 AND n.retired_at IS NULL", kNodeColumns);
  return Read([&](PgConn& c) -> Result<Node> {
    Result<Node> node = QueryOne(c, DecodeNode<PgRow>, "node token", sql, token_hash);
    if (!node && node.error().code == Code::kNotFound) {
      return PermissionDenied("unknown or retired node token");
    }
    return node;
  });
}

Result<std::vector<Node>> PgStore::ListNodes() {
  static const std::string sql = fmt::format("SELECT {} FROM nodes n ORDER BY n.id", kNodeColumns);
  return Read([&](PgConn& c) { return QueryAll(c, DecodeNode<PgRow>, sql); });
}

Result<void> PgStore::SetNodeSpeed(NodeId id, double speed) {
  return Write([&](PgConn& c) {
    return RequireChanged(c.Run("UPDATE nodes SET speed = $2 WHERE id = $1", id.value(), speed),
                          fmt::format("node {}", id.value()));
  });
}

Result<void> PgStore::TouchNode(NodeId id, TimePoint now) {
  return Write([&](PgConn& c) {
    return RequireChanged(
        c.Run("UPDATE nodes SET last_seen = greatest(last_seen, $2) WHERE id = $1", id.value(),
              ToUnixMillis(now)),
        fmt::format("node {}", id.value()));
  });
}

Result<void> PgStore::RetireNode(NodeId id, TimePoint now) {
  return Write([&](PgConn& c) {
    return RequireChanged(
        c.Run("UPDATE nodes SET retired_at = coalesce(retired_at, $2) WHERE id = $1", id.value(),
              ToUnixMillis(now)),
        fmt::format("node {}", id.value()));
  });
}

Result<void> PgStore::AddEnrollmentToken(std::string_view token_hash, std::string_view label,
                                         TimePoint now) {
  if (token_hash.empty()) return InvalidArgument("enrollment token: empty hash");
  return Write([&](PgConn& c) -> Result<void> {
    Result<int64_t> r =
        c.Run("INSERT INTO enrollment_tokens (token_hash, label, created_at) VALUES ($1, $2, $3)",
              token_hash, label, ToUnixMillis(now));
    r = OnDuplicate(std::move(r), "enrollment token already exists");
    if (!r) return std::unexpected(r.error());
    return {};
  });
}

Result<bool> PgStore::CheckEnrollmentToken(std::string_view token_hash) {
  return Read([&](PgConn& c) -> Result<bool> {
    Result<int64_t> live = QueryOne(
        c, ReadPgInt, "token count",
        "SELECT count(*) FROM enrollment_tokens WHERE token_hash = $1 AND revoked = 0", token_hash);
    if (!live) return std::unexpected(live.error());
    return *live > 0;
  });
}

Result<int64_t> PgStore::CountEnrollmentTokens() {
  return Read([&](PgConn& c) {
    return QueryOne(c, ReadPgInt, "token count", "SELECT count(*) FROM enrollment_tokens");
  });
}

Result<std::vector<EnrollmentToken>> PgStore::ListEnrollmentTokens() {
  auto read = [](const PgRow& row) -> Result<EnrollmentToken> {
    return EnrollmentToken{row.Text(0), row.Text(1), FromUnixMillis(row.Int(2)), row.Int(3) != 0};
  };
  return Read([&](PgConn& c) {
    return QueryAll(c, read,
                    "SELECT substr(token_hash, 1, 12), label, created_at, revoked "
                    "FROM enrollment_tokens ORDER BY created_at, token_hash");
  });
}

Result<void> PgStore::RevokeEnrollmentToken(std::string_view hash_prefix) {
  if (hash_prefix.size() < 8 || hash_prefix.size() > 64 ||
      hash_prefix.find_first_not_of("0123456789abcdef") != std::string_view::npos)
    return InvalidArgument("a token id is 8 to 64 lower-case hex characters");
  return Write([&](PgConn& c) -> Result<void> {
    Result<int64_t> matches = QueryOne(
        c, ReadPgInt, "token count",
        "SELECT count(*) FROM enrollment_tokens WHERE starts_with(token_hash, $1)", hash_prefix);
    if (!matches) return std::unexpected(matches.error());
    if (*matches == 0) return NotFound(fmt::format("no enrollment token with id {}", hash_prefix));
    if (*matches > 1)
      return InvalidArgument(
          fmt::format("id {} names {} tokens; give more of it", hash_prefix, *matches));
    Result<int64_t> r = c.Run(
        "UPDATE enrollment_tokens SET revoked = 1 WHERE starts_with(token_hash, $1)", hash_prefix);
    if (!r) return std::unexpected(r.error());
    return {};
  });
}

// ---- bytes served
// ----------------------------------------------------------------------------------

namespace {

constexpr int64_t kHourMs = 3'600'000;

}  // namespace

Result<void> PgStore::RecordTransfer(NodeId node, int64_t bytes, Millis audio, TimePoint now) {
  if (bytes < 0 || audio.count() < 0) return InvalidArgument("transfer: negative size");
  const int64_t at = ToUnixMillis(now);
  return Write([&](PgConn& c) -> Result<void> {
    Result<int64_t> r = c.Run(
        "INSERT INTO transfers AS t (node_id, hour, bytes, audio_ms, requests) "
        "VALUES ($1, $2, $3, $4, 1) ON CONFLICT (node_id, hour) DO UPDATE SET "
        "bytes = t.bytes + excluded.bytes, audio_ms = t.audio_ms + excluded.audio_ms, "
        "requests = t.requests + 1",
        node.value(), at - at % kHourMs, bytes, audio.count());
    if (!r) return std::unexpected(r.error());
    return {};
  });
}

Result<std::vector<TransferTotal>> PgStore::TransfersSince(TimePoint since) {
  auto read = [](const PgRow& row) -> Result<TransferTotal> {
    TransferTotal t;
    t.node = NodeId(row.Int(0));
    t.hour = FromUnixMillis(row.Int(1));
    t.bytes = row.Int(2);
    t.audio = Millis(row.Int(3));
    t.requests = row.Int(4);
    return t;
  };
  return Read([&](PgConn& c) {
    return QueryAll(c, read,
                    "SELECT node_id, hour, bytes, audio_ms, requests FROM transfers "
                    "WHERE hour + $2 > $1 ORDER BY hour, node_id",
                    ToUnixMillis(since), kHourMs);
  });
}

// ---- autoscaler decisions ----

Result<void> PgStore::AddDecisions(const std::vector<AutoscaleDecision>& decisions, int keep) {
  if (keep < 1) return InvalidArgument("decisions: keep at least one");
  if (decisions.empty()) return {};
  return Write([&](PgConn& c) -> Result<void> {
    for (const AutoscaleDecision& d : decisions) {
      Result<int64_t> r = c.Run("INSERT INTO autoscale_decisions (at_ms, text) VALUES ($1, $2)",
                                ToUnixMillis(d.at), d.text);
      if (!r) return std::unexpected(r.error());
    }
    Result<int64_t> r = c.Run(
        "DELETE FROM autoscale_decisions WHERE id < (SELECT id FROM autoscale_decisions "
        "ORDER BY id DESC LIMIT 1 OFFSET $1)",
        int64_t{keep} - 1);
    if (!r) return std::unexpected(r.error());
    return {};
  });
}

Result<std::vector<AutoscaleDecision>> PgStore::ListDecisions(int limit) {
  auto read = [](const PgRow& row) -> Result<AutoscaleDecision> {
    return AutoscaleDecision{FromUnixMillis(row.Int(0)), row.Text(1)};
  };
  return Read([&](PgConn& c) {
    return QueryAll(c, read,
                    "SELECT at_ms, text FROM (SELECT id, at_ms, text FROM autoscale_decisions "
                    "ORDER BY id DESC LIMIT $1) AS newest ORDER BY id",
                    int64_t{std::max(limit, 0)});
  });
}

Result<void> PgStore::RecordWait(JobId job, AttemptId attempt, Millis waited) {
  if (waited.count() < 0) return InvalidArgument("wait: negative duration");
  return Write([&](PgConn& c) {
    return RequireChanged(
        c.Run("UPDATE attempts SET waited_ms = $3 WHERE job_id = $1 AND number = $2", job.value(),
              attempt.value(), waited.count()),
        fmt::format("attempt {} of job {}", attempt.value(), job.value()));
  });
}

}  // namespace podfleet
