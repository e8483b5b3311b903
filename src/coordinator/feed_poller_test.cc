// The feed poller against a real HTTP server on loopback and a real SQLite store: identity (one
// show is one feed), formats, conditional polling, backoff, per-host limits, honest refusals and
// backfill limits.
#include "coordinator/feed_poller.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "store/store.h"
#include "support/feed_origin.h"
#include "support/manual_clock.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

using namespace std::chrono_literals;

std::string Item(int n, std::string_view extra = "", std::string_view date = "") {
  return fmt::format(
      "<item><title>Episode {0}</title><guid>ep-{0}</guid>"
      "<enclosure url=\"/audio/{0}.mp3\" type=\"audio/mpeg\" length=\"100\"/>"
      "<pubDate>{1}</pubDate>{2}</item>",
      n, date.empty() ? fmt::format("Mon, {:02} Jan 2024 10:00:00 GMT", n) : date, extra);
}

std::string Rss(std::string_view items, std::string_view channel_extra = "",
                std::string_view title = "The Show") {
  return fmt::format(
      "<?xml version=\"1.0\"?><rss version=\"2.0\" "
      "xmlns:itunes=\"http://www.itunes.com/dtds/podcast-1.0.dtd\" "
      "xmlns:podcast=\"https://podcastindex.org/namespace/1.0\" "
      "xmlns:media=\"http://search.yahoo.com/mrss/\"><channel><title>{}</title>{}{}</channel></"
      "rss>",
      title, channel_extra, items);
}

std::string ThreeEpisodes() { return Rss(Item(1) + Item(2) + Item(3)); }

class FeedPollerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = OpenSqliteStore(dir_.File("podfleet.db"));
    ASSERT_TRUE(s) << s.error().ToString();
    store_ = std::move(*s);
    http_ = MakeCurlClient(HttpClientOptions{});
  }

  FeedPoller& Poller(FeedPollerOptions o = {}) {
    o.interval = kInterval;
    o.sweep = false;  // the tests call PollDue themselves
    poller_ = std::make_unique<FeedPoller>(*store_, *http_, clock_, o, nullptr);
    return *poller_;
  }

  int64_t JobCount() {
    auto counts = store_->CountJobs();
    EXPECT_TRUE(counts);
    return counts ? counts->queued : -1;
  }

  std::vector<Episode> Episodes() {
    EpisodeFilter f;
    f.limit = 1000;
    auto e = store_->ListEpisodes(f);
    EXPECT_TRUE(e);
    return e ? *e : std::vector<Episode>{};
  }

  static constexpr Millis kInterval{600'000};
  TempDir dir_;
  ManualClock clock_;
  FeedOrigin origin_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<HttpClient> http_;
  std::unique_ptr<FeedPoller> poller_;
};

#define ASSERT_ADDED(r) ASSERT_TRUE(r) << (r).error().ToString()

// ---- one show, many feeds ----

TEST_F(FeedPollerTest, OneShowAddedUnderManySpellingsIsOneFeedAndQueuedOnce) {
  origin_.Set("/x.xml", Page{.body = ThreeEpisodes()});
  origin_.Set("/old.xml", Page{.status = 301, .headers = {{"Location", "/x.xml"}}});
  FeedPoller& poller = Poller();
  auto first = poller.Add(origin_.Url("/x.xml", "localhost"), std::nullopt);
  ASSERT_ADDED(first);
  EXPECT_EQ(first->new_episodes, 3);
  const int port = origin_.port();
  for (const std::string& again :
       {origin_.Url("/x.xml?", "localhost"), fmt::format("http://localhost:{}//x.xml", port),
        fmt::format("HTTP://LOCALHOST:{}/x.xml#latest", port),
        origin_.Url("/x.xml", "127.0.0.1"),  // another name: the same content
        origin_.Url("/old.xml", "localhost")}) {
    auto r = poller.Add(again, std::nullopt);
    ASSERT_FALSE(r) << again << " was added again";
    EXPECT_EQ(r.error().code, Code::kConflict) << r.error().ToString();
    EXPECT_NE(r.error().message.find("already added as feed 1"), std::string::npos)
        << r.error().message;
  }
  EXPECT_EQ(store_->ListFeeds()->size(), 1u);
  EXPECT_EQ(JobCount(), 3);
}

TEST_F(FeedPollerTest, PodcastGuidRecognisesTheShowUnderAnotherUrl) {
  const std::string guid = "<podcast:guid>917393e3-1b1e-5cef-ace4-edaa54e1f810</podcast:guid>";
  origin_.Set("/a.xml", Page{.body = Rss(Item(1), guid, "Show A")});
  origin_.Set("/mirror.xml", Page{.body = Rss(Item(7), guid, "Show A (mirror)")});
  FeedPoller& poller = Poller();
  ASSERT_ADDED(poller.Add(origin_.Url("/a.xml"), std::nullopt));
  auto r = poller.Add(origin_.Url("/mirror.xml"), std::nullopt);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kConflict);
}

TEST_F(FeedPollerTest, PermanentRedirectMovesTheFeedAndTemporaryDoesNot) {
  origin_.Set("/new.xml", Page{.body = ThreeEpisodes()});
  origin_.Set("/moved.xml", Page{.status = 308, .headers = {{"Location", "/new.xml"}}});
  origin_.Set("/tmp.xml", Page{.status = 302, .headers = {{"Location", "/other.xml"}}});
  origin_.Set("/other.xml", Page{.body = Rss(Item(9), "", "Other")});
  FeedPoller& poller = Poller();
  auto moved = poller.Add(origin_.Url("/moved.xml"), std::nullopt);
  ASSERT_ADDED(moved);
  EXPECT_EQ(moved->feed.url, origin_.Url("/new.xml"));
  auto temporary = poller.Add(origin_.Url("/tmp.xml"), std::nullopt);
  ASSERT_ADDED(temporary);
  EXPECT_EQ(temporary->feed.url, origin_.Url("/tmp.xml"));
}

TEST_F(FeedPollerTest, NewFeedUrlIsFollowedAndEpisodesAreNotQueuedTwice) {
  origin_.Set("/old.xml", Page{.body = ThreeEpisodes()});
  FeedPoller& poller = Poller();
  auto added = poller.Add(origin_.Url("/old.xml"), std::nullopt);
  ASSERT_ADDED(added);
  // The show moves: the old URL announces the new one, which serves the same items.
  origin_.Set("/old.xml", Page{.body = Rss(Item(1) + Item(2) + Item(3),
                                           "<itunes:new-feed-url>" + origin_.Url("/new.xml") +
                                               "</itunes:new-feed-url>")});
  origin_.Set("/new.xml", Page{.body = Rss(Item(1) + Item(2) + Item(3) + Item(4))});
  auto polled = poller.Poll(added->feed.id);
  ASSERT_ADDED(polled);
  EXPECT_EQ(polled->feed.url, origin_.Url("/new.xml"));
  auto again = poller.Poll(added->feed.id);  // now from the new URL
  ASSERT_ADDED(again);
  EXPECT_EQ(again->new_episodes, 1);
  EXPECT_EQ(JobCount(), 4);
  EXPECT_EQ(origin_.seen().back().path, "/new.xml");
  auto re_add = poller.Add(origin_.Url("/old.xml"), std::nullopt);
  ASSERT_FALSE(re_add);
  EXPECT_EQ(re_add.error().code, Code::kConflict);
}

// ---- episodes ----

TEST_F(FeedPollerTest, EnclosureChangedUnderTheSameGuidUpdatesTheEpisode) {
  origin_.Set("/f.xml", Page{.body = Rss(Item(1))});
  FeedPoller& poller = Poller();
  auto added = poller.Add(origin_.Url("/f.xml"), std::nullopt);
  ASSERT_ADDED(added);
  origin_.Set("/f.xml", Page{.body = Rss("<item><title>Episode 1</title><guid>ep-1</guid>"
                                         "<enclosure url=\"https://cdn.example.com/1-v2.mp3\" "
                                         "type=\"audio/mpeg\" length=\"555\"/></item>")});
  auto polled = poller.Poll(added->feed.id);
  ASSERT_ADDED(polled);
  EXPECT_EQ(polled->new_episodes, 0);
  const auto episodes = Episodes();
  ASSERT_EQ(episodes.size(), 1u);
  EXPECT_EQ(episodes[0].info.audio_url, "https://cdn.example.com/1-v2.mp3");
  EXPECT_EQ(episodes[0].info.audio_length, 555);
  EXPECT_EQ(JobCount(), 1);
}

TEST_F(FeedPollerTest, ItemWithoutGuidIsKnownByItsResolvedEnclosureAcrossGuidChanges) {
  origin_.Set("/dir/f.xml",
              Page{.body = Rss("<item><title>No guid</title>"
                               "<enclosure url=\"media/a.mp3\" type=\"audio/mpeg\"/></item>")});
  FeedPoller& poller = Poller();
  auto added = poller.Add(origin_.Url("/dir/f.xml"), std::nullopt);
  ASSERT_ADDED(added);
  ASSERT_EQ(Episodes().size(), 1u);
  EXPECT_EQ(Episodes()[0].info.guid, origin_.Url("/dir/media/a.mp3"));
  // The publisher adds a guid later: the same audio, so the same episode.
  origin_.Set("/dir/f.xml", Page{.body = Rss("<item><title>No guid</title><guid>late</guid>"
                                             "<enclosure url=\"media/a.mp3\"/></item>")});
  auto polled = poller.Poll(added->feed.id);
  ASSERT_ADDED(polled);
  EXPECT_EQ(polled->new_episodes, 0);
  EXPECT_EQ(JobCount(), 1);
}

TEST_F(FeedPollerTest, MediaRssAudioIsQueuedAndTextItemsAreCountedApartFromPolicyRefusals) {
  origin_.Set(
      "/m.xml",
      Page{.body =
               Rss("<item><guid>g1</guid><title>Only media</title><media:group>"
                   "<media:content url=\"https://cdn.example.com/low.mp3\" type=\"audio/mpeg\" "
                   "bitrate=\"64\"/><media:content url=\"https://cdn.example.com/high.mp3\" "
                   "type=\"audio/mpeg\" bitrate=\"192\"/><media:content "
                   "url=\"https://cdn.example.com/v.mp4\" medium=\"video\" bitrate=\"2000\"/>"
                   "</media:group></item>"
                   "<item><guid>g2</guid><title>A text post</title></item>"
                   "<item><guid>g3</guid><title>Gopher</title>"
                   "<enclosure url=\"gopher://example.com/a.mp3\" type=\"audio/mpeg\"/></item>")});
  auto r = Poller().Add(origin_.Url("/m.xml"), std::nullopt);
  ASSERT_ADDED(r);
  EXPECT_EQ(r->items, 3);
  EXPECT_EQ(r->new_episodes, 1);
  EXPECT_EQ(r->without_audio, 1);
  EXPECT_EQ(r->refused, 1);
  EXPECT_NE(r->note.find("1 of 3 items carry no audio"), std::string::npos) << r->note;
  EXPECT_NE(r->note.find("1 of 3 enclosure URLs refused by the source policy"), std::string::npos)
      << r->note;
  ASSERT_EQ(Episodes().size(), 1u);
  EXPECT_EQ(Episodes()[0].info.audio_url, "https://cdn.example.com/high.mp3");
}

TEST_F(FeedPollerTest, AtomFeedIsAdded) {
  origin_.Set("/atom.xml",
              Page{.body = R"(<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">
<title>Atom Show</title><entry><id>urn:uuid:1</id><title>First</title>
<published>2024-05-01T10:00:00.123+02:00</published>
<link rel="enclosure" href="https://cdn.example.com/1.m4a" type="audio/mp4" length="9"/></entry>
</feed>)",
                   .content_type = "application/atom+xml"});
  auto r = Poller().Add(origin_.Url("/atom.xml"), std::nullopt);
  ASSERT_ADDED(r);
  EXPECT_EQ(r->feed.title, "Atom Show");
  EXPECT_EQ(r->new_episodes, 1);
  ASSERT_EQ(Episodes().size(), 1u);
  EXPECT_EQ(Episodes()[0].info.audio_url, "https://cdn.example.com/1.m4a");
  EXPECT_EQ(Episodes()[0].info.guid, "urn:uuid:1");
}

// ---- honest refusals ----

TEST_F(FeedPollerTest, WhatIsNotAFeedIsRefusedAndLeavesNothingBehind) {
  origin_.Set("/page.html", Page{.body = "<!DOCTYPE html><html><body><p>hi<br></body></html>",
                                 .content_type = "text/html"});
  origin_.Set("/subs.opml", Page{.body = "<opml version=\"2.0\"><body><outline "
                                         "xmlUrl=\"http://x/f.xml\"/></body></opml>"});
  origin_.Set("/junk.xml", Page{.body = "<rss><channel><title>cut"});
  origin_.Set("/gone.xml", Page{.status = 410, .body = "gone"});
  origin_.Set("/teapot.xml", Page{.status = 418, .body = "no"});
  FeedPoller& poller = Poller();
  const std::map<std::string, std::string> expected = {
      {"/page.html", "HTML page"},  {"/subs.opml", "OPML"},    {"/junk.xml", "malformed feed"},
      {"/missing.xml", "HTTP 404"}, {"/gone.xml", "HTTP 410"}, {"/teapot.xml", "HTTP 418"}};
  for (const auto& [path, message] : expected) {
    auto r = poller.Add(origin_.Url(path), std::nullopt);
    ASSERT_FALSE(r) << path;
    EXPECT_EQ(r.error().code, Code::kInvalidArgument) << path << ": " << r.error().ToString();
    EXPECT_NE(r.error().message.find(message), std::string::npos) << r.error().message;
  }
  EXPECT_TRUE(store_->ListFeeds()->empty());
  EXPECT_TRUE(Episodes().empty());
}

// ---- polite polling ----

TEST_F(FeedPollerTest, SecondPollIsConditionalAndA304ReadsNothing) {
  origin_.Set("/f.xml", Page{.body = ThreeEpisodes(), .etag = "\"v1\""});
  FeedPoller& poller = Poller();
  auto added = poller.Add(origin_.Url("/f.xml"), std::nullopt);
  ASSERT_ADDED(added);
  EXPECT_EQ(added->feed.etag, "\"v1\"");
  auto polled = poller.Poll(added->feed.id);
  ASSERT_ADDED(polled);
  EXPECT_TRUE(polled->not_modified);
  const auto seen = origin_.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].if_none_match, "");
  EXPECT_EQ(seen[1].if_none_match, "\"v1\"");
  EXPECT_NE(seen[1].accept_encoding.find("gzip"), std::string::npos) << seen[1].accept_encoding;
  EXPECT_NE(seen[1].accept_encoding.find("br"), std::string::npos) << seen[1].accept_encoding;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_F(FeedPollerTest, TheLastFullAnswerIsKeptAndAFeedWithoutOneIsAskedForInFull) {
  origin_.Set("/f.xml", Page{.body = ThreeEpisodes(), .etag = "\"v1\""});
  FeedPollerOptions o;
  o.documents_dir = dir_.File("feeds");
  FeedPoller& poller = Poller(o);
  auto added = poller.Add(origin_.Url("/f.xml"), std::nullopt);
  ASSERT_ADDED(added);
  const std::filesystem::path kept = FeedDocumentPath(o.documents_dir, added->feed.id);
  EXPECT_EQ(ReadFile(kept), ThreeEpisodes());
  ASSERT_ADDED(poller.Poll(added->feed.id));  // a 304 keeps the document
  EXPECT_EQ(ReadFile(kept), ThreeEpisodes());
  std::filesystem::remove(kept);
  const std::string four = Rss(Item(1) + Item(2) + Item(3) + Item(4));
  origin_.Set("/f.xml", Page{.body = four, .etag = "\"v1\""});  // same validator, new body
  auto polled = poller.Poll(added->feed.id);
  ASSERT_ADDED(polled);
  EXPECT_FALSE(polled->not_modified);
  EXPECT_EQ(ReadFile(kept), four);
  const auto seen = origin_.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1].if_none_match, "\"v1\"");
  EXPECT_EQ(seen[2].if_none_match, "");
}

uint32_t Crc32(std::string_view data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

// `data` as a gzip stream of stored (uncompressed) deflate blocks: real gzip any decoder reads.
std::string Gzip(std::string_view data) {
  std::string out("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", 10);
  auto le = [&out](uint32_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
  };
  size_t pos = 0;
  do {
    const size_t n = std::min<size_t>(65535, data.size() - pos);
    out += static_cast<char>(pos + n == data.size() ? 1 : 0);
    le(static_cast<uint32_t>(n), 2);
    le(static_cast<uint32_t>(~n & 0xFFFF), 2);
    out.append(data.substr(pos, n));
    pos += n;
  } while (pos < data.size());
  le(Crc32(data), 4);
  le(static_cast<uint32_t>(data.size()), 4);
  return out;
}

TEST_F(FeedPollerTest, GzipSentUnaskedIsDecoded) {
  origin_.Set("/z.xml",
              Page{.body = Gzip(ThreeEpisodes()), .headers = {{"Content-Encoding", "gzip"}}});
  auto r = Poller().Add(origin_.Url("/z.xml"), std::nullopt);
  ASSERT_ADDED(r);
  EXPECT_EQ(r->new_episodes, 3);
}

TEST_F(FeedPollerTest, FailuresBackOffAndRetryAfterIsHonoured) {
  origin_.Set("/f.xml", Page{.body = ThreeEpisodes()});
  FeedPoller& poller = Poller();
  auto added = poller.Add(origin_.Url("/f.xml"), std::nullopt);
  ASSERT_ADDED(added);
  const FeedId id = added->feed.id;
  origin_.Set("/f.xml", Page{.status = 429, .headers = {{"Retry-After", "7200"}}});
  ASSERT_FALSE(poller.Poll(id));
  Feed feed = *store_->GetFeed(id);
  EXPECT_EQ(feed.failures, 1);
  ASSERT_TRUE(feed.next_poll_at);
  EXPECT_GE(*feed.next_poll_at - clock_.Now(), 7200s);
  origin_.Set("/f.xml", Page{.status = 503});
  ASSERT_FALSE(poller.Poll(id));
  ASSERT_FALSE(poller.Poll(id));
  feed = *store_->GetFeed(id);
  EXPECT_EQ(feed.failures, 3);
  EXPECT_GE(*feed.next_poll_at - clock_.Now(), 4 * kInterval * 0.8);  // interval * 2^2, jittered
  EXPECT_NE(feed.last_error.find("HTTP 503"), std::string::npos) << feed.last_error;
  origin_.Set("/f.xml", Page{.body = ThreeEpisodes()});
  ASSERT_TRUE(poller.Poll(id));
  EXPECT_EQ(store_->GetFeed(id)->failures, 0);
}

TEST_F(FeedPollerTest, ScheduleIsJitteredAndSweepsRespectThePerHostLimit) {
  FeedPoller& poller = Poller(FeedPollerOptions{.threads = 6, .per_host = 2});
  for (int i = 0; i < 12; ++i) {
    const std::string path = fmt::format("/f{}.xml", i);
    origin_.Set(path, Page{.body = Rss(Item(i), "", fmt::format("Show {}", i))});
    ASSERT_ADDED(poller.Add(origin_.Url(path, i % 2 ? "localhost" : "127.0.0.1"), std::nullopt));
  }
  std::set<int64_t> next_times;
  const std::vector<Feed> feeds = *store_->ListFeeds();
  for (const Feed& f : feeds) {
    ASSERT_TRUE(f.next_poll_at);
    const Millis wait = std::chrono::duration_cast<Millis>(*f.next_poll_at - clock_.Now());
    EXPECT_GE(wait, kInterval * 0.8);
    EXPECT_LE(wait, kInterval * 1.2);
    next_times.insert(wait.count());
  }
  EXPECT_GT(next_times.size(), 6u);  // not all at the same moment
  EXPECT_EQ(poller.PollDue(), 0);    // nothing is due yet
  for (int i = 0; i < 12; ++i)
    origin_.Set(fmt::format("/f{}.xml", i),
                Page{.body = Rss(Item(i), "", fmt::format("Show {}", i)), .delay = 150ms});
  clock_.Advance(Millis(kInterval.count() * 13 / 10));
  EXPECT_EQ(poller.PollDue(), 12);
  EXPECT_EQ(origin_.max_in_flight("localhost"), 2);
  EXPECT_EQ(origin_.max_in_flight("127.0.0.1"), 2);
}

// ---- backfill ----

TEST_F(FeedPollerTest, BackfillLimitsSkipTheRestWhichCanBeQueuedLater) {
  std::string items;
  for (int i = 1; i <= 6; ++i) items += Item(i);  // ep-6 is the newest
  origin_.Set("/f.xml", Page{.body = Rss(items)});
  origin_.Set("/g.xml", Page{.body = Rss(items, "", "Other show")});
  FeedPoller& poller = Poller();
  auto newest = poller.Add(origin_.Url("/f.xml"), Backfill{.newest = 2});
  ASSERT_ADDED(newest);
  EXPECT_EQ(newest->new_episodes, 6);
  EXPECT_EQ(newest->queued, 2);
  EXPECT_EQ(newest->held, 4);
  auto since = poller.Add(origin_.Url("/g.xml"),
                          Backfill{.since = FromUnixMillis(1'704'412'800'000)});  // 2024-01-05
  ASSERT_ADDED(since);
  EXPECT_EQ(since->queued, 2);  // Jan 5 and Jan 6
  EXPECT_EQ(JobCount(), 4);
  std::optional<EpisodeId> held;
  for (const Episode& e : Episodes()) {
    if (e.state != EpisodeState::kSkipped) continue;
    EXPECT_NE(e.error.find("backfill"), std::string::npos) << e.error;
    if (e.info.guid == "ep-1") held = e.id;
  }
  ASSERT_TRUE(held);
  ASSERT_TRUE(store_->QueueEpisode(*held, clock_.Now(), JobIntake::kQueue));
  EXPECT_EQ(JobCount(), 5);
  EXPECT_EQ(store_->QueueEpisode(*held, clock_.Now(), JobIntake::kQueue).error().code,
            Code::kConflict);
}

}  // namespace
}  // namespace podfleet
