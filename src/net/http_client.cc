#include "net/http_client.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>

#include "core/thread_annotations.h"
#include "net/download_error.h"
#include "net/public_address.h"

namespace podfleet {
namespace {

namespace fs = std::filesystem;

constexpr long kLowSpeedLimit = 1024;  // bytes per second
constexpr Millis kMaxBackoff{60'000};

struct EasyCleanup {
  void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};
using Easy = std::unique_ptr<CURL, EasyCleanup>;

struct SlistFree {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistFree>;

struct FileClose {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using File = std::unique_ptr<std::FILE, FileClose>;

// Closes `file`, reporting whether everything written reached the OS.
bool CloseFile(File& file) { return std::fclose(file.release()) == 0; }

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// Sets options on one handle, remembering the first failure.
class Setter {
 public:
  explicit Setter(CURL* easy) : easy_(easy) {}
  template <class T>
  Setter& operator()(CURLoption option, T value) {
    if (rc_ == CURLE_OK) rc_ = curl_easy_setopt(easy_, option, value);
    return *this;
  }
  CURLcode rc() const { return rc_; }

 private:
  CURL* easy_;
  CURLcode rc_ = CURLE_OK;
};

// The headers of the last response received: a redirect or a 100 Continue starts them afresh.
struct HeaderSink {
  std::vector<std::pair<std::string, std::string>> headers;

  std::string_view Find(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (n == name) return v;
    }
    return {};
  }
};

size_t CollectHeader(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<HeaderSink*>(user);
  const size_t length = size * count;
  std::string_view line(data, length);
  if (line.starts_with("HTTP/")) {
    sink->headers.clear();
    return length;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return length;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) {
    value.remove_suffix(1);
  }
  sink->headers.emplace_back(std::move(name), std::string(value));
  return length;
}

// A Send() response body, bounded.
struct BodySink {
  std::string body;
  size_t limit = 0;
  bool too_large = false;
};

size_t AppendToBody(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  const size_t length = size * count;
  if (sink->body.size() + length > sink->limit) {
    sink->too_large = true;
    return 0;
  }
  sink->body.append(data, length);
  return length;
}

// The request's headers for curl. An empty "Expect:" stops curl waiting for a 100 Continue
// before it sends a body.
Slist RequestHeaders(const ClientRequest& request) {
  Slist list(curl_slist_append(nullptr, "Expect:"));
  auto add = [&list](const std::string& line) {
    if (list) list.reset(curl_slist_append(list.release(), line.c_str()));
  };
  if (!request.content_type.empty()) add("Content-Type: " + request.content_type);
  for (const auto& [name, value] : request.headers) add(name + ": " + value);
  return list;
}

void SetMethod(Setter& set, const ClientRequest& request) {
  if (request.method == "GET" && request.body.empty()) {
    set(CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    set(CURLOPT_NOBODY, 1L);
  } else {
    set(CURLOPT_POSTFIELDS, request.body.data());
    set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    if (request.method != "POST") set(CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
}

std::string CurlMessage(CURLcode rc, const char* error_buffer) {
  return error_buffer[0] != '\0' ? std::string(error_buffer) : curl_easy_strerror(rc);
}

// A failed transfer (not an HTTP status) as an error; see the mapping in http_client.h.
Error TransportError(CURLcode rc, const char* error_buffer, const std::string& url) {
  std::string message = fmt::format("{}: {}", url, CurlMessage(rc, error_buffer));
  switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_TOO_MANY_REDIRECTS: return Error{Code::kInvalidArgument, std::move(message)};
    // Retrying cannot make an untrusted certificate trusted; the operator must (--ca-file).
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
      return Error{Code::kInvalidArgument,
                   message + " (the certificate is not trusted; for a private CA pass --ca-file)"};
    case CURLE_FILE_COULDNT_READ_FILE: return Error{Code::kNotFound, std::move(message)};
    default: return Error{Code::kUnavailable, std::move(message)};
  }
}

bool IsFileUrl(std::string_view url) {
  constexpr std::string_view kScheme = "file://";
  if (url.size() < kScheme.size()) return false;
  return std::equal(kScheme.begin(), kScheme.end(), url.begin(), [](char want, char c) {
    return std::tolower(static_cast<unsigned char>(c)) == want;
  });
}

long ResponseCode(CURL* easy) {
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  return status;
}

std::string InfoString(CURL* easy, CURLINFO info) {
  char* value = nullptr;
  curl_easy_getinfo(easy, info, &value);
  return value ? std::string(value) : std::string();
}

// The addresses a transfer may connect to, shared with OpenAllowedSocket.
struct AddressGate {
  const std::function<bool(const sockaddr*)>* allow = nullptr;
  std::string refused_address;  // a connection refused by allow
};

// One download attempt's destination and limits, shared with curl's callbacks.
struct DownloadSink {
  std::FILE* file = nullptr;
  int64_t offset = 0;  // bytes already in the .part file before this attempt
  int64_t written = 0;
  const DownloadOptions* options = nullptr;
  bool too_large = false;
  int write_errno = 0;
  bool cancelled = false;
  AddressGate gate;
  Millis time_left{0};  // until DownloadOptions::deadline, when one is set
};

size_t WriteToFile(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<DownloadSink*>(user);
  const size_t length = size * count;
  if (sink->offset + sink->written + static_cast<int64_t>(length) > sink->options->max_bytes) {
    sink->too_large = true;
    return 0;
  }
  if (std::fwrite(data, 1, length, sink->file) != length) {
    sink->write_errno = errno;
    return 0;
  }
  sink->written += static_cast<int64_t>(length);
  return length;
}

int ReportProgress(void* user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t, curl_off_t) {
  auto* sink = static_cast<DownloadSink*>(user);
  if (!sink->options->progress) return 0;
  const int64_t total = dltotal > 0 ? sink->offset + dltotal : -1;
  try {
    if (sink->options->progress(sink->offset + dlnow, total)) return 0;
  } catch (...) {
    // An exception must not unwind through curl; it cancels like `false`.
  }
  sink->cancelled = true;
  return 1;
}

// Opens the socket curl asks for, unless allow_address refuses its address.
curl_socket_t OpenAllowedSocket(void* user, curlsocktype, curl_sockaddr* address) {
  auto* gate = static_cast<AddressGate*>(user);
  bool allowed = false;
  try {
    allowed = (*gate->allow)(&address->addr);
  } catch (...) {
    // An exception must not unwind through curl; it refuses.
  }
  if (!allowed) {
    if (gate->refused_address.empty()) gate->refused_address = AddressText(&address->addr);
    return CURL_SOCKET_BAD;
  }
  return ::socket(address->family, address->socktype, address->protocol);
}

// "bytes */1234" (a 416's Content-Range) -> 1234, else -1.
int64_t UnsatisfiedRangeLength(std::string_view content_range) {
  constexpr std::string_view kPrefix = "bytes */";
  if (!content_range.starts_with(kPrefix)) return -1;
  int64_t length = 0;
  for (char c : content_range.substr(kPrefix.size())) {
    if (c < '0' || c > '9' || length > (int64_t{1} << 50)) return -1;
    length = length * 10 + (c - '0');
  }
  return length;
}

// Makes curl open sockets through `gate`, which asks `allow`; http and https only.
void SetAddressGate(Setter& set, AddressGate* gate,
                    const std::function<bool(const sockaddr*)>& allow) {
  gate->allow = &allow;
  set(CURLOPT_OPENSOCKETFUNCTION, &OpenAllowedSocket)(CURLOPT_OPENSOCKETDATA, gate);
  set(CURLOPT_PROTOCOLS_STR, "http,https");
}

// kInvalidArgument naming the address `gate` refused.
Error RefusedAddress(const std::string& url, const AddressGate& gate) {
  return Error{Code::kInvalidArgument,
               fmt::format("{}: refused to connect to {}: not an allowed address (private, "
                           "loopback and link-local addresses are refused)",
                           url, gate.refused_address)};
}

// Points curl at `sink` and `headers` and sets the download limits.
void SetDownloadOptions(Setter& set, DownloadSink* sink, HeaderSink* headers) {
  const DownloadOptions& options = *sink->options;
  set(CURLOPT_WRITEFUNCTION, &WriteToFile)(CURLOPT_WRITEDATA, sink);
  set(CURLOPT_HEADERFUNCTION, &CollectHeader)(CURLOPT_HEADERDATA, headers);
  set(CURLOPT_XFERINFOFUNCTION, &ReportProgress)(CURLOPT_XFERINFODATA, sink);
  set(CURLOPT_NOPROGRESS, 0L)(CURLOPT_FOLLOWLOCATION, 1L)(CURLOPT_FAILONERROR, 1L);
  // 0 would mean no limit; WriteToFile enforces the limit when a resume has already reached it.
  const int64_t left = std::max<int64_t>(options.max_bytes - sink->offset, 1);
  set(CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(left));
  if (sink->offset > 0) set(CURLOPT_RESUME_FROM_LARGE, static_cast<curl_off_t>(sink->offset));
  if (options.deadline.count() > 0)
    set(CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<int64_t>(1, sink->time_left.count())));
  if (options.allow_address) SetAddressGate(set, &sink->gate, options.allow_address);
  if (options.low_speed_time.count() > 0) {
    const long seconds = static_cast<long>((options.low_speed_time.count() + 999) / 1000);
    set(CURLOPT_LOW_SPEED_LIMIT, kLowSpeedLimit)(CURLOPT_LOW_SPEED_TIME, seconds);
  }
}

// What one download attempt came to.
struct Attempt {
  enum Kind {
    kDone,     // complete in the .part file
    kRestart,  // the server ignored or refused the Range: start again from zero
    kRetry,    // transient failure
    kFail,     // permanent failure, or cancelled
  };
  Kind kind = kFail;
  Error error;
  DownloadResult result;
  int64_t announced = -1;  // the whole file's length as the response declared it, if it did
};

Attempt Fail(Error error) { return Attempt{Attempt::kFail, std::move(error), {}}; }
Attempt Retry(Error error) { return Attempt{Attempt::kRetry, std::move(error), {}}; }

// Classifies a transfer that ended with an HTTP error status.
Attempt FromStatus(long status, const std::string& url, int64_t offset, const HeaderSink& headers) {
  const std::string message = fmt::format("{}: HTTP {}", url, status);
  if (status == 404 || status == 410) return Fail(Error{Code::kNotFound, message});
  if (status == 416 && offset > 0) {
    // The .part may already hold the whole file (a crash before the rename).
    if (UnsatisfiedRangeLength(headers.Find("content-range")) == offset) {
      return Attempt{Attempt::kDone, {}, {}};
    }
    return Attempt{Attempt::kRestart, {}, {}};
  }
  if (status == 408 || status == 429 || status >= 500) {
    return Retry(Error{Code::kUnavailable, message});
  }
  return Fail(Error{Code::kInvalidArgument, message});
}

Millis BackoffDelay(Millis base, int retry) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const int64_t doubled = std::max<int64_t>(base.count(), 0) << std::min(retry, 20);
  const double capped = static_cast<double>(std::min<int64_t>(doubled, kMaxBackoff.count()));
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  return Millis(static_cast<int64_t>(capped * jitter(rng)));
}

// What a finished transfer came to.
Attempt Classify(CURL* easy, CURLcode rc, const char* error_buffer, const std::string& url,
                 const DownloadSink& sink, const HeaderSink& headers) {
  if (sink.cancelled || rc == CURLE_ABORTED_BY_CALLBACK) {
    return Fail(Error{Code::kUnavailable, "cancelled"});
  }
  // A server ignoring the Range announces the whole length, which may exceed what was left.
  if (rc == CURLE_FILESIZE_EXCEEDED && sink.offset > 0) return Attempt{Attempt::kRestart, {}, {}};
  if (sink.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
    return Fail(Error{Code::kInvalidArgument, fmt::format("{}: download larger than {} bytes", url,
                                                          sink.options->max_bytes)});
  }
  if (sink.write_errno != 0) {
    return Fail(Error{Code::kUnavailable, fmt::format("{}{}: {}", kDownloadWriteFailed, url,
                                                      std::strerror(sink.write_errno))});
  }
  if (rc != CURLE_OK && !sink.gate.refused_address.empty())
    return Fail(RefusedAddress(url, sink.gate));
  if (rc == CURLE_RANGE_ERROR) return Attempt{Attempt::kRestart, {}, {}};
  const long status = ResponseCode(easy);
  if (rc == CURLE_HTTP_RETURNED_ERROR || (rc == CURLE_OK && status >= 400)) {
    return FromStatus(status, url, sink.offset, headers);
  }
  if (rc != CURLE_OK) {
    Error error = TransportError(rc, error_buffer, url);
    return error.code == Code::kUnavailable ? Retry(std::move(error)) : Fail(std::move(error));
  }
  if (status != 0 && (status < 200 || status >= 300)) {
    return Fail(Error{Code::kInvalidArgument, fmt::format("{}: unexpected HTTP {}", url, status)});
  }
  return Attempt{Attempt::kDone, {}, {}};
}

class CurlClient final : public HttpClient {
 public:
  explicit CurlClient(const HttpClientOptions& options) : options_(options) { GlobalInit(); }

  Result<HttpResponse> Send(const ClientRequest& request) override;
  Result<DownloadResult> Download(const std::string& url, const fs::path& dest,
                                  const DownloadOptions& options) override;

 private:
  // A handle with the options every transfer shares. `error_buffer` must outlive it. `reused`:
  // an idle handle with its open connection, if one is kept (reuse_connections).
  Result<Easy> NewEasy(const std::string& url, char* error_buffer, bool reused = false) const
      EXCLUDES(mu_);
  // Keeps `easy` (and its connection) for a later Send, its options cleared.
  void KeepIdle(Easy easy) const EXCLUDES(mu_);
  Attempt DownloadOnce(const std::string& url, const fs::path& part, bool resume,
                       const DownloadOptions& options, Millis time_left) const;

  const HttpClientOptions options_;

  mutable Mutex mu_;
  mutable std::vector<Easy> idle_ GUARDED_BY(mu_);  // reuse_connections: handles between calls
};

void CurlClient::KeepIdle(Easy easy) const {
  // Reset at once: the options point at the finished call's buffers.
  curl_easy_reset(easy.get());
  MutexLock lock(mu_);
  if (idle_.size() < kMaxIdleConnections) idle_.push_back(std::move(easy));
}

Result<Easy> CurlClient::NewEasy(const std::string& url, char* error_buffer, bool reused) const {
  Easy easy;
  if (reused) {
    MutexLock lock(mu_);
    if (!idle_.empty()) {
      easy = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (!easy) easy.reset(curl_easy_init());
  if (!easy) return Internal("curl_easy_init failed");
  error_buffer[0] = '\0';
  Setter set(easy.get());
  set(CURLOPT_ERRORBUFFER, error_buffer)(CURLOPT_URL, url.c_str())(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
  set(CURLOPT_USERAGENT, options_.user_agent.c_str());
  set(CURLOPT_PROTOCOLS_STR, "http,https,file")(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  set(CURLOPT_MAXREDIRS, static_cast<long>(options_.max_redirects));
  set(CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
  set(CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
  if (!options_.ca_file.empty()) set(CURLOPT_CAINFO, options_.ca_file.c_str());
  if (set.rc() != CURLE_OK) {
    return Internal(fmt::format("curl setup for {}: {}", url, curl_easy_strerror(set.rc())));
  }
  return easy;
}

Result<HttpResponse> CurlClient::Send(const ClientRequest& request) {
  char error_buffer[CURL_ERROR_SIZE];
  const bool reuse = options_.reuse_connections && !request.allow_address;
  Result<Easy> easy = NewEasy(request.url, error_buffer, reuse);
  if (!easy) return std::unexpected(easy.error());
  CURL* c = easy->get();
  Slist headers = RequestHeaders(request);
  if (!headers) return Internal("curl_slist_append failed");

  BodySink body{.limit = request.max_response_bytes};
  HeaderSink response_headers;
  const Millis timeout = request.timeout.count() > 0 ? request.timeout : options_.timeout;
  Setter set(c);
  set(CURLOPT_HTTPHEADER, headers.get())(CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  set(CURLOPT_WRITEFUNCTION, &AppendToBody)(CURLOPT_WRITEDATA, &body);
  set(CURLOPT_HEADERFUNCTION, &CollectHeader)(CURLOPT_HEADERDATA, &response_headers);
  set(CURLOPT_FOLLOWLOCATION, request.follow_redirects ? 1L : 0L);
  if (!request.accept_encoding.empty())
    set(CURLOPT_ACCEPT_ENCODING, request.accept_encoding.c_str());
  AddressGate gate;
  if (request.allow_address) SetAddressGate(set, &gate, request.allow_address);
  SetMethod(set, request);
  if (set.rc() != CURLE_OK) {
    return Internal(
        fmt::format("curl setup for {}: {}", request.url, curl_easy_strerror(set.rc())));
  }

  const CURLcode rc = curl_easy_perform(c);
  if (body.too_large) {
    return InvalidArgument(
        fmt::format("{}: response larger than {} bytes", request.url, body.limit));
  }
  if (rc != CURLE_OK && !gate.refused_address.empty())
    return std::unexpected(RefusedAddress(request.url, gate));
  if (rc != CURLE_OK) return std::unexpected(TransportError(rc, error_buffer, request.url));
  HttpResponse response;
  response.status = static_cast<int>(ResponseCode(c));
  if (response.status == 0 && IsFileUrl(request.url)) response.status = 200;
  response.content_type = InfoString(c, CURLINFO_CONTENT_TYPE);
  response.body = std::move(body.body);
  response.headers = std::move(response_headers.headers);
  if (reuse) KeepIdle(std::move(*easy));
  return response;
}

Attempt CurlClient::DownloadOnce(const std::string& url, const fs::path& part, bool resume,
                                 const DownloadOptions& options, Millis time_left) const {
  std::error_code size_error;
  const auto existing = resume ? fs::file_size(part, size_error) : 0;
  const int64_t offset = resume && !size_error ? static_cast<int64_t>(existing) : 0;
  File file(std::fopen(part.c_str(), offset > 0 ? "ab" : "wb"));
  if (!file) {
    return Fail(
        Error{Code::kUnavailable, fmt::format("open {}: {}", part.string(), std::strerror(errno))});
  }

  char error_buffer[CURL_ERROR_SIZE];
  Result<Easy> easy = NewEasy(url, error_buffer);
  if (!easy) return Fail(easy.error());
  CURL* c = easy->get();
  DownloadSink sink{
      .file = file.get(), .offset = offset, .options = &options, .time_left = time_left};
  HeaderSink headers;
  Slist request_headers(nullptr);
  for (const auto& [name, value] : options.headers) {
    const std::string line = name + ": " + value;
    request_headers.reset(curl_slist_append(request_headers.release(), line.c_str()));
    if (!request_headers) return Fail(Error{Code::kInternal, "curl_slist_append failed"});
  }
  Setter set(c);
  SetDownloadOptions(set, &sink, &headers);
  if (request_headers) set(CURLOPT_HTTPHEADER, request_headers.get());
  if (set.rc() != CURLE_OK) {
    return Fail(Error{Code::kInternal,
                      fmt::format("curl setup for {}: {}", url, curl_easy_strerror(set.rc()))});
  }

  const CURLcode rc = curl_easy_perform(c);
  const int close_errno = CloseFile(file) ? 0 : errno;
  if (rc == CURLE_OK && close_errno != 0) sink.write_errno = close_errno;
  Attempt attempt = Classify(c, rc, error_buffer, url, sink, headers);
  curl_off_t length = -1;
  if (curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length) == CURLE_OK &&
      length >= 0 && ResponseCode(c) / 100 == 2)
    attempt.announced = offset + static_cast<int64_t>(length);
  if (attempt.kind == Attempt::kDone) {
    attempt.result.content_type = InfoString(c, CURLINFO_CONTENT_TYPE);
    attempt.result.final_url = InfoString(c, CURLINFO_EFFECTIVE_URL);
  }
  return attempt;
}

Result<DownloadResult> Finish(const fs::path& part, const fs::path& dest, DownloadResult result) {
  std::error_code ec;
  fs::rename(part, dest, ec);
  if (ec) {
    return Unavailable(
        fmt::format("rename {} to {}: {}", part.string(), dest.string(), ec.message()));
  }
  result.path = dest;
  result.bytes = static_cast<int64_t>(fs::file_size(dest, ec));
  if (ec) return Unavailable(fmt::format("stat {}: {}", dest.string(), ec.message()));
  return result;
}

// Waits before retry number `retry` (0-based); false when the progress callback cancels.
bool WaitToRetry(int retry, const fs::path& part, const DownloadOptions& options) {
  if (options.progress) {
    std::error_code ec;
    const auto size = fs::file_size(part, ec);
    try {
      if (!options.progress(ec ? 0 : static_cast<int64_t>(size), -1)) return false;
    } catch (...) {
      return false;
    }
  }
  std::this_thread::sleep_for(BackoffDelay(options.backoff, retry));
  return true;
}

// The download ended complete: the file must be as long as the server first said it would be.
Result<DownloadResult> Complete(const std::string& url, const fs::path& part, const fs::path& dest,
                                DownloadResult result, int64_t announced) {
  std::error_code ec;
  const auto size = fs::file_size(part, ec);
  if (!ec && announced >= 0 && static_cast<int64_t>(size) != announced) {
    fs::remove(part, ec);
    return Unavailable(
        fmt::format("{}: the server sent {} of the {} bytes it announced", url, size, announced));
  }
  return Finish(part, dest, std::move(result));
}

Result<DownloadResult> CurlClient::Download(const std::string& url, const fs::path& dest,
                                            const DownloadOptions& options) {
  fs::path part = dest;
  part += ".part";
  const auto started = std::chrono::steady_clock::now();
  auto time_left = [&] {
    return options.deadline -
           std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - started);
  };
  auto past_deadline = [&] {
    std::error_code ec;
    fs::remove(part, ec);
    return InvalidArgument(fmt::format(
        "{}: not finished after {} s, the deadline for this download (a live stream, or a host "
        "too slow to serve it)",
        url, options.deadline.count() / 1000));
  };
  int64_t announced = -1;  // the first length a server declared
  bool resume = true;      // false once the server has ignored a Range
  for (int retry = 0;;) {
    if (options.deadline.count() > 0 && time_left() <= Millis(0)) return past_deadline();
    Attempt attempt = DownloadOnce(url, part, resume, options, time_left());
    // A response that ignored the Range announced the whole file from zero: not counted.
    if (announced < 0 && attempt.kind != Attempt::kRestart) announced = attempt.announced;
    if (options.deadline.count() > 0 && time_left() <= Millis(0) && attempt.kind != Attempt::kDone)
      return past_deadline();
    switch (attempt.kind) {
      case Attempt::kDone: return Complete(url, part, dest, std::move(attempt.result), announced);
      case Attempt::kRestart:
        if (!resume) return Internal(fmt::format("{}: range refused without a range", url));
        resume = false;
        continue;
      case Attempt::kRetry:
        if (retry < options.retries && WaitToRetry(retry, part, options)) {
          ++retry;
          continue;
        }
        if (retry < options.retries) return Unavailable("cancelled");
        return std::unexpected(
            Error{attempt.error.code,
                  fmt::format("{} (after {} attempts)", attempt.error.message, retry + 1)});
      case Attempt::kFail:
        if (attempt.error.code != Code::kUnavailable) {
          std::error_code ec;
          fs::remove(part, ec);
        }
        return std::unexpected(std::move(attempt.error));
    }
  }
}

}  // namespace

Millis DownloadDeadline(std::optional<Millis> declared_duration, int64_t declared_bytes,
                        Millis max_duration) {
  Millis duration = max_duration;
  if (declared_duration && *declared_duration > Millis(0) && *declared_duration < max_duration)
    duration = *declared_duration;
  const int64_t bytes_ms = std::max<int64_t>(0, declared_bytes) / 64;  // 64 KiB/s ~ 64 B/ms
  return Millis(10'000) + duration / 4 + Millis(bytes_ms);
}

std::unique_ptr<HttpClient> MakeCurlClient(const HttpClientOptions& options) {
  return std::make_unique<CurlClient>(options);
}

}  // namespace podfleet
