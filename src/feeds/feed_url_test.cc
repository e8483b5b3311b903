#include "feeds/feed_url.h"

#include <gtest/gtest.h>

namespace podfleet {
namespace {

TEST(FeedUrl, SpellingsOfOneUrlNormalizeAlike) {
  const std::pair<const char*, const char*> table[] = {
      {"http://localhost:8080/x.xml", "http://localhost:8080/x.xml"},
      {"http://localhost:8080/x.xml?", "http://localhost:8080/x.xml"},
      {"http://localhost:8080/x.xml?&", "http://localhost:8080/x.xml"},
      {"http://localhost:8080//x.xml", "http://localhost:8080/x.xml"},
      {"http://localhost:8080/a//b///x.xml", "http://localhost:8080/a/b/x.xml"},
      {"HTTP://LocalHost:8080/x.xml", "http://localhost:8080/x.xml"},
      {"http://localhost:8080/x.xml#top", "http://localhost:8080/x.xml"},
      {"http://example.com:80/x.xml", "http://example.com/x.xml"},
      {"https://example.com:443/x.xml", "https://example.com/x.xml"},
      {"https://example.com:/x.xml", "https://example.com/x.xml"},
      {"https://example.com:0443/x.xml", "https://example.com/x.xml"},
      {"http://example.com:443/x.xml", "http://example.com:443/x.xml"},
      {"https://Example.COM", "https://example.com/"},
      {"https://example.com?a=1", "https://example.com/?a=1"},
      {"https://user:Pw@Example.com/Feed.XML?Key=V", "https://user:Pw@example.com/Feed.XML?Key=V"},
      {"http://[::1]:80/x.xml", "http://[::1]/x.xml"},
      {"http://[::1]:8080/x.xml", "http://[::1]:8080/x.xml"},
      {"file:///srv/feeds//x.xml", "file:///srv/feeds//x.xml"},
      {"not a url", "not a url"},
  };
  for (const auto& [in, want] : table) EXPECT_EQ(NormalizeFeedUrl(in), want) << in;
}

}  // namespace
}  // namespace podfleet
