#include "engines/multipart_post.h"

#include <curl/curl.h>
#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <memory>
#include <mutex>

namespace podfleet {
namespace {

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
  void operator()(curl_mime* m) const { curl_mime_free(m); }
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

struct Transfer {
  MultipartReply reply;
  size_t max_bytes = 0;
  bool too_big = false;
  std::stop_token stop;
};

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (t->reply.body.size() + n > t->max_bytes) {
    t->too_big = true;
    return 0;
  }
  t->reply.body.append(data, n);
  return n;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * count);
  if (const size_t colon = line.find(':'); colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.remove_suffix(1);
    t->reply.headers[name] = std::string(value);
  }
  constexpr std::string_view kRetry = "retry-after:";
  if (line.size() > kRetry.size() &&
      curl_strnequal(line.data(), kRetry.data(), kRetry.size()) != 0) {
    line.remove_prefix(kRetry.size());
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    int64_t seconds = 0;
    auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), seconds);
    if (ec == std::errc() && seconds > 0)
      t->reply.retry_after = Millis(std::min<int64_t>(seconds, 3600) * 1000);
  }
  return size * count;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<Transfer*>(user)->stop.stop_requested() ? 1 : 0;
}

}  // namespace

Result<MultipartReply> PostMultipart(const MultipartRequest& request, std::stop_token stop) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return Internal("curl_easy_init failed");
  CURL* c = curl.get();
  std::unique_ptr<curl_mime, CurlDeleter> mime(curl_mime_init(c));
  for (const auto& [name, value] : request.fields) {
    curl_mimepart* part = curl_mime_addpart(mime.get());
    curl_mime_name(part, name.c_str());
    curl_mime_data(part, value.data(), value.size());
  }
  curl_mimepart* file = curl_mime_addpart(mime.get());
  curl_mime_name(file, request.file.name.c_str());
  curl_mime_filename(file, request.file.filename.c_str());
  curl_mime_type(file, request.file.content_type.c_str());
  curl_mime_data(file, request.file.bytes.data(), request.file.bytes.size());

  std::unique_ptr<curl_slist, CurlDeleter> headers;
  const std::string auth = "Authorization: Bearer " + request.bearer;
  if (!request.bearer.empty()) headers.reset(curl_slist_append(nullptr, auth.c_str()));
  // No "Expect: 100-continue" round trip before every upload.
  headers.reset(curl_slist_append(headers.release(), "Expect:"));
  for (const auto& [name, value] : request.headers) {
    const std::string line = name + ": " + value;
    headers.reset(curl_slist_append(headers.release(), line.c_str()));
  }

  Transfer t;
  t.max_bytes = request.max_response_bytes;
  t.stop = stop;
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_MIMEPOST, mime.get());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_USERAGENT, "podfleet");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10'000L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &OnProgress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  const CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_ABORTED_BY_CALLBACK) return Unavailable("cancelled");
  if (t.too_big)
    return InvalidArgument(fmt::format("reply larger than {} bytes", request.max_response_bytes));
  if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL)
    return InvalidArgument(fmt::format("bad URL {}: {}", request.url, curl_easy_strerror(rc)));
  if (rc != CURLE_OK)
    return Unavailable(
        fmt::format("{}: {}", request.url, error[0] ? error : curl_easy_strerror(rc)));
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  t.reply.status = static_cast<int>(status);
  char* type = nullptr;
  curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
  if (type) t.reply.content_type = type;
  return std::move(t.reply);
}

}  // namespace podfleet
