#include "net/router.h"

#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>

#include "net/http_client.h"

namespace podfleet {
namespace {

HttpRequest Request(std::string method, std::string target) {
  HttpRequest request;
  request.method = std::move(method);
  request.target = target;
  request.path = *PercentDecode(target.substr(0, target.find('?')), false);
  return request;
}

// Runs `router` on one request and returns what it answered, if anything yet.
std::optional<HttpResponse> Call(const Router& router, HttpRequest request) {
  std::optional<HttpResponse> answer;
  router.Handle(std::move(request), HttpResponder([&](HttpResponse r) { answer = std::move(r); }));
  return answer;
}

Route Sync(std::string method, std::string pattern, SyncHandler handler) {
  return Route{std::move(method), std::move(pattern), "", std::move(handler), nullptr};
}

HttpResponse EchoParams(const HttpRequest& request) {
  std::string body;
  for (const auto& [name, value] : request.params) body += name + "=" + value + ";";
  return HttpResponse::Text(200, body);
}

TEST(Router, MatchesMethodAndFillsParams) {
  Router router({Sync("GET", "/api/episodes", EchoParams),
                 Sync("GET", "/api/episodes/{id}/transcript", EchoParams)});
  auto r = Call(router, Request("GET", "/api/episodes/42/transcript?format=srt"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "id=42;");
  r = Call(router, Request("GET", "/api/episodes"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "");
}

TEST(Router, DecodesParamsAfterSplittingThePath) {
  Router router({Sync("GET", "/api/feeds/{id}", EchoParams)});
  auto r = Call(router, Request("GET", "/api/feeds/a%2Fb%20c"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "id=a/b c;");
}

TEST(Router, UnknownPathIs404Json) {
  Router router({Sync("GET", "/api/episodes/{id}", EchoParams)});
  for (const char* target : {"/nope", "/api/episodes", "/api/episodes/", "/api/episodes/1/x"}) {
    auto r = Call(router, Request("GET", target));
    ASSERT_TRUE(r) << target;
    EXPECT_EQ(r->status, 404) << target;
    EXPECT_EQ(r->content_type, "application/json");
    EXPECT_NE(r->body.find(R"("code":"not_found")"), std::string::npos) << r->body;
  }
}

TEST(Router, OtherMethodIs405WithAllowHeader) {
  Router router({Sync("GET", "/api/feeds", EchoParams), Sync("POST", "/api/feeds", EchoParams),
                 Sync("GET", "/api/feeds", EchoParams)});
  auto r = Call(router, Request("DELETE", "/api/feeds"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_NE(r->body.find(R"({"error":{"code":"invalid_argument")"), std::string::npos);
  ASSERT_EQ(r->headers.size(), 1u);
  EXPECT_EQ(r->headers[0], (std::pair<std::string, std::string>("Allow", "GET, POST")));
}

TEST(Router, FirstMatchingRouteWins) {
  Router router({Sync("GET", "/api/nodes/self",
                      [](const HttpRequest&) { return HttpResponse::Text(200, "self"); }),
                 Sync("GET", "/api/nodes/{id}", EchoParams)});
  EXPECT_EQ(Call(router, Request("GET", "/api/nodes/self"))->body, "self");
  EXPECT_EQ(Call(router, Request("GET", "/api/nodes/7"))->body, "id=7;");
}

TEST(Router, GuardRefusalAnswersInsteadOfTheHandler) {
  int handled = 0;
  Route guarded = Sync("POST", "/api/feeds", [&handled](const HttpRequest&) {
    ++handled;
    return HttpResponse::Text(200, "done");
  });
  guarded.guard = [](const HttpRequest& request) -> Result<void> {
    if (request.BearerToken() != "yes") return PermissionDenied("no key");
    return {};
  };
  Router router({guarded, Sync("GET", "/api/feeds", EchoParams)});
  HttpRequest wrong = Request("POST", "/api/feeds");
  wrong.headers["authorization"] = "Bearer no";
  auto r = Call(router, wrong);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_NE(r->body.find("no key"), std::string::npos);
  EXPECT_EQ(handled, 0);
  r = Call(router, Request("GET", "/api/feeds"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  HttpRequest right = Request("POST", "/api/feeds");
  right.headers["authorization"] = "Bearer yes";
  r = Call(router, right);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "done");
  EXPECT_EQ(handled, 1);
}

TEST(Router, SyncHandlerExceptionIs500Json) {
  Router router({Sync("GET", "/boom", [](const HttpRequest&) -> HttpResponse {
    throw std::runtime_error("kaput");
  })});
  auto r = Call(router, Request("GET", "/boom"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body, R"({"error":{"code":"internal","message":"internal error: kaput"}})");
}

TEST(Router, AsyncHandlerKeepsResponderToAnswerLater) {
  std::optional<HttpResponder> kept;
  Route route{"POST", "/api/leases", "", nullptr,
              [&](HttpRequest, HttpResponder respond) { kept.emplace(std::move(respond)); }};
  Router router({route});
  std::optional<HttpResponse> answer;
  router.Handle(Request("POST", "/api/leases"),
                HttpResponder([&](HttpResponse r) { answer = std::move(r); }));
  EXPECT_FALSE(answer);
  ASSERT_TRUE(kept);
  (*kept)(HttpResponse::Text(200, "later"));
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->body, "later");
}

TEST(Router, AsyncHandlerExceptionIs500) {
  Route route{"GET", "/boom", "", nullptr,
              [](HttpRequest, HttpResponder) { throw std::runtime_error("kaput"); }};
  Router router({route});
  auto r = Call(router, Request("GET", "/boom"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
}

TEST(Router, AnswersThroughTheRealServer) {
  auto router =
      std::make_shared<Router>(std::vector<Route>{Sync("GET", "/api/episodes/{id}", EchoParams)});
  HttpServerOptions options;
  options.port = 0;
  auto server = HttpServer::Start(options, [router](HttpRequest req, HttpResponder respond) {
    router->Handle(std::move(req), std::move(respond));
  });
  ASSERT_TRUE(server) << server.error().ToString();
  auto client = MakeCurlClient({});
  const std::string base = "http://127.0.0.1:" + std::to_string((*server)->port());

  auto ok = client->Send({.url = base + "/api/episodes/9"});
  ASSERT_TRUE(ok) << ok.error().ToString();
  EXPECT_EQ(ok->body, "id=9;");
  auto missing = client->Send({.url = base + "/api/nope"});
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->content_type, "application/json");
  auto wrong = client->Send({.method = "PUT", .url = base + "/api/episodes/9", .body = "{}"});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 405);
}

}  // namespace
}  // namespace podfleet
