// WriteWav: the canonical 44-byte RIFF header and 16-bit little-endian PCM.
#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <fstream>

#include "audio/audio.h"

namespace podfleet {
namespace {

static_assert(std::endian::native == std::endian::little, "WAV is little-endian");

void Put32(std::string& out, uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); }
void Put16(std::string& out, uint16_t v) { out.append(reinterpret_cast<const char*>(&v), 2); }

std::string WavHeader(uint32_t data_bytes) {
  constexpr uint16_t kChannels = 1;
  constexpr uint16_t kBitsPerSample = 16;
  constexpr uint16_t kBlockAlign = kChannels * kBitsPerSample / 8;
  std::string h;
  h += "RIFF";
  Put32(h, 36 + data_bytes);
  h += "WAVEfmt ";
  Put32(h, 16);  // fmt chunk size
  Put16(h, 1);   // PCM
  Put16(h, kChannels);
  Put32(h, kSampleRate);
  Put32(h, kSampleRate * kBlockAlign);
  Put16(h, kBlockAlign);
  Put16(h, kBitsPerSample);
  h += "data";
  Put32(h, data_bytes);
  return h;
}

int16_t ToInt16(float sample) {
  return static_cast<int16_t>(std::lrint(std::clamp(sample, -1.0f, 1.0f) * 32767.0f));
}

}  // namespace

std::string EncodeWav(const PcmAudio& audio) {
  std::string out = WavHeader(static_cast<uint32_t>(audio.samples.size() * 2));
  out.reserve(out.size() + audio.samples.size() * 2);
  for (float sample : audio.samples) Put16(out, static_cast<uint16_t>(ToInt16(sample)));
  return out;
}

Result<void> WriteWav(const std::filesystem::path& path, const PcmAudio& audio) {
  constexpr size_t kMaxSamples = (uint32_t{0xFFFFFFFF} - 36) / 2;
  if (audio.samples.size() > kMaxSamples) {
    return InvalidArgument(fmt::format("{}: too long for a WAV file", path.string()));
  }
  const std::string bytes = EncodeWav(audio);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return Unavailable(fmt::format("{}: cannot write", path.string()));
  return {};
}

}  // namespace podfleet
