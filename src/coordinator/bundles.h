// Worker bundles (scripts/bundle) handed out by the coordinator: `podfleet serve --bundles DIR`
// serves DIR/podfleet-worker-VARIANT.tar.gz at GET /api/worker/bundle/VARIANT, and gives the
// operator the one line a machine runs to join the fleet (JoinCommand).
//
// Thread safety: a BundleShelf is immutable after Open; ServeBundle and JoinCommand are pure
// functions of their arguments (ServeBundle reads the file).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "net/http.h"

namespace podfleet {

struct Bundle {
  std::string variant;  // "cpu", "cuda"
  std::filesystem::path path;
  std::string file_name;  // "podfleet-worker-cpu.tar.gz"
  int64_t size = 0;
  std::string sha256;  // lower-case hex of the whole file
};

class BundleShelf {
 public:
  // The bundles in `dir`: every podfleet-worker-VARIANT.tar.gz (VARIANT: lower-case letters,
  // digits and '-'), hashed now. A VARIANT.tar.gz.sha256 beside it (sha256sum's format), when
  // present, must agree. kNotFound when `dir` holds no bundle, kUnavailable when it cannot be
  // read, kCorruption when a tarball and its checksum file disagree.
  static Result<BundleShelf> Open(const std::filesystem::path& dir);

  const std::vector<Bundle>& bundles() const { return bundles_; }
  // The bundle of that variant, or null.
  const Bundle* Find(std::string_view variant) const;

 private:
  std::vector<Bundle> bundles_;
};

// A single byte range of a resource of `size` bytes, as [first, last] inclusive.
struct ByteRange {
  int64_t first = 0;
  int64_t last = 0;
};
// Parses a Range header ("bytes=0-99", "bytes=100-", "bytes=-500") against `size`. nullopt when
// the header is absent, malformed, names another unit or several ranges (the whole resource is
// then sent, as RFC 9110 allows); kInvalidArgument when it starts at or beyond `size` (416).
Result<std::optional<ByteRange>> ParseByteRange(std::string_view header, int64_t size);

// The answer to GET or HEAD /api/worker/bundle/VARIANT: the tarball with ETag (its quoted
// sha256), X-Checksum-Sha256 and Accept-Ranges; 304 when If-None-Match names the ETag; 206 with
// Content-Range for a satisfiable Range (ignored when an If-Range names another ETag); 416 with
// "Content-Range: bytes */SIZE" for an unsatisfiable one; 500 when the file cannot be read.
HttpResponse ServeBundle(const Bundle& bundle, const HttpRequest& request);

// The shell line a machine runs to join: downloads the bundle from `base_url` with `token` (curl,
// or wget where there is no curl), checks its sha256, unpacks it in the current directory and
// runs `podfleet work --server BASE_URL --token TOKEN`; worker flags appended to the line
// (`--name pod-7 --engine whisper`) go to `work`. `token` must be a podfleet token (only base64url
// characters after its prefix), so the line needs no further quoting.
std::string JoinCommand(std::string_view base_url, const Bundle& bundle, std::string_view token);

}  // namespace podfleet
