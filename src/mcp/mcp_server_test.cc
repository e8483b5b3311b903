// The protocol side of the MCP server: version negotiation, notifications, JSON-RPC errors and
// a tool whose coordinator is unreachable. The tools against a real coordinator are checked by
// the official MCP client in tests/e2e/pages.
#include "mcp/mcp_server.h"

#include <gtest/gtest.h>

#include "net/http_client.h"

namespace podfleet {
namespace {

using nlohmann::json;

class McpServerTest : public ::testing::Test {
 protected:
  json Call(const json& message) {
    auto answer = server_.Handle(message);
    EXPECT_TRUE(answer.has_value());
    return answer.value_or(json());
  }
  std::unique_ptr<HttpClient> http_ = MakeCurlClient(HttpClientOptions{});
  CoordinatorClient api_{"http://127.0.0.1:9", *http_};  // nothing listens there
  McpServer server_{api_};
};

TEST_F(McpServerTest, InitializeAgreesOnAVersionItKnows) {
  json known = Call({{"jsonrpc", "2.0"},
                     {"id", 1},
                     {"method", "initialize"},
                     {"params", {{"protocolVersion", "2025-03-26"}}}});
  EXPECT_EQ(known["result"]["protocolVersion"], "2025-03-26");
  EXPECT_TRUE(known["result"]["capabilities"].contains("tools"));
  json future = Call({{"jsonrpc", "2.0"},
                      {"id", "a"},
                      {"method", "initialize"},
                      {"params", {{"protocolVersion", "2099-01-01"}}}});
  EXPECT_EQ(future["id"], "a");
  EXPECT_EQ(future["result"]["protocolVersion"], "2025-06-18");
}

TEST_F(McpServerTest, NotificationsGetNoAnswerAndErrorsAreJsonRpcErrors) {
  EXPECT_FALSE(server_.Handle({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}}));
  EXPECT_EQ(server_.HandleText("{not json")->at("error")["code"], -32700);
  EXPECT_EQ(Call(json::array())["error"]["code"], -32600);
  EXPECT_EQ(Call({{"jsonrpc", "2.0"}, {"id", 2}, {"method", "resources/list"}})["error"]["code"],
            -32601);
  EXPECT_EQ(Call({{"jsonrpc", "2.0"},
                  {"id", 3},
                  {"method", "tools/call"},
                  {"params", {{"name", "format_disk"}}}})["error"]["code"],
            -32602);
  EXPECT_EQ(Call({{"jsonrpc", "2.0"}, {"id", 4}, {"method", "ping"}})["result"], json::object());
}

TEST_F(McpServerTest, ToolsAreListedWithSchemasAndFailuresAreToolErrors) {
  json list = Call({{"jsonrpc", "2.0"}, {"id", 1}, {"method", "tools/list"}});
  ASSERT_EQ(list["result"]["tools"].size(), 5u);
  for (const json& tool : list["result"]["tools"])
    EXPECT_EQ(tool["inputSchema"]["type"], "object") << tool["name"];
  json down = Call({{"jsonrpc", "2.0"},
                    {"id", 2},
                    {"method", "tools/call"},
                    {"params", {{"name", "list_feeds"}, {"arguments", json::object()}}}});
  EXPECT_TRUE(down["result"]["isError"]);
  EXPECT_NE(down["result"]["content"][0]["text"].get<std::string>().find("127.0.0.1:9"),
            std::string::npos);
  json bad = Call({{"jsonrpc", "2.0"},
                   {"id", 3},
                   {"method", "tools/call"},
                   {"params", {{"name", "read_transcript"}, {"arguments", {{"episode", "x"}}}}}});
  EXPECT_TRUE(bad["result"]["isError"]);
  EXPECT_EQ(bad["result"]["content"][0]["text"], "read_transcript: episode must be an integer");
}

}  // namespace
}  // namespace podfleet
