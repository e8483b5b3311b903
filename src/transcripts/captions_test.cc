#include "transcripts/captions.h"

#include <gtest/gtest.h>

namespace podfleet {
namespace {

std::vector<CaptionToken> Tokens(std::initializer_list<const char*> words, int64_t each_ms = 100) {
  std::vector<CaptionToken> tokens;
  int64_t t = 0;
  for (const char* w : words) {
    tokens.push_back({w, Millis(t), Millis(t + each_ms)});
    t += each_ms;
  }
  return tokens;
}

TEST(TranscriptCaptions, TextTokensSpreadSegmentTimeByCharacters) {
  const Segment s{Millis(1000), Millis(2100), "  ab  cdefgh\ti ", "", {}};
  const std::vector<CaptionToken> tokens = SegmentTokens(s);
  // "ab cdefgh i": 11 characters over 1100 ms; each word owns the space after it.
  ASSERT_EQ(tokens.size(), 3u);
  EXPECT_EQ(tokens[0].text, "ab");
  EXPECT_EQ(tokens[0].start, Millis(1000));
  EXPECT_EQ(tokens[0].end, Millis(1300));
  EXPECT_EQ(tokens[1].start, Millis(1300));
  EXPECT_EQ(tokens[1].end, Millis(2000));
  EXPECT_EQ(tokens[2].text, "i");
  EXPECT_EQ(tokens[2].end, Millis(2100));
}

TEST(TranscriptCaptions, WordTokensKeepWordTimesAndSplitInnerSpaces) {
  Segment s{Millis(0), Millis(5000), "ignored when words exist", "", {}};
  s.words = {{Millis(10), Millis(20), "new york", 1.0f},
             {Millis(30), Millis(25), "x", 1.0f},
             {Millis(40), Millis(50), " ", 1.0f}};
  const std::vector<CaptionToken> tokens = SegmentTokens(s);
  ASSERT_EQ(tokens.size(), 3u);
  EXPECT_EQ(tokens[0].text, "new");
  EXPECT_EQ(tokens[1].text, "york");
  EXPECT_EQ(tokens[1].start, Millis(10));
  EXPECT_EQ(tokens[2].end, Millis(30));  // an end before the start is clamped
}

TEST(TranscriptCaptions, WordsWithoutTextFallBackToSegmentText) {
  Segment s{Millis(0), Millis(1000), "hello", "", {{Millis(0), Millis(10), "", 1.0f}}};
  ASSERT_EQ(SegmentTokens(s).size(), 1u);
  EXPECT_EQ(SegmentTokens(s)[0].text, "hello");
}

TEST(TranscriptCaptions, LayoutFillsLinesThenCues) {
  const std::vector<Cue> cues = LayoutCues(Tokens({"aaa", "bbb", "ccc", "ddd", "eee"}),
                                           {.max_line_width = 8, .max_lines = 2});
  ASSERT_EQ(cues.size(), 2u);
  EXPECT_EQ(cues[0].lines, (std::vector<std::string>{"aaa bbb", "ccc ddd"}));
  EXPECT_EQ(cues[0].start, Millis(0));
  EXPECT_EQ(cues[0].end, Millis(400));
  EXPECT_EQ(cues[1].lines, (std::vector<std::string>{"eee"}));
  EXPECT_EQ(cues[1].start, Millis(400));
}

TEST(TranscriptCaptions, PrefixSharesTheFirstLineOrStandsAlone) {
  std::vector<Cue> cues = LayoutCues(Tokens({"hi", "there"}), {.max_line_width = 10}, "Bo: ", 4);
  ASSERT_EQ(cues.size(), 1u);
  EXPECT_EQ(cues[0].lines, (std::vector<std::string>{"Bo: hi", "there"}));
  cues = LayoutCues(Tokens({"abcdefgh", "x"}), {.max_line_width = 10}, "Bo: ", 4);
  ASSERT_EQ(cues.size(), 1u);
  EXPECT_EQ(cues[0].lines, (std::vector<std::string>{"Bo:", "abcdefgh x"}));
  EXPECT_TRUE(LayoutCues({}, {.max_line_width = 10}, "Bo: ", 4).empty());
}

TEST(TranscriptCaptions, LongWordIsCutAtCodePointsWithTimeShared) {
  const std::vector<CaptionToken> tokens = {
      {"\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9",
       Millis(0), Millis(1000)}};  // ten é
  const std::vector<Cue> cues = LayoutCues(tokens, {.max_line_width = 8, .max_lines = 1 + 1});
  ASSERT_EQ(cues.size(), 1u);
  ASSERT_EQ(cues[0].lines.size(), 2u);
  EXPECT_EQ(CodePoints(cues[0].lines[0]), 8);
  EXPECT_EQ(CodePoints(cues[0].lines[1]), 2);
  EXPECT_EQ(cues[0].end, Millis(1000));
}

TEST(TranscriptCaptions, MeasureDecidesWidth) {
  const auto double_width = [](std::string_view s) { return 2 * CodePoints(s); };
  const std::vector<Cue> cues = LayoutCues(
      Tokens({"ab", "cd"}), {.max_line_width = 8, .max_lines = 2, .measure = double_width});
  ASSERT_EQ(cues.size(), 1u);
  EXPECT_EQ(cues[0].lines, (std::vector<std::string>{"ab", "cd"}));  // 4 + 2 + 4 > 8
}

TEST(TranscriptCaptions, CodePointsCountUtf8Characters) {
  EXPECT_EQ(CodePoints(""), 0);
  EXPECT_EQ(CodePoints("abc"), 3);
  EXPECT_EQ(CodePoints("caf\xC3\xA9"), 4);
  EXPECT_EQ(CodePoints("\xE6\x97\xA5\xF0\x9F\x8E\x99"), 2);
  EXPECT_EQ(CodePoints("\xFF\xFE"), 2);
}

TEST(TranscriptCaptions, SpeakerNamesAreCleanedAndCut) {
  EXPECT_EQ(CleanSpeakerName("  Ada\n\tLovelace  ", "", 24), "Ada Lovelace");
  EXPECT_EQ(CleanSpeakerName("<v Evil>&", "<>&", 24), "v Evil");
  EXPECT_EQ(CleanSpeakerName("Ren\xC3\xA9 Descartes", "", 4), "Ren\xC3\xA9");
  EXPECT_EQ(CleanSpeakerName("abc def", "", 4), "abc");
  EXPECT_EQ(CleanSpeakerName("\x01\x02", "", 24), "");
}

TEST(TranscriptCaptions, FormatsCueTimes) {
  EXPECT_EQ(FormatCueTime(Millis(0), ','), "00:00:00,000");
  EXPECT_EQ(FormatCueTime(Millis(3723456), '.'), "01:02:03.456");
  EXPECT_EQ(FormatCueTime(Millis(360000000), ','), "100:00:00,000");
  EXPECT_EQ(FormatCueTime(Millis(-5), ','), "00:00:00,000");
}

TEST(TranscriptCaptions, ParsesCueTimesLeniently) {
  EXPECT_EQ(ParseCueTime("01:02:03,456"), Millis(3723456));
  EXPECT_EQ(ParseCueTime("01:02:03.456"), Millis(3723456));
  EXPECT_EQ(ParseCueTime("02:03.456"), Millis(123456));
  EXPECT_EQ(ParseCueTime("1:2:3"), Millis(3723000));
  EXPECT_EQ(ParseCueTime("0:00:01,5"), Millis(1500));
  EXPECT_EQ(ParseCueTime("123:00:00.000"), Millis(int64_t{123} * 3600000));
  for (const char* bad : {"", "5", "1.5", "00:60.000", "00:00:60,000", "00:000:01,000", "00:00:01,",
                          "00:00:01,0000", " 00:00:01,000", "00:00:01,000 ", "-1:00:00,000",
                          "1:2:3:4", "12345678:00:00,000", "a:b:c", "00:00:01;000"}) {
    EXPECT_EQ(ParseCueTime(bad), std::nullopt) << "'" << bad << "'";
  }
}

}  // namespace
}  // namespace podfleet
