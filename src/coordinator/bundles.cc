#include "coordinator/bundles.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <memory>
#include <regex>

#include "net/file_digest.h"

namespace podfleet {
namespace {

constexpr std::string_view kPrefix = "podfleet-worker-";
constexpr std::string_view kSuffix = ".tar.gz";

// "cpu" for "podfleet-worker-cpu.tar.gz", else nullopt.
std::optional<std::string> VariantOf(std::string_view file_name) {
  static const std::regex kName("podfleet-worker-([a-z0-9][a-z0-9-]*)\\.tar\\.gz");
  std::match_results<std::string_view::const_iterator> m;
  if (!std::regex_match(file_name.begin(), file_name.end(), m, kName)) return std::nullopt;
  return m[1].str();
}

// The checksum in a sha256sum line ("HEX  NAME"), lower-cased; empty when there is none.
std::string ChecksumFileHash(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string hash;
  in >> hash;
  std::transform(hash.begin(), hash.end(), hash.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  return hash;
}

std::optional<int64_t> ParseCount(std::string_view s) {
  int64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

// Whether an If-None-Match or If-Range value names `etag` ("*" names every one).
bool NamesEtag(std::string_view value, std::string_view etag) {
  value = TrimOws(value);
  if (value == "*") return true;
  size_t start = 0;
  while (start <= value.size()) {
    size_t comma = value.find(',', start);
    if (comma == std::string_view::npos) comma = value.size();
    std::string_view one = TrimOws(value.substr(start, comma - start));
    if (one.starts_with("W/")) one.remove_prefix(2);
    if (one == etag) return true;
    start = comma + 1;
  }
  return false;
}

Result<std::string> ReadRange(const std::filesystem::path& path, int64_t first, int64_t count) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes(static_cast<size_t>(count), '\0');
  if (!in.seekg(first) || !in.read(bytes.data(), count))
    return Unavailable(fmt::format("cannot read {}", path.string()));
  return bytes;
}

}  // namespace

Result<BundleShelf> BundleShelf::Open(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec)
    return Unavailable(fmt::format("cannot read bundles in {}: {}", dir.string(), ec.message()));
  BundleShelf shelf;
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    auto variant = VariantOf(name);
    if (!variant || !entry.is_regular_file(ec)) continue;
    Bundle b{*variant, entry.path(), name, static_cast<int64_t>(entry.file_size(ec)), ""};
    if (ec) return Unavailable(fmt::format("cannot read {}: {}", name, ec.message()));
    auto hash = FileDigest(b.path, "sha256");
    if (!hash) return std::unexpected(hash.error());
    b.sha256 = *hash;
    const std::filesystem::path sum = b.path.string() + ".sha256";
    if (std::filesystem::exists(sum, ec) && ChecksumFileHash(sum) != b.sha256)
      return Corruption(fmt::format("{} does not match {} (sha256 {}): rebuild the bundle",
                                    sum.filename().string(), name, b.sha256));
    shelf.bundles_.push_back(std::move(b));
  }
  if (shelf.bundles_.empty())
    return NotFound(fmt::format("no bundle ({}VARIANT{}) in {}: make one with scripts/bundle",
                                kPrefix, kSuffix, dir.string()));
  std::sort(shelf.bundles_.begin(), shelf.bundles_.end(),
            [](const Bundle& a, const Bundle& b) { return a.variant < b.variant; });
  return shelf;
}

const Bundle* BundleShelf::Find(std::string_view variant) const {
  for (const Bundle& b : bundles_)
    if (b.variant == variant) return &b;
  return nullptr;
}

Result<std::optional<ByteRange>> ParseByteRange(std::string_view header, int64_t size) {
  header = TrimOws(header);
  constexpr std::string_view kUnit = "bytes=";
  if (!header.starts_with(kUnit)) return std::nullopt;
  std::string_view spec = TrimOws(header.substr(kUnit.size()));
  const size_t dash = spec.find('-');
  if (dash == std::string_view::npos || spec.find(',') != std::string_view::npos)
    return std::nullopt;
  auto first = ParseCount(TrimOws(spec.substr(0, dash)));
  auto last = ParseCount(TrimOws(spec.substr(dash + 1)));
  ByteRange r;
  if (!first) {  // "-N": the last N bytes
    if (!last || dash != 0) return std::nullopt;
    if (*last == 0 || size == 0) return InvalidArgument("empty suffix range");
    r = {std::max<int64_t>(0, size - *last), size - 1};
    return r;
  }
  if (last && *last < *first) return std::nullopt;
  if (!last && dash + 1 != spec.size()) return std::nullopt;
  if (*first >= size) return InvalidArgument("range starts beyond the end");
  r = {*first, last ? std::min(*last, size - 1) : size - 1};
  return r;
}

HttpResponse ServeBundle(const Bundle& bundle, const HttpRequest& request) {
  const std::string etag = fmt::format("\"{}\"", bundle.sha256);
  auto with_headers = [&](HttpResponse r) {
    r.headers.emplace_back("ETag", etag);
    r.headers.emplace_back("Accept-Ranges", "bytes");
    r.headers.emplace_back("X-Checksum-Sha256", bundle.sha256);
    return r;
  };
  if (std::string_view inm = request.Header("if-none-match"); !inm.empty() && NamesEtag(inm, etag))
    return with_headers(HttpResponse::Text(304, "", "application/gzip"));
  std::optional<ByteRange> range;
  std::string_view if_range = request.Header("if-range");
  if (if_range.empty() || NamesEtag(if_range, etag)) {
    auto parsed = ParseByteRange(request.Header("range"), bundle.size);
    if (!parsed) {
      HttpResponse r = with_headers(
          HttpResponse::ErrorJson(416, Code::kInvalidArgument, parsed.error().message));
      r.headers.emplace_back("Content-Range", fmt::format("bytes */{}", bundle.size));
      return r;
    }
    range = *parsed;
  }
  const int64_t first = range ? range->first : 0;
  const int64_t count = range ? range->last - range->first + 1 : bundle.size;
  auto bytes = ReadRange(bundle.path, first, count);
  if (!bytes) return HttpResponse::ErrorJson(500, Code::kInternal, bytes.error().message);
  HttpResponse r =
      with_headers(HttpResponse::Text(range ? 206 : 200, std::move(*bytes), "application/gzip"));
  r.headers.emplace_back("Content-Disposition",
                         fmt::format("attachment; filename=\"{}\"", bundle.file_name));
  if (range)
    r.headers.emplace_back("Content-Range",
                           fmt::format("bytes {}-{}/{}", range->first, range->last, bundle.size));
  return r;
}

std::string JoinCommand(std::string_view base_url, const Bundle& bundle, std::string_view token) {
  const std::string url = fmt::format("{}/api/worker/bundle/{}", base_url, bundle.variant);
  const std::string dir = fmt::format("{}{}", kPrefix, bundle.variant);
  return fmt::format(
      "sh -c 'set -e; f={file}; h=\"Authorization: Bearer {token}\"; "
      "if command -v curl >/dev/null; then curl -fsSL -H \"$h\" -o $f {url}; "
      "else wget -q --header \"$h\" -O $f {url}; fi; "
      "echo \"{sha}  $f\" | sha256sum -c --quiet -; tar -xzf $f; "
      "exec ./{dir}/podfleet work --server {base} --token {token} \"$@\"' podfleet-join",
      fmt::arg("file", bundle.file_name), fmt::arg("token", token), fmt::arg("url", url),
      fmt::arg("sha", bundle.sha256), fmt::arg("dir", dir), fmt::arg("base", base_url));
}

}  // namespace podfleet
