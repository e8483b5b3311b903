#include "feeds/mirror.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "feeds/rss.h"

namespace podfleet {
namespace {

using ::testing::HasSubstr;

const char* kFeed = R"(<?xml version="1.0" encoding="UTF-8"?>
<!-- the publisher's comment -->
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">
  <channel>
    <title>Show &amp; Tell</title>
    <language>en-us</language>
    <item>
      <title>One</title>
      <guid isPermaLink="false">guid-1</guid>
      <enclosure url="https://cdn.example/1.mp3" type="audio/mpeg" length="1"/>
    </item>
    <item>
      <title>Two</title>
      <enclosure url="https://cdn.example/2.mp3" type="audio/mpeg" length="2"/>
    </item>
    <item><title>Three</title><guid>guid-3</guid></item>
  </channel>
</rss>
)";

std::vector<MirrorLink> Links(const std::string& id) {
  return {
      {"https://pf.example/api/episodes/" + id + "/transcript?format=vtt", "text/vtt", "en", true},
      {"https://pf.example/api/episodes/" + id + "/transcript?format=json", "application/json", "",
       false}};
}

TEST(MirrorFeed, AddsTranscriptTagsByGuidOrEnclosureAndKeepsTheRest) {
  auto mirror =
      MirrorFeed(kFeed, {{"guid-1", Links("1")}, {"https://cdn.example/2.mp3", Links("2")}});
  ASSERT_TRUE(mirror) << mirror.error().ToString();
  EXPECT_THAT(*mirror, HasSubstr("<!-- the publisher's comment -->"));
  EXPECT_THAT(*mirror, HasSubstr("xmlns:podcast=\"https://podcastindex.org/namespace/1.0\""));
  EXPECT_THAT(*mirror, HasSubstr("<title>Show &amp; Tell</title>"));
  EXPECT_THAT(
      *mirror,
      HasSubstr(
          "<podcast:transcript url=\"https://pf.example/api/episodes/1/transcript?format=vtt\" "
          "type=\"text/vtt\" language=\"en\" rel=\"captions\"/>"));
  // Read back by podfleet's own feed reader: items 1 and 2 link two files, item 3 none.
  auto parsed = ParseFeed(*mirror);
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  ASSERT_EQ(parsed->episodes.size(), 3u);
  EXPECT_EQ(parsed->title, "Show & Tell");
  ASSERT_EQ(parsed->episodes[0].transcript_links.size(), 2u);
  EXPECT_EQ(parsed->episodes[0].transcript_links[0].rel, "captions");
  EXPECT_EQ(parsed->episodes[1].transcript_links[1].type, "application/json");
  EXPECT_TRUE(parsed->episodes[2].transcript_links.empty());
}

TEST(MirrorFeed, ReusesThePublishersPrefixForThePodcastNamespace) {
  const std::string feed =
      R"(<rss xmlns:pi="https://podcastindex.org/namespace/1.0"><channel><pi:locked>yes</pi:locked>)"
      R"(<pi:guid>abc</pi:guid><item><guid>g</guid></item></channel></rss>)";
  auto mirror = MirrorFeed(feed, {{"g", Links("7")}});
  ASSERT_TRUE(mirror);
  EXPECT_THAT(*mirror, HasSubstr("<pi:locked>yes</pi:locked><pi:guid>abc</pi:guid>"));
  EXPECT_THAT(*mirror, HasSubstr("<pi:transcript url="));
  EXPECT_EQ(mirror->find("xmlns:podcast"), std::string::npos);
}

TEST(MirrorFeed, RefusesWhatIsNotRss) {
  EXPECT_EQ(MirrorFeed("<feed xmlns=\"http://www.w3.org/2005/Atom\"/>", {}).error().code,
            Code::kInvalidArgument);
  EXPECT_EQ(MirrorFeed("<rss><channel>", {}).error().code, Code::kInvalidArgument);
}

}  // namespace
}  // namespace podfleet
