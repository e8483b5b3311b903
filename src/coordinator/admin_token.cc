#include "coordinator/admin_token.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "net/token.h"

namespace podfleet {
namespace {

constexpr std::string_view kPrefix = "pfa_";

bool IsAdminToken(std::string_view token) {
  return token.size() > kPrefix.size() && token.substr(0, kPrefix.size()) == kPrefix &&
         token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                                 kPrefix.size()) == std::string_view::npos;
}

std::unexpected<Error> SystemError(std::string_view what, const std::filesystem::path& path) {
  return Unavailable(fmt::format("{} {}: {}", what, path.string(), std::strerror(errno)));
}

Result<void> WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Unavailable(std::strerror(errno));
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  if (::fsync(fd) != 0) return Unavailable(std::strerror(errno));
  return {};
}

// Writes `token` to a private temporary file and links it into place, so that `path` is either
// absent or complete, and an existing file is never replaced. Returns false if `path` existed.
Result<bool> CreateExclusive(const std::filesystem::path& path, const std::string& token) {
  const std::filesystem::path tmp = fmt::format("{}.{}.tmp", path.string(), ::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return SystemError("cannot create", tmp);
  auto written = WriteAll(fd, token + "\n");
  ::close(fd);
  if (!written) {
    ::unlink(tmp.c_str());
    return Unavailable(fmt::format("cannot write {}: {}", tmp.string(), written.error().message));
  }
  const int linked = ::link(tmp.c_str(), path.c_str());
  const int link_errno = errno;
  ::unlink(tmp.c_str());
  if (linked == 0) return true;
  if (link_errno == EEXIST) return false;
  errno = link_errno;
  return SystemError("cannot create", path);
}

}  // namespace

Result<std::string> ReadAdminToken(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return NotFound("no admin token at " + path.string());
  std::ifstream in(path);
  if (!in) return SystemError("cannot read", path);
  std::stringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (!IsAdminToken(token))
    return Corruption(path.string() + " holds no admin token (delete it to make a new one)");
  return token;
}

Result<AdminToken> LoadOrCreateAdminToken(const std::filesystem::path& path) {
  auto existing = ReadAdminToken(path);
  if (existing) return AdminToken{HashToken(*existing), std::nullopt};
  if (existing.error().code != Code::kNotFound) return std::unexpected(existing.error());
  std::string token = NewToken(kPrefix);
  auto created = CreateExclusive(path, token);
  if (!created) return std::unexpected(created.error());
  if (*created) return AdminToken{HashToken(token), std::move(token)};
  auto theirs = ReadAdminToken(path);  // another process made it first
  if (!theirs) return std::unexpected(theirs.error());
  return AdminToken{HashToken(*theirs), std::nullopt};
}

}  // namespace podfleet
