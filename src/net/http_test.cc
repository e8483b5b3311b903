#include "net/http.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace podfleet {
namespace {

TEST(Percent, DecodeHandlesEscapesAndPlus) {
  EXPECT_EQ(PercentDecode("a%20b%2Fc", false), "a b/c");
  EXPECT_EQ(PercentDecode("a+b", false), "a+b");
  EXPECT_EQ(PercentDecode("a+b%2B", true), "a b+");
  EXPECT_EQ(PercentDecode("%e2%82%AC", false), "\xe2\x82\xac");
  EXPECT_EQ(PercentDecode("", false), "");
}

TEST(Percent, DecodeRejectsMalformedEscapes) {
  for (std::string_view bad : {"%", "%4", "ab%", "%zz", "x%g1", "%%41"}) {
    EXPECT_EQ(PercentDecode(bad, true), std::nullopt) << bad;
  }
}

TEST(Percent, EncodeRoundTripsEveryByte) {
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  const std::string encoded = PercentEncode(all);
  EXPECT_EQ(encoded.find_first_not_of(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%"),
            std::string::npos);
  EXPECT_EQ(PercentDecode(encoded, false), all);
  EXPECT_EQ(PercentEncode("a b/c~"), "a%20b%2Fc~");
}

TEST(HttpRequest, BearerTokenParsesAuthorizationHeader) {
  HttpRequest request;
  EXPECT_EQ(request.BearerToken(), "");
  request.headers["authorization"] = "Bearer  pfw_abc ";
  EXPECT_EQ(request.BearerToken(), "pfw_abc");
  request.headers["authorization"] = "bearer xyz";
  EXPECT_EQ(request.BearerToken(), "xyz");
  request.headers["authorization"] = "Basic dXNlcjpwdw==";
  EXPECT_EQ(request.BearerToken(), "");
  request.headers["authorization"] = "Bearer";
  EXPECT_EQ(request.BearerToken(), "");
}

TEST(HttpRequest, HeaderAndQueryOrFallBack) {
  HttpRequest request;
  request.headers["x-a"] = "1";
  request.query["state"] = "done";
  EXPECT_EQ(request.Header("x-a"), "1");
  EXPECT_EQ(request.Header("x-b"), "");
  EXPECT_EQ(request.QueryOr("state", "all"), "done");
  EXPECT_EQ(request.QueryOr("limit", "50"), "50");
}

TEST(HttpRequest, ParseTargetDecodesPathAndQuery) {
  HttpRequest request;
  request.target = "/api/episodes/a%20b?state=done&q=x+y%2B&state=failed&flag";
  ASSERT_TRUE(ParseTarget(request));
  EXPECT_EQ(request.path, "/api/episodes/a b");
  EXPECT_EQ(request.query["state"], "failed");
  EXPECT_EQ(request.query["q"], "x y+");
  EXPECT_EQ(request.query["flag"], "");

  HttpRequest absolute;
  absolute.target = "http://coordinator:8750/api/health?x=1";
  ASSERT_TRUE(ParseTarget(absolute));
  EXPECT_EQ(absolute.path, "/api/health");
  EXPECT_EQ(absolute.query["x"], "1");
}

TEST(HttpRequest, ParseTargetRefusesBrokenPercentEncoding) {
  for (const char* target : {"/a%zz", "/a?x=%4", "/a?%=1"}) {
    HttpRequest request;
    request.target = target;
    const Result<void> parsed = ParseTarget(request);
    ASSERT_FALSE(parsed) << target;
    EXPECT_EQ(parsed.error().code, Code::kInvalidArgument) << target;
  }
}

TEST(HttpResponse, ErrorJsonEscapesMessage) {
  HttpResponse r = HttpResponse::ErrorJson(400, Code::kInvalidArgument, "bad \"x\"\n\x01\\");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"error":{"code":"invalid_argument","message":"bad \"x\"\n\u0001\\"}})");
}

// Found by fuzz/http_fuzz.cc: a 404 for a path with bytes that are not UTF-8 quoted them raw,
// and the error body was not valid JSON.
TEST(HttpResponse, ErrorJsonForNonUtf8PathIsValidJson) {
  const std::string path = "/api/jobs/2/fa\xb3\xb3il";
  const HttpResponse r = HttpResponse::ErrorJson(404, Code::kNotFound, "no route for " + path);
  const nlohmann::json body = nlohmann::json::parse(r.body, nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << r.body;
  EXPECT_EQ(body["error"]["message"], "no route for /api/jobs/2/fa\xEF\xBF\xBD\xEF\xBF\xBDil");
}

TEST(HttpResponse, JsonQuoteKeepsUtf8AndReplacesMalformedSequences) {
  EXPECT_EQ(JsonQuote("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\x99"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\x99\"");
  // Overlong '/', a lone continuation byte, a UTF-16 surrogate, beyond U+10FFFF, truncated.
  for (const char* bad : {"\xc0\xaf", "\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"}) {
    const std::string quoted = JsonQuote(bad);
    EXPECT_FALSE(nlohmann::json::parse(quoted, nullptr, false).is_discarded()) << quoted;
    EXPECT_NE(quoted.find("\xEF\xBF\xBD"), std::string::npos) << quoted;
  }
}

TEST(HttpResponse, FromErrorMapsCodeToStatus) {
  EXPECT_EQ(HttpResponse::FromError(Error{Code::kNotFound, "x"}).status, 404);
  EXPECT_EQ(HttpResponse::FromError(Error{Code::kConflict, "x"}).status, 409);
  EXPECT_EQ(HttpResponse::FromError(Error{Code::kUnavailable, "x"}).status, 503);
  EXPECT_EQ(HttpResponse::FromError(Error{Code::kInternal, "x"}).body,
            R"({"error":{"code":"internal","message":"x"}})");
  HttpResponse text = HttpResponse::Text(201, "hi");
  EXPECT_EQ(text.content_type, "text/plain; charset=utf-8");
}

}  // namespace
}  // namespace podfleet
