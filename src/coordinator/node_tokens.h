// The nodes' tokens, remembered: every call of a worker names its node by its token, and looking
// the token up in the store was a read transaction per request (the queue bench's claim and
// complete each paid one). A token the store knows is remembered for kRemember; a token it does
// not know is asked about each time (it may be registered a moment later, and a flood of unknown
// tokens must not grow the memory).
//
// What may be stale: a remembered Node is the store's row as it was read, so its last_seen lags
// (Seen keeps it current for this coordinator's own touches) and so would any change made
// elsewhere. Only one change matters, retirement, and it is final: a node retired through this
// coordinator (Forget) is refused at once, however it was remembered; one retired through another
// coordinator of the same PostgreSQL store is refused here within kRemember. With SQLite there is
// one coordinator per data directory (data_dir_lock.h), so nothing is stale but last_seen.
//
// Thread-safe.
#pragma once

#include <set>
#include <string>
#include <unordered_map>

#include "core/clock.h"
#include "core/thread_annotations.h"
#include "store/store.h"

namespace podfleet {

class NodeTokens {
 public:
  // How long a token found in the store is taken on trust.
  static constexpr Millis kRemember{60'000};
  // Past this many remembered tokens, those remembered for longer than kRemember are dropped.
  static constexpr size_t kSweepAt = 4096;

  // The live node whose token hashes to `token_hash` (HashToken). kPermissionDenied: no live node
  // has it; any other error is the store's (a database restarting), never a refused token.
  Result<Node> Find(Store& store, const std::string& token_hash, TimePoint now) EXCLUDES(mu_);
  // The node of `token_hash` was recorded as heard from at `when` (its last_seen).
  void Seen(const std::string& token_hash, TimePoint when) EXCLUDES(mu_);
  // Node `id` is retired: its token is refused from now on.
  void Forget(NodeId id) EXCLUDES(mu_);

 private:
  struct Entry {
    Node node;
    TimePoint found;  // when the store was asked
  };

  Mutex mu_;
  std::unordered_map<std::string, Entry> by_hash_ GUARDED_BY(mu_);
  // Retired here: never taken from the store's answer again, whatever a lookup that was already
  // under way when it retired returns. Ids are never reused.
  std::set<NodeId> retired_ GUARDED_BY(mu_);
};

}  // namespace podfleet
