// Paces a loop that retries after failures (the relay, the feed poller, the lease reaper, a
// worker's uploads): each failure in a row doubles the wait, from `base` up to `max`, spread by
// +-50% jitter so that loops that failed together do not retry together. Logging stays quiet:
// the first failure, and a failure whose reason differs from the last, are logged with their
// reason; repeats are only counted, and the count is logged when the loop recovers.
//
// Thread safety: none; one loop owns one pacer.
#pragma once

#include <string>

#include "core/error.h"
#include "core/units.h"

namespace podfleet {

class RetryPacer {
 public:
  // `what` prefixes every line logged ("relay", "feed poller").
  RetryPacer(std::string what, Millis base, Millis max);

  // Records a failure; returns how long to wait before trying again.
  Millis Failed(const Error& error);
  // Records a success: resets the wait, and logs how many failures it ends, if any.
  void Succeeded();

  int failures() const { return failures_; }
  // The lines logged so far (for tests; stderr gets them too).
  int logged() const { return logged_; }

 private:
  void Log(const std::string& line);

  const std::string what_;
  const Millis base_;
  const Millis max_;
  int failures_ = 0;  // in a row
  int logged_ = 0;
  std::string last_reason_;
};

// `d` spread uniformly over [d/2, 3d/2].
Millis Jitter(Millis d);

}  // namespace podfleet
