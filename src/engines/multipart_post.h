// One multipart/form-data POST with libcurl's mime API: how the openai engine uploads audio.
// Internal to engines/.
#pragma once

#include <map>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/units.h"

namespace podfleet {

struct FilePart {
  std::string name = "file";
  std::string filename;  // with an extension: servers pick the decoder by it
  std::string content_type;
  std::string bytes;
};

struct MultipartRequest {
  std::string url;
  std::string bearer;  // sent as Authorization: Bearer when non-empty
  std::vector<std::pair<std::string, std::string>> headers;  // more headers to send
  std::vector<std::pair<std::string, std::string>> fields;   // text parts, repeats allowed
  FilePart file;
  Millis timeout{600'000};
  size_t max_response_bytes = size_t{64} << 20;
};

struct MultipartReply {
  int status = 0;
  std::string content_type;
  std::string body;
  Millis retry_after{0};  // from a Retry-After header in seconds; 0 when absent
  std::map<std::string, std::string> headers;  // names lower-cased; of repeats the last
};

// Sends the request; any HTTP status is a reply. kUnavailable for transport failures and
// timeouts (curl's message), "cancelled" when `stop` is requested (the transfer is aborted);
// kInvalidArgument for a malformed URL or a reply over max_response_bytes.
Result<MultipartReply> PostMultipart(const MultipartRequest& request, std::stop_token stop);

}  // namespace podfleet
