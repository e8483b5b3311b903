#include "coordinator/transcript_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <map>

namespace podfleet {
namespace {

// Reads `bytes` back with libarchive's reader (any format it knows): path -> contents.
std::map<std::string, std::string> ReadBack(const std::string& bytes) {
  archive* a = archive_read_new();
  archive_read_support_format_all(a);
  archive_read_support_filter_all(a);
  std::map<std::string, std::string> out;
  EXPECT_EQ(archive_read_open_memory(a, bytes.data(), bytes.size()), ARCHIVE_OK);
  archive_entry* entry = nullptr;
  while (archive_read_next_header(a, &entry) == ARCHIVE_OK) {
    std::string data(static_cast<size_t>(archive_entry_size(entry)), '\0');
    if (!data.empty()) {
      EXPECT_EQ(archive_read_data(a, data.data(), data.size()),
                static_cast<la_ssize_t>(data.size()));
    }
    out[archive_entry_pathname(entry)] = data;
  }
  archive_read_free(a);
  return out;
}

TEST(WriteArchive, ZipAndTarGzHoldEveryFileAsGiven) {
  const std::vector<ArchiveFile> files = {
      {"show/1-welcome.vtt", "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nhello\n"},
      {"show/1-welcome.txt", std::string(100'000, 'a')},
      {"show/2-empty.txt", ""},
      {"show/3-cafe.json", "{\"segments\":[]}"}};
  for (ArchiveFormat format : {ArchiveFormat::kZip, ArchiveFormat::kTarGz}) {
    auto bytes = WriteArchive(format, files, FromUnixMillis(1'700'000'000'000));
    ASSERT_TRUE(bytes) << bytes.error().ToString();
    EXPECT_EQ(bytes->substr(0, 2), format == ArchiveFormat::kZip ? "PK" : "\x1f\x8b");
    EXPECT_LT(bytes->size(), 10'000u);  // compressed: 100,000 'a's take little
    const auto back = ReadBack(*bytes);
    ASSERT_EQ(back.size(), files.size());
    for (const ArchiveFile& f : files) EXPECT_EQ(back.at(f.path), f.data) << f.path;
  }
}

}  // namespace
}  // namespace podfleet
