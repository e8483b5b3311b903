#include "coordinator/feed_poller.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include "coordinator/feed_fetch.h"
#include "coordinator/publisher_transcript.h"
#include "feeds/feed_url.h"
#include "feeds/rss.h"
#include "net/public_address.h"

namespace podfleet {
namespace {

std::string HostOf(std::string_view url) {
  const size_t start = url.find("://");
  if (start == std::string_view::npos) return {};
  const std::string_view rest = url.substr(start + 3);
  return std::string(rest.substr(0, rest.find('/')));
}

std::string DateText(TimePoint t) {
  const std::chrono::year_month_day d{std::chrono::floor<std::chrono::days>(t)};
  return fmt::format("{:04}-{:02}-{:02}", static_cast<int>(d.year()),
                     static_cast<unsigned>(d.month()), static_cast<unsigned>(d.day()));
}

// What the poller tells about items it could not queue.
std::string NoteFor(const PollResult& r) {
  std::vector<std::string> parts;
  if (r.refused > 0)
    parts.push_back(
        fmt::format("{} of {} enclosure URLs refused by the source policy", r.refused, r.items));
  if (r.without_audio > 0)
    parts.push_back(fmt::format("{} of {} items carry no audio (no enclosure or audio media)",
                                r.without_audio, r.items));
  std::string note;
  for (const std::string& p : parts) note += (note.empty() ? "" : "; ") + p;
  return note;
}

// A fetch's HTTP status as an error, or nothing for 200 and 304.
std::optional<Error> StatusError(const FeedFetch& fetch, const std::string& url) {
  const int s = fetch.status;
  if (s == 200 || s == 304) return std::nullopt;
  if (s == 404 || s == 410)
    return Error{Code::kNotFound, fmt::format("not a feed: {} answered HTTP {}", url, s)};
  if (s == 429 || s == 408 || s >= 500)
    return Error{Code::kUnavailable, fmt::format("{} answered HTTP {}", url, s)};
  return Error{Code::kInvalidArgument, fmt::format("not a feed: {} answered HTTP {}", url, s)};
}

}  // namespace

Result<std::string> NormalizeSourceUrl(std::string_view input) {
  const std::string s(input);
  const std::string scheme = SchemeOf(s);
  if (scheme == "http" || scheme == "https" || scheme == "file") return s;
  if (s.find("://") != std::string::npos)
    return InvalidArgument("unsupported URL scheme in '" + s + "': use http, https or file");
  std::error_code ec;
  auto path = std::filesystem::absolute(s, ec);
  if (ec || !std::filesystem::exists(path, ec))
    return InvalidArgument("'" + s + "' is neither a URL nor an existing file");
  return "file://" + path.lexically_normal().string();
}

std::string ResolveUrl(std::string_view base, std::string_view ref) {
  if (ref.empty() || ref.find("://") != std::string_view::npos) return std::string(ref);
  const size_t scheme_end = base.find("://");
  if (scheme_end == std::string_view::npos) return std::string(ref);
  if (ref.starts_with("//")) return std::string(base.substr(0, scheme_end + 1)) + std::string(ref);
  if (ref.starts_with('/')) {
    if (base.starts_with("file://")) return "file://" + std::string(ref);
    const size_t host_end = base.find('/', scheme_end + 3);
    return std::string(base.substr(0, host_end)) + std::string(ref);
  }
  const size_t dir_end = base.rfind('/');
  return std::string(base.substr(0, dir_end + 1)) + std::string(ref);
}

std::vector<std::string> BackfillHolds(const std::vector<EpisodeInfo>& episodes,
                                       const Backfill& backfill) {
  std::vector<std::string> holds(episodes.size());
  std::vector<size_t> order(episodes.size());
  std::iota(order.begin(), order.end(), size_t{0});
  // Newest first by date; undated ones after the dated, in document order.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const auto& x = episodes[a].published_at;
    const auto& y = episodes[b].published_at;
    if (x && y) return *x > *y;
    return x.has_value() && !y.has_value();
  });
  for (size_t rank = 0; rank < order.size(); ++rank) {
    const EpisodeInfo& e = episodes[order[rank]];
    std::string& hold = holds[order[rank]];
    if (backfill.newest > 0 && static_cast<int64_t>(rank) >= backfill.newest)
      hold = fmt::format("backfill: older than the newest {}", backfill.newest);
    else if (backfill.since && e.published_at && *e.published_at < *backfill.since)
      hold = "backfill: published before " + DateText(*backfill.since);
  }
  return holds;
}

std::string FeedFingerprint(const ParsedFeed& feed) {
  if (feed.title.empty() || feed.episodes.empty()) return {};
  const EpisodeInfo* newest = &feed.episodes.front();
  for (const EpisodeInfo& e : feed.episodes) {
    if (e.published_at && (!newest->published_at || *e.published_at > *newest->published_at))
      newest = &e;
  }
  if (newest->guid.empty()) return {};
  return feed.title + "\n" + newest->guid;
}

FeedPoller::FeedPoller(Store& store, HttpClient& http, const Clock& clock,
                       FeedPollerOptions options, std::function<void()> on_new_work)
    : store_(store),
      http_(http),
      clock_(clock),
      options_(std::move(options)),
      on_new_work_(std::move(on_new_work)),
      request_thread_([this] { RequestLoop(); }) {
  if (options_.sweep)
    sweep_thread_ = std::jthread([this](const std::stop_token& stop) { SweepLoop(stop); });
}

FeedPoller::~FeedPoller() { Stop(); }

void FeedPoller::Stop() {
  {
    MutexLock lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  sweep_thread_.request_stop();
  if (request_thread_.joinable()) request_thread_.join();
  if (sweep_thread_.joinable()) sweep_thread_.join();
  std::deque<Request> left;
  {
    MutexLock lock(mu_);
    left.swap(requests_);
  }
  for (Request& r : left) r.done(Unavailable("coordinator is shutting down"));
}

bool FeedPoller::stopping() {
  MutexLock lock(mu_);
  return stopping_;
}

void FeedPoller::Enqueue(Request request) {
  {
    MutexLock lock(mu_);
    if (!stopping_) {
      requests_.push_back(std::move(request));
      wake_.notify_all();
      return;
    }
  }
  request.done(Unavailable("coordinator is shutting down"));
}

void FeedPoller::PollAsync(FeedId id, Done done) {
  Enqueue(Request{[this, id] { return Poll(id); }, std::move(done)});
}

void FeedPoller::AddAsync(std::string url, std::optional<Backfill> backfill, Done done) {
  Enqueue(Request{[this, url = std::move(url), backfill] { return Add(url, backfill); },
                  std::move(done)});
}

void FeedPoller::RequestLoop() {
  MutexLock lock(mu_);
  while (true) {
    wake_.wait(lock, [this]() REQUIRES(mu_) { return stopping_ || !requests_.empty(); });
    if (stopping_) return;
    Request r = std::move(requests_.front());
    requests_.pop_front();
    lock.unlock();
    r.done(r.run());
    lock.lock();
  }
}

void FeedPoller::SweepLoop(const std::stop_token& stop) {
  // Wakes each second of the Clock's time to compare it with the earliest due time; no store
  // access.
  while (clock_.WaitUntil(clock_.Now() + std::chrono::seconds(1), stop)) {
    {
      MutexLock lock(mu_);
      if (stopping_) return;
      if (next_due_ && clock_.Now() < *next_due_) continue;
    }
    if (options_.may_sweep && !options_.may_sweep()) continue;
    PollDue();
  }
}

int64_t FeedPoller::PollDue() {
  // A store that stopped writing could keep none of what a poll finds: the feed hosts are not
  // asked until it is healthy again (logged once, not every sweep).
  Result<void> healthy = store_.CheckHealth();
  Result<std::vector<Feed>> feeds = healthy ? store_.ListFeeds() : std::unexpected(healthy.error());
  if (!feeds) {
    if (feeds.error().message != last_sweep_error_)
      fmt::print(stderr, "feed poll: paused: {}\n", feeds.error().ToString());
    last_sweep_error_ = feeds.error().message;
    return 0;
  }
  last_sweep_error_.clear();
  const TimePoint now = clock_.Now();
  std::deque<Feed> due;
  std::optional<TimePoint> later;
  for (Feed& f : *feeds) {
    if (!f.next_poll_at || *f.next_poll_at <= now) {
      due.push_back(std::move(f));
    } else if (!later || *f.next_poll_at < *later) {
      later = f.next_poll_at;
    }
  }
  {
    MutexLock lock(mu_);
    // Polls below lower it again to their own next times; without feeds, look again later.
    next_due_ = later.value_or(now + options_.interval);
  }
  Mutex queue_mu;
  std::condition_variable_any turn;
  std::map<std::string, int> in_flight;
  int64_t polled = 0;
  auto work = [&] {
    while (!stopping()) {
      Feed feed;
      std::string host;
      {
        MutexLock lock(queue_mu);
        std::deque<Feed>::iterator pick;
        turn.wait(lock, [&] {
          pick = std::find_if(due.begin(), due.end(), [&](const Feed& f) {
            return in_flight[HostOf(f.url)] < options_.per_host;
          });
          return due.empty() || pick != due.end();
        });
        if (due.empty()) return;
        feed = std::move(*pick);
        due.erase(pick);
        host = HostOf(feed.url);
        ++in_flight[host];
        ++polled;
      }
      auto r = Poll(feed.id);
      if (!r && r.error().code != Code::kNotFound)
        fmt::print(stderr, "feed {} ({}): {}\n", feed.id.value(), feed.url, r.error().ToString());
      {
        MutexLock lock(queue_mu);
        --in_flight[host];
      }
      turn.notify_all();
    }
  };
  std::vector<std::thread> helpers;
  for (int i = 1; i < std::max(1, options_.threads); ++i) helpers.emplace_back(work);
  work();
  for (std::thread& t : helpers) t.join();
  return polled;
}

TimePoint FeedPoller::NextPoll(TimePoint now, int64_t failures, std::optional<Millis> retry_after) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> spread(1 - options_.jitter, 1 + options_.jitter);
  double delay = static_cast<double>(options_.interval.count());
  if (failures > 0) {
    delay *= std::pow(2.0, static_cast<double>(std::min<int64_t>(failures - 1, 30)));
    delay = std::min(delay, static_cast<double>(options_.max_backoff.count()));
  }
  Millis wait(static_cast<int64_t>(delay * spread(rng)));
  if (retry_after) wait = std::max(wait, *retry_after);
  const TimePoint next = now + wait;
  MutexLock lock(mu_);
  if (!next_due_ || next < *next_due_) next_due_ = next;
  return next;
}

Result<PollResult> FeedPoller::Fail(FeedId id, const Feed& feed, const Error& error,
                                    std::optional<Millis> retry_after) {
  const TimePoint now = clock_.Now();
  FeedPoll poll{.polled_at = now, .error = error.message, .failures = feed.failures + 1};
  poll.next_poll_at = NextPoll(now, poll.failures, retry_after);
  (void)store_.RecordFeedPoll(id, poll);
  return std::unexpected(error);
}

namespace {

// Fetches `url` as the policy allows. A status other than 200 and 304 becomes an error, with a
// 429's or 503's Retry-After left in `retry_after`.
Result<FeedFetch> FetchAllowed(HttpClient& http, const FeedPollerOptions& o, const std::string& url,
                               const Feed* known, TimePoint now,
                               std::optional<Millis>& retry_after) {
  if (SchemeOf(url) == "file" && !o.sources.allow_files)
    return InvalidArgument(
        "file URLs are not allowed (start the coordinator with --allow-file-urls)");
  FeedFetchOptions f;
  f.max_bytes = static_cast<size_t>(o.max_feed_bytes);
  if (known && o.conditional) {
    f.etag = known->etag;
    f.last_modified = known->last_modified;
  }
  if (o.sources.public_only) f.allow_address = [](const sockaddr* a) { return IsPublicAddress(a); };
  Result<FeedFetch> fetched = FetchFeed(http, url, f, now);
  if (!fetched) return fetched;
  if (std::optional<Error> e = StatusError(*fetched, url)) {
    retry_after = fetched->retry_after;
    return std::unexpected(*e);
  }
  return fetched;
}

// Who the fetched feed is: where it lives now (after permanent redirects and
// itunes:new-feed-url, when the policy allows the new URL), the URL it was asked for as an alias,
// its podcast:guid and fingerprint.
FeedIdentity IdentityOf(const std::string& asked, const FeedFetch& fetch, const ParsedFeed& parsed,
                        const SourcePolicy& policy) {
  FeedIdentity id;
  id.url = NormalizeFeedUrl(fetch.permanent_url);
  const std::string normalized = NormalizeFeedUrl(asked);
  if (normalized != id.url) id.aliases.push_back(normalized);
  if (!parsed.new_feed_url.empty()) {
    const std::string moved = NormalizeFeedUrl(ResolveUrl(fetch.final_url, parsed.new_feed_url));
    const std::string scheme = SchemeOf(moved);
    if (moved != id.url && (scheme == "http" || scheme == "https") &&
        CheckSourceUrl(moved, policy)) {
      id.aliases.push_back(id.url);
      id.url = moved;
    }
  }
  id.podcast_guid = parsed.podcast_guid;
  id.fingerprint = FeedFingerprint(parsed);
  return id;
}

Error AlreadyAdded(const Feed& feed) {
  return Error{Code::kConflict,
               fmt::format("already added as feed {} ({})", feed.id.value(), feed.url)};
}

}  // namespace

FeedPoll FeedPoller::FullAnswer(TimePoint now, const std::string& title, const FeedFetch& fetched) {
  FeedPoll poll{.polled_at = now,
                .title = title,
                .validators = true,
                .etag = fetched.etag,
                .last_modified = fetched.last_modified};
  poll.next_poll_at = NextPoll(now, 0, std::nullopt);
  return poll;
}

Result<std::vector<FeedItem>> FeedPoller::WithPublisherTranscripts(
    FeedId id, std::string_view base, std::vector<EpisodeInfo> episodes) {
  auto guids = store_.ListGuids(id);
  if (!guids) return std::unexpected(guids.error());
  const std::set<std::string> known(guids->begin(), guids->end());
  PublisherFetchOptions fetch{options_.sources, options_.max_transcript_bytes,
                              options_.scratch_dir};
  std::vector<FeedItem> items;
  for (EpisodeInfo& e : episodes) {
    FeedItem item{std::move(e), std::nullopt, {}, {}};
    if (!item.info.transcript_links.empty() && !known.contains(item.info.guid)) {
      PublisherFetch got = FetchPublisherTranscript(http_, item.info, base, fetch);
      item.publisher = std::move(got.transcript);
      item.publisher_link = std::move(got.link);
      item.publisher_note = std::move(got.note);
    }
    items.push_back(std::move(item));
  }
  return items;
}

std::filesystem::path FeedDocumentPath(const std::filesystem::path& dir, FeedId id) {
  return dir / fmt::format("{}.xml", id.value());
}

void FeedPoller::KeepDocument(FeedId id, const std::string& body) {
  if (options_.documents_dir.empty()) return;
  const std::filesystem::path path = FeedDocumentPath(options_.documents_dir, id);
  const std::filesystem::path aside = path.string() + ".tmp";
  std::error_code ec;
  std::filesystem::create_directories(options_.documents_dir, ec);
  {
    std::ofstream out(aside, std::ios::binary | std::ios::trunc);
    out.write(body.data(), static_cast<std::streamsize>(body.size()));
    if (!out.flush()) ec = std::make_error_code(std::errc::io_error);
  }
  if (!ec) std::filesystem::rename(aside, path, ec);
  if (ec) fmt::print(stderr, "feed {}: keeping its document: {}\n", id.value(), ec.message());
}

Result<PollResult> FeedPoller::Poll(FeedId id) {
  if (Result<void> healthy = store_.CheckHealth(); !healthy)
    return std::unexpected(healthy.error());
  auto feed = store_.GetFeed(id);
  if (!feed) return std::unexpected(feed.error());
  std::optional<Millis> retry_after;
  // Without its kept document the mirror has nothing to show: ask for the whole feed.
  Feed validators = *feed;
  if (!options_.documents_dir.empty() &&
      !std::filesystem::exists(FeedDocumentPath(options_.documents_dir, id))) {
    validators.etag.clear();
    validators.last_modified.clear();
  }
  auto fetched = FetchAllowed(http_, options_, feed->url, &validators, clock_.Now(), retry_after);
  if (!fetched) return Fail(id, *feed, fetched.error(), retry_after);
  const TimePoint now = clock_.Now();
  if (fetched->status == 304) {
    FeedPoll poll{.polled_at = now};
    poll.next_poll_at = NextPoll(now, 0, std::nullopt);
    if (auto r = store_.RecordFeedPoll(id, poll); !r) return std::unexpected(r.error());
    PollResult result{.feed = *feed, .not_modified = true};
    result.feed.polled_at = now;
    result.feed.last_error.clear();
    result.feed.failures = 0;
    result.feed.next_poll_at = poll.next_poll_at;
    return result;
  }
  auto parsed = ParseFeed(fetched->body);
  if (!parsed) return Fail(id, *feed, parsed.error(), std::nullopt);
  FeedPoll poll = FullAnswer(now, parsed->title, *fetched);
  const FeedIdentity identity = IdentityOf(feed->url, *fetched, *parsed, options_.sources);
  if (auto moved = store_.UpdateFeedIdentity(id, identity); !moved)
    poll.error = moved.error().message;
  auto applied = Apply(*feed, fetched->final_url, std::move(*parsed), std::nullopt, poll);
  if (applied) KeepDocument(id, fetched->body);
  return applied;
}

Result<PollResult> FeedPoller::Add(const std::string& url,
                                   const std::optional<Backfill>& backfill) {
  const std::string normalized = NormalizeFeedUrl(url);
  auto known = store_.FindFeed(FeedIdentity{.url = normalized});
  if (!known) return std::unexpected(known.error());
  if (*known) return std::unexpected(AlreadyAdded(**known));
  std::optional<Millis> retry_after;
  auto fetched = FetchAllowed(http_, options_, normalized, nullptr, clock_.Now(), retry_after);
  if (!fetched) {
    Error e = fetched.error();
    if (e.code == Code::kNotFound) e.code = Code::kInvalidArgument;  // the origin's 404, not ours
    return std::unexpected(e);
  }
  auto parsed = ParseFeed(fetched->body);
  if (!parsed) return std::unexpected(parsed.error());
  const FeedIdentity identity = IdentityOf(normalized, *fetched, *parsed, options_.sources);
  known = store_.FindFeed(identity);
  if (!known) return std::unexpected(known.error());
  if (*known) return std::unexpected(AlreadyAdded(**known));

  const TimePoint now = clock_.Now();
  auto added = store_.AddFeed(identity.url, now);
  if (!added) return std::unexpected(added.error());
  FeedPoll poll = FullAnswer(now, parsed->title, *fetched);
  Result<PollResult> result = std::unexpected(Error{});
  if (auto r = store_.UpdateFeedIdentity(added->id, identity); !r) {
    result = std::unexpected(r.error());
  } else {
    result = Apply(*added, fetched->final_url, std::move(*parsed),
                   backfill.value_or(options_.backfill), poll);
  }
  if (!result) (void)store_.RemoveFeed(added->id);  // nothing is kept of a refused add
  if (result) KeepDocument(added->id, fetched->body);
  return result;
}

Result<PollResult> FeedPoller::Apply(const Feed& feed, const std::string& base, ParsedFeed parsed,
                                     const std::optional<Backfill>& backfill,
                                     const FeedPoll& poll) {
  PollResult result;
  result.items = static_cast<int64_t>(parsed.episodes.size());
  for (EpisodeInfo& e : parsed.episodes) {
    // An item without a guid is known by its enclosure URL, resolved like the enclosure.
    const bool guid_is_audio = e.guid.empty() || e.guid == e.audio_url;
    e.audio_url = ResolveUrl(base, e.audio_url);
    if (guid_is_audio) e.guid = e.audio_url;
  }
  result.without_audio =
      std::erase_if(parsed.episodes, [](const EpisodeInfo& e) { return e.audio_url.empty(); });
  result.refused = std::erase_if(parsed.episodes, [&](const EpisodeInfo& e) {
    return !EnclosureAllowed(base, e.audio_url, options_.sources);
  });
  const std::vector<std::string> holds =
      backfill ? BackfillHolds(parsed.episodes, *backfill) : std::vector<std::string>();
  auto items = WithPublisherTranscripts(feed.id, base, std::move(parsed.episodes));
  if (!items) return std::unexpected(items.error());
  auto added = store_.AddFeedItems(feed.id, *items, poll.polled_at, options_.intake, holds);
  if (!added) return std::unexpected(added.error());
  result.new_episodes = static_cast<int64_t>(added->size());
  result.held = std::count_if(holds.begin(), holds.end(), [](auto& h) { return !h.empty(); });
  result.queued = result.new_episodes - result.held;
  result.note = NoteFor(result);
  FeedPoll record = poll;
  if (record.error.empty()) record.error = result.note;
  if (auto r = store_.RecordFeedPoll(feed.id, record); !r) return std::unexpected(r.error());
  if (result.queued > 0 && on_new_work_) on_new_work_();
  auto updated = store_.GetFeed(feed.id);
  if (!updated) return std::unexpected(updated.error());
  result.feed = std::move(*updated);
  return result;
}

}  // namespace podfleet
