#include "worker/long_audio.h"

#include <fmt/format.h>

#include <optional>

#include "core/stitch.h"

namespace podfleet {
namespace {

Result<void> Spill(CutChunk& chunk, const std::filesystem::path& prefix, PreparedAudio& out) {
  SpilledPiece piece{ToMillis(chunk.piece.begin),
                     ToMillis(chunk.piece.end) - ToMillis(chunk.piece.begin),
                     fmt::format("{}-{}.wav", prefix.string(), out.spilled.size())};
  PcmAudio pcm;
  pcm.samples = std::move(chunk.samples);
  if (Result<void> r = WriteWav(piece.file, pcm); !r) {
    std::error_code ec;
    std::filesystem::remove(piece.file, ec);
    return Unavailable(fmt::format("cannot write {}: {}", piece.file.string(), r.error().message));
  }
  out.spilled.push_back(std::move(piece));
  return {};
}

}  // namespace

Millis PreparedAudio::duration() const {
  if (spilled.empty()) return held.duration();
  return spilled.back().start + spilled.back().duration;
}

Result<PreparedAudio> DecodeBounded(const std::filesystem::path& source,
                                    const std::filesystem::path& spill_prefix,
                                    const ChunkOptions& cuts,
                                    const std::function<bool(double)>& progress) {
  PreparedAudio out;
  ChunkCutter cutter(cuts);
  std::optional<CutChunk> first;  // held until a second piece shows that the audio is long
  Result<void> written;
  auto take = [&](std::vector<CutChunk> chunks) {
    for (CutChunk& c : chunks) {
      if (!first && out.spilled.empty()) {
        first = std::move(c);
        continue;
      }
      if (first) {
        written = Spill(*first, spill_prefix, out);
        first.reset();
        if (!written) return false;
      }
      written = Spill(c, spill_prefix, out);
      if (!written) return false;
    }
    return true;
  };
  auto decoded = DecodeAudioStream(
      source, [&](std::span<const float> block) { return take(cutter.Push(block)); }, progress);
  if (decoded) take(cutter.Finish());
  if (!written || !decoded) {
    RemoveSpilled(out);
    return std::unexpected(!written ? written.error() : decoded.error());
  }
  if (first) out.held.samples = std::move(first->samples);
  return out;
}

Result<Transcript> TranscribePrepared(Engine& engine, const PreparedAudio& audio,
                                      const EngineProgress& progress, std::stop_token stop,
                                      const TranscribeOptions& options) {
  if (audio.spilled.empty()) return engine.Transcribe(audio.held, progress, stop, options);
  const double total = static_cast<double>(std::max<int64_t>(1, audio.duration().count()));
  std::vector<ChunkTranscript> parts;
  for (const SpilledPiece& piece : audio.spilled) {
    auto pcm = DecodeAudioFile(piece.file);
    if (!pcm)
      return Unavailable(
          fmt::format("cannot read back {}: {}", piece.file.string(), pcm.error().message));
    auto part = engine.Transcribe(
        *pcm,
        [&](double f) {
          if (progress) progress((piece.start.count() + f * piece.duration.count()) / total);
        },
        stop, options);
    if (!part) return part;
    parts.push_back(ChunkTranscript{piece.start, std::move(*part)});
  }
  return Stitch(std::move(parts));
}

void RemoveSpilled(const PreparedAudio& audio) {
  std::error_code ec;
  for (const SpilledPiece& piece : audio.spilled) std::filesystem::remove(piece.file, ec);
}

}  // namespace podfleet
