#include "core/error.h"

namespace podfleet {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kNotFound: return "not_found";
    case Code::kInvalidArgument: return "invalid_argument";
    case Code::kPermissionDenied: return "permission_denied";
    case Code::kConflict: return "conflict";
    case Code::kUnavailable: return "unavailable";
    case Code::kCorruption: return "corruption";
    case Code::kInternal: return "internal";
  }
  return "internal";
}

std::string Error::ToString() const { return std::string(CodeName(code)) + ": " + message; }

}  // namespace podfleet
