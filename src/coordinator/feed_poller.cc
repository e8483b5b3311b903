#include "coordinator/feed_poller.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "feeds/rss.h"
#include "net/public_address.h"

namespace podfleet {

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
  if (ref.starts_with('/')) {
    if (base.starts_with("file://")) return "file://" + std::string(ref);
    const size_t host_end = base.find('/', scheme_end + 3);
    return std::string(base.substr(0, host_end)) + std::string(ref);
  }
  const size_t dir_end = base.rfind('/');
  return std::string(base.substr(0, dir_end + 1)) + std::string(ref);
}

FeedPoller::FeedPoller(Store& store, HttpClient& http, const Clock& clock,
                       FeedPollerOptions options, std::function<void()> on_new_work)
    : store_(store),
      http_(http),
      clock_(clock),
      options_(std::move(options)),
      on_new_work_(std::move(on_new_work)),
      thread_([this] { Loop(); }) {}

FeedPoller::~FeedPoller() { Stop(); }

void FeedPoller::Stop() {
  {
    MutexLock lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::deque<Request> left;
  {
    MutexLock lock(mu_);
    left.swap(requests_);
  }
  for (Request& r : left) r.done(Unavailable("coordinator is shutting down"));
}

void FeedPoller::PollAsync(FeedId id, Done done) {
  {
    MutexLock lock(mu_);
    if (!stopping_) {
      requests_.push_back(Request{id, std::move(done)});
      wake_.notify_all();
      return;
    }
  }
  done(Unavailable("coordinator is shutting down"));
}

void FeedPoller::Loop() {
  MutexLock lock(mu_);
  TimePoint next_sweep = clock_.Now();
  while (true) {
    wake_.wait_for(lock, std::chrono::seconds(1),
                   [this]() REQUIRES(mu_) { return stopping_ || !requests_.empty(); });
    if (stopping_) return;
    if (!requests_.empty()) {
      Request r = std::move(requests_.front());
      requests_.pop_front();
      lock.unlock();
      r.done(Poll(r.feed));
      lock.lock();
      continue;
    }
    if (clock_.Now() >= next_sweep) {
      lock.unlock();
      PollAll();
      lock.lock();
      next_sweep = clock_.Now() + options_.interval;
    }
  }
}

void FeedPoller::PollAll() {
  // A store that stopped writing could keep none of what a poll finds: the feed hosts are not
  // asked until it is healthy again (logged once, not every sweep).
  Result<void> healthy = store_.CheckHealth();
  Result<std::vector<Feed>> feeds = healthy ? store_.ListFeeds() : std::unexpected(healthy.error());
  if (!feeds) {
    if (feeds.error().message != last_sweep_error_)
      fmt::print(stderr, "feed poll: paused: {}\n", feeds.error().ToString());
    last_sweep_error_ = feeds.error().message;
    return;
  }
  last_sweep_error_.clear();
  for (const Feed& f : *feeds) {
    {
      MutexLock lock(mu_);
      if (stopping_) return;
    }
    auto r = Poll(f.id);
    if (!r) fmt::print(stderr, "feed {} ({}): {}\n", f.id.value(), f.url, r.error().ToString());
  }
}

Result<PollResult> FeedPoller::Poll(FeedId id) {
  if (Result<void> healthy = store_.CheckHealth(); !healthy)
    return std::unexpected(healthy.error());
  auto feed = store_.GetFeed(id);
  if (!feed) return std::unexpected(feed.error());
  const TimePoint now = clock_.Now();
  auto fail = [&](const Error& e) -> Result<PollResult> {
    (void)store_.RecordFeedPoll(id, FeedPoll{now, "", e.message});
    return std::unexpected(e);
  };

  if (SchemeOf(feed->url) == "file" && !options_.sources.allow_files)
    return fail(Error{Code::kInvalidArgument,
                      "file URLs are not allowed (start the coordinator with --allow-file-urls)"});
  std::error_code ec;
  std::filesystem::create_directories(options_.scratch_dir, ec);
  const auto path = options_.scratch_dir / fmt::format("feed-{}.xml", id.value());
  std::filesystem::remove(path, ec);
  std::filesystem::remove(path.string() + ".part", ec);
  DownloadOptions download;
  download.max_bytes = options_.max_feed_bytes;
  download.retries = 1;
  if (options_.sources.public_only)
    download.allow_address = [](const sockaddr* a) { return IsPublicAddress(a); };
  auto fetched = http_.Download(feed->url, path, download);
  if (!fetched) return fail(fetched.error());

  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  std::filesystem::remove(path, ec);
  auto parsed = ParseRss(text.str());
  if (!parsed) return fail(parsed.error());

  const std::string base = fetched->final_url.empty() ? feed->url : fetched->final_url;
  const int64_t items = static_cast<int64_t>(parsed->episodes.size());
  for (EpisodeInfo& e : parsed->episodes) {
    e.audio_url = ResolveUrl(base, e.audio_url);
    if (e.guid.empty()) e.guid = e.audio_url;
  }
  std::erase_if(parsed->episodes, [&](const EpisodeInfo& e) {
    return !EnclosureAllowed(base, e.audio_url, options_.sources);
  });
  const int64_t refused = items - static_cast<int64_t>(parsed->episodes.size());
  auto added = store_.AddEpisodes(id, parsed->episodes, now, options_.intake);
  if (!added) return fail(added.error());
  const std::string note =
      refused == 0
          ? std::string()
          : fmt::format("{} of {} enclosure URLs refused (not http or https)", refused, items);
  if (auto r = store_.RecordFeedPoll(id, FeedPoll{now, parsed->title, note}); !r)
    return std::unexpected(r.error());
  if (!added->empty() && on_new_work_) on_new_work_();

  auto updated = store_.GetFeed(id);
  if (!updated) return std::unexpected(updated.error());
  return PollResult{*updated, items, static_cast<int64_t>(added->size()), refused};
}

}  // namespace podfleet
