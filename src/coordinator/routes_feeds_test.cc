// The feed routes through the coordinator's real HTTP API, with feeds served by a real HTTP
// server on loopback: refusals leave nothing behind, OPML import and export round-trip.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/client.h"
#include "coordinator/coordinator.h"
#include "support/feed_origin.h"
#include "support/manual_clock.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

using nlohmann::json;

std::string Show(std::string_view title, int episodes) {
  std::string items;
  for (int i = 0; i < episodes; ++i)
    items += fmt::format(
        "<item><guid>{0}-{1}</guid><title>{0} {1}</title><pubDate>Mon, {2:02} Jan 2024 "
        "10:00:00 GMT</pubDate><enclosure url=\"https://cdn.example.com/{0}/{1}.mp3\" "
        "type=\"audio/mpeg\"/></item>",
        title, i, i + 1);
  return fmt::format("<rss version=\"2.0\"><channel><title>{}</title>{}</channel></rss>", title,
                     items);
}

// A coordinator on loopback with an admin client.
struct TestCoordinator {
  explicit TestCoordinator(const std::filesystem::path& dir) {
    CoordinatorOptions o;
    o.data_dir = dir;
    o.port = 0;
    o.feed_interval = Millis(3'600'000);
    o.relay = false;
    auto c = Coordinator::Start(o, clock);
    if (!c) throw std::runtime_error(c.error().ToString());
    coordinator = std::move(*c);
    http = MakeCurlClient(HttpClientOptions{});
    admin = std::make_unique<CoordinatorClient>(coordinator->base_url(), *http);
    admin->set_admin_token(*coordinator->first_admin_token());
  }

  // Feed URLs as GET /api/feeds lists them.
  std::vector<std::string> FeedUrls() {
    std::vector<std::string> urls;
    auto feeds = admin->GetJson("/api/feeds");
    EXPECT_TRUE(feeds);
    if (feeds)
      for (const json& f : (*feeds)["feeds"]) urls.push_back(f["url"].get<std::string>());
    return urls;
  }

  int64_t Queued() {
    auto q = admin->GetJson("/api/queue/status");
    return q ? (*q)["transcribe_queue"]["queued"].get<int64_t>() : -1;
  }

  ManualClock clock;
  std::unique_ptr<Coordinator> coordinator;
  std::unique_ptr<HttpClient> http;
  std::unique_ptr<CoordinatorClient> admin;
};

class FeedRoutesTest : public ::testing::Test {
 protected:
  TempDir dir_;
  FeedOrigin origin_;
};

TEST_F(FeedRoutesTest, NotAFeedGetsA4xxAndNothingIsKept) {
  TestCoordinator c(dir_.path() / "a");
  origin_.Set("/page.html", Page{.body = "<!DOCTYPE html><html><p>hi</html>"});
  origin_.Set("/list.opml",
              Page{.body = "<opml><body><outline xmlUrl=\"http://x/y\"/></body></opml>"});
  for (const char* path : {"/page.html", "/list.opml", "/missing.xml"}) {
    auto r = c.admin->PostJson("/api/feeds", {{"url", origin_.Url(path)}});
    ASSERT_FALSE(r) << path;
    EXPECT_EQ(r.error().code, Code::kInvalidArgument) << r.error().ToString();
    EXPECT_NE(r.error().message.find("not a feed"), std::string::npos) << r.error().message;
  }
  EXPECT_TRUE(c.FeedUrls().empty());
  origin_.Set("/show.xml", Page{.body = Show("Show", 2)});
  ASSERT_TRUE(c.admin->PostJson("/api/feeds", {{"url", origin_.Url("/show.xml")}}));
  auto again = c.admin->PostJson("/api/feeds", {{"url", origin_.Url("//show.xml?")}});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Code::kConflict);
  EXPECT_EQ(c.Queued(), 2);
}

TEST_F(FeedRoutesTest, OpmlExportImportsIntoAnEmptyCoordinatorAsTheSameFeeds) {
  for (const char* name : {"alpha", "beta", "gamma"})
    origin_.Set(fmt::format("/{}.xml", name), Page{.body = Show(name, 3)});
  origin_.Set("/a&b.xml", Page{.body = Show("Tom &amp; Jerry &lt;live&gt;", 1)});
  TestCoordinator first(dir_.path() / "first");
  for (const char* path : {"/alpha.xml", "/beta.xml", "/gamma.xml", "/a&b.xml"})
    ASSERT_TRUE(first.admin->PostJson("/api/feeds", {{"url", origin_.Url(path)}}));
  auto exported = first.admin->GetText("/api/opml");
  ASSERT_TRUE(exported) << exported.error().ToString();

  TestCoordinator second(dir_.path() / "second");
  auto imported = second.admin->PostBytes("/api/opml?newest=1", *exported, "text/x-opml");
  ASSERT_TRUE(imported) << imported.error().ToString();
  EXPECT_EQ((*imported)["added"], 4) << imported->dump();
  EXPECT_EQ(second.FeedUrls(), first.FeedUrls());
  EXPECT_EQ(second.Queued(), 4);  // newest=1 per feed; the rest skipped

  // Importing the same list again adds nothing: each outline says it exists.
  auto again = second.admin->PostBytes("/api/opml", *exported, "text/x-opml");
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)["added"], 0);
  for (const json& o : (*again)["outlines"]) EXPECT_EQ(o["result"], "exists") << o.dump();
  EXPECT_EQ(second.FeedUrls().size(), 4u);

  // A skipped episode is queued on request.
  auto skipped = second.admin->GetJson("/api/episodes?state=skipped&limit=1");
  ASSERT_TRUE(skipped);
  ASSERT_EQ((*skipped)["episodes"].size(), 1u);
  const int64_t id = (*skipped)["episodes"][0]["id"].get<int64_t>();
  ASSERT_TRUE(second.admin->PostJson(fmt::format("/api/episodes/{}/queue", id), json::object()));
  EXPECT_EQ(second.Queued(), 5);
}

TEST_F(FeedRoutesTest, OpmlImportGivesAResultPerOutline) {
  origin_.Set("/ok.xml", Page{.body = Show("ok", 1)});
  TestCoordinator c(dir_.path() / "c");
  const std::string opml = fmt::format(
      "<?xml version=\"1.0\"?><opml version=\"1.0\"><body><outline text=\"folder\">"
      "<outline type=\"rss\" xmlUrl=\"{}\"/><outline type=\"rss\" xmlUrl=\"{}\"/>"
      "<outline type=\"rss\" xmlURL=\"/etc/passwd\"/></outline></body></opml>",
      origin_.Url("/ok.xml"), origin_.Url("/nope.xml"));
  auto r = c.admin->PostBytes("/api/opml", opml, "text/x-opml");
  ASSERT_TRUE(r) << r.error().ToString();
  const json& outlines = (*r)["outlines"];
  ASSERT_EQ(outlines.size(), 3u) << r->dump();
  EXPECT_EQ(outlines[0]["result"], "added");
  EXPECT_EQ(outlines[1]["result"], "refused");
  EXPECT_NE(outlines[1]["error"].get<std::string>().find("HTTP 404"), std::string::npos);
  EXPECT_EQ(outlines[2]["result"], "refused");
  EXPECT_EQ(c.FeedUrls().size(), 1u);
  auto bad = c.admin->PostBytes("/api/opml", "<rss/>", "text/x-opml");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Code::kInvalidArgument);
}

}  // namespace
}  // namespace podfleet
