// Bearer tokens for workers and operators: random secrets handed out once, stored only as hashes.
//
// A token is `prefix` followed by 43 base64url characters (32 random bytes from OpenSSL's CSPRNG,
// no padding), e.g. "pfw_Xq3...". The prefix names the token's kind so a leaked one is easy to
// recognise; it carries no security. Store HashToken(token), never the token itself.
//
// Thread safety: all functions may be called concurrently.
#pragma once

#include <string>
#include <string_view>

namespace podfleet {

// A fresh random token. Aborts the process if the system has no usable randomness: a
// predictable token must never be issued.
std::string NewToken(std::string_view prefix);

// The lower-case hex SHA-256 of `token` (64 characters).
std::string HashToken(std::string_view token);

// Compares two strings in time that depends only on their lengths (for comparing token hashes).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace podfleet
