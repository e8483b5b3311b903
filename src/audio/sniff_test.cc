#include <gtest/gtest.h>

#include <random>
#include <string>

#include "audio/audio.h"
#include "support/speech.h"

namespace podfleet {
namespace {

using namespace std::literals;

using Bytes = std::vector<unsigned char>;

Bytes B(std::string_view s) { return Bytes(s.begin(), s.end()); }

Result<std::string> Sniff(const Bytes& b) { return SniffAudio(b); }

void Append(Bytes& b, const Bytes& more) { b.insert(b.end(), more.begin(), more.end()); }

// An MPEG-1 layer III frame, 128 kb/s at 44.1 kHz: 417 bytes.
Bytes MpegFrame() {
  Bytes frame(417, 0x55);
  frame[0] = 0xFF;
  frame[1] = 0xFB;
  frame[2] = 0x90;
  frame[3] = 0x00;
  return frame;
}

// An ADTS (AAC LC, 44.1 kHz, stereo) frame of 100 bytes.
Bytes AdtsFrame() {
  Bytes frame(100, 0x21);
  const unsigned char header[] = {0xFF, 0xF1, 0x50, 0x80, 0x0C, 0x9F, 0xFC};
  std::copy(std::begin(header), std::end(header), frame.begin());
  return frame;
}

Bytes Repeat(const Bytes& frame, int times) {
  Bytes out;
  for (int i = 0; i < times; ++i) Append(out, frame);
  return out;
}

void ExpectNotAudio(const Bytes& b, std::string_view says) {
  auto r = Sniff(b);
  ASSERT_FALSE(r) << "sniffed as " << *r;
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  EXPECT_TRUE(r.error().message.starts_with("not audio: ")) << r.error().message;
  EXPECT_NE(r.error().message.find(says), std::string::npos) << r.error().message;
}

TEST(SniffAudio, Id3TagIsMp3) {
  Bytes b = B(std::string("ID3\x04\x00\x00\x00\x00\x00\x0a", 10));
  Append(b, Bytes(10, 0));
  EXPECT_EQ(Sniff(b), "mp3");
}

TEST(SniffAudio, Id3TagCutShortIsStillMp3) {
  // A tag with pictures can be larger than the bytes sniffed.
  Bytes b = B(std::string("ID3\x03\x00\x00\x00\x10\x00\x00", 10));
  Append(b, Bytes(100, 0));
  EXPECT_EQ(Sniff(b), "mp3");
}

TEST(SniffAudio, Id3TagBeforeFlacIsFlac) {
  Bytes b = B(std::string("ID3\x04\x00\x00\x00\x00\x00\x04", 10));
  Append(b, Bytes(4, 0));
  Append(b, B("fLaC\x00\x00\x00\x22"sv));
  EXPECT_EQ(Sniff(b), "flac");
}

TEST(SniffAudio, MpegFrameChainIsMp3) { EXPECT_EQ(Sniff(Repeat(MpegFrame(), 3)), "mp3"); }

TEST(SniffAudio, MpegFramesAfterLeadingZerosAreMp3) {
  Bytes b(200, 0);
  Append(b, Repeat(MpegFrame(), 3));
  EXPECT_EQ(Sniff(b), "mp3");
}

// Binary the sniffer cannot name is left to FFmpeg's probe (ProbeAudio), not called MP3.
TEST(SniffAudio, LoneMpegHeaderFollowedByJunkIsUnknown) {
  Bytes b = MpegFrame();
  Append(b, Bytes(500, 0x55));  // where the next frame header should be
  EXPECT_EQ(Sniff(b), kUnknownFormat);
}

TEST(SniffAudio, MpegHeaderWithReservedFieldsIsUnknown) {
  Bytes frame = MpegFrame();
  frame[2] = 0xF0;  // bitrate index 15 is reserved
  EXPECT_EQ(Sniff(Repeat(frame, 3)), kUnknownFormat);
}

TEST(SniffAudio, WebmAndMpegStreamsAreLeftToFfmpeg) {
  EXPECT_EQ(Sniff(B("\x1A\x45\xDF\xA3\x9F\x42\x86\x81\x01"sv)), kUnknownFormat);
  EXPECT_EQ(Sniff(B("\x00\x00\x01\xBA\x21\x00\x01\x00\x01"sv)), kUnknownFormat);
}

TEST(SniffAudio, AdtsFrameChainIsAac) { EXPECT_EQ(Sniff(Repeat(AdtsFrame(), 3)), "aac"); }

TEST(SniffAudio, FtypIsMp4) {
  EXPECT_EQ(Sniff(B(std::string("\0\0\0\x20"
                                "ftypM4A \0\0\0\0",
                                16))),
            "mp4");
}

TEST(SniffAudio, OggSIsOgg) { EXPECT_EQ(Sniff(B(std::string("OggS\0\x02\0\0", 8))), "ogg"); }

TEST(SniffAudio, RiffWaveIsWav) { EXPECT_EQ(Sniff(B("RIFF\x24\x08\x00\x00WAVEfmt "sv)), "wav"); }

TEST(SniffAudio, RiffWithoutWaveIsUnknown) {
  EXPECT_EQ(Sniff(B("RIFF\x24\x08\x00\x00"
                    "AVI LIST"sv)),
            kUnknownFormat);
}

TEST(SniffAudio, FlacMagicIsFlac) { EXPECT_EQ(Sniff(B(std::string("fLaC\0\0\0\x22", 8))), "flac"); }

TEST(SniffAudio, HtmlPageIsNotAudio) {
  ExpectNotAudio(B("<!DOCTYPE html>\n<html><head><title>404</title>"sv), "looks like an HTML page");
}

TEST(SniffAudio, HtmlAfterByteOrderMarkAndSpaceIsNotAudio) {
  ExpectNotAudio(B("\xEF\xBB\xBF\r\n  \t<HTML lang=\"en\"><body>"sv), "looks like an HTML page");
  ExpectNotAudio(B("<!-- served by nginx -->\n<html>"sv), "looks like an HTML page");
}

TEST(SniffAudio, JsonIsNotAudio) {
  ExpectNotAudio(B("{\"error\": \"not found\"}"sv), "looks like JSON");
  ExpectNotAudio(B("  [1, 2, 3]"sv), "looks like JSON");
}

TEST(SniffAudio, XmlIsNotAudio) {
  ExpectNotAudio(B("<?xml version=\"1.0\"?><rss version=\"2.0\">"sv), "looks like XML");
}

TEST(SniffAudio, EmptyIsNotAudio) { ExpectNotAudio({}, "empty"); }

TEST(SniffAudio, PlainTextIsNotAudio) {
  ExpectNotAudio(B("Access denied.\n"sv), "looks like text");
}

TEST(SniffAudio, ImageIsNotAudio) { ExpectNotAudio(B("\x89PNG\r\n\x1A\n"sv), "PNG image"); }

TEST(SniffAudio, RandomJunkIsNeverNamedAFormat) {
  // Many seeds, because a frame-sync search over random bytes is where false positives live.
  for (unsigned seed = 1; seed <= 500; ++seed) {
    std::mt19937 rng(seed);
    Bytes b(4096);
    for (auto& c : b) c = static_cast<unsigned char>(rng());
    EXPECT_EQ(Sniff(b), kUnknownFormat) << "seed " << seed;
  }
}

TEST(SniffAudioFile, ReadsTheFirstBytes) {
  const auto path = WriteTestFile("sniff.ogg", std::string("OggS\0\x02\0\0", 8));
  EXPECT_EQ(SniffAudioFile(path), "ogg");
}

TEST(SniffAudioFile, HtmlPageNamedMp3IsNotAudio) {
  const auto path = WriteTestFile("page.mp3", "<!doctype html><html><body>Moved</body></html>");
  auto r = SniffAudioFile(path);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kInvalidArgument);
  EXPECT_EQ(r.error().message, "page.mp3: not audio: looks like an HTML page");
}

TEST(SniffAudioFile, MissingFileIsNotFound) {
  auto r = SniffAudioFile(TestRunDir() / "no-such-file.mp3");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Code::kNotFound);
}

}  // namespace
}  // namespace podfleet
