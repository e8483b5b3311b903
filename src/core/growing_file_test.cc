#include "core/growing_file.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <thread>

#include "support/temp_dir.h"

namespace podfleet {
namespace {

void Append(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << bytes;
}

// Reads the whole file through ReadAt, as a decoder would, in small pieces.
Result<std::string> ReadToEnd(GrowingFile& file) {
  std::string all;
  unsigned char piece[7];
  while (true) {
    Result<size_t> n = file.ReadAt(static_cast<int64_t>(all.size()), piece);
    if (!n) return std::unexpected(n.error());
    if (*n == 0) return all;
    all.append(reinterpret_cast<const char*>(piece), *n);
  }
}

TEST(GrowingFile, ReadsWhatComesUntilTheWriterFinishes) {
  TempDir dir;
  const auto part = dir.path() / "a.part";
  const auto whole = dir.path() / "a";
  GrowingFile file(part);
  Result<std::string> read;
  std::thread reader([&] { read = ReadToEnd(file); });
  // The reader waits for the file to appear, then for each piece; the end is the writer's.
  for (int i = 0; i < 50; ++i) {
    Append(part, "piece " + std::to_string(i) + "\n");
    file.Grew();
  }
  std::filesystem::rename(part, whole);
  file.Finished(whole);
  reader.join();
  ASSERT_TRUE(read) << read.error().ToString();
  std::string want;
  for (int i = 0; i < 50; ++i) want += "piece " + std::to_string(i) + "\n";
  EXPECT_EQ(*read, want);
  EXPECT_EQ(file.Size(), static_cast<int64_t>(want.size()));
  EXPECT_FALSE(file.failure());
}

TEST(GrowingFile, WriterFailureFailsAWaitingRead) {
  TempDir dir;
  const auto part = dir.path() / "b.part";
  GrowingFile file(part);
  Append(part, "half");
  file.Grew();
  Result<std::string> read;
  std::thread reader([&] { read = ReadToEnd(file); });
  file.Failed(Error{Code::kNotFound, "http://origin/b.mp3: HTTP 404"});
  reader.join();
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, Code::kNotFound);
  EXPECT_EQ(read.error().message, "http://origin/b.mp3: HTTP 404");
  ASSERT_TRUE(file.failure());
  EXPECT_FALSE(file.WaitFinished());
  EXPECT_EQ(file.Size(), std::nullopt);
}

TEST(GrowingFile, CancelEndsAWaitAndTellsTheWriter) {
  TempDir dir;
  GrowingFile file(dir.path() / "c.part");  // never written
  Result<std::string> read;
  std::thread reader([&] { read = ReadToEnd(file); });
  file.Cancel();
  reader.join();
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().message, "cancelled");
  EXPECT_TRUE(file.cancelled());
  file.Failed(Error{Code::kUnavailable, "cancelled"});
  EXPECT_FALSE(file.failure()) << "the writer failed because the reader gave up";
}

TEST(GrowingFile, WholeFileIsReadWithoutWaiting) {
  TempDir dir;
  const auto path = dir.path() / "upload";
  Append(path, "all of it");
  GrowingFile file(path);
  file.Finished(path);
  auto read = ReadToEnd(file);
  ASSERT_TRUE(read);
  EXPECT_EQ(*read, "all of it");
  auto finished = file.WaitFinished();
  ASSERT_TRUE(finished);
  EXPECT_EQ(*finished, path);
}

}  // namespace
}  // namespace podfleet
