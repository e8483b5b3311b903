// Reading what transcription servers and programs send back: the OpenAI `verbose_json` and `json`
// shapes as the servers in ../shared/specs/openai-transcriptions-api.md really write them, and
// their error bodies. Readers of outside input: any bytes give a value or kCorruption, never a
// crash or an exception.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "audio/pauses.h"
#include "core/error.h"
#include "core/model.h"

namespace podfleet {

// The transcript of one piece of the audio, on the whole audio's time line (not core/stitch.h's
// ChunkTranscript, whose times are relative to its chunk).
struct PieceTranscript {
  std::string language;  // a code ("en"); empty when the response named none
  std::vector<Segment> segments;
};

// Parses a verbose_json or json body leniently (spec section 5.4): `duration` and times may be
// numbers or strings, `language` a full name or a code, words top-level (assigned to the segment
// their middle falls in) or nested per segment (whisper.cpp's sub-word tokens, re-joined into
// words at leading spaces; special tokens such as "[_BEG_]" dropped). Times are seconds from the
// chunk's start and come back in ms from the start of the whole audio (ChunkTime). A body with
// text but no segments becomes one segment spanning the chunk. kCorruption when the body is not a
// JSON object or has neither `text` nor `segments`.
Result<PieceTranscript> ParseTranscriptionJson(std::string_view body, const Piece& chunk);

// Plain text as one segment spanning the chunk (nothing when it is blank).
PieceTranscript PlainTextTranscript(std::string_view text, const Piece& chunk);

// The message in an error body, by shape (spec section 5.5): {"error":{"message"}},
// {"error":"..."},
// {"detail":"..."}, {"detail":[{"msg"}...]}; else the body itself, cut to 500 bytes.
std::string ServerErrorMessage(std::string_view body);

}  // namespace podfleet
