#include "cli/flags.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "support/temp_dir.h"

namespace podfleet {
namespace {

TEST(Flags, DurationsTakeUnitsAndBareSeconds) {
  EXPECT_EQ(*ParseDuration("250ms"), Millis(250));
  EXPECT_EQ(*ParseDuration("30s"), Millis(30'000));
  EXPECT_EQ(*ParseDuration("15m"), Millis(900'000));
  EXPECT_EQ(*ParseDuration("2h"), Millis(7'200'000));
  EXPECT_EQ(*ParseDuration("1.5"), Millis(1'500));
  EXPECT_FALSE(ParseDuration("soon"));
  EXPECT_FALSE(ParseDuration("-3s"));
}

TEST(Flags, CommandLineBeatsEnvironmentBeatsConfigFile) {
  TempDir dir;
  std::ofstream(dir.File("podfleet.toml"))
      << "[work]\nprefetch = 4\nname = \"from-file\"\nclaim_wait = \"2s\"\n";
  int prefetch = 2;
  std::string name;
  Millis wait{5'000};
  std::vector<Flag> flags = {IntFlag("prefetch", &prefetch, ""), StringFlag("name", &name, ""),
                             DurationFlag("claim-wait", &wait, "")};
  setenv("PODFLEET_NAME", "from-env", 1);
  auto parsed =
      ParseFlags(flags, "work", {"--config", dir.File("podfleet.toml"), "--prefetch=3", "extra"});
  unsetenv("PODFLEET_NAME");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(prefetch, 3);
  EXPECT_EQ(name, "from-env");
  EXPECT_EQ(wait, Millis(2'000));
  EXPECT_EQ(parsed->positional, std::vector<std::string>{"extra"});
}

TEST(Flags, UnknownFlagsAndBadValuesAreNamed) {
  int n = 0;
  std::vector<Flag> flags = {IntFlag("workers", &n, "")};
  auto unknown = ParseFlags(flags, "up", {"--wrokers", "2"});
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("--wrokers"), std::string::npos);
  auto bad = ParseFlags(flags, "up", {"--workers", "two"});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("--workers"), std::string::npos);
  auto missing = ParseFlags(flags, "up", {"--workers"});
  EXPECT_FALSE(missing);
}

TEST(Flags, MalformedConfigFileIsAClearError) {
  TempDir dir;
  std::ofstream(dir.File("bad.toml")) << "[work\nprefetch = \n";
  int prefetch = 2;
  std::vector<Flag> flags = {IntFlag("prefetch", &prefetch, "")};
  auto parsed = ParseFlags(flags, "work", {"--config", dir.File("bad.toml")});
  ASSERT_FALSE(parsed);
  EXPECT_NE(parsed.error().message.find("bad.toml"), std::string::npos);
}

TEST(Flags, ListsSplitOnCommasAndRefuseEmptiness) {
  std::vector<std::string> clouds = {"ALL"};
  std::vector<Flag> flags = {ListFlag("cloud", &clouds, "clouds")};
  EXPECT_NE(FlagHelp(flags, "serve", "").find("[default: ALL]"), std::string::npos);
  ASSERT_TRUE(ParseFlags(flags, "serve", {"--cloud", " SECURE, COMMUNITY,,"}));
  EXPECT_EQ(clouds, (std::vector<std::string>{"SECURE", "COMMUNITY"}));
  EXPECT_FALSE(ParseFlags(flags, "serve", {"--cloud", " , "}));
  EXPECT_EQ(clouds, (std::vector<std::string>{"SECURE", "COMMUNITY"}));
}

TEST(Flags, HelpListsEveryFlagWithItsDefault) {
  int prefetch = 2;
  std::vector<Flag> flags = {IntFlag("prefetch", &prefetch, "jobs ahead")};
  const std::string help = FlagHelp(flags, "work", "Runs a worker.");
  EXPECT_NE(help.find("--prefetch N"), std::string::npos);
  EXPECT_NE(help.find("[default: 2]"), std::string::npos);
}

}  // namespace
}  // namespace podfleet

namespace podfleet {
namespace {

TEST(Flags, BitRatesParse) {
  EXPECT_DOUBLE_EQ(*ParseBitRate("50Mbit"), 50e6);
  EXPECT_DOUBLE_EQ(*ParseBitRate("50Mbit/s"), 50e6);
  EXPECT_DOUBLE_EQ(*ParseBitRate("100mbps"), 100e6);
  EXPECT_DOUBLE_EQ(*ParseBitRate("1Gbit"), 1e9);
  EXPECT_DOUBLE_EQ(*ParseBitRate("500kbit"), 500e3);
  EXPECT_DOUBLE_EQ(*ParseBitRate("2.5M"), 2.5e6);
  EXPECT_DOUBLE_EQ(*ParseBitRate("1000"), 1000);
  for (const char* bad : {"", "Mbit", "fast", "-5Mbit", "5Tbit", "5 Mbit"})
    EXPECT_FALSE(ParseBitRate(bad)) << bad;
}

}  // namespace
}  // namespace podfleet
