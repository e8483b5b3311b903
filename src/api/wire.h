// The wire format of podfleet's HTTP API: JSON for every type that crosses a process boundary.
// This file and api/client.h are the only public interface of the coordinator (doc/api.md).
//
// Times are sent as integer milliseconds: durations in `*_ms` fields, instants as Unix
// milliseconds in `*_at` fields (ISO 8601 strings are added beside them for people).
// Readers return kInvalidArgument naming the field when a value is missing or of the wrong type.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string_view>

#include "core/error.h"
#include "core/model.h"

namespace podfleet {

// A feature a worker names in its claims' "features" (doc/api.md): it reads seam chunks
// (Chunk::seam > 0) from their origin and cuts them at their seams (worker/origin_chunk.h).
inline constexpr std::string_view kSeamChunksFeature = "seam_chunks";

// Grants handed to a worker by claim.
struct WireGrant {
  Lease lease;
  Episode episode;
  std::string audio_url;  // absolute, or relative to the coordinator's base URL
  // Download only from public addresses (the coordinator runs with --refuse-private-addresses);
  // sent as "public_only" when true.
  bool public_only = false;
  Chunk chunk;  // which part of the episode audio_url holds; times are relative to it
  // The language the job asks for (ISO-639-1), told to the engine; empty: the worker's own.
  // Sent as "language" when set.
  std::string language;
  // audio_url is absolute and served by another coordinator of the fleet (the one holding the
  // relayed chunk, doc/scale.md), which knows the node by its token as this one does: the
  // answering coordinator vouches for it. Sent as "audio_from_fleet" when true.
  bool audio_from_fleet = false;
};

nlohmann::json ToJson(const Transcript& t);
Result<Transcript> TranscriptFromJson(const nlohmann::json& j);

nlohmann::json ToJson(const NodeInfo& n);
Result<NodeInfo> NodeInfoFromJson(const nlohmann::json& j);

nlohmann::json ToJson(const Feed& f);
nlohmann::json ToJson(const Episode& e);
Result<Episode> EpisodeFromJson(const nlohmann::json& j);
nlohmann::json ToJson(const QueueCounts& q);

nlohmann::json ToJson(const Lease& l);
Result<Lease> LeaseFromJson(const nlohmann::json& j);
nlohmann::json ToJson(const WireGrant& g);
Result<WireGrant> GrantFromJson(const nlohmann::json& j);

nlohmann::json ToJson(const Progress& p);
Result<Progress> ProgressFromJson(const nlohmann::json& j);

// {"error":{"code":"not_found","message":"..."}}
nlohmann::json ErrorJson(const Error& e);
// Reads an error body back; falls back to the raw text.
Error ErrorFromBody(int http_status, const std::string& body);

// Parses text as JSON; kInvalidArgument "malformed JSON: ..." on failure.
Result<nlohmann::json> ParseJson(std::string_view text);

}  // namespace podfleet
