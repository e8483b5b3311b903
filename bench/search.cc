// bench/search: full-text search over 100,000 transcript segments. Latency (p50, p99) of
// GET /api/search through the coordinator's HTTP API and of Store::Search, next to a baseline
// measured in the same run on the same file: the same words found by a scan of every segment
// (instr over lower(text), what a LIKE search costs). Also the index's size and what indexing
// costs when transcripts are stored.
//
// Usage: podfleet_bench_search [--segments N] [--per-episode N] [--rounds N]
// The transcripts are made here: sentences of words drawn from a fixed vocabulary with a Zipf
// distribution (a few words common, most rare), as speech is. Every step the user pays is paid:
// each transcript is stored by a claim and a complete, which index it in their transaction.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "api/client.h"
#include "args.h"
#include "coordinator/coordinator.h"
#include "net/http.h"
#include "net/http_client.h"
#include "store/sqlite_db.h"
#include "store/store.h"

namespace podfleet {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int segments = 100'000;
  int per_episode = 200;  // about 30 minutes of speech
  int rounds = 20;        // each query is run this many times
};

// A pronounceable made-up word for rank `i`: distinct for every i.
std::string Word(int i) {
  static const char* kSyllables[] = {"ka", "lo", "mi", "ne", "ru", "ta", "vo", "si",
                                     "pe", "da", "go", "fu", "ha", "ji", "be", "zo"};
  std::string w;
  do {
    w += kSyllables[i % 16];
    i /= 16;
  } while (i > 0);
  return w;
}

class Speech {
 public:
  explicit Speech(int vocabulary) : rng_(42) {
    std::vector<double> weights;
    for (int r = 1; r <= vocabulary; ++r) weights.push_back(1.0 / r);
    zipf_ = std::discrete_distribution<int>(weights.begin(), weights.end());
  }
  std::string Sentence() {
    std::string s;
    const int n = 8 + static_cast<int>(rng_() % 12);
    for (int i = 0; i < n; ++i) s += (i ? " " : "") + Word(zipf_(rng_));
    return s;
  }

 private:
  std::mt19937 rng_;
  std::discrete_distribution<int> zipf_;
};

Transcript MakeTranscript(Speech& speech, int segments) {
  Transcript t;
  t.engine = "bench";
  t.language = "en";
  t.audio_duration = Millis(int64_t{segments} * 9'000);
  for (int i = 0; i < segments; ++i)
    t.segments.push_back(
        Segment{Millis(i * 9'000), Millis(i * 9'000 + 8'500), speech.Sentence(), "", {}});
  return t;
}

// Stores the transcripts by claim and complete; returns the seconds it took.
Result<double> Fill(Store& store, const Options& o, FeedId feed) {
  Speech speech(20'000);
  const int episodes = std::max(1, o.segments / o.per_episode);
  std::vector<EpisodeInfo> infos;
  for (int i = 0; i < episodes; ++i) {
    EpisodeInfo e{fmt::format("bench-{}", i), fmt::format("Episode {}", i),
                  fmt::format("http://127.0.0.1:9/{}.mp3", i)};
    e.published_at = FromUnixMillis(int64_t{1'700'000'000'000} + int64_t{i} * 86'400'000);
    infos.push_back(std::move(e));
  }
  const TimePoint now = SystemClock::Get().Now();
  if (auto r = store.AddEpisodes(feed, infos, now); !r) return std::unexpected(r.error());
  const NodeId node(0);
  double seconds = 0;
  for (int i = 0; i < episodes; ++i) {
    const Transcript t = MakeTranscript(speech, o.per_episode);
    const auto start = Clock::now();
    auto grants = store.Claim(node, 1, Millis(60'000), now);
    if (!grants) return std::unexpected(grants.error());
    if (grants->empty()) return Internal("bench: nothing to claim");
    const Lease& l = grants->front().lease;
    if (auto r = store.Complete(node, l.job, l.attempt, t, now); !r)
      return std::unexpected(r.error());
    seconds += std::chrono::duration<double>(Clock::now() - start).count();
  }
  return seconds;
}

struct Latency {
  double p50_ms = 0;
  double p99_ms = 0;
};

template <class Run>
Result<Latency> Measure(const std::vector<std::string>& queries, int rounds, Run run) {
  std::vector<double> ms;
  for (int round = 0; round < rounds; ++round) {
    for (const std::string& q : queries) {
      const auto start = Clock::now();
      if (Result<void> r = run(q); !r) return std::unexpected(r.error());
      ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    }
  }
  std::sort(ms.begin(), ms.end());
  auto at = [&](double p) { return ms[std::min(ms.size() - 1, size_t(p * ms.size()))]; };
  return Latency{at(0.50), at(0.99)};
}

// Queries a listener types: common and rare words, two words, a phrase, a prefix, and the same
// with a date range. The baseline scan gets each query's first word.
std::vector<std::string> Queries() {
  return {Word(0),
          Word(3),
          Word(40),
          Word(700),
          Word(9'000),
          Word(1) + " " + Word(25),
          "\"" + Word(2) + " " + Word(5) + "\"",
          Word(120).substr(0, 3) + "*",
          Word(15) + " OR " + Word(300)};
}

// The first word of a query, without quotes or star: what the baseline scan looks for.
std::string FirstWord(const std::string& query) {
  const size_t start = query.find_first_not_of('"');
  return query.substr(start, query.find_first_of(" *\"", start) - start);
}

Result<int64_t> Int(Db& db, std::string_view sql) { return QueryOne(db, ReadInt, "size", sql); }

int Main(int argc, char** argv) {
  Options o;
  const int parsed =
      ParseBenchArgs(argc, argv, "[--segments N] [--per-episode N] [--rounds N]",
                     {{"--segments", [&](const char* v) { o.segments = std::atoi(v); }},
                      {"--per-episode", [&](const char* v) { o.per_episode = std::atoi(v); }},
                      {"--rounds", [&](const char* v) { o.rounds = std::atoi(v); }}});
  if (parsed >= 0) return parsed;
  const auto dir =
      std::filesystem::temp_directory_path() / fmt::format("podfleet-bench-search-{}", ::getpid());
  std::filesystem::create_directories(dir);
  auto fail = [&](const Error& e) {
    std::filesystem::remove_all(dir);
    fmt::print(stderr, "bench/search: {}\n", e.ToString());
    return 1;
  };
  CoordinatorOptions co;
  co.data_dir = dir;
  co.port = 0;
  auto coordinator = Coordinator::Start(co, SystemClock::Get());
  if (!coordinator) return fail(coordinator.error());
  Store& store = (*coordinator)->store();
  auto feed = store.AddFeed("http://127.0.0.1:9/feed.xml", SystemClock::Get().Now());
  if (!feed) return fail(feed.error());
  auto fill = Fill(store, o, feed->id);
  if (!fill) return fail(fill.error());

  const std::vector<std::string> queries = Queries();
  auto http = MakeCurlClient(HttpClientOptions{});
  CoordinatorClient client((*coordinator)->base_url(), *http);
  int64_t hits = 0;
  auto over_http = Measure(queries, o.rounds, [&](const std::string& q) -> Result<void> {
    auto reply = client.GetJson("/api/search?limit=20&q=" + PercentEncode(q));
    if (!reply) return std::unexpected(reply.error());
    hits += static_cast<int64_t>((*reply)["hits"].size());
    return {};
  });
  if (!over_http) return fail(over_http.error());
  auto direct = Measure(queries, o.rounds, [&](const std::string& q) -> Result<void> {
    auto r = store.Search(SearchQuery{.text = q, .limit = 20});
    if (!r) return std::unexpected(r.error());
    return {};
  });
  if (!direct) return fail(direct.error());
  auto ranged = Measure(queries, o.rounds, [&](const std::string& q) -> Result<void> {
    SearchQuery sq{.text = q, .feed = feed->id, .limit = 20};
    sq.from = FromUnixMillis(int64_t{1'700'000'000'000});
    sq.to = *sq.from + Millis(int64_t{100} * 86'400'000);
    auto r = store.Search(sq);
    if (!r) return std::unexpected(r.error());
    return {};
  });
  if (!ranged) return fail(ranged.error());

  auto db = Db::Open((dir / "podfleet.db").string(), 5'000);
  if (!db) return fail(db.error());
  auto scan = Measure(queries, std::max(1, o.rounds / 10), [&](const std::string& q) {
    auto n = QueryOne(*db, ReadInt, "count",
                      "SELECT count(*) FROM transcript_segments WHERE instr(lower(text), ?1) > 0",
                      FirstWord(q));
    return n ? Result<void>() : std::unexpected(n.error());
  });
  if (!scan) return fail(scan.error());
  auto index_bytes =
      Int(*db, "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'transcript_search%'");
  auto segment_bytes = Int(*db,
                           "SELECT sum(pgsize) FROM dbstat WHERE name = 'transcript_segments' "
                           "OR name = 'transcript_segments_episode'");
  auto text_bytes = Int(*db, "SELECT sum(length(text)) FROM transcript_segments");
  auto count = Int(*db, "SELECT count(*) FROM transcript_segments");
  for (const Result<int64_t>* r : {&index_bytes, &segment_bytes, &text_bytes, &count})
    if (!*r) return fail(r->error());
  std::filesystem::remove_all(dir);

  const double mb = 1024.0 * 1024.0;
  fmt::print("bench/search: {} segments in {} episodes, {} queries x {} rounds, SQLite FTS5\n",
             *count, *count / o.per_episode, queries.size(), o.rounds);
  fmt::print("  storing transcripts (claim+complete, indexed): {:.1f} s, {:.0f} segments/s\n",
             *fill, static_cast<double>(*count) / *fill);
  fmt::print("  GET /api/search:          p50 {:7.2f} ms  p99 {:7.2f} ms  ({} hits returned)\n",
             over_http->p50_ms, over_http->p99_ms, hits);
  fmt::print("  Store::Search:            p50 {:7.2f} ms  p99 {:7.2f} ms\n", direct->p50_ms,
             direct->p99_ms);
  fmt::print("  with feed and date range: p50 {:7.2f} ms  p99 {:7.2f} ms\n", ranged->p50_ms,
             ranged->p99_ms);
  fmt::print("  baseline scan (instr):    p50 {:7.2f} ms  p99 {:7.2f} ms\n", scan->p50_ms,
             scan->p99_ms);
  fmt::print("  ratio scan/search p50:    {:.1f}x\n", scan->p50_ms / direct->p50_ms);
  fmt::print("  index size: {:.1f} MiB FTS5 + {:.1f} MiB segment rows, for {:.1f} MiB of text\n",
             static_cast<double>(*index_bytes) / mb, static_cast<double>(*segment_bytes) / mb,
             static_cast<double>(*text_bytes) / mb);
  return 0;
}

}  // namespace
}  // namespace podfleet

int main(int argc, char** argv) { return podfleet::Main(argc, argv); }
