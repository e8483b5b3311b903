#include "coordinator/node_tokens.h"

#include <iterator>

namespace podfleet {
namespace {

Result<Node> Retired() { return PermissionDenied("unknown or retired node token"); }

}  // namespace

Result<Node> NodeTokens::Find(Store& store, const std::string& token_hash, TimePoint now) {
  {
    MutexLock lock(mu_);
    auto it = by_hash_.find(token_hash);
    // A clock set back makes an entry look fresh for too long: asked again then too.
    if (it != by_hash_.end() && now >= it->second.found && now - it->second.found < kRemember) {
      if (retired_.contains(it->second.node.id)) return Retired();
      return it->second.node;
    }
  }
  Result<Node> node = store.FindNodeByToken(token_hash);
  if (!node) return node;
  MutexLock lock(mu_);
  if (retired_.contains(node->id)) return Retired();
  if (by_hash_.size() >= kSweepAt) {
    for (auto it = by_hash_.begin(); it != by_hash_.end();)
      it = now - it->second.found >= kRemember ? by_hash_.erase(it) : std::next(it);
  }
  by_hash_.insert_or_assign(token_hash, Entry{*node, now});
  return node;
}

void NodeTokens::Seen(const std::string& token_hash, TimePoint when) {
  MutexLock lock(mu_);
  auto it = by_hash_.find(token_hash);
  if (it != by_hash_.end() && it->second.node.last_seen < when) it->second.node.last_seen = when;
}

void NodeTokens::Forget(NodeId id) {
  MutexLock lock(mu_);
  retired_.insert(id);
  std::erase_if(by_hash_, [&](const auto& kv) { return kv.second.node.id == id; });
}

}  // namespace podfleet
