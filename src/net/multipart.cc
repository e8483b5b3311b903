#include "net/multipart.h"

#include <fmt/format.h>

#include <cctype>
#include <optional>

#include "net/http.h"

namespace podfleet {
namespace {

// Header parameters "; name=value; name="quoted \" value"" after the first value, in order.
// nullopt when a quoted string is not closed.
std::optional<std::vector<std::pair<std::string, std::string>>> Params(std::string_view s) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t i = s.find(';');
  while (i != std::string_view::npos && i < s.size()) {
    ++i;
    const size_t eq = s.find('=', i);
    if (eq == std::string_view::npos) break;
    std::string name(TrimOws(s.substr(i, eq - i)));
    size_t j = eq + 1;
    while (j < s.size() && (s[j] == ' ' || s[j] == '\t')) ++j;
    std::string value;
    if (j < s.size() && s[j] == '"') {
      for (++j; j < s.size() && s[j] != '"'; ++j) {
        if (s[j] == '\\' && j + 1 < s.size()) ++j;
        value += s[j];
      }
      if (j >= s.size()) return std::nullopt;
      i = s.find(';', j + 1);
    } else {
      const size_t end = s.find(';', j);
      value = std::string(TrimOws(s.substr(j, end == std::string_view::npos ? end : end - j)));
      i = end;
    }
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

// Reads the part headers in `headers` (CRLF-separated lines) into `part`.
Result<void> ReadPartHeaders(std::string_view headers, MultipartPart& part) {
  bool disposition = false;
  while (!headers.empty()) {
    const size_t nl = headers.find("\r\n");
    std::string_view line = headers.substr(0, nl);
    headers = nl == std::string_view::npos ? "" : headers.substr(nl + 2);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos)
      return InvalidArgument("multipart: a part header line has no ':'");
    const std::string_view name = TrimOws(line.substr(0, colon));
    const std::string_view value = TrimOws(line.substr(colon + 1));
    if (AsciiIEquals(name, "content-type")) {
      part.content_type = std::string(value);
    } else if (AsciiIEquals(name, "content-disposition")) {
      if (!AsciiIEquals(TrimOws(value.substr(0, value.find(';'))), "form-data"))
        return InvalidArgument("multipart: Content-Disposition must be form-data");
      auto params = Params(value);
      if (!params) return InvalidArgument("multipart: unterminated quoted string in a header");
      for (auto& [k, v] : *params) {
        if (k == "name") part.name = std::move(v);
        if (k == "filename") part.filename = std::move(v), part.is_file = true;
      }
      disposition = true;
    }
  }
  if (!disposition) return InvalidArgument("multipart: a part has no Content-Disposition");
  if (part.name.empty()) return InvalidArgument("multipart: a part has no name");
  return {};
}

}  // namespace

Result<std::string> MultipartBoundary(std::string_view content_type) {
  if (!AsciiIEquals(TrimOws(content_type.substr(0, content_type.find(';'))), "multipart/form-data"))
    return InvalidArgument("Content-Type must be multipart/form-data");
  auto params = Params(content_type);
  if (!params) return InvalidArgument("Content-Type: unterminated quoted string");
  for (auto& [k, v] : *params) {
    if (k != "boundary") continue;
    if (v.empty() || v.size() > 70)
      return InvalidArgument("multipart boundary must be 1 to 70 characters");
    return v;
  }
  return InvalidArgument("multipart/form-data without a boundary");
}

Result<std::vector<MultipartPart>> ParseMultipart(std::string_view body, std::string_view boundary,
                                                  const MultipartLimits& limits) {
  if (boundary.empty()) return InvalidArgument("multipart: empty boundary");
  const std::string delimiter = "--" + std::string(boundary);
  const std::string next = "\r\n" + delimiter;
  size_t pos = body.starts_with(delimiter) ? 0 : body.find(next);
  if (pos == std::string_view::npos) return InvalidArgument("multipart: no boundary in the body");
  pos += body.starts_with(delimiter) && pos == 0 ? delimiter.size() : next.size();
  std::vector<MultipartPart> parts;
  while (true) {
    if (body.substr(pos, 2) == "--") return parts;  // the closing delimiter
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
    if (body.substr(pos, 2) != "\r\n")
      return InvalidArgument("multipart: a boundary line does not end with CRLF");
    pos += 2;
    if (parts.size() == limits.max_parts)
      return InvalidArgument(fmt::format("multipart: more than {} parts", limits.max_parts));
    size_t headers_end = body.substr(pos, limits.max_header_bytes + 4).find("\r\n\r\n");
    if (body.substr(pos, 2) == "\r\n") headers_end = 0;  // a part with no headers
    if (headers_end == std::string_view::npos)
      return InvalidArgument(
          fmt::format("multipart: part headers missing or over {} bytes", limits.max_header_bytes));
    MultipartPart part;
    if (auto r = ReadPartHeaders(body.substr(pos, headers_end), part); !r)
      return std::unexpected(r.error());
    pos += headers_end + (headers_end == 0 ? 2 : 4);
    const size_t end = body.find(next, pos);
    if (end == std::string_view::npos)
      return InvalidArgument("multipart: the body ends inside a part (no closing boundary)");
    part.data = body.substr(pos, end - pos);
    if (!part.is_file && part.data.size() > limits.max_field_bytes)
      return InvalidArgument(
          fmt::format("multipart: field '{}' is over {} bytes", part.name, limits.max_field_bytes));
    parts.push_back(std::move(part));
    pos = end + next.size();
  }
}

}  // namespace podfleet
