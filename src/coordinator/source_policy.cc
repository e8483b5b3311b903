#include "coordinator/source_policy.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "net/public_address.h"

namespace podfleet {

std::string SchemeOf(std::string_view url) {
  const size_t colon = url.find("://");
  if (colon == std::string_view::npos || colon == 0) return {};
  std::string scheme(url.substr(0, colon));
  const bool valid = std::all_of(scheme.begin(), scheme.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '+' || c == '-' || c == '.';
  });
  if (!valid) return {};
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return scheme;
}

Result<void> CheckSourceUrl(std::string_view url, const SourcePolicy& policy) {
  const std::string scheme = SchemeOf(url);
  if (url.find_first_of(std::string_view("\0\r\n\t ", 5)) != std::string_view::npos)
    return InvalidArgument("URL contains a space or a control character");
  if (scheme == "file") {
    if (!policy.allow_files) {
      return InvalidArgument(
          "file URLs and local paths are refused: this coordinator does not read its own disk "
          "for feeds added through the API (start it with --allow-file-urls to allow that)");
    }
    return {};
  }
  if (scheme != "http" && scheme != "https")
    return InvalidArgument("unsupported URL '" + std::string(url) + "': use http or https");
  if (policy.public_only) return RequirePublicUrlHost(std::string(url));
  return {};
}

bool EnclosureAllowed(std::string_view feed_url, std::string_view enclosure_url,
                      const SourcePolicy& policy) {
  const std::string scheme = SchemeOf(enclosure_url);
  if (scheme == "http" || scheme == "https") return true;
  return scheme == "file" && policy.allow_files && SchemeOf(feed_url) == "file";
}

}  // namespace podfleet
