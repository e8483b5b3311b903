#include "net/token.h"

#include <gtest/gtest.h>

#include <set>

namespace podfleet {
namespace {

TEST(Token, NewTokenHasPrefixAndBase64UrlBody) {
  const std::string token = NewToken("pfw_");
  ASSERT_EQ(token.size(), 4u + 43u);
  EXPECT_TRUE(token.starts_with("pfw_"));
  EXPECT_EQ(token.find_first_not_of(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", 4),
            std::string::npos);
}

TEST(Token, NewTokensAreDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(NewToken(""));
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(Token, HashTokenIsHexSha256) {
  EXPECT_EQ(HashToken("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HashToken(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_NE(HashToken("pfw_a"), HashToken("pfw_b"));
}

TEST(Token, ConstantTimeEqualsComparesWholeStrings) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

}  // namespace
}  // namespace podfleet
