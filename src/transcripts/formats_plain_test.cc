#include "transcripts/formats_plain.h"

#include <gtest/gtest.h>

#include "store/store_test_util.h"

namespace podfleet {
namespace {

TEST(ReadPlainText, ParagraphsBecomeSegmentsWithSpeakers) {
  Transcript t =
      Must(ReadPlainText("\xEF\xBB\xBFHost: Welcome to\nthe show.\r\n\n\nGuest: Thanks.\n"
                         "Well, it is: fine.\n"));
  ASSERT_EQ(t.segments.size(), 2u);
  EXPECT_EQ(t.segments[0].speaker, "Host");
  EXPECT_EQ(t.segments[0].text, "Welcome to the show.");
  EXPECT_EQ(t.segments[1].speaker, "Guest");
  EXPECT_EQ(t.segments[1].text, "Thanks. Well, it is: fine.");
  EXPECT_EQ(t.segments[1].start, Millis(0));
}

TEST(ReadPlainText, SentencesWithColonsAreNotSpeakers) {
  Transcript t = Must(ReadPlainText("He said, quietly: no.\n"));
  ASSERT_EQ(t.segments.size(), 1u);
  EXPECT_EQ(t.segments[0].speaker, "");
  EXPECT_EQ(t.segments[0].text, "He said, quietly: no.");
}

TEST(ReadPlainText, BinaryAndBrokenUtf8AreRefused) {
  EXPECT_CODE(ReadPlainText(std::string("a\0b", 3)), Code::kInvalidArgument);
  EXPECT_CODE(ReadPlainText("caf\xC3"), Code::kInvalidArgument);
  EXPECT_CODE(ReadPlainText("\xC0\xAF overlong"), Code::kInvalidArgument);
  EXPECT_CODE(ReadPlainText("\xED\xA0\x80 surrogate"), Code::kInvalidArgument);
  EXPECT_TRUE(Must(ReadPlainText(" \n\t\n")).segments.empty());
  EXPECT_EQ(Must(ReadPlainText("caf\xC3\xA9 \xF0\x9F\x8E\xA7")).segments.at(0).text,
            "caf\xC3\xA9 \xF0\x9F\x8E\xA7");
}

TEST(ReadHtmlTranscript, BlocksBecomeParagraphs) {
  Transcript t = Must(
      ReadHtmlTranscript("<!DOCTYPE html><html><head><title>x</title><style>p{color:red}</style>"
                         "<SCRIPT>var a = '<p>not text</p>';</SCRIPT></head><body>"
                         "<h1>Episode 1</h1><p><b>Host:</b> Q&amp;A &lt;live&gt; caf&#233;</p>"
                         "<!-- <p>comment</p> --><div>Guest: two<br>lines</div></body></html>"));
  ASSERT_EQ(t.segments.size(), 5u);
  EXPECT_EQ(t.segments[0].text, "x");
  EXPECT_EQ(t.segments[1].text, "Episode 1");
  EXPECT_EQ(t.segments[2].speaker, "Host");
  EXPECT_EQ(t.segments[2].text, "Q&A <live> caf\xC3\xA9");
  EXPECT_EQ(t.segments[3].speaker, "Guest");
  EXPECT_EQ(t.segments[3].text, "two");
  EXPECT_EQ(t.segments[4].text, "lines");
}

TEST(ReadHtmlTranscript, HostileInputEndsCleanly) {
  EXPECT_TRUE(Must(ReadHtmlTranscript("<p")).segments.empty());
  EXPECT_TRUE(Must(ReadHtmlTranscript("<script>never closed <p>a</p>")).segments.empty());
  EXPECT_EQ(Must(ReadHtmlTranscript("a &bogus; &#0; &#x110000; &")).segments.at(0).text,
            "a &bogus; &#0; &#x110000; &");
}

}  // namespace
}  // namespace podfleet
