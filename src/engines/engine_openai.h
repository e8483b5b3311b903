// The openai engine: transcription by a server that speaks OpenAI's
// POST /v1/audio/transcriptions (OpenAI itself, whisper.cpp's whisper-server, speaches, vLLM,
// NVIDIA NIM ASR, or another podfleet coordinator). Server differences are pinned per server kind
// (../shared/specs/openai-transcriptions-api.md; table in doc/engines.md):
//
//   kind         default path                 response_format  words asked  language sent
//   openai       /v1/audio/transcriptions     verbose_json     yes          ISO code
//   whisper.cpp  /inference                   verbose_json     (always)     ISO code or "auto"
//   speaches     /v1/audio/transcriptions     verbose_json     yes          ISO code; model
//   required vllm         /v1/audio/transcriptions     verbose_json     no           ISO code nim
//   /v1/audio/transcriptions     json             no           BCP-47 ("en-US")
//
// "auto" picks whisper.cpp when the endpoint's path ends in /inference, else openai. An endpoint
// with no path (or "/", or ".../v1") gets the kind's default path appended.
//
// Audio goes up as 16 kHz mono 16-bit WAV (every listed server takes WAV), one request per chunk
// cut at pauses (EngineConfig::max_chunk; default 10 min, 19 MB, under the common 25 MiB cap); a
// 413 halves that chunk and tries again. 429, 500, 502, 503 (a server still loading its model),
// 504 and transport failures are retried with exponential backoff (honouring Retry-After) until
// EngineConfig::chunk_timeout has passed since the chunk's first try. Other statuses are final.
//
// Errors from Transcribe: kPermissionDenied (401/403), kNotFound (404: wrong path or a model the
// server lacks), kInvalidArgument (other 4xx), kUnavailable (still failing after retries; or
// "cancelled" when stopped: the request in flight is aborted), kCorruption (a 200 whose body is
// not a transcription). Messages carry the server's own message, read by its error shape.
// Thread-safe: concurrent calls make separate requests.
#pragma once

#include "engines/engine.h"

namespace podfleet {

// kInvalidArgument for a missing or non-http(s) endpoint, an unknown server kind, or speaches
// without a model.
Result<std::unique_ptr<Engine>> MakeOpenAiEngine(const EngineConfig& config);

}  // namespace podfleet
