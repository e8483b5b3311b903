// A Model Context Protocol server (modelcontextprotocol.io, revisions 2024-11-05 to 2025-06-18)
// for assistants: tools to search transcripts, read an episode's transcript or a time range of
// it, list feeds and episodes, and queue an episode. It is a thin layer over the coordinator's
// HTTP API (api/client.h): every tool is one or two API calls, so it runs anywhere the API is
// reachable. The transports (stdio, streamable HTTP) are in cli/cmd_mcp.cc; this class only maps
// JSON-RPC messages to answers.
//
// Errors: a malformed message or an unknown method is a JSON-RPC error (-32700, -32600, -32601,
// -32602); a tool that fails (an unknown episode, the coordinator unreachable, a refusal) is a
// result with isError true and the coordinator's reason as text, as the protocol asks.
//
// Thread safety: Handle may be called from several threads at once (the API client is).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "api/client.h"

namespace podfleet {

class McpServer {
 public:
  // `api` must outlive the server; it carries the admin token queue_episode needs.
  explicit McpServer(CoordinatorClient& api) : api_(api) {}

  // The answer to one JSON-RPC message, or nullopt for a notification (a message without id)
  // and for a response the client sent.
  std::optional<nlohmann::json> Handle(const nlohmann::json& message);
  // As Handle, from the message's text: a parse error (-32700) when it is not JSON.
  std::optional<nlohmann::json> HandleText(std::string_view text);

 private:
  nlohmann::json CallTool(const nlohmann::json& params);

  CoordinatorClient& api_;
};

}  // namespace podfleet
