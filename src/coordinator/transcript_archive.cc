#include "coordinator/transcript_archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fmt/format.h>

#include <memory>

namespace podfleet {
namespace {

la_ssize_t Append(archive*, void* out, const void* buffer, size_t length) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

Error Failed(archive* a, std::string_view what) {
  const char* why = archive_error_string(a);
  return {Code::kInternal, fmt::format("writing the archive: {}: {}", what, why ? why : "failed")};
}

}  // namespace

Result<std::string> WriteArchive(ArchiveFormat format, const std::vector<ArchiveFile>& files,
                                 TimePoint mtime) {
  std::unique_ptr<archive, decltype(&archive_write_free)> a(archive_write_new(),
                                                            &archive_write_free);
  if (!a) return std::unexpected(Error{Code::kInternal, "libarchive: out of memory"});
  const bool zip = format == ArchiveFormat::kZip;
  int r = zip ? archive_write_set_format_zip(a.get())
              : archive_write_set_format_pax_restricted(a.get());
  if (r == ARCHIVE_OK && !zip) r = archive_write_add_filter_gzip(a.get());
  if (r == ARCHIVE_OK && zip) r = archive_write_set_options(a.get(), "zip:compression=deflate");
  // Write out every block as it is made, and pad nothing: the archive is what the reader gets.
  if (r == ARCHIVE_OK) r = archive_write_set_bytes_in_last_block(a.get(), 1);
  std::string out;
  if (r == ARCHIVE_OK) r = archive_write_open(a.get(), &out, nullptr, Append, nullptr);
  if (r != ARCHIVE_OK) return std::unexpected(Failed(a.get(), "setup"));
  const time_t seconds = static_cast<time_t>(ToUnixMillis(mtime) / 1000);
  for (const ArchiveFile& f : files) {
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> entry(archive_entry_new(),
                                                                        &archive_entry_free);
    archive_entry_set_pathname(entry.get(), f.path.c_str());
    archive_entry_set_size(entry.get(), static_cast<la_int64_t>(f.data.size()));
    archive_entry_set_filetype(entry.get(), AE_IFREG);
    archive_entry_set_perm(entry.get(), 0644);
    archive_entry_set_mtime(entry.get(), seconds, 0);
    if (archive_write_header(a.get(), entry.get()) != ARCHIVE_OK)
      return std::unexpected(Failed(a.get(), f.path));
    if (!f.data.empty() && archive_write_data(a.get(), f.data.data(), f.data.size()) !=
                               static_cast<la_ssize_t>(f.data.size()))
      return std::unexpected(Failed(a.get(), f.path));
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) return std::unexpected(Failed(a.get(), "close"));
  return out;
}

}  // namespace podfleet
