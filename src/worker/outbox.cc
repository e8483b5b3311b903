#include "worker/outbox.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "api/wire.h"

namespace podfleet {
namespace {

using nlohmann::json;

constexpr int kVersion = 1;

std::unexpected<Error> IoError(const std::string& what, const std::filesystem::path& path) {
  return Unavailable(fmt::format("{} {}: {}", what, path.string(), std::strerror(errno)));
}

Result<void> WriteAndSync(const std::filesystem::path& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("cannot create", path);
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      auto error = IoError("cannot write", path);
      ::close(fd);
      return error;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    auto error = IoError("cannot sync", path);
    ::close(fd);
    return error;
  }
  if (::close(fd) != 0) return IoError("cannot close", path);
  return {};
}

Result<void> SyncDirectory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open", dir);
  const int r = ::fsync(fd);
  ::close(fd);
  if (r != 0) return IoError("cannot sync", dir);
  return {};
}

// The (job, attempt) a file name holds, for ordering; {0, 0} for names that do not parse.
std::pair<int64_t, int64_t> NameKey(const std::filesystem::path& path) {
  long long job = 0, attempt = 0;
  if (std::sscanf(path.filename().c_str(), "job-%lld-%lld.json", &job, &attempt) != 2) return {};
  return {job, attempt};
}

}  // namespace

Result<void> ProbeWritable(const std::filesystem::path& dir, size_t bytes) {
  const auto path = dir / ".probe";
  Result<void> r = WriteAndSync(path, std::string(bytes, '\0'));
  ::unlink(path.c_str());
  return r;
}

Outbox::Outbox(std::filesystem::path dir) : dir_(std::move(dir)) {}

Result<void> Outbox::Create() const {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Unavailable("cannot create " + dir_.string() + ": " + ec.message());
  for (auto it = std::filesystem::directory_iterator(dir_, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::error_code ignored;
    if (it->path().extension() == ".tmp") std::filesystem::remove(it->path(), ignored);
  }
  return {};
}

Result<std::filesystem::path> Outbox::Put(const Lease& lease, const Transcript& transcript) const {
  const auto path = dir_ / fmt::format("job-{}-{}.json", lease.job.value(), lease.attempt.value());
  const auto temp = std::filesystem::path(path.string() + ".tmp");
  const json body = {
      {"version", kVersion}, {"lease", ToJson(lease)}, {"transcript", ToJson(transcript)}};
  if (auto r = WriteAndSync(temp, body.dump()); !r) {
    ::unlink(temp.c_str());
    return std::unexpected(r.error());
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    auto error = IoError("cannot rename into", path);
    ::unlink(temp.c_str());
    return error;
  }
  if (auto r = SyncDirectory(dir_); !r) return std::unexpected(r.error());
  return path;
}

Result<std::vector<std::filesystem::path>> Outbox::Pending() const {
  std::vector<std::filesystem::path> files;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir_, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (it->is_regular_file() && name.starts_with("job-") && name.ends_with(".json"))
      files.push_back(it->path());
  }
  if (ec) return Unavailable("cannot read " + dir_.string() + ": " + ec.message());
  std::sort(files.begin(), files.end(),
            [](const auto& a, const auto& b) { return NameKey(a) < NameKey(b); });
  return files;
}

Result<OutboxEntry> Outbox::Load(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError("cannot read", path);
  const json body = json::parse(in, nullptr, /*allow_exceptions=*/false);
  const auto bad = [&](const std::string& why) {
    return MakeError(Code::kCorruption, path.string() + ": not an outbox file: " + why);
  };
  if (!body.is_object()) return bad("not JSON");
  const auto version = body.find("version");
  if (version == body.end() || *version != kVersion) return bad("unknown version");
  if (!body.contains("lease") || !body.contains("transcript")) return bad("missing fields");
  auto lease = LeaseFromJson(body["lease"]);
  if (!lease) return bad(lease.error().message);
  auto transcript = TranscriptFromJson(body["transcript"]);
  if (!transcript) return bad(transcript.error().message);
  return OutboxEntry{path, *lease, std::move(*transcript)};
}

Result<void> Outbox::Remove(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::remove(path, ec);
  if (ec) return Unavailable("cannot remove " + path.string() + ": " + ec.message());
  return {};
}

}  // namespace podfleet
