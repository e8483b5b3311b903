#include "net/range_source.h"

#include <gtest/gtest.h>

#include <random>

#include "support/range_origin.h"

namespace podfleet {
namespace {

using Mode = RangeOrigin::Mode;

std::string Noise(size_t n) {
  std::mt19937 random(7);
  std::string bytes(n, '\0');
  for (char& c : bytes) c = static_cast<char>(random());
  return bytes;
}

constexpr int64_t kBlock = 64 * 1024;

class RangeSourceTest : public ::testing::Test {
 protected:
  Result<std::unique_ptr<RangeSource>> Open(RangeOrigin& origin) {
    return RangeSource::Open(*http_, origin.Url(), {.block_bytes = kBlock, .cached_blocks = 2});
  }
  // Reads [offset, offset + n) through `source`, as many ReadAt calls as it takes.
  static Result<std::string> Read(RangeSource& source, int64_t offset, size_t n) {
    std::string out;
    while (out.size() < n) {
      std::vector<unsigned char> buffer(n - out.size());
      auto got = source.ReadAt(offset + static_cast<int64_t>(out.size()), buffer);
      if (!got) return std::unexpected(got.error());
      if (*got == 0) break;
      out.append(reinterpret_cast<const char*>(buffer.data()), *got);
    }
    return out;
  }

  std::unique_ptr<HttpClient> http_ = MakeCurlClient({.timeout = Millis(5000)});
};

TEST(ContentRangeTest, ParsesAndRefusesMalformed) {
  auto r = ParseContentRange("bytes 10-19/100");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->from, 10);
  EXPECT_EQ(r->to, 19);
  EXPECT_EQ(r->total, 100);
  EXPECT_FALSE(ParseContentRange("bytes 10-19/*"));
  EXPECT_FALSE(ParseContentRange("bytes 19-10/100"));
  EXPECT_FALSE(ParseContentRange("bytes 10-100/100"));
  EXPECT_FALSE(ParseContentRange("items 10-19/100"));
  EXPECT_FALSE(ParseContentRange("bytes */100"));
}

TEST_F(RangeSourceTest, ReadsAnyStretchFetchingOnlyItsBlocks) {
  const std::string body = Noise(1'000'000);
  RangeOrigin origin(body);
  auto source = Open(origin);
  ASSERT_TRUE(source) << source.error().message;
  EXPECT_EQ((*source)->size(), 1'000'000);
  // Across a block boundary, then the end (a short last block), then back to a cached block.
  auto middle = Read(**source, 3 * kBlock - 100, 300);
  ASSERT_TRUE(middle) << middle.error().message;
  EXPECT_EQ(*middle, body.substr(3 * kBlock - 100, 300));
  auto tail = Read(**source, 999'900, 500);
  ASSERT_TRUE(tail) << tail.error().message;
  EXPECT_EQ(*tail, body.substr(999'900));
  auto past = Read(**source, 1'000'000, 10);
  ASSERT_TRUE(past);
  EXPECT_TRUE(past->empty());
  const int requests = origin.requests();
  auto again = Read(**source, 999'000, 10);
  ASSERT_TRUE(again);
  EXPECT_EQ(origin.requests(), requests);  // the last block was cached
  // Blocks 0, 2, 3 and the last: 4 requests, 4 blocks of bytes, never the whole file.
  EXPECT_EQ((*source)->traffic().requests, 4);
  EXPECT_EQ((*source)->traffic().bytes, origin.bytes_sent());
  EXPECT_LE(origin.bytes_sent(), 4 * kBlock);
}

// A stop (the worker lost the chunk) ends reads that need the origin, with no request sent; blocks
// already fetched are still read.
TEST_F(RangeSourceTest, AStopEndsReadsWithinABlock) {
  const std::string body = Noise(1'000'000);
  RangeOrigin origin(body);
  std::stop_source stop;
  auto source = RangeSource::Open(
      *http_, origin.Url(), {.block_bytes = kBlock, .cached_blocks = 2, .stop = stop.get_token()});
  ASSERT_TRUE(source) << source.error().message;
  ASSERT_TRUE(Read(**source, 10, 100));
  stop.request_stop();
  const int requests = origin.requests();
  auto cached = Read(**source, 20, 100);
  ASSERT_TRUE(cached) << cached.error().message;
  EXPECT_EQ(*cached, body.substr(20, 100));
  auto stopped = Read(**source, 5 * kBlock, 100);
  ASSERT_FALSE(stopped);
  EXPECT_EQ(stopped.error().code, Code::kUnavailable);
  EXPECT_NE(stopped.error().message.find("stopped"), std::string::npos);
  EXPECT_EQ(origin.requests(), requests);
}

TEST_F(RangeSourceTest, RedirectsAreFollowedOnceNotForEveryBlock) {
  const std::string body = Noise(1'000'000);
  RangeOrigin origin(body);
  std::string hop = origin.Url();
  hop.replace(hop.rfind("/audio"), 6, "/hop");
  auto source = RangeSource::Open(*http_, hop, {.block_bytes = kBlock});
  ASSERT_TRUE(source) << source.error().message;
  EXPECT_EQ((*source)->name(), hop);
  EXPECT_EQ((*source)->location(), origin.Url());
  auto read = Read(**source, 900'000, 200'000);
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(*read, body.substr(900'000));
  EXPECT_EQ(origin.redirects(), 1);
}

// A token meant for the host named (a coordinator's own media) never follows a redirect to another
// host: the origin behind the hop sees no Authorization header.
TEST_F(RangeSourceTest, HeadersStayWithTheHostTheyWereMeantFor) {
  const std::string body = Noise(600'000);
  RangeOrigin origin(body);
  RangeOrigin tracker("");
  tracker.set_hop_to(origin.Url());
  std::string hop = tracker.Url();
  hop.replace(hop.rfind("/audio"), 6, "/hop");
  auto source = RangeSource::Open(
      *http_, hop, {.block_bytes = kBlock, .headers = {{"Authorization", "Bearer node-token"}}});
  ASSERT_TRUE(source) << source.error().message;
  auto read = Read(**source, 0, 600'000);
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(*read, body);
  EXPECT_EQ(tracker.authorized(), 1);
  EXPECT_GT(origin.requests(), 1);
  EXPECT_EQ(origin.authorized(), 0);
}

TEST_F(RangeSourceTest, FileSmallerThanABlock) {
  RangeOrigin origin(Noise(1000));
  auto source = Open(origin);
  ASSERT_TRUE(source) << source.error().message;
  EXPECT_EQ((*source)->size(), 1000);
}

TEST_F(RangeSourceTest, AnOriginIgnoringRangeIsRefused) {
  // A small file comes whole with 200; a large one would: it is cut off past the block asked.
  for (size_t size : {size_t{1000}, size_t{1'000'000}}) {
    RangeOrigin origin(Noise(size), Mode::kIgnore);
    auto source = Open(origin);
    ASSERT_FALSE(source);
    EXPECT_EQ(source.error().code, Code::kInvalidArgument) << source.error().message;
    EXPECT_NE(source.error().message.find("Range"), std::string::npos) << source.error().message;
  }
}

TEST_F(RangeSourceTest, RefusalsAreErrors) {
  for (Mode mode : {Mode::kRefuse416, Mode::kRefuse403}) {
    RangeOrigin origin(Noise(100'000), mode);
    auto source = Open(origin);
    ASSERT_FALSE(source);
    EXPECT_EQ(source.error().code, Code::kInvalidArgument);
    EXPECT_NE(source.error().message.find("refuses Range"), std::string::npos)
        << source.error().message;
  }
}

TEST_F(RangeSourceTest, LyingAnswersAreErrorsNeverWrongBytes) {
  // Content-Length announcing the whole range but half of it sent; a Content-Range for other
  // bytes; more bytes than asked for.
  for (Mode mode : {Mode::kShortBody, Mode::kWrongRange, Mode::kLongBody}) {
    RangeOrigin origin(Noise(1'000'000), mode);
    auto source = Open(origin);
    ASSERT_FALSE(source) << static_cast<int>(mode);
    EXPECT_NE(source.error().code, Code::kNotFound) << source.error().message;
  }
}

TEST_F(RangeSourceTest, AnOriginThatChangesItsMindMidwayFailsTheRead) {
  const std::string body = Noise(1'000'000);
  RangeOrigin origin(body);
  auto source = Open(origin);
  ASSERT_TRUE(source) << source.error().message;
  for (Mode mode : {Mode::kIgnore, Mode::kShortBody, Mode::kWrongRange, Mode::kRefuse403}) {
    origin.set_mode(mode);
    auto read = Read(**source, 500'000, 100);
    ASSERT_FALSE(read) << static_cast<int>(mode);
  }
  origin.set_mode(Mode::kHonour);
  auto read = Read(**source, 500'000, 100);
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(*read, body.substr(500'000, 100));
}

TEST_F(RangeSourceTest, ConnectionRefusedIsTransient) {
  auto source = RangeSource::Open(*http_, "http://127.0.0.1:1/nothing", {});
  ASSERT_FALSE(source);
  EXPECT_EQ(source.error().code, Code::kUnavailable);
}

}  // namespace
}  // namespace podfleet
