// The enrollment token in the coordinator's join line (bundles.h): one live token labelled
// "join line", made when the coordinator starts with bundles and revocable like any other
// (`podfleet token revoke`, DELETE /api/tokens/ID). Revoking it stops the line working at once
// (downloads and registrations); the next request for the line makes a new token. A start
// revokes the join tokens of earlier starts, so at most one join line works at a time; nodes
// already registered keep working.
//
// Thread safety: all methods may be called concurrently.
#pragma once

#include <string>

#include "core/clock.h"
#include "core/error.h"
#include "core/thread_annotations.h"
#include "store/store.h"

namespace podfleet {

inline constexpr const char* kJoinTokenLabel = "join line";

class JoinToken {
 public:
  JoinToken(Store& store, const Clock& clock) : store_(store), clock_(clock) {}

  // Revokes earlier starts' join tokens and makes this start's. Store errors as reported.
  Result<void> Start();
  // The live join token, a new one if it was revoked. Store errors as reported.
  Result<std::string> Current();
  // The coordinator's URL as workers reach it, for the line.
  void SetBaseUrl(std::string url);
  std::string base_url() const;

 private:
  Store& store_;
  const Clock& clock_;
  mutable Mutex mu_;
  std::string token_ GUARDED_BY(mu_);
  std::string base_url_ GUARDED_BY(mu_);
};

}  // namespace podfleet
