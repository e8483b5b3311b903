// What the OpenAI-compatible transcription route (routes_openai.cc) writes and decides, as pure
// functions: OpenAI's error shape, verbose_json, Server-Sent Events, and which `model` and
// `language` the fleet can honour. Contract: doc/api.md.
#pragma once

#include <expected>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/model.h"
#include "net/http.h"

namespace podfleet {

// {"error":{"message","type","param","code"}} with `status`.
HttpResponse OpenAiError(int status, std::string_view type, std::string_view message,
                         std::optional<std::string_view> param = std::nullopt,
                         std::optional<std::string_view> code = std::nullopt);

// OpenAI's compression_ratio of a text: its UTF-8 length over the length of its zlib-compressed
// form (as openai/whisper computes it); nullopt for empty text.
std::optional<double> CompressionRatio(std::string_view text);

// The verbose_json body. Segments are listed when `segments` is asked for and come with
// avg_logprob, compression_ratio and no_speech_prob: the engine's own numbers (compression_ratio
// computed from the text), or null where the engine has none. When the engine has none for some
// segment and segments were not asked for explicitly, `segments` is left out, since clients that
// validate the segment schema (the Vercel AI SDK) refuse nulls; `words` when `words` is set.
std::string VerboseJson(const Transcript& t, bool words, bool segments, bool segments_explicit);

// {"type":"duration","seconds":N}, the audio length rounded up to whole seconds.
nlohmann::json DurationUsage(Millis audio);

// One Server-Sent Event carrying `data` (compact JSON): "data: {...}\n\n".
std::string SseEvent(const nlohmann::json& data);

// The model ids podfleet answers to besides its workers' "engine/model": OpenAI's transcription
// models and "podfleet", all meaning "whatever the fleet runs".
bool IsFleetAlias(std::string_view model);

// Where a transcription request may go: the JobRequirement its `model` ("", an alias: any worker;
// "engine/model": a worker running exactly that) and `language` (an ISO-639-1 code or an English
// name; "": any) make, when at least one of `nodes` (the fleet's live and recently seen workers)
// can serve it (core/model.h CanServe). Else OpenAI's error: 404 model_not_found (param "model")
// when no worker runs the model, 400 invalid_language for a malformed language, 400
// unsupported_language (param "language") when no worker running the model transcribes it.
std::expected<JobRequirement, HttpResponse> RouteTranscription(std::string_view model,
                                                               std::string_view language,
                                                               const std::vector<NodeInfo>& nodes);

// `message` with every reference to the stored upload (".../api/media/<name>" or the bare
// generated name) replaced by `filename`: clients never see internal paths.
std::string PublicMessage(std::string message, std::string_view media_name,
                          std::string_view filename);

}  // namespace podfleet
