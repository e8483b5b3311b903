// mcp: the Model Context Protocol server (mcp/mcp_server.h) on stdio or streamable HTTP, in
// front of a coordinator's API.
//
// stdio: one JSON-RPC message per line on stdin, each answer one line on stdout; logs go to
// stderr; it ends when stdin closes.
// Streamable HTTP (--listen HOST:PORT): POST /mcp with one message; a request is answered with
// 200 and the JSON-RPC response as application/json, a notification or response with 202.
// The server opens no SSE stream (it sends nothing unasked), so GET /mcp is 405. Stateless: no
// Mcp-Session-Id. A request with an Origin header other than this loopback address is refused
// (403), against DNS rebinding, as the transport's rules ask.
#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/cli_common.h"
#include "cli/client_args.h"
#include "cli/commands.h"
#include "mcp/mcp_server.h"
#include "net/http_server.h"

namespace podfleet {
namespace {

int ServeStdio(McpServer& server) {
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (auto answer = server.HandleText(line)) {
      std::cout << answer->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
      std::cout.flush();
    }
  }
  return 0;
}

bool LocalOrigin(std::string_view origin) {
  for (std::string_view ok : {"http://127.0.0.1", "http://localhost", "http://[::1]"})
    if (origin == ok || (origin.starts_with(ok) && origin[ok.size()] == ':')) return true;
  return false;
}

HttpResponse Answer(McpServer& server, const HttpRequest& request) {
  if (request.path != "/mcp")
    return HttpResponse::ErrorJson(404, Code::kNotFound, "the MCP endpoint is /mcp");
  if (std::string_view origin = request.Header("origin"); !origin.empty() && !LocalOrigin(origin))
    return HttpResponse::ErrorJson(403, Code::kPermissionDenied, "origin not allowed");
  if (request.method != "POST") {
    HttpResponse r = HttpResponse::ErrorJson(405, Code::kInvalidArgument,
                                             "POST JSON-RPC messages to /mcp (no SSE stream)");
    r.headers.emplace_back("Allow", "POST");
    return r;
  }
  auto answer = server.HandleText(request.body);
  if (!answer) return HttpResponse::Text(202, "", "application/json");
  return HttpResponse::Text(200,
                            answer->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                            "application/json");
}

int ServeHttp(McpServer& server, const std::string& listen) {
  HttpServerOptions options;
  const size_t colon = listen.rfind(':');
  try {
    if (colon == std::string::npos) throw std::invalid_argument("no port");
    options.host = listen.substr(0, colon);
    const int port = std::stoi(listen.substr(colon + 1));
    if (port < 0 || port > 65535) throw std::out_of_range("port");
    options.port = static_cast<uint16_t>(port);
  } catch (const std::exception&) {
    return Fail(fmt::format("--listen {}: expected HOST:PORT (port 0 picks a free one)", listen));
  }
  auto http = HttpServer::Start(options, [&server](HttpRequest request, HttpResponder respond) {
    respond(Answer(server, request));
  });
  if (!http) return Fail(http.error().ToString());
  fmt::print(stderr, "podfleet mcp: streamable HTTP at http://{}:{}/mcp\n", options.host,
             (*http)->port());
  SignalWatcher signals([] {});
  signals.Wait();
  (*http)->Stop();
  return 0;
}

}  // namespace

int RunMcp(const Args& args) {
  ClientArgs c;
  std::string listen;
  auto flags = ClientFlags(c);
  for (Flag& f : AdminFlags(c)) flags.push_back(std::move(f));
  flags.push_back(StringFlag("listen", &listen,
                             "serve streamable HTTP at http://HOST:PORT/mcp instead of stdio",
                             "HOST:PORT"));
  auto p = Parse(flags, "mcp", "mcp [--server URL] [--listen HOST:PORT]",
                 "A Model Context Protocol server for assistants, over the coordinator's API.\n"
                 "Tools: search_transcripts, read_transcript (whole or a time range), list_feeds,\n"
                 "list_episodes, queue_episode (needs the admin token). Speaks JSON-RPC on\n"
                 "stdin/stdout, or streamable HTTP with --listen.",
                 args);
  if (p.exit >= 0) return p.exit;
  if (!p.args.positional.empty())
    return Fail("usage: podfleet mcp [--server URL] [--listen HOST:PORT]");
  auto http = CoordinatorHttp(c);
  CoordinatorClient client(c.server, *http);
  if (auto r = UseAdminToken(c, client); !r) return Fail(r.error().ToString());
  McpServer server(client);
  return listen.empty() ? ServeStdio(server) : ServeHttp(server, listen);
}

}  // namespace podfleet
