// Error values for every fallible call in podfleet.
//
// A fallible function returns Result<T>: either the value or an Error with one of a small closed
// set of codes and a human-readable message. Codes say what the caller may do next:
//   kNotFound          the thing asked for does not exist (HTTP 404).
//   kInvalidArgument   the input is wrong and retrying it unchanged will fail again (HTTP 400).
//   kPermissionDenied  the caller's token is missing, wrong or not allowed to do this (401/403).
//   kConflict          the state changed under the caller: a lost lease, a stale attempt (409).
//   kUnavailable       a transient failure; the same call may succeed later (503).
//   kCorruption        stored or received bytes are damaged or undecodable (422 / 500).
//   kInternal          a bug or an unexpected library failure (500).
#pragma once

#include <expected>
#include <string>
#include <string_view>

namespace podfleet {

enum class Code {
  kNotFound,
  kInvalidArgument,
  kPermissionDenied,
  kConflict,
  kUnavailable,
  kCorruption,
  kInternal,
};

std::string_view CodeName(Code code);

struct Error {
  Code code = Code::kInternal;
  std::string message;

  // "conflict: lease lost" — for logs and CLI output.
  std::string ToString() const;
};

template <class T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> MakeError(Code code, std::string message) {
  return std::unexpected<Error>(Error{code, std::move(message)});
}
inline std::unexpected<Error> NotFound(std::string m) {
  return MakeError(Code::kNotFound, std::move(m));
}
inline std::unexpected<Error> InvalidArgument(std::string m) {
  return MakeError(Code::kInvalidArgument, std::move(m));
}
inline std::unexpected<Error> PermissionDenied(std::string m) {
  return MakeError(Code::kPermissionDenied, std::move(m));
}
inline std::unexpected<Error> Conflict(std::string m) {
  return MakeError(Code::kConflict, std::move(m));
}
inline std::unexpected<Error> Unavailable(std::string m) {
  return MakeError(Code::kUnavailable, std::move(m));
}
inline std::unexpected<Error> Corruption(std::string m) {
  return MakeError(Code::kCorruption, std::move(m));
}
inline std::unexpected<Error> Internal(std::string m) {
  return MakeError(Code::kInternal, std::move(m));
}

// Prefixes the message of a failed result with context ("decode ep.mp3: ...").
template <class T>
Result<T> WithContext(Result<T> r, std::string_view context) {
  if (!r) r.error().message = std::string(context) + ": " + r.error().message;
  return r;
}

}  // namespace podfleet
