#include "feeds/opml.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace podfleet {
namespace {

using Urls = std::vector<std::string>;

Urls MustParse(std::string_view xml) {
  Result<Urls> urls = ParseOpml(xml);
  EXPECT_TRUE(urls) << urls.error().ToString();
  return urls ? *urls : Urls{};
}

TEST(Opml, ReadsFeedsInFoldersInDocumentOrder) {
  EXPECT_EQ(MustParse(R"(<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>Podcasts to transcribe</title><dateCreated>Mon, 03 Aug 2026 09:00:00 GMT</dateCreated></head>
  <body>
    <outline type="rss" text="Top" xmlUrl="https://feeds.example.org/top.xml"/>
    <outline text="Tech">
      <outline type="rss" text="Example Show" xmlUrl="https://feeds.example.org/show.xml" htmlUrl="https://example.org/"/>
      <outline text="Deeper">
        <outline type="rss" text="Deep" xmlUrl="https://feeds.example.org/deep.xml"/>
      </outline>
    </outline>
    <outline type="rss" text="Last" xmlUrl="https://feeds.example.org/last.xml"/>
  </body>
</opml>)"),
            (Urls{"https://feeds.example.org/top.xml", "https://feeds.example.org/show.xml",
                  "https://feeds.example.org/deep.xml", "https://feeds.example.org/last.xml"}));
}

TEST(Opml, AcceptsExporterVariationsOfTypeAndAttributeCase) {
  EXPECT_EQ(MustParse(R"(<opml version="1.0"><body>
    <outline type="RSS" text="a" xmlURL="https://a.org/feed"/>
    <outline type="link" text="b" xmlurl=" https://b.org/feed "/>
    <outline text="c" xmlUrl="https://c.org/feed"/>
    <outline text="folder without url"/>
    <outline type="rss" text="empty" xmlUrl=""/>
  </body></opml>)"),
            (Urls{"https://a.org/feed", "https://b.org/feed", "https://c.org/feed"}));
}

TEST(Opml, OvercastEpisodeChildrenAreNotFeeds) {
  EXPECT_EQ(MustParse(R"(<opml version="1.0"><body><outline text="feeds">
    <outline type="rss" text="Show" xmlUrl="https://s.org/feed" overcastId="1">
      <outline type="podcast-episode" title="Ep 1" url="https://s.org/ep1" enclosureUrl="https://s.org/ep1.mp3"/>
    </outline></outline></body></opml>)"),
            (Urls{"https://s.org/feed"}));
}

TEST(Opml, DropsDuplicateUrls) {
  EXPECT_EQ(MustParse(R"(<opml><body>
    <outline text="a" xmlUrl="https://a.org/feed"/>
    <outline text="folder"><outline text="a again" xmlUrl="https://a.org/feed"/></outline>
  </body></opml>)"),
            (Urls{"https://a.org/feed"}));
}

TEST(Opml, NoFeedsGivesEmptyList) {
  EXPECT_EQ(MustParse("<opml version=\"2.0\"><head/><body/></opml>"), Urls{});
  EXPECT_EQ(MustParse("<opml version=\"2.0\"/>"), Urls{});
}

TEST(Opml, OutlinesWithoutBodyAreStillRead) {
  EXPECT_EQ(MustParse("<opml><outline xmlUrl=\"https://a.org/feed\"/></opml>"),
            (Urls{"https://a.org/feed"}));
}

void ExpectInvalid(std::string_view xml, std::string_view message_part) {
  Result<Urls> urls = ParseOpml(xml);
  ASSERT_FALSE(urls);
  EXPECT_EQ(urls.error().code, Code::kInvalidArgument);
  EXPECT_NE(urls.error().message.find(message_part), std::string::npos) << urls.error().message;
}

TEST(Opml, MalformedInputIsInvalidArgument) {
  ExpectInvalid("", "malformed OPML: No document element found at offset 0");
  ExpectInvalid("<opml><body><outline xmlUrl=\"x\"></body></opml>", "malformed OPML:");
  ExpectInvalid("<html><body/></html>", "malformed OPML: the root element is <html>, not <opml>");
  ExpectInvalid("<rss><channel/></rss>", "not <opml>");
}

TEST(Opml, EntityDeclarationsAreRejected) {
  ExpectInvalid(
      "<!DOCTYPE opml [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>"
      "<opml><body><outline xmlUrl=\"&xxe;\"/></body></opml>",
      "entity declarations are not allowed");
  ExpectInvalid(
      "<!DOCTYPE opml [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;\">]>"
      "<opml><body><outline xmlUrl=\"&b;\"/></body></opml>",
      "entity declarations are not allowed");
}

TEST(Opml, DeeplyNestedFoldersDoNotOverflowTheStack) {
  constexpr int kDepth = 200000;
  std::string xml = "<opml><body>";
  for (int i = 0; i < kDepth; ++i) xml += "<outline text=\"f\">";
  xml += "<outline xmlUrl=\"https://deep.org/feed\"/>";
  for (int i = 0; i < kDepth; ++i) xml += "</outline>";
  xml += "<outline xmlUrl=\"https://after.org/feed\"/></body></opml>";
  EXPECT_EQ(MustParse(xml), (Urls{"https://deep.org/feed", "https://after.org/feed"}));
}

TEST(Opml, CorruptedBytesNeverCrash) {
  const std::string xml =
      "<opml version=\"2.0\"><body><outline text=\"Tech\"><outline type=\"rss\" "
      "xmlUrl=\"https://a.org/feed\"/></outline><outline "
      "xmlUrl=\"https://b.org/feed\"/></body></opml>";
  uint32_t state = 777;
  for (int round = 0; round < 2000; ++round) {
    std::string copy = xml;
    for (int k = 0; k < 3; ++k) {
      state = state * 1103515245u + 12345u;
      copy[(state >> 8) % copy.size()] = static_cast<char>(state >> 24);
    }
    Result<Urls> urls = ParseOpml(copy);
    if (!urls) {
      EXPECT_EQ(urls.error().code, Code::kInvalidArgument);
    }
  }
}

}  // namespace
}  // namespace podfleet
