#include "net/multipart.h"

#include <gtest/gtest.h>

#include <random>

namespace podfleet {
namespace {

using std::string_view_literals::operator""sv;
constexpr std::string_view kBody =
    "preamble\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"model\"\r\n"
    "\r\n"
    "whisper-1\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"timestamp_granularities[]\"\r\n\r\nword\r\n"
    "--XyZ\r\n"
    "content-disposition: form-data; name=\"file\"; filename=\"a \\\"b\\\".wav\"\r\n"
    "Content-Type: audio/wav\r\n"
    "\r\n"
    "RIFF\r\n--Xy\0binary\r\n"
    "--XyZ--\r\n"
    "epilogue"sv;

TEST(Multipart, ReadsFieldsAndFiles) {
  auto parts = ParseMultipart(std::string_view(kBody.data(), kBody.size()), "XyZ");
  ASSERT_TRUE(parts) << parts.error().ToString();
  ASSERT_EQ(parts->size(), 3u);
  EXPECT_EQ((*parts)[0].name, "model");
  EXPECT_EQ((*parts)[0].data, "whisper-1");
  EXPECT_FALSE((*parts)[0].is_file);
  EXPECT_EQ((*parts)[1].name, "timestamp_granularities[]");
  EXPECT_EQ((*parts)[2].name, "file");
  EXPECT_TRUE((*parts)[2].is_file);
  EXPECT_EQ((*parts)[2].filename, "a \"b\".wav");
  EXPECT_EQ((*parts)[2].content_type, "audio/wav");
  EXPECT_EQ((*parts)[2].data, std::string_view("RIFF\r\n--Xy\0binary", 17));
}

TEST(Multipart, BoundaryFromContentType) {
  EXPECT_EQ(*MultipartBoundary("multipart/form-data; boundary=abc"), "abc");
  EXPECT_EQ(*MultipartBoundary("Multipart/Form-Data;boundary=\"a b;c\""), "a b;c");
  EXPECT_FALSE(MultipartBoundary("application/json"));
  EXPECT_FALSE(MultipartBoundary("multipart/form-data"));
  EXPECT_FALSE(MultipartBoundary("multipart/form-data; boundary="));
  EXPECT_FALSE(MultipartBoundary("multipart/form-data; boundary=" + std::string(71, 'a')));
  EXPECT_FALSE(MultipartBoundary("multipart/form-data; boundary=\"abc"));
}

TEST(Multipart, MalformedBodiesAreRefusedWithAReason) {
  const std::vector<std::string> bad = {
      "",
      "no boundary here",
      "--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nvalue",       // never closed
      "--b\r\nContent-Disposition: form-data; name=\"x\"\r\nvalue\r\n--b--",  // no blank line
      "--b\r\nContent-Type: text/plain\r\n\r\nv\r\n--b--",                    // no disposition
      "--b\r\nContent-Disposition: attachment; name=\"x\"\r\n\r\nv\r\n--b--",
      "--b\r\nContent-Disposition: form-data\r\n\r\nv\r\n--b--",  // no name
      "--b\r\nContent-Disposition: form-data; name=\"x\r\n\r\nv\r\n--b--",
      "--bJUNK\r\n",
      "--b\r\nbroken header line\r\n\r\nv\r\n--b--",
  };
  for (const std::string& body : bad) {
    auto parts = ParseMultipart(body, "b");
    ASSERT_FALSE(parts) << body;
    EXPECT_EQ(parts.error().code, Code::kInvalidArgument);
    EXPECT_TRUE(parts.error().message.starts_with("multipart")) << parts.error().message;
  }
}

TEST(Multipart, LimitsHold) {
  std::string many;
  for (int i = 0; i < 10; ++i)
    many += "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv\r\n";
  many += "--b--";
  MultipartLimits limits;
  limits.max_parts = 5;
  EXPECT_FALSE(ParseMultipart(many, "b", limits));
  limits.max_parts = 10;
  EXPECT_TRUE(ParseMultipart(many, "b", limits));

  const std::string big_field = "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n" +
                                std::string(70'000, 'x') + "\r\n--b--";
  EXPECT_FALSE(ParseMultipart(big_field, "b"));
  const std::string big_file =
      "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\n" +
      std::string(70'000, 'x') + "\r\n--b--";
  EXPECT_TRUE(ParseMultipart(big_file, "b"));
  const std::string big_headers =
      "--b\r\nX-Pad: " + std::string(10'000, 'x') +
      "\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv\r\n--b--";
  EXPECT_FALSE(ParseMultipart(big_headers, "b"));
}

TEST(Multipart, RandomDamageNeverCrashes) {
  std::mt19937 rng(11);
  const std::string body(kBody.data(), kBody.size());
  for (int i = 0; i < 5000; ++i) {
    std::string damaged = body;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits; ++k) {
      const size_t at = rng() % damaged.size();
      switch (rng() % 3) {
        case 0: damaged[at] = static_cast<char>(rng() % 256); break;
        case 1: damaged.erase(at, 1 + rng() % 8); break;
        default: damaged.resize(at); break;
      }
      if (damaged.empty()) break;
    }
    auto parts = ParseMultipart(damaged, "XyZ");
    if (parts) {
      for (const MultipartPart& p : *parts) {
        EXPECT_FALSE(p.name.empty());
        EXPECT_GE(p.data.data(), damaged.data());
        EXPECT_LE(p.data.data() + p.data.size(), damaged.data() + damaged.size());
      }
    }
  }
}

}  // namespace
}  // namespace podfleet
