#include "net/http.h"

#include <gtest/gtest.h>

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

TEST(HttpResponse, ErrorJsonEscapesMessage) {
  HttpResponse r = HttpResponse::ErrorJson(400, Code::kInvalidArgument, "bad \"x\"\n\x01\\");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"error":{"code":"invalid_argument","message":"bad \"x\"\n\u0001\\"}})");
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
