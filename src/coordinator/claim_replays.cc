#include "coordinator/claim_replays.h"

#include <algorithm>
#include <utility>

namespace podfleet {

std::optional<HttpResponder> ClaimReplays::Track(NodeId node, const std::string& id, TimePoint now,
                                                 Millis keep, HttpResponder respond) {
  if (id.empty()) return respond;
  std::optional<HttpResponse> known;
  {
    MutexLock lock(mu_);
    Sweep(now, keep);
    std::deque<Entry>& claims = by_node_[node];
    auto it = std::find_if(claims.begin(), claims.end(),
                           [&](const Entry& e) { return e.id == id && now < e.until; });
    if (it == claims.end()) {
      auto pending = std::make_shared<Pending>();
      claims.push_back(Entry{id, now + keep, pending});
      if (claims.size() > kPerNode) claims.pop_front();
      auto shared = std::make_shared<HttpResponder>(std::move(respond));
      return HttpResponder([pending, shared](HttpResponse reply) {
        Answer(*pending, reply);
        (*shared)(std::move(reply));
      });
    }
    Pending& first = *it->pending;
    MutexLock answered(first.mu);
    if (!first.reply) {
      first.waiting.push_back(std::move(respond));
      return std::nullopt;
    }
    known = first.reply;
  }
  respond(std::move(*known));
  return std::nullopt;
}

void ClaimReplays::Answer(Pending& pending, const HttpResponse& reply) {
  std::vector<HttpResponder> waiting;
  {
    MutexLock lock(pending.mu);
    pending.reply = reply;
    waiting = std::exchange(pending.waiting, {});
  }
  for (HttpResponder& r : waiting) r(reply);
}

void ClaimReplays::Sweep(TimePoint now, Millis keep) {
  if (now - swept_ < keep && now >= swept_) return;
  swept_ = now;
  for (auto node = by_node_.begin(); node != by_node_.end();) {
    std::deque<Entry>& claims = node->second;
    // Entries are kept in the order they came, each for the same `keep`.
    while (!claims.empty() && claims.front().until <= now) claims.pop_front();
    node = claims.empty() ? by_node_.erase(node) : std::next(node);
  }
}

size_t ClaimReplays::remembered() const {
  MutexLock lock(mu_);
  size_t n = 0;
  for (const auto& [node, claims] : by_node_) n += claims.size();
  return n;
}

}  // namespace podfleet
