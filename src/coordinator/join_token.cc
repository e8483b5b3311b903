#include "coordinator/join_token.h"

#include "coordinator/coordinator.h"
#include "net/token.h"

namespace podfleet {

Result<void> JoinToken::Start() {
  auto tokens = store_.ListEnrollmentTokens();
  if (!tokens) return std::unexpected(tokens.error());
  for (const EnrollmentToken& t : *tokens) {
    if (t.label != kJoinTokenLabel || t.revoked) continue;
    if (auto r = store_.RevokeEnrollmentToken(t.id); !r) return r;
  }
  auto token = Current();
  if (!token) return std::unexpected(token.error());
  return {};
}

Result<std::string> JoinToken::Current() {
  MutexLock lock(mu_);
  if (!token_.empty()) {
    auto live = store_.CheckEnrollmentToken(HashToken(token_));
    if (!live) return std::unexpected(live.error());
    if (*live) return token_;
  }
  auto made = CreateEnrollmentToken(store_, kJoinTokenLabel, clock_.Now());
  if (!made) return made;
  token_ = *made;
  return token_;
}

void JoinToken::SetBaseUrl(std::string url) {
  MutexLock lock(mu_);
  base_url_ = std::move(url);
}

std::string JoinToken::base_url() const {
  MutexLock lock(mu_);
  return base_url_;
}

}  // namespace podfleet
