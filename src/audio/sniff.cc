#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <fstream>
#include <optional>
#include <string_view>

#include "audio/audio.h"

namespace podfleet {
namespace {

using Bytes = std::span<const unsigned char>;

// How much of a file SniffAudioFile reads: enough for an ID3 tag without pictures plus a few MPEG
// frames, or a few hundred bytes of text to recognise.
constexpr size_t kSniffBytes = 16 * 1024;
// MPEG or ADTS frames may follow some junk (a few zero bytes, a broken tag); look this far for
// them.
constexpr size_t kMaxLeadingJunk = 4096;

bool HasAt(Bytes b, size_t offset, std::string_view magic) {
  return b.size() >= offset + magic.size() &&
         std::equal(magic.begin(), magic.end(), b.begin() + offset,
                    [](char m, unsigned char c) { return static_cast<unsigned char>(m) == c; });
}

// ---- MPEG audio (MP1/2/3) and ADTS (AAC) frame chains ----------------------------------------

// The length in bytes of the MPEG audio frame whose 4-byte header starts at `p`, or nullopt when
// those bytes are not a plausible frame header (reserved version, layer, bitrate or rate;
// free-format frames are refused: they are rare in podcasts and common in random data).
std::optional<size_t> MpegFrameLength(const unsigned char* p) {
  if (p[0] != 0xFF || (p[1] & 0xE0) != 0xE0) return std::nullopt;
  const int version = (p[1] >> 3) & 3;  // 0: MPEG 2.5, 1: reserved, 2: MPEG 2, 3: MPEG 1
  const int layer = (p[1] >> 1) & 3;    // 1: III, 2: II, 3: I, 0: reserved
  const int bitrate_index = p[2] >> 4;
  const int rate_index = (p[2] >> 2) & 3;
  const int padding = (p[2] >> 1) & 1;
  if (version == 1 || layer == 0 || bitrate_index == 0 || bitrate_index == 15 || rate_index == 3) {
    return std::nullopt;
  }
  static constexpr int kBitrates[2][3][15] = {
      // MPEG 1: layer I, II, III
      {{0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448},
       {0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384},
       {0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320}},
      // MPEG 2 and 2.5: layer I, II, III
      {{0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256},
       {0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
       {0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160}}};
  static constexpr int kRates[3] = {44100, 48000, 32000};
  const bool mpeg1 = version == 3;
  const int layer_number = 4 - layer;  // 1, 2 or 3
  const int bitrate = kBitrates[mpeg1 ? 0 : 1][layer_number - 1][bitrate_index] * 1000;
  const int rate = kRates[rate_index] >> (mpeg1 ? 0 : (version == 2 ? 1 : 2));
  if (layer_number == 1) return static_cast<size_t>((12 * bitrate / rate + padding) * 4);
  const int slots = (layer_number == 3 && !mpeg1) ? 72 : 144;
  return static_cast<size_t>(slots * bitrate / rate + padding);
}

// The length of the ADTS frame whose 7-byte header starts at `p`, or nullopt when implausible.
std::optional<size_t> AdtsFrameLength(const unsigned char* p) {
  if (p[0] != 0xFF || (p[1] & 0xF6) != 0xF0) return std::nullopt;  // sync, layer 00
  const int rate_index = (p[2] >> 2) & 0xF;
  if (rate_index > 12) return std::nullopt;
  const size_t length = ((p[3] & 3u) << 11) | (p[4] << 3) | (p[5] >> 5);
  if (length < 7) return std::nullopt;
  return length;
}

using FrameLengthFn = std::optional<size_t> (*)(const unsigned char*);

// Whether `want` consecutive frames start at `pos`. With `allow_cut`, a chain that runs past the
// end of the buffer counts as complete: the bytes that would refute it are not there.
bool FrameChainAt(Bytes b, size_t pos, size_t header_size, FrameLengthFn length_of, int want,
                  bool allow_cut) {
  for (int found = 0; found < want; ++found) {
    if (pos + header_size > b.size()) return allow_cut && found > 0;
    const std::optional<size_t> length = length_of(b.data() + pos);
    if (!length) return false;
    pos += *length;
  }
  return true;
}

// A chain at the start needs a second frame to confirm it, unless the buffer ends first. After
// leading junk, three whole frames: a lone plausible header turns up in every few kilobytes of
// random bytes.
bool FindFrameChain(Bytes b, size_t header_size, FrameLengthFn length_of) {
  if (FrameChainAt(b, 0, header_size, length_of, 2, true)) return true;
  const size_t limit = std::min(b.size(), kMaxLeadingJunk);
  for (size_t pos = 1; pos < limit; ++pos) {
    if (b[pos] == 0xFF && FrameChainAt(b, pos, header_size, length_of, 3, false)) return true;
  }
  return false;
}

// ---- containers -------------------------------------------------------------------------------

bool IsId3(Bytes b) {
  // "ID3", major version 2..4, then a 28-bit "syncsafe" size whose bytes have the top bit clear.
  return HasAt(b, 0, "ID3") && b.size() >= 10 && b[3] >= 2 && b[3] <= 4 && b[6] < 0x80 &&
         b[7] < 0x80 && b[8] < 0x80 && b[9] < 0x80;
}
size_t Id3Size(Bytes b) {
  const size_t body = (size_t{b[6]} << 21) | (size_t{b[7]} << 14) | (size_t{b[8]} << 7) | b[9];
  const bool footer = (b[5] & 0x10) != 0;
  return 10 + body + (footer ? 10 : 0);
}

bool IsWav(Bytes b) { return (HasAt(b, 0, "RIFF") || HasAt(b, 0, "RF64")) && HasAt(b, 8, "WAVE"); }
bool IsMp4(Bytes b) { return HasAt(b, 4, "ftyp"); }
bool IsOgg(Bytes b) { return HasAt(b, 0, "OggS") && b.size() > 4 && b[4] == 0; }
bool IsFlac(Bytes b) { return HasAt(b, 0, "fLaC"); }
bool IsAdts(Bytes b) { return FindFrameChain(b, 7, AdtsFrameLength); }
bool IsMpeg(Bytes b) { return FindFrameChain(b, 4, MpegFrameLength); }

struct AudioSignature {
  std::string_view format;
  bool (*matches)(Bytes);
};

// Checked in order: the fixed magics first, then the frame chains (ADTS before MPEG, whose sync
// patterns differ only in the layer bits).
constexpr AudioSignature kAudioSignatures[] = {
    {"wav", IsWav},   {"mp4", IsMp4},  {"ogg", IsOgg},
    {"flac", IsFlac}, {"aac", IsAdts}, {"mp3", IsMpeg},
};

std::optional<std::string_view> MatchAudio(Bytes b) {
  for (const AudioSignature& s : kAudioSignatures) {
    if (s.matches(b)) return s.format;
  }
  return std::nullopt;
}

// ---- what non-audio looks like ----------------------------------------------------------------

struct OtherSignature {
  std::string_view magic;
  std::string_view looks_like;
};

constexpr OtherSignature kOtherSignatures[] = {
    {"%PDF", "a PDF document"},
    {"\x89PNG", "a PNG image"},
    {"\xFF\xD8\xFF", "a JPEG image"},
    {"GIF8", "a GIF image"},
    {"PK\x03\x04", "a ZIP archive"},
    {"\x1F\x8B", "gzip data"},
    {"\x7F"
     "ELF",
     "a program"},
};

std::string Lower(Bytes b) {
  std::string s(b.begin(), b.end());
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

Bytes SkipBomAndSpace(Bytes b) {
  if (HasAt(b, 0, "\xEF\xBB\xBF")) b = b.subspan(3);
  while (!b.empty() && std::isspace(b.front())) b = b.subspan(1);
  return b;
}

bool IsMostlyText(Bytes b) {
  const auto printable = std::count_if(b.begin(), b.end(), [](unsigned char c) {
    return c >= 0x20 || c == '\n' || c == '\r' || c == '\t';
  });
  return printable == static_cast<std::ptrdiff_t>(b.size());
}

// What `whole` certainly is instead of audio, or nullopt when it is binary of no kind known here
// (WebM, MPEG program streams, AIFF, ...: FFmpeg's probe decides those).
std::optional<std::string> DescribeNonAudio(Bytes whole) {
  if (whole.empty()) return "the file is empty";
  for (const OtherSignature& s : kOtherSignatures) {
    if (HasAt(whole, 0, s.magic)) return fmt::format("looks like {}", s.looks_like);
  }
  const Bytes b = SkipBomAndSpace(whole);
  if (b.empty()) return "the file holds only white space";
  // Markup and text only when the bytes read as text: one '{' or '<' byte is no proof.
  if (!IsMostlyText(b.first(std::min<size_t>(b.size(), 512)))) return std::nullopt;
  const std::string lower = Lower(b.first(std::min<size_t>(b.size(), 1024)));
  if (lower.starts_with("<!doctype html") || lower.starts_with("<html") ||
      (lower.starts_with("<") && lower.find("<html") != std::string::npos)) {
    return "looks like an HTML page";
  }
  if (lower.starts_with("<")) return "looks like XML";
  if (lower.starts_with("{") || lower.starts_with("[")) return "looks like JSON";
  return "looks like text";
}

}  // namespace

Result<std::string> SniffAudio(std::span<const unsigned char> head) {
  if (IsId3(head)) {
    // An ID3 tag usually precedes MP3, sometimes AAC or FLAC: name what follows when it is here.
    const size_t tag = Id3Size(head);
    if (tag < head.size()) {
      if (auto format = MatchAudio(head.subspan(tag))) return std::string(*format);
    }
    return std::string("mp3");
  }
  if (auto format = MatchAudio(head)) return std::string(*format);
  if (auto other = DescribeNonAudio(head)) return InvalidArgument("not audio: " + *other);
  return std::string(kUnknownFormat);
}

Result<std::string> SniffAudioFile(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return NotFound(fmt::format("{}: no such file", path.string()));
  }
  std::ifstream in(path, std::ios::binary);
  std::array<unsigned char, kSniffBytes> buffer;
  in.read(reinterpret_cast<char*>(buffer.data()), buffer.size());
  if (in.bad()) return Unavailable(fmt::format("{}: cannot read", path.string()));
  const auto got = static_cast<size_t>(in.gcount());
  return WithContext(SniffAudio(std::span(buffer.data(), got)), path.filename().string());
}

}  // namespace podfleet
