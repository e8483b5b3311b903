// Decoded audio: 16 kHz mono float samples, what every engine consumes.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/units.h"

namespace podfleet {

class GrowingFile;

struct PcmAudio {
  std::vector<float> samples;  // kSampleRate Hz, mono, in [-1, 1]

  Samples size() const { return Samples{static_cast<int64_t>(samples.size())}; }
  Millis duration() const { return ToMillis(size()); }
};

// What SniffAudio calls bytes it cannot name but that are not certainly something else.
inline constexpr std::string_view kUnknownFormat = "unknown";

// The cheap first check on audio bytes, from their first bytes: names the common containers
// (ID3/MPEG frame sync, ftyp, OggS, RIFF/WAVE, fLaC, ADTS: "mp3", "mp4", "ogg", "wav", "flac",
// "aac"), refuses with kInvalidArgument "not audio: ..." what certainly is not audio (empty, white
// space, text, HTML, XML, JSON, PDF, images, archives, programs), and answers kUnknownFormat for
// other binary data (WebM, MPEG streams, AIFF, ...), which only FFmpeg's probe (ProbeAudio) can
// judge.
Result<std::string> SniffAudio(std::span<const unsigned char> head);
// SniffAudio on the first bytes of a file (16 KiB); errors are prefixed with the file's name.
// kNotFound when there is no such file, kUnavailable when it cannot be read.
Result<std::string> SniffAudioFile(const std::filesystem::path& path);

// Whether FFmpeg can decode `path`: SniffAudioFile first, then FFmpeg's probe must find an audio
// stream and open its decoder. Returns FFmpeg's name for the container ("matroska,webm", "mp3",
// "mpeg", "wav"). Errors as DecodeAudioFile's (kInvalidArgument for what is certainly not audio,
// kCorruption for what FFmpeg cannot read), prefixed with the file's name.
Result<std::string> ProbeAudio(const std::filesystem::path& path);

// Decodes any audio FFmpeg reads (MP3, AAC/M4A, Opus/Ogg, Vorbis, WAV, FLAC) to 16 kHz mono, in
// process. `progress` gets the fraction decoded (0..1) now and then; returning false cancels.
// Errors: kInvalidArgument when the file is not audio, kCorruption when it cannot be decoded
// (truncated, damaged, no audio stream, no samples), kUnavailable when cancelled.
// A file that decodes to clearly less than the length its header declares (an MP3 with an
// Info frame, FLAC) is kCorruption "truncated: ..."; where no length is declared, a cut file
// decodes to what is there. kNotFound when there is no such file. Messages start with the file's
// name. Thread-safe: files may be decoded on several threads at once.
Result<PcmAudio> DecodeAudioFile(const std::filesystem::path& path,
                                 const std::function<bool(double)>& progress = {});

// Receives decoded samples (kSampleRate Hz mono, in [-1, 1]) block by block, in order; returns
// false to cancel.
using SampleSink = std::function<bool(std::span<const float>)>;
// DecodeAudioFile without holding the audio: hands the samples to `sink` in blocks of about a
// second as they are decoded, so memory stays bounded by a block whatever the file's length.
// Returns the number of samples handed over. Errors as DecodeAudioFile's (kUnavailable
// "cancelled" when `sink` or `progress` returns false); the checks that need the whole file
// (damaged, truncated) fail at the end, after the blocks before were handed over.
Result<int64_t> DecodeAudioStream(const std::filesystem::path& path, const SampleSink& sink,
                                  const std::function<bool(double)>& progress = {});

// Whether a sink will look at any of the samples [begin, end) (from the start of the audio).
using SampleWanted = std::function<bool(Samples begin, Samples end)>;

// DecodeAudioStream on a file still being written (a download's .part, core/growing_file.h):
// decodes its bytes as they arrive, waiting for more instead of ending, until the writer has
// finished. MP3, AAC (ADTS), Ogg, FLAC, WAV, and MP4/M4A whose index (moov) comes before its
// audio are decoded from the front as they come; other formats (an M4A with its moov at the end,
// what only FFmpeg's probe names) wait for the whole file first. `opened` is called once, before
// the first block, with the duration the header declares (nullopt: none, or known only from the
// end of the file, as Ogg's). It returns only once
// the writer has finished: the writer's failure, even after the last block, fails the decode
// with the writer's error as it was given (not prefixed); other errors as
// DecodeAudioStream's, prefixed with `name`.
// With `wanted`, a packet whose audio (with a second either side, where the decoder settles
// after a gap) it does not want is demuxed but not decoded: its samples are handed over as
// silence (zeros), and the audio decoded after the gap is placed by its timestamps where a
// decode of the whole would place it (to within a few milliseconds: the decoder's and the
// resampler's delays). Such blocks serve to find where to cut (ChunkCutter::LooksAt), not to
// be encoded; damage in packets not decoded goes unnoticed.
Result<int64_t> DecodeGrowingFile(GrowingFile& file, const std::string& name,
                                  const std::function<void(std::optional<Millis>)>& opened,
                                  const SampleSink& sink, const SampleWanted& wanted = {});

// The samples [begin, end) of an audio file (no end: to the end of the file), decoded as
// DecodeAudioStream does, holding only those: a worker's chunk of a whole episode. Decoding stops
// at `end`. Errors as DecodeAudioFile's; kCorruption "no samples" when the file ends before
// `begin`.
Result<PcmAudio> DecodeAudioRange(const std::filesystem::path& path, Samples begin,
                                  std::optional<Samples> end,
                                  const std::function<bool(double)>& progress = {});

// The duration an audio file's header declares (or, for MP3 without one, estimates from its
// bit rate), read without decoding. Errors as DecodeAudioFile's for a file that is not audio or
// cannot be opened; kNotFound when the header gives no duration.
Result<Millis> ProbeAudioDuration(const std::filesystem::path& path);

// Writes 16-bit PCM WAV (for the exec engine, debugging and tests).
Result<void> WriteWav(const std::filesystem::path& path, const PcmAudio& audio);
// The bytes WriteWav writes (uploads to remote engines). REQUIRES: under 2^31 samples.
std::string EncodeWav(const PcmAudio& audio);

}  // namespace podfleet
