// An HTTP client (libcurl): JSON calls to the coordinator and audio downloads from anywhere.
//
// Schemes: http, https and file. TLS certificates are verified unless options say otherwise.
// Error mapping (so callers can decide whether to retry):
//   HTTP 404 / 410                          -> kNotFound (permanent)
//   other HTTP 4xx                          -> kInvalidArgument (permanent)
//   HTTP 5xx, 429, timeouts, resets, DNS    -> kUnavailable (transient)
// Send() returns any HTTP status as a response; only Download() maps statuses to errors.
//
// Thread safety: one HttpClient may be used from many threads at once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/units.h"
#include "net/http.h"

namespace podfleet {

struct HttpClientOptions {
  Millis connect_timeout{10'000};
  Millis timeout{60'000};  // whole-request limit for Send()
  bool verify_tls = true;
  std::string ca_file;  // empty: the system's CAs
  int max_redirects = 10;
  std::string user_agent = "podfleet";
};

struct ClientRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type;  // sent as Content-Type when non-empty
  Millis timeout{0};         // 0: the client's default
};

struct DownloadOptions {
  int64_t max_bytes = int64_t{4} << 30;  // kInvalidArgument beyond this
  int retries = 3;                       // transient failures retried with backoff
  Millis low_speed_time{30'000};         // abort if below 1 KB/s for this long
  // Called with (bytes so far, total or -1). Returning false cancels (kUnavailable "cancelled").
  std::function<bool(int64_t, int64_t)> progress;
};

struct DownloadResult {
  std::filesystem::path path;
  int64_t bytes = 0;
  std::string content_type;  // as the server sent it
  std::string final_url;     // after redirects
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // One request; a transport failure is an error, any HTTP status is a response.
  virtual Result<HttpResponse> Send(const ClientRequest& request) = 0;
  // Downloads `url` to `dest`, writing to `dest` + ".part" and renaming when complete. Resumes an
  // existing .part file with a Range request (restarting when the server ignores it) and retries
  // transient failures.
  virtual Result<DownloadResult> Download(const std::string& url, const std::filesystem::path& dest,
                                          const DownloadOptions& options) = 0;
};

std::unique_ptr<HttpClient> MakeCurlClient(const HttpClientOptions& options);

}  // namespace podfleet
