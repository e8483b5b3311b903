#include "transcripts/formats.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "transcripts/captions.h"

namespace podfleet {
namespace {

Segment Seg(int64_t start_ms, int64_t end_ms, std::string text, std::string speaker = "") {
  return Segment{Millis(start_ms), Millis(end_ms), std::move(text), std::move(speaker), {}};
}

// The spec's own two-speaker example, plus a third segment with characters that need escaping.
Transcript Interview() {
  Transcript t;
  t.segments = {
      Seg(0, 2400, "Welcome back to the show.", "Host"),
      Seg(2400, 4100, "Thanks for having me.", "Guest"),
      Seg(4100, 9000, "So tell us about Q&A sessions <and> what makes them work well for you.",
          "Guest")};
  return t;
}

// One segment with word times: 14 words of 300 ms, 50 ms apart, from 1 s.
Transcript TimedWords() {
  Segment s =
      Seg(1000, 6000, "the quick brown fox jumps over the lazy dog and keeps running far away");
  int64_t ms = 1000;
  for (const char* word : {"the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog",
                           "and", "keeps", "running", "far", "away"}) {
    s.words.push_back({Millis(ms), Millis(ms + 300), word, 1.0f});
    ms += 350;
  }
  Transcript t;
  t.segments = {s};
  return t;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Text lines of a caption file: neither blank, nor cue numbers, nor timing lines, nor the header.
std::vector<std::string> CaptionTextLines(const std::string& file) {
  std::vector<std::string> out;
  for (const std::string& line : Lines(file)) {
    if (line.empty() || line == "WEBVTT" || line.find(" --> ") != std::string::npos) continue;
    if (line.find_first_not_of("0123456789") == std::string::npos) continue;
    out.push_back(line);
  }
  return out;
}

// ---- names and dispatch ------------------------------------------------------------------------

TEST(TranscriptFormat, NamesAndContentTypesRoundTrip) {
  for (const char* name : {"txt", "srt", "vtt", "json", "md"}) {
    ASSERT_TRUE(ParseTranscriptFormat(name)) << name;
  }
  EXPECT_EQ(ParseTranscriptFormat("doc"), std::nullopt);
  EXPECT_EQ(ContentType(TranscriptFormat::kVtt), "text/vtt");
  EXPECT_EQ(ContentType(TranscriptFormat::kSrt), "application/x-subrip");
  EXPECT_EQ(ContentType(TranscriptFormat::kJson), "application/json");
  EXPECT_EQ(ContentType(TranscriptFormat::kText), "text/plain");
  EXPECT_EQ(ContentType(TranscriptFormat::kMarkdown), "text/markdown");
}

TEST(TranscriptFormat, MimeTypesFromFeedsMapToReaders) {
  EXPECT_EQ(TranscriptFormatFromMimeType("text/vtt"), TranscriptFormat::kVtt);
  EXPECT_EQ(TranscriptFormatFromMimeType("application/x-subrip"), TranscriptFormat::kSrt);
  EXPECT_EQ(TranscriptFormatFromMimeType("application/srt"), TranscriptFormat::kSrt);
  EXPECT_EQ(TranscriptFormatFromMimeType("text/srt"), TranscriptFormat::kSrt);
  EXPECT_EQ(TranscriptFormatFromMimeType("Application/X-SubRip; charset=utf-8"),
            TranscriptFormat::kSrt);
  EXPECT_EQ(TranscriptFormatFromMimeType(" application/json "), TranscriptFormat::kJson);
  EXPECT_EQ(TranscriptFormatFromMimeType("text/plain"), TranscriptFormat::kText);
  EXPECT_EQ(TranscriptFormatFromMimeType("text/html"), std::nullopt);
  EXPECT_EQ(TranscriptFormatFromMimeType(""), std::nullopt);
}

TEST(TranscriptFormat, ReadTranscriptFileDispatchesAndRefusesFormatsWithoutReader) {
  Result<Transcript> vtt =
      ReadTranscriptFile("WEBVTT\n\n00:01.000 --> 00:02.000\nhi\n", TranscriptFormat::kVtt);
  ASSERT_TRUE(vtt) << vtt.error().ToString();
  EXPECT_EQ(vtt->Text(), "hi");
  Result<Transcript> text = ReadTranscriptFile("hello", TranscriptFormat::kText);
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().code, Code::kInvalidArgument);
}

// ---- plain text and Markdown -------------------------------------------------------------------

TEST(TranscriptText, WritesParagraphPerSpeakerTurn) {
  EXPECT_EQ(WriteText(Interview()),
            "Host: Welcome back to the show.\n"
            "\n"
            "Guest: Thanks for having me.\n"
            "So tell us about Q&A sessions <and> what makes them work well for you.\n");
}

TEST(TranscriptText, WithoutSpeakersWritesOneLinePerSegment) {
  Transcript t;
  t.segments = {Seg(0, 1000, " first\nline "), Seg(1000, 2000, ""), Seg(2000, 3000, "second")};
  EXPECT_EQ(WriteText(t), "first line\nsecond\n");
  EXPECT_EQ(WriteText(Transcript{}), "");
}

TEST(Markdown, WritesTitleAndTimestampedParagraphs) {
  EXPECT_EQ(
      WriteMarkdown(Interview(), {.title = "Ep *1*"}),
      "# Ep \\*1\\*\n"
      "\n"
      "[00:00:00] **Host:** Welcome back to the show.\n"
      "\n"
      "[00:00:02] **Guest:** Thanks for having me.\n"
      "\n"
      "[00:00:04] So tell us about Q\\&A sessions \\<and\\> what makes them work well for you.\n");
}

TEST(Markdown, DefaultTitleAndLongTimestamps) {
  Transcript t;
  t.segments = {Seg(3723000, 3724000, "late"), Seg(-5, 0, "negative")};
  EXPECT_EQ(WriteMarkdown(t, {}), "# Transcript\n\n[01:02:03] late\n\n[00:00:00] negative\n");
}

TEST(Markdown, EscapesMarkupAndHtmlInText) {
  Transcript t;
  t.segments = {Seg(0, 1000, "<script>alert(1)</script> [link](http://x) _em_ `code`")};
  EXPECT_EQ(WriteMarkdown(t, {.title = "T\nU"}),
            "# T U\n\n[00:00:00] \\<script\\>alert(1)\\</script\\> \\[link\\](http://x) \\_em\\_ "
            "\\`code\\`\n");
}

// ---- SRT ---------------------------------------------------------------------------------------

TEST(Srt, WritesGoldenCuesWithSpeakerLabels) {
  EXPECT_EQ(WriteSrt(Interview()),
            "1\n"
            "00:00:00,000 --> 00:00:02,400\n"
            "Host: Welcome back to the show.\n"
            "\n"
            "2\n"
            "00:00:02,400 --> 00:00:04,100\n"
            "Guest: Thanks for having me.\n"
            "\n"
            "3\n"
            "00:00:04,100 --> 00:00:08,440\n"
            "So tell us about Q&A sessions\n"
            "<and> what makes them work well\n"
            "\n"
            "4\n"
            "00:00:08,440 --> 00:00:09,000\n"
            "for you.\n"
            "\n");
}

TEST(Srt, CutsCuesAtWordTimes) {
  EXPECT_EQ(WriteSrt(TimedWords()),
            "1\n"
            "00:00:01,000 --> 00:00:05,150\n"
            "the quick brown fox jumps over\n"
            "the lazy dog and keeps running\n"
            "\n"
            "2\n"
            "00:00:05,200 --> 00:00:05,850\n"
            "far away\n"
            "\n");
}

TEST(Srt, EmptyTranscriptWritesNothing) {
  EXPECT_EQ(WriteSrt(Transcript{}), "");
  Transcript t;
  t.segments = {Seg(0, 1000, "   ", "Host")};
  EXPECT_EQ(WriteSrt(t), "");
}

TEST(Srt, LongTextKeepsTwoLinesOf32) {
  Transcript t;
  std::string text;
  for (int i = 0; i < 300; ++i) text += (i % 7 == 0 ? "extraordinarily " : "word ");
  text += std::string(100, 'x');  // a word longer than a line
  text += " caf\xC3\xA9 na\xC3\xAFve \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E";
  t.segments = {Seg(0, 600000, text, "A very long speaker name that goes on"),
                Seg(600000, 700000, text)};
  const std::string srt = WriteSrt(t);
  for (const std::string& line : CaptionTextLines(srt)) {
    EXPECT_LE(CodePoints(line), 32) << line;
    EXPECT_FALSE(line.empty());
  }
  // Count lines per cue.
  int in_cue = 0;
  for (const std::string& line : Lines(srt)) {
    if (line.find(" --> ") != std::string::npos) {
      in_cue = 0;
    } else if (line.empty()) {
      EXPECT_LE(in_cue, 2);
    } else {
      ++in_cue;
    }
  }
  EXPECT_NE(srt.find("\nA very long speaker name:\n"), std::string::npos);
}

TEST(Srt, CueTimesNeverGoBackwards) {
  Transcript t;
  t.segments = {Seg(5000, 1000, "ends before it starts"), Seg(-100, 50, "negative start")};
  EXPECT_EQ(WriteSrt(t),
            "1\n00:00:05,000 --> 00:00:05,000\nends before it starts\n\n"
            "2\n00:00:00,000 --> 00:00:00,050\nnegative start\n\n");
}

TEST(Srt, NewCueOnEverySpeakerChangeButNotForTheSameSpeaker) {
  Transcript t;
  t.segments = {Seg(0, 1000, "one", "A"), Seg(1000, 2000, "two", "A"),
                Seg(2000, 3000, "three", "B"), Seg(3000, 4000, "four", "A")};
  EXPECT_EQ(CaptionTextLines(WriteSrt(t)),
            (std::vector<std::string>{"A: one", "two", "B: three", "A: four"}));
}

TEST(Srt, ReadsCuesWithCrlfBomAndMarkup) {
  Result<Transcript> t = ReadSrt(
      "\xEF\xBB\xBF"
      "1\r\n00:00:01,000 --> 00:00:02,500\r\n<i>Hello</i> {\\an8}there\r\n\r\n"
      "2\r\n00:00:02,500 --> 00:00:04,000 X1:10 X2:20\r\nHost: two\r\nlines\r\n");
  ASSERT_TRUE(t) << t.error().ToString();
  ASSERT_EQ(t->segments.size(), 2u);
  EXPECT_EQ(t->segments[0].start, Millis(1000));
  EXPECT_EQ(t->segments[0].end, Millis(2500));
  EXPECT_EQ(t->segments[0].text, "Hello there");
  EXPECT_EQ(t->segments[1].text, "Host: two lines");
  EXPECT_EQ(t->segments[1].speaker, "");
}

TEST(Srt, ReadsSloppyFiles) {
  Result<Transcript> t = ReadSrt(
      "\n\n1\n0:00:01.5 --> 0:00:02.75\na < b\n"
      "2\n00:00:03,000 --> 00:00:04,000\nno blank line before this cue\n\n\n"
      "00:00:05,000-->00:00:06,000\nno number\n\n"
      "junk block without timing\n\n"
      "7\n00:00:07,000 --> 00:00:08,000\n\n");
  ASSERT_TRUE(t) << t.error().ToString();
  ASSERT_EQ(t->segments.size(), 3u);
  EXPECT_EQ(t->segments[0].start, Millis(1500));
  EXPECT_EQ(t->segments[0].end, Millis(2750));
  EXPECT_EQ(t->segments[0].text, "a < b");
  EXPECT_EQ(t->segments[1].text, "no blank line before this cue");
  EXPECT_EQ(t->segments[2].text, "no number");
}

TEST(Srt, RoundTripKeepsWordsAndTimes) {
  Result<Transcript> back = ReadSrt(WriteSrt(TimedWords()));
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(back->Text(), TimedWords().Text());
  ASSERT_EQ(back->segments.size(), 2u);
  EXPECT_EQ(back->segments[0].start, Millis(1000));
  EXPECT_EQ(back->segments[1].end, Millis(5850));
}

TEST(Srt, CorruptInputIsInvalidArgument) {
  const auto expect_invalid = [](std::string_view text, std::string_view part) {
    Result<Transcript> t = ReadSrt(text);
    ASSERT_FALSE(t) << text;
    EXPECT_EQ(t.error().code, Code::kInvalidArgument);
    EXPECT_NE(t.error().message.find(part), std::string::npos) << t.error().message;
  };
  expect_invalid("1\n00:00:01,000 --> soon\nx\n", "SRT line 2: bad cue timing");
  expect_invalid("1\n00:00:02,000 --> 00:00:01,000\nx\n", "SRT line 2: cue ends before it starts");
  expect_invalid("1\n00:61:00,000 --> 00:62:00,000\nx\n", "bad cue timing");
  expect_invalid("1\n99999999999:00:00,000 --> 99999999999:00:01,000\nx\n", "bad cue timing");
  expect_invalid("<html><body>not subtitles</body></html>", "not SRT: no cues");
  expect_invalid("<!-- comment -->\n<p>x</p>\n", "bad cue timing");
  expect_invalid(std::string_view("\0\0\0\xff\xfe", 5), "not SRT");
}

TEST(Srt, BlankInputIsAnEmptyTranscript) {
  for (std::string_view blank : {"", "\n\n", " \r\n", "\xEF\xBB\xBF"}) {
    Result<Transcript> t = ReadSrt(blank);
    ASSERT_TRUE(t);
    EXPECT_TRUE(t->segments.empty());
  }
}

// ---- WebVTT ------------------------------------------------------------------------------------

TEST(Vtt, WritesGoldenCuesWithVoicesAndEscapes) {
  EXPECT_EQ(WriteVtt(Interview()),
            "WEBVTT\n"
            "\n"
            "00:00:00.000 --> 00:00:02.400\n"
            "<v Host>Welcome back to the show.\n"
            "\n"
            "00:00:02.400 --> 00:00:04.100\n"
            "<v Guest>Thanks for having me.\n"
            "\n"
            "00:00:04.100 --> 00:00:09.000\n"
            "So tell us about Q&amp;A sessions &lt;and&gt; what makes them\n"
            "work well for you.\n"
            "\n");
}

TEST(Vtt, CutsCuesAtWordTimesWithLinesOf65) {
  EXPECT_EQ(WriteVtt(TimedWords()),
            "WEBVTT\n"
            "\n"
            "00:00:01.000 --> 00:00:05.850\n"
            "the quick brown fox jumps over the lazy dog and keeps running far\n"
            "away\n"
            "\n");
}

TEST(Vtt, EmptyTranscriptIsJustTheHeader) { EXPECT_EQ(WriteVtt(Transcript{}), "WEBVTT\n\n"); }

TEST(Vtt, LongEscapedTextKeepsLinesOf65AsWritten) {
  Transcript t;
  std::string text;
  for (int i = 0; i < 200; ++i) text += (i % 5 == 0 ? "R&D <b> " : "words ");
  text += std::string(70, '&') + " " + std::string(200, 'y');
  t.segments = {Seg(0, 300000, text, "<Dr> Evil & Co\n"), Seg(300000, 400000, text, "Other")};
  const std::string vtt = WriteVtt(t);
  for (const std::string& line : CaptionTextLines(vtt)) {
    EXPECT_LE(CodePoints(line), 65) << line;
  }
  EXPECT_NE(vtt.find("\n<v Dr Evil Co>R&amp;D &lt;b&gt; words"), std::string::npos);
  EXPECT_EQ(vtt.find("<b>"), std::string::npos);
  EXPECT_NE(vtt.find("<v Other>"), std::string::npos);
  // An entity is never cut in two.
  Result<Transcript> back = ReadVtt(vtt);
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(back->segments.front().speaker, "Dr Evil Co");
  EXPECT_EQ(back->segments.back().speaker, "Other");
  EXPECT_EQ(back->Text().find("&amp;"), std::string::npos);
}

TEST(Vtt, RoundTripKeepsTextSpeakersAndTimes) {
  Result<Transcript> back = ReadVtt(WriteVtt(Interview()));
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(back->Text(), Interview().Text());
  ASSERT_EQ(back->segments.size(), 3u);
  EXPECT_EQ(back->segments[0].speaker, "Host");
  EXPECT_EQ(back->segments[1].speaker, "Guest");
  EXPECT_EQ(back->segments[2].speaker, "Guest");  // unlabelled cues keep the last speaker
  EXPECT_EQ(back->segments[2].start, Millis(4100));
  EXPECT_EQ(back->segments[2].end, Millis(9000));
}

TEST(Vtt, ReadsTheSpecExampleStyle) {
  Result<Transcript> t = ReadVtt(
      "WEBVTT Kind: captions\n"
      "Language: en\n"
      "\n"
      "NOTE This is a comment\n"
      "that spans lines --> with an arrow\n"
      "\n"
      "STYLE\n"
      "::cue { color: red }\n"
      "\n"
      "intro\n"
      "00:00.000 --> 00:02.000 align:start position:10%\n"
      "<v.loud Esme Johnson>It\xE2\x80\x99s a <i>blue</i> apple tree!\n"
      "\n"
      "00:00:02.000 --> 00:00:04.000\n"
      "<c.yellow>Q&amp;A</c> &lt;3 &#233;t&#xE9; &nbsp;&lrm;&bogus; &\n"
      "<00:00:03.000>karaoke\n"
      "\n"
      "00:00:04.000 --> 00:00:05.000\n"
      "<v Fred>Unclosed <i tag\n");
  ASSERT_TRUE(t) << t.error().ToString();
  ASSERT_EQ(t->segments.size(), 3u);
  EXPECT_EQ(t->segments[0].speaker, "Esme Johnson");
  EXPECT_EQ(t->segments[0].text, "It\xE2\x80\x99s a blue apple tree!");
  EXPECT_EQ(t->segments[0].end, Millis(2000));
  EXPECT_EQ(t->segments[1].speaker, "Esme Johnson");
  EXPECT_EQ(t->segments[1].text, "Q&A <3 \xC3\xA9t\xC3\xA9 &bogus; & karaoke");
  EXPECT_EQ(t->segments[2].speaker, "Fred");
  EXPECT_EQ(t->segments[2].text, "Unclosed");
}

TEST(Vtt, CorruptInputIsInvalidArgument) {
  const auto expect_invalid = [](std::string_view text, std::string_view part) {
    Result<Transcript> t = ReadVtt(text);
    ASSERT_FALSE(t) << text;
    EXPECT_EQ(t.error().code, Code::kInvalidArgument);
    EXPECT_NE(t.error().message.find(part), std::string::npos) << t.error().message;
  };
  expect_invalid("", "not WebVTT");
  expect_invalid("WEBVTTX\n", "not WebVTT");
  expect_invalid("1\n00:00:01,000 --> 00:00:02,000\nsrt, not vtt\n", "not WebVTT");
  expect_invalid("<html>", "not WebVTT");
  expect_invalid("WEBVTT\n\n00:01.000 --> 00:00.500\nx\n", "VTT line 3: cue ends before it starts");
  expect_invalid("WEBVTT\n\n00:01.000 --> later\nx\n", "VTT line 3: bad cue timing");
  expect_invalid("WEBVTT\n\n" + std::string(100000, '-') + "-->\n", "bad cue timing");
}

TEST(Vtt, HeaderOnlyIsAnEmptyTranscript) {
  Result<Transcript> t = ReadVtt("\xEF\xBB\xBFWEBVTT\r\n\r\n");
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->segments.empty());
}

// ---- JSON --------------------------------------------------------------------------------------

TEST(PodcastJson, WritesGoldenDocument) {
  EXPECT_EQ(
      WritePodcastJson(Interview()),
      R"({"version":"1.0.0","segments":[)"
      R"({"speaker":"Host","startTime":0.0,"endTime":2.4,"body":"Welcome back to the show."},)"
      R"({"speaker":"Guest","startTime":2.4,"endTime":4.1,"body":"Thanks for having me."},)"
      R"({"speaker":"Guest","startTime":4.1,"endTime":9.0,"body":"So tell us about Q&A sessions <and> what makes them work well for you."}]})"
      "\n");
}

TEST(PodcastJson, WritesWithoutSpeakerAndEscapesControlCharacters) {
  Transcript t;
  t.segments = {Seg(1234, 1000, "line\n\"quoted\" \x01 bad\xFFutf8")};
  EXPECT_EQ(
      WritePodcastJson(t),
      R"({"version":"1.0.0","segments":[{"startTime":1.234,"endTime":1.234,"body":"line\n\"quoted\" \u0001 bad)"
      "\xEF\xBF\xBD"
      R"(utf8"}]})"
      "\n");
  EXPECT_EQ(WritePodcastJson(Transcript{}), "{\"version\":\"1.0.0\",\"segments\":[]}\n");
}

TEST(PodcastJson, RoundTripKeepsSegments) {
  Result<Transcript> back = ReadPodcastJson(WritePodcastJson(Interview()));
  ASSERT_TRUE(back) << back.error().ToString();
  const Transcript original = Interview();
  ASSERT_EQ(back->segments.size(), original.segments.size());
  for (size_t i = 0; i < original.segments.size(); ++i) {
    EXPECT_EQ(back->segments[i].start, original.segments[i].start);
    EXPECT_EQ(back->segments[i].end, original.segments[i].end);
    EXPECT_EQ(back->segments[i].text, original.segments[i].text);
    EXPECT_EQ(back->segments[i].speaker, original.segments[i].speaker);
  }
}

TEST(PodcastJson, ReadsTheSpecWordLevelExample) {
  Result<Transcript> t = ReadPodcastJson(R"({
    "version": "1.0.0",
    "segments": [
      {"speaker": "Alice", "startTime": 0.5, "endTime": 0.75, "body": "Hello"},
      {"speaker": "Alice", "startTime": 0.8, "body": "world\n"},
      {"startTime": 2, "endTime": null, "speaker": null, "body": "bye", "extra": [1, 2]}
    ]})");
  ASSERT_TRUE(t) << t.error().ToString();
  ASSERT_EQ(t->segments.size(), 3u);
  EXPECT_EQ(t->segments[0].start, Millis(500));
  EXPECT_EQ(t->segments[0].end, Millis(750));
  EXPECT_EQ(t->segments[1].text, "world");
  EXPECT_EQ(t->segments[1].end, Millis(2000));  // missing endTime: the next start
  EXPECT_EQ(t->segments[2].speaker, "");
  EXPECT_EQ(t->segments[2].end, Millis(2000));
}

TEST(PodcastJson, MalformedInputIsInvalidArgument) {
  for (const char* bad : {
           "",
           "{",
           "not json",
           "[]",
           "{\"version\":\"1.0.0\"}",
           "{\"segments\":{}}",
           "{\"version\":1,\"segments\":[]}",
           "{\"segments\":[1]}",
           "{\"segments\":[{\"startTime\":1,\"endTime\":2}]}",
           "{\"segments\":[{\"startTime\":1,\"endTime\":2,\"body\":5}]}",
           "{\"segments\":[{\"endTime\":2,\"body\":\"x\"}]}",
           "{\"segments\":[{\"startTime\":\"1\",\"body\":\"x\"}]}",
           "{\"segments\":[{\"startTime\":-1,\"body\":\"x\"}]}",
           "{\"segments\":[{\"startTime\":1,\"endTime\":-2,\"body\":\"x\"}]}",
           "{\"segments\":[{\"startTime\":3,\"endTime\":2,\"body\":\"x\"}]}",
           "{\"segments\":[{\"startTime\":1e300,\"body\":\"x\"}]}",
           "{\"segments\":[{\"startTime\":1e999,\"body\":\"x\"}]}",
           "{\"segments\":[{\"startTime\":1,\"body\":\"x\",\"speaker\":[]}]}",
           "{\"segments\":[]} trailing",
       }) {
    Result<Transcript> t = ReadPodcastJson(bad);
    ASSERT_FALSE(t) << bad;
    EXPECT_EQ(t.error().code, Code::kInvalidArgument) << bad;
    EXPECT_EQ(t.error().message.rfind("malformed JSON transcript: ", 0), 0u) << t.error().message;
  }
}

TEST(PodcastJson, ErrorNamesTheOffendingField) {
  Result<Transcript> t = ReadPodcastJson(
      "{\"segments\":[{\"startTime\":0,\"body\":\"a\"},{\"startTime\":-0.5,\"body\":\"b\"}]}");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().message, "malformed JSON transcript: segments[1].startTime is negative");
}

TEST(PodcastJson, DeepNestingFailsWithoutCrashing) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  Result<Transcript> t = ReadPodcastJson(deep);
  ASSERT_FALSE(t);
  const std::string deep_object =
      "{\"segments\":[],\"x\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_TRUE(ReadPodcastJson(deep_object));
}

// ---- every reader on corrupted copies of valid files -------------------------------------------

TEST(TranscriptReaders, CorruptedBytesNeverCrash) {
  const std::string files[] = {WriteSrt(Interview()), WriteVtt(Interview()),
                               WritePodcastJson(Interview())};
  uint32_t state = 4242;
  for (int round = 0; round < 3000; ++round) {
    for (const std::string& file : files) {
      std::string copy = file;
      for (int k = 0; k < 3; ++k) {
        state = state * 1103515245u + 12345u;
        copy[(state >> 8) % copy.size()] = static_cast<char>(state >> 24);
      }
      state = state * 1103515245u + 12345u;
      copy.resize((state >> 8) % (copy.size() + 1));
      for (Result<Transcript> t : {ReadSrt(copy), ReadVtt(copy), ReadPodcastJson(copy)}) {
        if (!t) {
          EXPECT_EQ(t.error().code, Code::kInvalidArgument);
          continue;
        }
        for (const Segment& s : t->segments) EXPECT_LE(s.start, s.end);
      }
    }
  }
}

}  // namespace
}  // namespace podfleet
