// An HTTP client (libcurl): JSON calls to the coordinator and audio downloads from anywhere.
//
// Schemes: http, https and file. TLS certificates are verified unless options say otherwise.
// Error mapping (so callers can decide whether to retry):
//   HTTP 404 / 410                             -> kNotFound (permanent)
//   other HTTP 4xx, an untrusted TLS certificate -> kInvalidArgument (permanent)
//   HTTP 5xx, 408, 429, timeouts, resets, DNS  -> kUnavailable (transient)
// Send() returns any HTTP status as a response; only Download() maps statuses to errors.
// Either call: a malformed URL, a scheme other than those three, or too many redirects ->
// kInvalidArgument; a missing file:// file -> kNotFound; a transport failure -> kUnavailable with
// curl's message. Download() follows up to max_redirects, to http and https only; Send() only
// when the request asks. A download whose allow_address refuses the address it would connect to
// -> kInvalidArgument naming the address (permanent: the URL is not allowed).
//
// Thread safety: one HttpClient may be used from many threads at once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/units.h"
#include "net/http.h"

struct sockaddr;

namespace podfleet {

struct HttpClientOptions {
  Millis connect_timeout{10'000};
  Millis timeout{60'000};  // whole-request limit for Send()
  bool verify_tls = true;
  std::string ca_file;  // empty: the system's CAs
  int max_redirects = 10;
  std::string user_agent = "podfleet";
  // Send() keeps connections open between calls (HTTP keep-alive; up to kMaxIdleConnections idle
  // ones, each reused by one call at a time) instead of one connection per call. libcurl sends a
  // request again by itself when a kept connection proves closed before any reply byte came, so
  // the requests sent must be safe to repeat (a worker's are: WorkerHttpOptions, worker.h). Off
  // by default. Requests with allow_address, and downloads, always connect afresh, so that every
  // address they reach is checked.
  bool reuse_connections = false;
};

// The most idle connections a client with reuse_connections keeps.
inline constexpr size_t kMaxIdleConnections = 64;

struct ClientRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type;  // sent as Content-Type when non-empty
  Millis timeout{0};         // 0: the client's default
  // Follow redirects (up to max_redirects, to http and https only). Off: a 3xx is the response.
  bool follow_redirects = false;
  // A longer response body fails the call with kInvalidArgument.
  size_t max_response_bytes = size_t{64} << 20;
  // Sent as Accept-Encoding when non-empty (e.g. "gzip, br"); the body comes back decoded. With it
  // set, a body in any encoding libcurl knows (gzip, deflate, br, zstd) is decoded even if it was
  // not asked for; without it, the body comes back as sent.
  std::string accept_encoding;
  // As DownloadOptions::allow_address: the addresses this request may connect to.
  std::function<bool(const sockaddr*)> allow_address;
};

struct DownloadOptions {
  int64_t max_bytes = int64_t{4} << 30;  // kInvalidArgument beyond this, naming the URL
  // The whole download, every retry included, must end within this (0: no limit). Past it:
  // kInvalidArgument "URL: not finished after ...": a live stream never ends, and a host this slow
  // would hold the worker or the relay for good.
  Millis deadline{0};
  int retries = 3;                // transient failures retried with backoff
  Millis low_speed_time{30'000};  // abort if below 1 KB/s for this long (0: never)
  // The wait before the first retry; each later one doubles it (at most 60 s), with +-50% jitter.
  Millis backoff{1'000};
  // Called on the downloading thread with (bytes so far, total or -1), also before each retry's
  // wait. Returning false (or throwing) cancels: kUnavailable "cancelled", .part kept.
  std::function<bool(int64_t, int64_t)> progress;
  // Extra request headers ("Authorization", "Bearer ..."). curl does not send them on to another
  // host after a redirect.
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the addresses a download may connect to (e.g. only public ones against SSRF, see
  // net/public_address.h); file:// URLs are then refused. Called for every connection curl opens,
  // after DNS and on each redirect, so neither a DNS answer that changes (rebinding) nor a
  // redirect gets round it. Through a proxy, the proxy's address is the one checked.
  std::function<bool(const sockaddr*)> allow_address;
};

// The deadline for downloading an episode (DownloadOptions::deadline): 10 s, plus a quarter of
// its duration as declared (or `max_duration` when it declares none, or more), plus its declared
// size at 64 KiB/s. Real audio downloads far faster than it plays; a live stream plays forever.
Millis DownloadDeadline(std::optional<Millis> declared_duration, int64_t declared_bytes,
                        Millis max_duration);

struct DownloadResult {
  std::filesystem::path path;
  int64_t bytes = 0;
  std::string content_type;  // as the server sent it
  std::string final_url;     // after redirects
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // One request; a transport failure is an error, any HTTP status is a response. The response's
  // headers are those received (names lower-cased); for file:// the status is 200.
  virtual Result<HttpResponse> Send(const ClientRequest& request) = 0;
  // Downloads `url` to `dest`, writing to `dest` + ".part" and renaming when complete. Resumes an
  // existing .part file with a Range request (restarting when the server ignores it) and retries
  // transient failures. On a transient failure or cancel the .part is kept for a later resume; on
  // a permanent one (kNotFound, kInvalidArgument) it is removed. A file shorter than the length
  // the server first declared (Content-Length, Content-Range) is no download: kUnavailable
  // "URL: the server sent N of the M bytes it announced", .part removed.
  // REQUIRES: dest's folder exists.
  virtual Result<DownloadResult> Download(const std::string& url, const std::filesystem::path& dest,
                                          const DownloadOptions& options) = 0;
};

std::unique_ptr<HttpClient> MakeCurlClient(const HttpClientOptions& options);

}  // namespace podfleet
