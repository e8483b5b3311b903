// Decoding audio read from a ByteSource (an origin's file read by HTTP Range requests,
// net/range_source.h) without holding the file: probing its header, and decoding from any point
// reached through the container's index, reading only the bytes from there on. MP3 seeks through
// its Xing table (VBR; FFmpeg reads no VBRI table, so such a file seeks by its average bit rate, a
// guess) or its bit rate (CBR), MP4/M4A through its sample tables (its moov read wherever it lies,
// at the end too).
//
// Thread safety: free functions; a source is read by one call at a time.
#pragma once

#include <functional>
#include <span>
#include <string>

#include "audio/audio.h"
#include "core/byte_source.h"

namespace podfleet {

struct SourceProbe {
  std::string format;  // FFmpeg's name for the container ("mp3", "mov,mp4,m4a,3gp,3g2,mj2")
  Millis duration{0};
  // The duration was estimated from the bit rate and the size, not declared by the header or an
  // index: an MP3 without Xing/Info/VBRI, whose seeks are then only guesses if it is VBR.
  bool estimated = false;
  // Seeks land where their positions say, to a frame (MP4 sample tables, CBR MP3); otherwise they
  // are placed by a coarse table or a guess (VBR MP3).
  bool exact_seek = false;
};

// Opens `source`'s header (what FFmpeg reads to name the format and the stream and its
// duration). Errors: the source's own, as they were; kInvalidArgument "not audio: ..." and
// kCorruption as DecodeAudioFile's; kNotFound when no duration is known. Prefixed with the
// source's name.
Result<SourceProbe> ProbeByteSource(ByteSource& source);

// Receives decoded blocks (kSampleRate Hz mono) with where their first sample lies on the time
// line of the decode (see DecodeByteSourceFrom); returns false to stop.
using TimedSampleSink = std::function<bool(Samples at, std::span<const float> block)>;

// Opens `source` afresh, seeks to `from` through the container's index (from the first byte when
// `from` is 0) and decodes onward until `sink` returns false or the audio ends. Positions are the
// container's: exact for MP4, within a frame for CBR MP3, an estimate from the table for VBR MP3;
// but the same `from` on the same bytes gives the same positions and the same samples, which is
// what two chunks meeting at a seam rely on (audio/seams.h). Errors: the source's own, as they
// were; otherwise as DecodeAudioFile's, prefixed with the source's name.
Result<void> DecodeByteSourceFrom(ByteSource& source, Millis from, const TimedSampleSink& sink);

}  // namespace podfleet
