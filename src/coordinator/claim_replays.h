// Claims a worker sent twice get one answer. A worker names each claim (POST /api/workers/claim,
// and a complete that claims) with an id of its own ("request_id"); a claim arriving again under
// the same node and id gets the reply the first one got, the same leases, instead of leasing more
// jobs, or waits for that reply while the first is still being answered (a long poll).
//
// Why: a client that keeps connections open (HttpClientOptions::reuse_connections) sends a request
// again by itself when a kept connection turns out to be closed and no reply byte came back, and
// a client with several coordinator URLs sends it again after a reset. If the coordinator had
// taken the first claim, its leases would go to a worker that never hears of them until they
// expire. With the id, the repeat returns them.
//
// Kept in memory, per node the last kPerNode claims, each for `keep` (the lease duration: past
// it the leases it returned have expired anyway). A restarted coordinator, or another coordinator
// of the store, does not know earlier ids: there a repeat leases anew as before.
//
// Thread safety: safe for concurrent use; a responder is called outside the lock.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/ids.h"
#include "core/thread_annotations.h"
#include "net/http_server.h"

namespace podfleet {

class ClaimReplays {
 public:
  static constexpr size_t kPerNode = 4;
  // The longest request id taken; a longer one is refused (kInvalidArgument) by the routes.
  static constexpr size_t kMaxIdLength = 64;

  // Registers claim `id` of `node` at `now`, remembered for `keep`. The first time: returns the
  // responder the handler answers through, which records the reply before sending it through
  // `respond`. A repeat: returns nullopt and answers `respond` itself with the first reply, at
  // once or when the first is answered. An empty `id` (a worker older than this) is not
  // remembered: `respond` comes back as it is.
  std::optional<HttpResponder> Track(NodeId node, const std::string& id, TimePoint now, Millis keep,
                                     HttpResponder respond);

  // Claims remembered now, for tests.
  size_t remembered() const;

 private:
  // One claim: its reply once sent, and the repeats waiting for it. Shared with the first
  // claim's responder, which may outlive this object.
  struct Pending {
    Mutex mu;  // taken after ClaimReplays::mu_
    std::optional<HttpResponse> reply GUARDED_BY(mu);
    std::vector<HttpResponder> waiting GUARDED_BY(mu);
  };
  struct Entry {
    std::string id;
    TimePoint until;
    std::shared_ptr<Pending> pending;
  };
  // Records the first claim's reply and answers the repeats waiting for it.
  static void Answer(Pending& pending, const HttpResponse& reply);
  // Forgets the claims kept past their time, at most once per `keep`.
  void Sweep(TimePoint now, Millis keep) REQUIRES(mu_);

  mutable Mutex mu_;
  std::map<NodeId, std::deque<Entry>> by_node_ GUARDED_BY(mu_);
  TimePoint swept_ GUARDED_BY(mu_){};
};

}  // namespace podfleet
