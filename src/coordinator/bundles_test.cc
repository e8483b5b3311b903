#include "coordinator/bundles.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "net/file_digest.h"
#include "support/temp_dir.h"

namespace podfleet {
namespace {

namespace fs = std::filesystem;

std::string WriteFile(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
  return bytes;
}

std::string Header(const HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}

TEST(ByteRange, ParsesTheThreeFormsAndClampsTheEnd) {
  auto r = ParseByteRange("bytes=0-99", 1000);
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->first, 0);
  EXPECT_EQ((*r)->last, 99);
  r = ParseByteRange("bytes=900-", 1000);
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->first, 900);
  EXPECT_EQ((*r)->last, 999);
  r = ParseByteRange("bytes=-10", 1000);
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->first, 990);
  EXPECT_EQ((*r)->last, 999);
  r = ParseByteRange("bytes=500-5000", 1000);
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->last, 999);
}

TEST(ByteRange, IgnoresWhatItDoesNotServeAndRefusesWhatCannotBeSatisfied) {
  for (std::string_view h :
       {"", "items=0-1", "bytes=0-1,5-6", "bytes=5-1", "bytes=x-1", "bytes=-"}) {
    auto r = ParseByteRange(h, 1000);
    ASSERT_TRUE(r) << h;
    EXPECT_FALSE(*r) << h;
  }
  EXPECT_FALSE(ParseByteRange("bytes=1000-", 1000));
  EXPECT_FALSE(ParseByteRange("bytes=-0", 1000));
}

TEST(BundleShelf, FindsBundlesHashesThemAndChecksTheirChecksumFiles) {
  TempDir dir;
  const std::string cpu = WriteFile(dir.path() / "podfleet-worker-cpu.tar.gz", "cpu bytes");
  WriteFile(dir.path() / "podfleet-worker-cuda.tar.gz", "cuda bytes");
  WriteFile(dir.path() / "notes.txt", "not a bundle");
  auto sha = FileDigest(dir.path() / "podfleet-worker-cpu.tar.gz", "sha256");
  ASSERT_TRUE(sha);
  // printf 'cpu bytes' | sha256sum
  EXPECT_EQ(*sha, "c5b9d92ecfdccf6063059ebe4b4eeb23f202c35ffd00628ae9f2eca4f35381ed");
  WriteFile(dir.path() / "podfleet-worker-cpu.tar.gz.sha256",
            *sha + "  podfleet-worker-cpu.tar.gz\n");
  auto shelf = BundleShelf::Open(dir.path());
  ASSERT_TRUE(shelf) << shelf.error().ToString();
  ASSERT_EQ(shelf->bundles().size(), 2u);
  EXPECT_EQ(shelf->bundles()[0].variant, "cpu");
  EXPECT_EQ(shelf->bundles()[0].size, static_cast<int64_t>(cpu.size()));
  EXPECT_EQ(shelf->bundles()[0].sha256, *sha);
  EXPECT_EQ(shelf->Find("cuda")->file_name, "podfleet-worker-cuda.tar.gz");
  EXPECT_EQ(shelf->Find("rocm"), nullptr);

  WriteFile(dir.path() / "podfleet-worker-cuda.tar.gz.sha256", std::string(64, '0') + "  x\n");
  auto bad = BundleShelf::Open(dir.path());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Code::kCorruption);
}

TEST(BundleShelf, AnEmptyOrMissingDirectoryIsAnError) {
  TempDir dir;
  auto none = BundleShelf::Open(dir.path());
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, Code::kNotFound);
  auto missing = BundleShelf::Open(dir.path() / "nowhere");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Code::kUnavailable);
}

class ServeBundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bytes_ = WriteFile(dir_.path() / "podfleet-worker-cpu.tar.gz", "0123456789abcdef");
    auto shelf = BundleShelf::Open(dir_.path());
    ASSERT_TRUE(shelf);
    bundle_ = shelf->bundles()[0];
  }
  HttpResponse Get(std::map<std::string, std::string> headers) {
    HttpRequest request;
    request.method = "GET";
    request.headers = std::move(headers);
    return ServeBundle(bundle_, request);
  }
  TempDir dir_;
  std::string bytes_;
  Bundle bundle_;
};

TEST_F(ServeBundleTest, WholeFileWithItsChecksum) {
  HttpResponse r = Get({});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, bytes_);
  EXPECT_EQ(Header(r, "X-Checksum-Sha256"), bundle_.sha256);
  EXPECT_EQ(Header(r, "ETag"), "\"" + bundle_.sha256 + "\"");
  EXPECT_EQ(Header(r, "Accept-Ranges"), "bytes");
}

TEST_F(ServeBundleTest, RangeIfRangeAndIfNoneMatch) {
  HttpResponse r = Get({{"range", "bytes=4-7"}});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "4567");
  EXPECT_EQ(Header(r, "Content-Range"), "bytes 4-7/16");

  r = Get({{"range", "bytes=4-7"}, {"if-range", "\"" + bundle_.sha256 + "\""}});
  EXPECT_EQ(r.status, 206);
  r = Get({{"range", "bytes=4-7"}, {"if-range", "\"other\""}});  // changed since: all of it
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, bytes_);

  r = Get({{"range", "bytes=16-"}});
  EXPECT_EQ(r.status, 416);
  EXPECT_EQ(Header(r, "Content-Range"), "bytes */16");

  r = Get({{"if-none-match", "\"x\", \"" + bundle_.sha256 + "\""}});
  EXPECT_EQ(r.status, 304);
  EXPECT_TRUE(r.body.empty());
  r = Get({{"if-none-match", "\"x\""}});
  EXPECT_EQ(r.status, 200);
}

TEST_F(ServeBundleTest, JoinCommandDownloadsChecksUnpacksAndStartsTheWorker) {
  const std::string line = JoinCommand("http://10.0.0.5:8750", bundle_, "pfe_abc-_9");
  EXPECT_NE(line.find("http://10.0.0.5:8750/api/worker/bundle/cpu"), std::string::npos) << line;
  EXPECT_NE(line.find("Authorization: Bearer pfe_abc-_9"), std::string::npos);
  EXPECT_NE(line.find(bundle_.sha256 + "  $f\" | sha256sum -c"), std::string::npos);
  EXPECT_NE(line.find("tar -xzf $f"), std::string::npos);
  EXPECT_NE(line.find("podfleet-worker-cpu/podfleet work --server http://10.0.0.5:8750 --token "
                      "pfe_abc-_9 \"$@\"' podfleet-join"),
            std::string::npos)
      << line;
}

}  // namespace
}  // namespace podfleet
